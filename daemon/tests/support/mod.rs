//! Running the `lokid` binary from a test: a clean environment, the bound
//! address read from its log, SIGTERM and a bounded wait.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const LOKID: &str = env!("CARGO_BIN_EXE_lokid");

/// A `lokid` process started in `dir` with a clean environment.
pub fn lokid(dir: &std::path::Path) -> Command {
    let mut c = Command::new(LOKID);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    c
}

/// Starts `lokid serve` and reads its log until it reports the bound
/// address (the listener is bound before that line is written).
pub fn start(mut cmd: Command) -> (Child, SocketAddr) {
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn lokid");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(rest) = line.split("lokid listening on ").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("lokid reports its address")
        .parse()
        .expect("address");
    (child, addr)
}

pub fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
}

/// Waits (bounded) for the process to exit.
pub fn wait_exit(mut child: Child) -> std::process::ExitStatus {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("lokid exits within 30 s")
        .expect("wait")
}
