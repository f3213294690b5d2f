//! The `lokid` command line: `serve` (default), `migrate`, `admin …`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{shutdown_signal, AppState, Application};
use crate::config::{Config, Overrides};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(name = "lokid", version, about = "LOKI compliance daemon")]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Config file (default: /etc/loki/lokid.toml when present).
    #[arg(long, global = true, env = "LOKI_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the embedded database and key files.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite:… or postgres://… (default: sqlite in the data dir).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// redis://… (default: in-process kv store).
    #[arg(long, global = true)]
    redis_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Offline audit tools (no daemon, no database).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Render a SOC 2, ISO 27001 or GDPR evidence report (PDF or JSON) from
    /// an exported audit bundle, offline.
    Report(crate::offline::ReportArgs),
    /// Print the OpenAPI 3 document of the HTTP API (as served at
    /// `/api/v1/openapi.json`).
    Openapi,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify an exported audit bundle: hash chain, gaps, order, checkpoint
    /// signatures and coverage. Prints a JSON report; exits 0 when intact,
    /// 1 when the bundle fails verification.
    Verify {
        /// The bundle (JSON Lines), or `-` for standard input.
        bundle: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create the first super admin (or promote an existing user). The
    /// password is read from stdin, or from --password-file.
    CreateSuperAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Create a new token-signing key. New tokens use it (running daemons
    /// pick it up within `signing_key_refresh_secs`); tokens signed by the
    /// previous key stay valid until they expire.
    RotateSigningKey,
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Offline tools need no configuration at all.
    match &cli.command {
        Some(Command::Audit(AuditCommand::Verify { bundle })) => {
            return crate::offline::verify_bundle(bundle)
        }
        Some(Command::Report(args)) => return crate::offline::report(args),
        Some(Command::Openapi) => {
            let doc = crate::http::openapi::document().to_pretty_json()?;
            println!("{doc}");
            return Ok(());
        }
        _ => {}
    }
    let config = Config::load(
        cli.global.config.as_deref(),
        Overrides {
            listen: cli.global.listen,
            data_dir: cli.global.data_dir,
            database_url: cli.global.database_url,
            redis_url: cli.global.redis_url,
        },
    )?;
    telemetry::init(config.log_format, &config.log_level);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            crate::app::create_private_dir(&config.data_dir)?;
            crate::store::migrate(&config.database_url()).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Admin(AdminCommand::CreateSuperAdmin {
            email,
            password_file,
        }) => create_super_admin(config, &email, password_file).await,
        Command::Admin(AdminCommand::RotateSigningKey) => rotate_signing_key(config).await,
        Command::Audit(_) | Command::Report(_) | Command::Openapi => {
            unreachable!("offline commands run before configuration")
        }
    }
}

async fn rotate_signing_key(config: Config) -> anyhow::Result<()> {
    let state = AppState::open(config).await?;
    let kid = state.tokens.keys.rotate().await?;
    crate::audit::record(
        &state,
        crate::audit::Event::new("system.signing_key_rotated", crate::audit::Outcome::Success)
            .resource("signing_key", &kid),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("new signing key {kid}");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let app = Application::build(config).await?;
    // Tests and scripts wait for this line to learn the bound port.
    tracing::info!(addr = %app.local_addr(), "lokid listening on {}", app.local_addr());
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("lokid stopped");
    Ok(())
}

async fn create_super_admin(
    config: Config,
    email: &str,
    password_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let password = match password_file {
        Some(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
    };
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let state = AppState::open(config).await?;
    // Staged like a request, so the promotion and its event commit together.
    let user = crate::store::audit_store::STAGED
        .scope(
            Default::default(),
            crate::auth::service::bootstrap_super_admin(&state, email, password),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("super admin {} ({})", user.email, user.id);
    Ok(())
}
