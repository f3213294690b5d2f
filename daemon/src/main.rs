//! `lokid`: thin entry point; everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match loki_daemon::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lokid: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
