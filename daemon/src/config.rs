//! Layered configuration: built-in defaults -> TOML file -> `LOKI_*`
//! environment -> command-line flags. Secrets may come from `*_file` keys
//! (`LOKI_DATABASE_URL_FILE`, …) and are redacted in `Debug`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use loki_shared::{Tier, TierLimits};

pub use crate::security::limits::{FailMode, RateLimitConfig};
use serde::{Deserialize, Serialize};

/// The system-wide config file, read when it exists and no `--config` is given.
pub const SYSTEM_CONFIG: &str = "/etc/loki/lokid.toml";

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the embedded database and generated key files live.
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; default `sqlite:<data_dir>/loki.db`.
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub database_max_connections: u32,
    /// `redis://…`; without it the kv store is in-process.
    pub redis_url: Option<String>,
    pub redis_url_file: Option<PathBuf>,
    /// Prefix of every Redis key (lets deployments share one Redis).
    pub redis_key_prefix: String,
    /// 32-byte key (hex or raw) that seals signing keys at rest; default
    /// `<data_dir>/master.key`, created (0600) on first start.
    pub master_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `loki_daemon=debug,info`.
    pub log_level: String,
    /// `iss` of issued tokens.
    pub token_issuer: String,
    /// `aud` of issued tokens.
    pub token_audience: String,
    pub access_token_ttl_secs: u64,
    /// Largest accepted request body (JSON).
    pub max_body_bytes: usize,
    /// Largest accepted evidence document upload.
    pub max_document_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace_secs: u64,
    /// Password hashes computed at once (each takes 19 MiB and a core).
    pub password_hash_concurrency: usize,
    /// Password checks allowed to wait for a hashing slot; past that a
    /// sign-in is answered 429 `signin_busy` with `Retry-After` at once.
    pub password_hash_queue: usize,
    /// Whether `POST /api/v1/auth/register` is open.
    pub allow_registration: bool,
    /// Sign-in attempts allowed per client IP in 5 minutes.
    pub signin_ip_limit: u32,
    /// Consecutive failed sign-ins before an account is locked; each further
    /// failure doubles the lock, starting at `lockout_base_secs` (max 1 h).
    pub lockout_threshold: u32,
    pub lockout_base_secs: u64,
    /// How long a rotated API key's old secret keeps working.
    pub api_key_rotation_grace_secs: u64,
    /// How often signing keys are re-read (picks up `lokid admin rotate-signing-key`).
    pub signing_key_refresh_secs: u64,
    /// Issuer name shown by authenticator apps.
    pub mfa_issuer: String,
    /// The address browsers reach this daemon at, e.g.
    /// `https://loki.example.com`: identity providers send users back to
    /// `<public_url>/api/v1/auth/sso/callback`. Default: `http://` and the
    /// listening address.
    pub public_url: Option<String>,
    /// Pages besides this machine's loopback addresses that a single
    /// sign-on may return to (exact URLs, e.g. a web console's).
    pub sso_return_urls: Vec<String>,
    /// A signed checkpoint every this many events of a chain...
    pub audit_checkpoint_every: u64,
    /// ...and at least this often for chains that moved.
    pub audit_checkpoint_secs: u64,
    /// Repeats of the same denial or failure within this many seconds are
    /// written as one event with a count (0 writes every one).
    pub audit_aggregate_secs: u64,
    /// Networks (CIDR) whose requests are refused, before anything else.
    pub ip_deny: Vec<IpNet>,
    /// When not empty, only these networks may call the daemon at all.
    pub ip_allow: Vec<IpNet>,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Empty (the
    /// default): the header is ignored and the peer address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Request rate limits (per organization by tier, per credential).
    pub rate_limit: RateLimitConfig,
    /// Per-tier overrides of the built-in limits, e.g.
    /// `[limits.free] max_storage_bytes = 5000000000`.
    pub limits: std::collections::BTreeMap<Tier, LimitOverrides>,
}

/// Any limit left out keeps the tier's built-in value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub max_members: Option<u32>,
    pub max_storage_bytes: Option<u64>,
    pub api_access: Option<bool>,
    pub requests_per_hour: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: default_data_dir(),
            database_url: None,
            database_url_file: None,
            database_max_connections: 10,
            redis_url: None,
            redis_url_file: None,
            redis_key_prefix: "loki:".to_owned(),
            master_key_file: None,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            token_issuer: "lokid".to_owned(),
            token_audience: "loki-api".to_owned(),
            access_token_ttl_secs: 30 * 60,
            max_body_bytes: 1024 * 1024,
            max_document_bytes: 25 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            password_hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            password_hash_queue: 128,
            allow_registration: true,
            signin_ip_limit: 30,
            lockout_threshold: 5,
            lockout_base_secs: 30,
            api_key_rotation_grace_secs: 24 * 3600,
            signing_key_refresh_secs: 60,
            mfa_issuer: "LOKI".to_owned(),
            public_url: None,
            sso_return_urls: Vec::new(),
            limits: Default::default(),
            ip_deny: Vec::new(),
            ip_allow: Vec::new(),
            trusted_proxies: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            audit_checkpoint_every: 100,
            audit_checkpoint_secs: 60,
            audit_aggregate_secs: 10,
        }
    }
}

/// systemd's `StateDirectory=` sets `STATE_DIRECTORY`; otherwise `./data`.
fn default_data_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Values given on the command line; they override everything else.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
}

impl Config {
    /// Loads the layers. `file` is `--config`; it must exist when given.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file(path));
            }
            None if Path::new(SYSTEM_CONFIG).exists() => {
                figment = figment.merge(Toml::file(SYSTEM_CONFIG));
            }
            None => {}
        }
        // LOKI_CONFIG names the file and LOKI_TEST_* configure the test
        // suite; neither is a daemon setting.
        let env = Env::prefixed("LOKI_").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            k != "config" && !k.starts_with("test_")
        });
        figment = figment.merge(env).merge(Serialized::defaults(overrides));
        let mut config: Config = figment.extract().context("invalid configuration")?;
        config.resolve_files()?;
        Ok(config)
    }

    fn resolve_files(&mut self) -> anyhow::Result<()> {
        if let Some(path) = &self.database_url_file {
            self.database_url = Some(read_secret(path)?);
        }
        if let Some(path) = &self.redis_url_file {
            self.redis_url = Some(read_secret(path)?);
        }
        Ok(())
    }

    /// The database URL, defaulting to the embedded SQLite file.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("loki.db").display()))
    }

    /// The limits of a tier on this deployment (built-in, then overrides).
    pub fn limits(&self, tier: Tier) -> TierLimits {
        let mut l = tier.limits();
        if let Some(o) = self.limits.get(&tier) {
            if o.max_members.is_some() {
                l.max_members = o.max_members;
            }
            if o.max_storage_bytes.is_some() {
                l.max_storage_bytes = o.max_storage_bytes;
            }
            l.api_access = o.api_access.unwrap_or(l.api_access);
            l.requests_per_hour = o.requests_per_hour.unwrap_or(l.requests_per_hour);
        }
        l
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret file {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Hides the password of a URL (`postgres://u:secret@h/db` -> `postgres://u:***@h/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("master_key_file", &self.master_key_file)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("allow_registration", &self.allow_registration)
            .field("ip_deny", &self.ip_deny)
            .field("ip_allow", &self.ip_allow)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://loki:hunter2@db:5432/loki"),
            "postgres://loki:***@db:5432/loki"
        );
        assert_eq!(redact_url("redis://127.0.0.1/"), "redis://127.0.0.1/");
        let c = Config {
            database_url: Some("postgres://a:topsecret@h/d".into()),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lokid.toml",
                "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\n",
            )?;
            jail.set_env("LOKI_LOG_LEVEL", "warn");
            let c = Config::load(
                Some(Path::new("lokid.toml")),
                Overrides {
                    data_dir: Some("/tmp/x".into()),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9000); // file
            assert_eq!(c.log_level, "warn"); // env over file
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x")); // flag over all
            assert_eq!(c.database_url(), "sqlite:///tmp/x/loki.db");
            Ok(())
        });
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/lokid.toml");
        let c = Config::load(Some(&path), Overrides::default()).expect("deploy/lokid.toml loads");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/loki"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("lokid.toml", "lisen = \"127.0.0.1:9000\"\n")?;
            let e = Config::load(Some(Path::new("lokid.toml")), Overrides::default());
            assert!(e.is_err());
            Ok(())
        });
    }
}
