//! OpenID Connect relying party, on the `openidconnect` crate: the
//! authorization code flow with PKCE, state and nonce. The provider is
//! discovered afresh for each step, so a rotated signing key is accepted at
//! once and a removed one refused; the HTTP client follows no redirects (a
//! provider, or whoever answers in its place, cannot send us elsewhere).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse as _,
};
use serde_json::{Map, Value};

/// The client every provider call goes through: reqwest with redirects
/// off, and a redirect answered as an error that says so (the crate alone
/// would only see a response it cannot read).
#[derive(Clone)]
pub struct ProviderHttp(reqwest::Client);

pub fn http_client() -> anyhow::Result<ProviderHttp> {
    Ok(ProviderHttp(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?,
    ))
}

impl ProviderHttp {
    /// The client itself (redirects off), for providers spoken to directly.
    pub fn client(&self) -> &reqwest::Client {
        &self.0
    }

    /// A document from the provider (SAML metadata), at most 1 MiB.
    pub async fn get_text(&self, url: &str) -> Result<String, Refusal> {
        let r = self
            .0
            .get(url)
            .send()
            .await
            .map_err(|e| refusal("provider_unreachable", error_chain(&e)))?;
        let status = r.status();
        if status.is_redirection() {
            return Err(refusal(
                "provider_unreachable",
                format!("the provider answered {status} (a redirect, not followed)"),
            ));
        }
        if !status.is_success() {
            return Err(refusal(
                "provider_unreachable",
                format!("the provider answered {status}"),
            ));
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| refusal("provider_unreachable", error_chain(&e)))?;
        if bytes.len() > 1 << 20 {
            return Err(refusal(
                "provider_invalid",
                "the metadata is larger than 1 MiB",
            ));
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| refusal("provider_invalid", "the metadata is not UTF-8"))
    }
}

type HttpFuture<'c> = Pin<
    Box<
        dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>>
            + Send
            + Sync
            + 'c,
    >,
>;

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.call(request).await?;
            if response.status().is_redirection() {
                let to = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("nowhere");
                return Err(HttpClientError::Other(format!(
                    "the provider answered {} (a redirect to {to}, not followed)",
                    response.status()
                )));
            }
            Ok(response)
        })
    }
}

/// What a sign-in needs to know of the provider.
pub struct Relying<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<String>,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
}

/// Where to send the browser, and what to keep for its return.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// An identity the provider vouched for, after every check.
#[derive(Debug)]
pub struct Verified {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider asserted a multi-factor sign-in (`amr`, RFC 8176).
    pub mfa: bool,
    /// Every claim of the verified ID token (for the role mapping).
    pub claims: Map<String, Value>,
}

/// Why a step failed: `reason` is the audit trail's word for it.
#[derive(Debug)]
pub struct Refusal {
    pub reason: &'static str,
    pub detail: String,
}

fn refusal(reason: &'static str, detail: impl std::fmt::Display) -> Refusal {
    Refusal {
        reason,
        detail: detail.to_string(),
    }
}

/// Signatures we accept: asymmetric ones only (never `none`, and not an
/// HMAC keyed with the client secret).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

async fn discover(http: &ProviderHttp, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| refusal("provider_invalid", e))?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| refusal("provider_unreachable", error_chain(&e)))
}

fn parsed<T>(r: Result<T, openidconnect::url::ParseError>, what: &str) -> Result<T, Refusal> {
    r.map_err(|e| refusal("provider_invalid", format!("{what}: {e}")))
}

/// The client as the provider's discovery document describes it now.
async fn client(
    http: &ProviderHttp,
    rp: &Relying<'_>,
) -> Result<
    CoreClient<
        EndpointSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointMaybeSet,
        EndpointMaybeSet,
    >,
    Refusal,
> {
    let meta = discover(http, rp.issuer).await?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.client_id.to_owned()),
        rp.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(parsed(
        RedirectUrl::new(rp.redirect_uri.to_owned()),
        "redirect uri",
    )?))
}

/// The authorization URL for a new sign-in (fresh state, nonce and PKCE).
pub async fn authorize(http: &ProviderHttp, rp: &Relying<'_>) -> Result<Authorization, Refusal> {
    let client = client(http, rp).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    // `openid` is always asked for by the crate.
    for scope in rp.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    Ok(Authorization {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

fn claims_refusal(e: &ClaimsVerificationError) -> Refusal {
    let reason = match e {
        ClaimsVerificationError::Expired(_) => "id_token_expired",
        ClaimsVerificationError::InvalidAudience(_) => "id_token_wrong_audience",
        ClaimsVerificationError::InvalidIssuer(_) => "id_token_wrong_issuer",
        ClaimsVerificationError::InvalidNonce(_) => "id_token_wrong_nonce",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "id_token_unknown_key",
        ClaimsVerificationError::SignatureVerification(_) => "id_token_bad_signature",
        _ => "id_token_invalid",
    };
    refusal(reason, e)
}

/// Redeems the code and verifies the ID token: signature against the
/// provider's current keys, issuer, audience, expiry, nonce.
pub async fn redeem(
    http: &ProviderHttp,
    rp: &Relying<'_>,
    code: &str,
    pkce_verifier: &str,
    nonce: &str,
) -> Result<Verified, Refusal> {
    let client = client(http, rp).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| refusal("provider_invalid", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| refusal("token_exchange_failed", error_chain(&e)))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| refusal("id_token_missing", "the token response has no ID token"))?;
    let verifier = client.id_token_verifier().set_allowed_algs(ALGORITHMS);
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| claims_refusal(&e))?;
    let amr: Vec<String> = claims
        .auth_method_refs()
        .map(|v| v.iter().map(|a| a.as_str().to_owned()).collect())
        .unwrap_or_default();
    let factor = |f: &str| amr.iter().any(|a| a == f);
    let mfa =
        factor("mfa") || (factor("pwd") && ["otp", "hwk", "swk", "sms"].iter().any(|f| factor(f)));
    // The payload the signature above covered, for the claims the crate
    // does not model (groups, roles, Entra's `xms_edov`).
    let all = payload(&id_token.to_string()).unwrap_or_default();
    // Entra ID sends no `email_verified`; its optional claim `xms_edov`
    // says the email's domain is verified by the tenant.
    let verified = claims.email_verified() == Some(true)
        || all.get("xms_edov").and_then(Value::as_bool) == Some(true);
    Ok(Verified {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: verified,
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        mfa,
        claims: all,
    })
}

fn payload(jwt: &str) -> Option<Map<String, Value>> {
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}
