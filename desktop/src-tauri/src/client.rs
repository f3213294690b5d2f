//! The daemon client: lokid's HTTP API with loki-shared's types. It holds no
//! tokens itself; callers pass the access token for each request.

use futures_util::StreamExt;
use loki_shared::api::{
    AuditEventList, AuditKeyList, ErrorResponse, LoginRequest, LoginResponse, MeResponse,
    MfaVerifyRequest, RefreshRequest, SsoExchangeRequest, SsoStartRequest, SsoStartResponse,
    SwitchOrgRequest, TokenResponse,
};
use loki_shared::audit::AuditEvent;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;
use uuid::Uuid;

use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Clone)]
pub struct DaemonClient {
    base: Url,
    http: reqwest::Client,
}

impl std::fmt::Debug for DaemonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

/// A server address as the user typed it, normalised (no trailing slash, no
/// path, query or credentials).
pub fn normalise_server(input: &str) -> AppResult<Url> {
    let text = input.trim();
    // Without a scheme: https, except for this machine (a local lokid).
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else if ["localhost", "127.", "[::1]"]
        .iter()
        .any(|l| text.starts_with(l))
    {
        format!("http://{text}")
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| {
        AppError::input(format!(
            "“{text}” is not a server address: write it like http://127.0.0.1:8080."
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::input(
            "The server address must start with http:// or https:// and name a host.",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::input(
            "Leave credentials out of the server address.",
        ));
    }
    let mut base = url;
    if let Some(host) = base.host_str().map(|h| h.trim_end_matches('.').to_owned()) {
        // `example.com.` and `example.com` are one server (one pin).
        base.set_host(Some(&host))
            .map_err(|_| AppError::input("The server's host name is not valid."))?;
    }
    base.set_path("");
    base.set_query(None);
    base.set_fragment(None);
    Ok(base)
}

/// Filters of the audit explorer, passed to `GET /orgs/{id}/audit/events`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Option<String>,
    /// RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl AuditFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        // A trailing `.` or `*` asks for a prefix (`member.`).
        let action = set(&self.action).map(|a| {
            if a.ends_with('*') || a.ends_with('.') {
                ("action_prefix", a.trim_end_matches('*').to_owned())
            } else {
                ("action", a)
            }
        });
        [
            set(&self.actor).map(|v| ("actor", v)),
            action,
            set(&self.resource_type).map(|v| ("resource_type", v)),
            set(&self.resource_id).map(|v| ("resource_id", v)),
            set(&self.outcome).map(|v| ("outcome", v)),
            set(&self.from).map(|v| ("from", v)),
            set(&self.to).map(|v| ("to", v)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl DaemonClient {
    pub fn new(base: Url) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("LOKI-Desktop/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(AppError::from)?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let url = format!("{}api/v1{path}", self.base);
        let rb = self.http.request(method, url);
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn send(rb: RequestBuilder) -> AppResult<Response> {
        let resp = rb.send().await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(api_error(resp).await)
    }

    async fn json<T: serde::de::DeserializeOwned>(rb: RequestBuilder) -> AppResult<T> {
        Ok(Self::send(rb).await?.json().await?)
    }

    pub async fn login(&self, email: &str, password: &str) -> AppResult<LoginResponse> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            org: None,
        };
        Self::json(self.request(Method::POST, "/auth/login", None).json(&body)).await
    }

    pub async fn mfa_verify(&self, challenge: &str, code: &str) -> AppResult<LoginResponse> {
        let body = MfaVerifyRequest {
            challenge: challenge.to_owned(),
            code: Some(code.to_owned()),
            recovery_code: None,
        };
        Self::json(
            self.request(Method::POST, "/auth/mfa/verify", None)
                .json(&body),
        )
        .await
    }

    pub async fn sso_start(&self, req: &SsoStartRequest) -> AppResult<SsoStartResponse> {
        Self::json(
            self.request(Method::POST, "/auth/sso/start", None)
                .json(req),
        )
        .await
    }

    pub async fn sso_exchange(&self, code: &str, verifier: &str) -> AppResult<LoginResponse> {
        let body = SsoExchangeRequest {
            code: code.to_owned(),
            code_verifier: verifier.to_owned(),
        };
        Self::json(
            self.request(Method::POST, "/auth/sso/exchange", None)
                .json(&body),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> AppResult<TokenResponse> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        Self::json(
            self.request(Method::POST, "/auth/refresh", None)
                .json(&body),
        )
        .await
    }

    pub async fn logout(&self, token: &str) -> AppResult<()> {
        Self::send(self.request(Method::POST, "/auth/logout", Some(token))).await?;
        Ok(())
    }

    pub async fn me(&self, token: &str) -> AppResult<MeResponse> {
        Self::json(self.request(Method::GET, "/auth/me", Some(token))).await
    }

    pub async fn switch_org(&self, token: &str, org: Uuid) -> AppResult<TokenResponse> {
        let body = SwitchOrgRequest {
            org: org.to_string(),
        };
        Self::json(
            self.request(Method::POST, "/auth/switch-org", Some(token))
                .json(&body),
        )
        .await
    }

    pub async fn members(
        &self,
        token: &str,
        org: Uuid,
    ) -> AppResult<loki_shared::api::MemberListResponse> {
        Self::json(self.request(Method::GET, &format!("/orgs/{org}/members"), Some(token))).await
    }

    pub async fn audit_keys(&self) -> AppResult<AuditKeyList> {
        Self::json(self.request(Method::GET, "/audit/keys", None)).await
    }

    pub async fn audit_events(
        &self,
        token: &str,
        org: Uuid,
        filter: &AuditFilter,
        cursor: Option<i64>,
        limit: u32,
    ) -> AppResult<AuditEventList> {
        let mut q = filter.query();
        q.push(("limit", limit.to_string()));
        if let Some(c) = cursor {
            q.push(("cursor", c.to_string()));
        }
        Self::json(
            self.request(
                Method::GET,
                &format!("/orgs/{org}/audit/events"),
                Some(token),
            )
            .query(&q),
        )
        .await
    }

    pub async fn audit_event(&self, token: &str, org: Uuid, id: Uuid) -> AppResult<AuditEvent> {
        Self::json(self.request(
            Method::GET,
            &format!("/orgs/{org}/audit/events/{id}"),
            Some(token),
        ))
        .await
    }

    /// The signed current-state snapshot (its exact text: the signature
    /// covers it).
    pub async fn snapshot(&self, token: &str, org: Uuid) -> AppResult<String> {
        Ok(Self::send(self.request(
            Method::GET,
            &format!("/orgs/{org}/reports/snapshot"),
            Some(token),
        ))
        .await?
        .text()
        .await?)
    }

    /// Streams an export (`bundle` or `csv`) into `sink`, reporting bytes.
    pub async fn export(
        &self,
        token: &str,
        org: Uuid,
        format: &str,
        mut sink: impl FnMut(&[u8]) -> AppResult<()>,
        mut progress: impl FnMut(u64),
    ) -> AppResult<u64> {
        let resp = Self::send(
            self.request(
                Method::GET,
                &format!("/orgs/{org}/audit/export"),
                Some(token),
            )
            .query(&[("format", format)])
            // A large trail streams for longer than an ordinary request.
            .timeout(std::time::Duration::from_secs(3600)),
        )
        .await?;
        let mut stream = resp.bytes_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            sink(&chunk)?;
            total += chunk.len() as u64;
            progress(total);
        }
        Ok(total)
    }
}

/// The daemon's error body, turned into what the user should read.
async fn api_error(resp: Response) -> AppError {
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body: Option<ErrorResponse> = resp.json().await.ok();
    let (code, message) = body
        .map(|b| (b.error.code, b.error.message))
        .unwrap_or_else(|| (String::new(), status.to_string()));
    from_code(status, &code, &message, retry)
}

pub fn from_code(status: StatusCode, code: &str, message: &str, retry: Option<u64>) -> AppError {
    use ErrorKind as K;
    let (kind, text) = match code {
        "invalid_credentials" => (
            K::WrongPassword,
            "The email or password is wrong. Check both and try again.".to_owned(),
        ),
        "too_many_attempts" => (
            K::Locked,
            match retry {
                Some(s) => format!(
                    "This account is locked after too many failed attempts. Try again in {} min, or ask an administrator.",
                    s.div_ceil(60).max(1)
                ),
                None => "This account is locked after too many failed attempts. Try again later, or ask an administrator.".to_owned(),
            },
        ),
        "invalid_mfa_code" | "mfa_code_reused" => (
            K::MfaInvalid,
            "That code is not valid. Enter the current 6-digit code from your authenticator app."
                .to_owned(),
        ),
        "invalid_mfa_challenge" => (
            K::MfaInvalid,
            "The sign-in took too long and expired. Start again with your password.".to_owned(),
        ),
        "session_revoked" | "invalid_token" | "invalid_refresh_token" | "refresh_token_reused"
        | "refresh_token_revoked" | "refresh_token_expired" | "token_superseded" => (
            K::SessionExpired,
            "Your session has ended on the server. Sign in again.".to_owned(),
        ),
        "permission_denied" | "not_a_member" | "wrong_organization" => (
            K::Forbidden,
            format!("The server refused: {message} Ask an administrator for access."),
        ),
        "ip_denied" => (
            K::Forbidden,
            "The server does not accept requests from this network address.".to_owned(),
        ),
        "rate_limited" | "signin_busy" => (
            K::Server,
            "The server is busy. Wait a moment and try again.".to_owned(),
        ),
        "mfa_enrollment_required" => (
            K::Forbidden,
            "Your organization requires two-factor sign-in: enrol TOTP first.".to_owned(),
        ),
        _ if status.is_server_error() => (
            K::Server,
            format!("The server failed ({status}). Try again; if it persists, tell its operator."),
        ),
        _ => (K::Server, format!("The server refused ({status}): {message}")),
    };
    AppError::new(kind, text)
}

#[cfg(test)]
mod tests {
    use super::normalise_server;

    #[test]
    fn server_addresses_are_normalised() {
        let n = |s: &str| normalise_server(s).map(|u| u.to_string());
        assert_eq!(
            n("127.0.0.1:8080").ok().as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(
            n("localhost:8080").ok().as_deref(),
            Some("http://localhost:8080/")
        );
        // Elsewhere the default is TLS.
        assert_eq!(
            n("loki.example.com").ok().as_deref(),
            Some("https://loki.example.com/")
        );
        assert_eq!(
            n("https://LOKI.example.com./api/v1?x=1#y").ok().as_deref(),
            Some("https://loki.example.com/")
        );
        assert!(n("ftp://loki.example.com").is_err());
        assert!(n("https://user:pw@loki.example.com").is_err());
        assert!(n("not a url at all").is_err());
    }
}
