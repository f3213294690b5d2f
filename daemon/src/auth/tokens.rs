//! Access tokens: EdDSA JWTs with `kid` in the header and the claims of
//! the README's "Signing in" (`iss`, `aud`, `sub`, `org`, `sid`, `jti`, `iat`, `exp`).

use jsonwebtoken::{decode, decode_header, encode, Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
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

    pub async fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let header = decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.keys.decoding_key(&kid).await.ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        decode::<Claims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|_| invalid())
    }
}
