//! Request signatures for API keys.
//!
//! `X-Loki-Signature` = hex HMAC-SHA256, keyed with the API key's signing
//! secret, over
//! `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nhex(SHA-256(body))`,
//! with `X-Loki-Key-Id`, `X-Loki-Timestamp` (unix seconds, within ±300 s)
//! and `X-Loki-Nonce` (each accepted once, remembered in the kv store so a
//! replay is refused by every daemon). Signing is mandatory when the key or
//! its organization requires it; a request that carries a signature
//! without having to is checked all the same.

use loki_shared::audit::actions::Action;
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chrono::Utc;
use hmac::{Hmac, Mac};
use loki_shared::api::Organization;
use sha2::Sha256;

use crate::audit::Outcome;
use crate::auth::keys::hex_encode;
use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::state::AppState;

pub const KEY_ID: &str = "x-loki-key-id";
pub const TIMESTAMP: &str = "x-loki-timestamp";
pub const NONCE: &str = "x-loki-nonce";
pub const SIGNATURE: &str = "x-loki-signature";
const HEADERS: [&str; 4] = [KEY_ID, TIMESTAMP, NONCE, SIGNATURE];

/// How far a timestamp may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;
// A nonce must be remembered as long as its timestamp could be accepted.
const NONCE_TTL: Duration = Duration::from_secs(2 * MAX_SKEW_SECS as u64 + 60);

/// The string that is signed.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let body_hash = loki_shared::audit::sha256_hex(body);
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_hash}")
}

/// Hex HMAC-SHA256 of the canonical string (what a client sends).
pub fn sign(secret: &[u8], canonical: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(canonical.as_bytes());
    hex_encode(&mac.finalize().into_bytes())
}

/// Whether this request's signature must be checked.
pub fn required_or_present(
    principal: &Principal,
    org: Option<&Organization>,
    headers: &HeaderMap,
) -> bool {
    let Credential::ApiKey {
        require_signature, ..
    } = &principal.credential
    else {
        return false;
    };
    *require_signature
        || org.is_some_and(|o| o.settings.require_signed_requests)
        || HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// Checks the signature; returns the body (read to hash it) for the handler.
pub async fn verify(
    state: &AppState,
    principal: &Principal,
    parts: &Parts,
    body: Body,
) -> Result<Body, AppError> {
    let Credential::ApiKey { key_id, .. } = &principal.credential else {
        return Ok(body);
    };
    let header = |name: &'static str| -> Result<&str, AppError> {
        let v = parts.headers.get(name).ok_or_else(|| {
            AppError::unauthorized(
                "signature_missing",
                format!("this API key's requests must be signed: the {name} header is missing"),
            )
        })?;
        v.to_str().map_err(|_| {
            AppError::unauthorized(
                "signature_invalid",
                format!("the {name} header is not valid text"),
            )
        })
    };
    let checked = async {
        let (claimed, timestamp, nonce, signature) = (
            header(KEY_ID)?,
            header(TIMESTAMP)?,
            header(NONCE)?,
            header(SIGNATURE)?,
        );
        if claimed != key_id {
            return Err(AppError::unauthorized(
                "signature_key_mismatch",
                "X-Loki-Key-Id does not name the API key of the Authorization header",
            ));
        }
        let ts: i64 = timestamp.parse().map_err(|_| {
            AppError::unauthorized(
                "signature_timestamp_invalid",
                "X-Loki-Timestamp must be unix seconds",
            )
        })?;
        if (Utc::now().timestamp() - ts).abs() > MAX_SKEW_SECS {
            return Err(AppError::unauthorized(
                "signature_stale",
                format!(
                    "X-Loki-Timestamp is more than {MAX_SKEW_SECS} seconds from the server's clock"
                ),
            ));
        }
        let nonce_ok = (8..=128).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        if !nonce_ok {
            return Err(AppError::unauthorized(
                "signature_nonce_invalid",
                "X-Loki-Nonce must be 8 to 128 characters of A-Z, a-z, 0-9, '-', '_', '.', '~'",
            ));
        }
        let given = decode_hex(signature).ok_or_else(bad_signature)?;
        let record = state
            .store
            .api_key_by_key_id(key_id)
            .await?
            .ok_or_else(bad_signature)?;
        let secrets = state.api_keys.signing_secrets(&record)?;
        if secrets.is_empty() {
            return Err(AppError::unauthorized(
                "signature_unavailable",
                "this API key has no signing secret (it predates signing): rotate it to get one",
            ));
        }
        let bytes = axum::body::to_bytes(body, state.config.max_document_bytes)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let text = canonical(parts.method.as_str(), path, timestamp, nonce, &bytes);
        // Constant-time comparison (Mac::verify_slice).
        let valid = secrets.iter().any(|secret| {
            <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .map(|mut mac| {
                    mac.update(text.as_bytes());
                    mac.verify_slice(&given).is_ok()
                })
                .unwrap_or(false)
        });
        if !valid {
            return Err(bad_signature());
        }
        // Only a valid signature spends its nonce, so forged requests
        // cannot burn nonces a client is about to use.
        let fresh = state
            .kv
            .set_nx(&format!("sig_nonce:{key_id}:{nonce}"), b"1", NONCE_TTL)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        if !fresh {
            return Err(AppError::unauthorized(
                "signature_replayed",
                "this X-Loki-Nonce was already used: sign each request with a new nonce",
            ));
        }
        Ok(Body::from(bytes))
    }
    .await;
    match checked {
        Ok(body) => Ok(body),
        Err(e) => {
            if let AppError::Unauthorized { code, .. } = &e {
                state
                    .auditor
                    .record(
                        principal
                            .event(Action::RequestSignatureRejected, Outcome::Denied)
                            .meta(serde_json::json!({
                                "reason": code,
                                "method": parts.method.as_str(),
                                "path": parts.uri.path(),
                            })),
                    )
                    .await?;
            }
            Err(e)
        }
    }
}

fn bad_signature() -> AppError {
    AppError::unauthorized(
        "signature_invalid",
        "X-Loki-Signature does not match the request (check the canonical string and the signing secret)",
    )
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_string_and_known_signature() {
        let text = canonical("POST", "/api/v1/orgs?x=1", "1700000000", "abcdefgh", b"{}");
        assert_eq!(
            text,
            "POST\n/api/v1/orgs?x=1\n1700000000\nabcdefgh\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let sig = sign(b"lks_secret", &text);
        assert_eq!(sig.len(), 64);
        assert_eq!(decode_hex(&sig).map(|b| hex_encode(&b)), Some(sig));
        assert_eq!(decode_hex("zz"), None);
    }
}
