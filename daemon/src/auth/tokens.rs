//! Access tokens: EdDSA JWTs with `kid` in the header and the claims of
//! the README's "Signing in" (`iss`, `aud`, `sub`, `org`, `sid`, `jti`, `iat`, `exp`).

use std::collections::HashMap;

use jsonwebtoken::{decode, decode_header, encode, Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::keys::TokenKeys;
use crate::error::AppError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub org: Option<Uuid>,
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenIssuer {
    pub keys: TokenKeys,
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: u64,
    pub verified: VerifiedTokens,
}

fn invalid() -> AppError {
    AppError::unauthorized("invalid_token", "the access token is invalid or expired")
}

impl TokenIssuer {
    pub fn issue(&self, user: Uuid, org: Option<Uuid>, sid: Uuid) -> Result<String, AppError> {
        let (kid, key) = self
            .keys
            .current()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no signing key loaded")))?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user,
            org,
            sid,
            jti: Uuid::now_v7(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(1800),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid);
        encode(&header, &claims, &key).map_err(|e| AppError::Internal(e.into()))
    }

    /// The claims of a valid token. A token seen before is answered from
    /// [`VerifiedTokens`] while unexpired and while its key is loaded.
    pub async fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        if let Some((claims, kid)) = self.verified.get(&digest, now) {
            if self.keys.knows(&kid) {
                return Ok(claims);
            }
        }
        let (claims, kid) = self.verify_signed(token).await?;
        self.verified.put(digest, claims.clone(), kid, now);
        Ok(claims)
    }

    async fn verify_signed(&self, token: &str) -> Result<(Claims, String), AppError> {
        let header = decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.keys.decoding_key(&kid).await.ok_or_else(invalid)?;
        let kid_used = kid;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        decode::<Claims>(token, &key, &validation)
            .map(|d| (d.claims, kid_used))
            .map_err(|_| invalid())
    }
}

/// Tokens already verified, by the SHA-256 of their text: a repeat costs a
/// hash and a map lookup instead of an Ed25519 verification. An entry is
/// used only while its token is unexpired and its signing key still loaded
/// (a retired key drops every token it signed); the map is bounded.
#[derive(Default)]
pub struct VerifiedTokens {
    map: std::sync::Mutex<HashMap<[u8; 32], (Claims, String)>>,
}

/// Entries kept at most; past this the expired ones go, then all.
const VERIFIED_MAX: usize = 100_000;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32], now: i64) -> Option<(Claims, String)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(digest).filter(|(c, _)| c.exp > now).cloned()
    }

    fn put(&self, digest: [u8; 32], claims: Claims, kid: String, now: i64) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= VERIFIED_MAX {
            map.retain(|_, (c, _)| c.exp > now);
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
        }
        map.insert(digest, (claims, kid));
    }
}
