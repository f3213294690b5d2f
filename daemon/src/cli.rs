//! The `lokid` command line: `serve` (default), `migrate`, `admin …`.

use loki_shared::audit::actions::Action;
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
    /// Daemon flags for the default command (`serve`); given before a
    /// subcommand they apply to it as well.
    #[command(flatten)]
    daemon: DaemonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What the daemon's commands (serve, migrate, admin) are configured by;
/// the offline tools (audit, report, openapi) take none of it.
#[derive(Debug, Args, Default)]
struct DaemonArgs {
    /// Config file (default: /etc/loki/lokid.toml when present).
    #[arg(long, env = "LOKI_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the embedded database and key files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// sqlite:… or postgres://… (default: sqlite in the data dir).
    #[arg(long)]
    database_url: Option<String>,
    /// redis://… (default: in-process kv store).
    #[arg(long)]
    redis_url: Option<String>,
}

impl DaemonArgs {
    /// Flags given after the subcommand win over those given before it.
    fn or(self, later: DaemonArgs) -> DaemonArgs {
        DaemonArgs {
            config: later.config.or(self.config),
            listen: later.listen.or(self.listen),
            data_dir: later.data_dir.or(self.data_dir),
            database_url: later.database_url.or(self.database_url),
            redis_url: later.redis_url.or(self.redis_url),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Serve(DaemonArgs),
    /// Run database migrations and exit.
    Migrate(DaemonArgs),
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
        #[command(flatten)]
        trust: crate::offline::TrustArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create the first super admin (or promote an existing user). The
    /// password is read from stdin, or from --password-file.
    CreateSuperAdmin {
        /// The operator's email (an existing account is promoted).
        #[arg(long)]
        email: String,
        /// Read the password from this file instead of standard input.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Create a new token-signing key. New tokens use it (running daemons
    /// pick it up within `signing_key_refresh_secs`); tokens signed by the
    /// previous key stay valid until they expire.
    RotateSigningKey(DaemonArgs),
    /// Print the audit public keys with their fingerprints (JSON, as
    /// `GET /api/v1/audit/keys` serves them): what an auditor pins.
    AuditKeys(DaemonArgs),
    /// Create a new audit key introduced by the current one: the current
    /// key first signs every chain's head, then signs the successor's
    /// introduction, so trust pinned on it carries over.
    RotateAuditKey(DaemonArgs),
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Offline tools need no configuration at all.
    match &cli.command {
        Some(Command::Audit(AuditCommand::Verify { bundle, trust })) => {
            return crate::offline::verify_bundle(bundle, trust)
        }
        Some(Command::Report(args)) => return crate::offline::report(args),
        Some(Command::Openapi) => {
            let doc = crate::http::openapi::document().to_pretty_json()?;
            println!("{doc}");
            return Ok(());
        }
        _ => {}
    }
    let (command, later) = match cli.command.unwrap_or(Command::Serve(DaemonArgs::default())) {
        Command::Serve(a) => (Daemon::Serve, a),
        Command::Migrate(a) => (Daemon::Migrate, a),
        Command::Admin(AdminCommand::CreateSuperAdmin {
            email,
            password_file,
            daemon,
        }) => (Daemon::CreateSuperAdmin(email, password_file), daemon),
        Command::Admin(AdminCommand::RotateSigningKey(a)) => (Daemon::RotateSigningKey, a),
        Command::Admin(AdminCommand::AuditKeys(a)) => (Daemon::AuditKeys, a),
        Command::Admin(AdminCommand::RotateAuditKey(a)) => (Daemon::RotateAuditKey, a),
        Command::Audit(_) | Command::Report(_) | Command::Openapi => {
            unreachable!("offline commands run before configuration")
        }
    };
    let args = cli.daemon.or(later);
    let config = Config::load(
        args.config.as_deref(),
        Overrides {
            listen: args.listen,
            data_dir: args.data_dir,
            database_url: args.database_url,
            redis_url: args.redis_url,
        },
    )?;
    telemetry::init(config.log_format, &config.log_level);
    match command {
        Daemon::Serve => serve(config).await,
        Daemon::Migrate => {
            crate::app::create_private_dir(&config.data_dir)?;
            crate::store::migrate(&config.database_url()).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Daemon::CreateSuperAdmin(email, password_file) => {
            create_super_admin(config, &email, password_file).await
        }
        Daemon::RotateSigningKey => rotate_signing_key(config).await,
        Daemon::AuditKeys => {
            let state = AppState::open(config).await?;
            let keys = loki_shared::api::AuditKeyList {
                keys: state
                    .auditor
                    .published_keys()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            println!("{}", serde_json::to_string_pretty(&keys)?);
            Ok(())
        }
        Daemon::RotateAuditKey => rotate_audit_key(config).await,
    }
}

/// The commands that run against the daemon's configuration.
enum Daemon {
    Serve,
    Migrate,
    CreateSuperAdmin(String, Option<PathBuf>),
    RotateSigningKey,
    AuditKeys,
    RotateAuditKey,
}

async fn rotate_audit_key(config: Config) -> anyhow::Result<()> {
    let state = AppState::open(config).await?;
    let (old, new) = state
        .auditor
        .rotate_key()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    state
        .auditor
        .record(
            crate::audit::Event::new(Action::AuditKeyRotated, crate::audit::Outcome::Success)
                .resource("audit_key", &new)
                .meta(serde_json::json!({"predecessor": old})),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("new audit key {new}, introduced by {old}");
    Ok(())
}

async fn rotate_signing_key(config: Config) -> anyhow::Result<()> {
    let state = AppState::open(config).await?;
    let kid = state.tokens.keys.rotate().await?;
    state
        .auditor
        .record(
            crate::audit::Event::new(
                Action::SystemSigningKeyRotated,
                crate::audit::Outcome::Success,
            )
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
    let user = state
        .identity
        .bootstrap_super_admin(email, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("super admin {} ({})", user.email, user.id);
    Ok(())
}
