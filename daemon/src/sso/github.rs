//! GitHub sign-in: the OAuth2 web application flow (with state and PKCE)
//! and GitHub's REST API for the user and their email addresses — GitHub is
//! not an OpenID provider, so there is no ID token: who signed in is what
//! the API says for the access token. github.com, or GitHub Enterprise
//! Server at its own address (its API under `/api/v3`).

use serde::Deserialize;
use serde_json::{json, Map};

use super::oidc::{ProviderHttp, Refusal, Verified};

pub const GITHUB_COM: &str = "https://github.com";

/// The OAuth app registered at GitHub.
pub struct GitHubApp<'a> {
    pub base: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<String>,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
}

fn refusal(reason: &'static str, detail: impl std::fmt::Display) -> Refusal {
    Refusal {
        reason,
        detail: detail.to_string(),
    }
}

fn api_base(base: &str) -> String {
    if base == GITHUB_COM {
        "https://api.github.com".to_owned()
    } else {
        format!("{base}/api/v3")
    }
}

/// Where to send the browser.
pub fn authorize(
    app: &GitHubApp<'_>,
    state: &str,
    code_challenge: &str,
) -> Result<String, Refusal> {
    let mut url = url::Url::parse(&format!("{}/login/oauth/authorize", app.base))
        .map_err(|e| refusal("provider_invalid", e))?;
    url.query_pairs_mut()
        .append_pair("client_id", app.client_id)
        .append_pair("redirect_uri", app.redirect_uri)
        .append_pair("scope", &app.scopes.join(" "))
        .append_pair("state", state)
        .append_pair("code_challenge", code_challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("allow_signup", "false");
    Ok(url.to_string())
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

async fn read(resp: openidconnect::reqwest::Response, what: &str) -> Result<bytes::Bytes, Refusal> {
    let status = resp.status();
    if status.is_redirection() {
        return Err(refusal(
            "token_exchange_failed",
            format!("{what}: the provider answered {status} (a redirect, not followed)"),
        ));
    }
    if !status.is_success() {
        return Err(refusal(
            "token_exchange_failed",
            format!("{what}: the provider answered {status}"),
        ));
    }
    resp.bytes()
        .await
        .map_err(|e| refusal("token_exchange_failed", format!("{what}: {e}")))
}

/// Redeems the code and asks the API who it is for. `allowed_domains`
/// picks which verified address to link by (the primary one otherwise).
pub async fn redeem(
    http: &ProviderHttp,
    app: &GitHubApp<'_>,
    code: &str,
    code_verifier: &str,
    allowed_domains: &[String],
) -> Result<Verified, Refusal> {
    let client = http.client();
    let mut form = vec![
        ("client_id", app.client_id.to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", app.redirect_uri.to_owned()),
        ("code_verifier", code_verifier.to_owned()),
    ];
    if let Some(secret) = &app.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    let resp = client
        .post(format!("{}/login/oauth/access_token", app.base))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| refusal("token_exchange_failed", e))?;
    let body = read(resp, "the token endpoint").await?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
        refusal(
            "token_exchange_failed",
            format!("the token endpoint's answer: {e}"),
        )
    })?;
    let Some(token) = answer.access_token else {
        return Err(refusal(
            "token_exchange_failed",
            format!(
                "{}: {}",
                answer.error.unwrap_or_default(),
                answer.error_description.unwrap_or_default()
            ),
        ));
    };
    let api = api_base(app.base);
    let get = |path: &str| {
        client
            .get(format!("{api}{path}"))
            .bearer_auth(&token)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "lokid")
            .send()
    };
    let user_body = read(
        get("/user")
            .await
            .map_err(|e| refusal("token_exchange_failed", e))?,
        "the user API",
    )
    .await?;
    let user: GitHubUser = serde_json::from_slice(&user_body)
        .map_err(|e| refusal("token_exchange_failed", format!("the user API: {e}")))?;
    let emails_body = read(
        get("/user/emails")
            .await
            .map_err(|e| refusal("token_exchange_failed", e))?,
        "the emails API",
    )
    .await?;
    let emails: Vec<GitHubEmail> = serde_json::from_slice(&emails_body)
        .map_err(|e| refusal("token_exchange_failed", format!("the emails API: {e}")))?;
    let in_domains = |e: &GitHubEmail| {
        let domain = e
            .email
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        allowed_domains.contains(&domain)
    };
    let chosen = emails
        .iter()
        .find(|e| e.verified && !allowed_domains.is_empty() && in_domains(e))
        .or_else(|| emails.iter().find(|e| e.primary));
    let mut claims = Map::new();
    claims.insert("login".into(), json!(user.login));
    claims.insert("id".into(), json!(user.id));
    Ok(Verified {
        subject: user.id.to_string(),
        email: chosen.map(|e| e.email.clone()),
        email_verified: chosen.is_some_and(|e| e.verified),
        name: user.name.or(Some(user.login)),
        mfa: false,
        claims,
    })
}
