//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step) with recovery
//! codes. Secrets are sealed with the master key; a code is accepted once
//! (the newest used step is stored, so replays fail on every daemon).

use std::time::Duration;

use loki_shared::api::{MfaConfirmResponse, MfaEnrollResponse, SessionKind};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

use super::secrets::{ct_eq, random_token, sha256_hex};
use crate::auth::keys::MasterKey;
use crate::config::Config;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::DynStore;
use crate::store::{AuditBatch, MfaState};
use std::sync::Arc;

/// TOTP enrollment and sign-in challenges.
#[derive(Clone)]
pub struct Mfa {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) config: Arc<Config>,
    pub(crate) master: Arc<MasterKey>,
}

pub const STEP_SECS: u64 = 30;
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
const CHALLENGE_ATTEMPTS: i64 = 5;
const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, AppError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("totp: {e}")))
}

fn context(user: Uuid) -> Vec<u8> {
    format!("mfa:{user}").into_bytes()
}

/// The time step a code belongs to, if it is valid now (±1 step).
fn matching_step(t: &TOTP, code: &str) -> Option<i64> {
    let now = chrono::Utc::now().timestamp();
    let step = STEP_SECS as i64;
    (-1..=1)
        .map(|d| now + d * step)
        .filter(|t| *t >= 0)
        .find(|at| ct_eq(&t.generate(*at as u64), code))
        .map(|at| at / step)
}

fn well_formed(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn new_recovery_code() -> String {
    let raw: String = (0..10)
        .map(|_| {
            let i = usize::from(rand::random::<u8>()) % RECOVERY_ALPHABET.len();
            char::from(RECOVERY_ALPHABET[i])
        })
        .collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

impl Mfa {
    async fn state_of(&self, user: Uuid) -> Result<MfaState, AppError> {
        self.store
            .mfa_state(user)
            .await?
            .ok_or(AppError::NotFound { what: "user" })
    }

    /// Starts (or restarts) enrolment: a new secret awaiting confirmation.
    pub async fn enroll(
        &self,
        user: Uuid,
        email: &str,
        audit: &mut AuditBatch,
    ) -> Result<MfaEnrollResponse, AppError> {
        if self.state_of(user).await?.mfa_enabled {
            return Err(AppError::conflict(
                "mfa_already_enabled",
                "MFA is already enabled; disable it first",
            ));
        }
        // 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
        let secret = rand::random::<[u8; 20]>().to_vec();
        let t = totp(secret.clone(), &self.config.mfa_issuer, email)?;
        let sealed = self.master.seal(&secret, &context(user))?;
        self.store
            .set_mfa_pending(user, Some(sealed), audit)
            .await?;
        Ok(MfaEnrollResponse {
            secret: t.get_secret_base32(),
            provisioning_uri: t.get_url(),
        })
    }

    /// Confirms enrolment with a current code; returns the recovery codes.
    pub async fn confirm(
        &self,
        user: Uuid,
        email: &str,
        code: &str,
        audit: &mut AuditBatch,
    ) -> Result<MfaConfirmResponse, AppError> {
        let s = self.state_of(user).await?;
        let sealed = s.mfa_pending_secret_enc.ok_or_else(|| {
            AppError::conflict(
                "mfa_not_enrolling",
                "start with POST /api/v1/auth/mfa/enroll",
            )
        })?;
        let secret = self.master.open(&sealed, &context(user))?;
        let t = totp(secret.to_vec(), &self.config.mfa_issuer, email)?;
        let step = well_formed(code)
            .then(|| matching_step(&t, code))
            .flatten()
            .ok_or_else(|| {
                AppError::validation("code", "is not the current code of the authenticator")
            })?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes = codes
            .iter()
            .map(|c| sha256_hex(normalize_recovery(c).as_bytes()))
            .collect();
        self.store
            .enable_mfa(user, sealed, step, hashes, audit)
            .await?;
        Ok(MfaConfirmResponse {
            recovery_codes: codes,
        })
    }

    /// Checks a second factor: a TOTP code (once per step) or an unused
    /// recovery code (once). Errors name which input was wrong.
    pub async fn verify(
        &self,
        user: Uuid,
        email: &str,
        code: Option<&str>,
        recovery: Option<&str>,
    ) -> Result<(), AppError> {
        let s = self.state_of(user).await?;
        let sealed = match (s.mfa_enabled, s.mfa_secret_enc) {
            (true, Some(sealed)) => sealed,
            _ => return Err(AppError::conflict("mfa_not_enabled", "MFA is not enabled")),
        };
        match (code, recovery) {
            (Some(code), None) => {
                let secret = self.master.open(&sealed, &context(user))?;
                let t = totp(secret.to_vec(), &self.config.mfa_issuer, email)?;
                let step = well_formed(code)
                    .then(|| matching_step(&t, code))
                    .flatten()
                    .ok_or_else(|| {
                        AppError::unauthorized("invalid_mfa_code", "the code is wrong or expired")
                    })?;
                if !self.store.consume_totp_step(user, step).await? {
                    return Err(AppError::unauthorized(
                        "mfa_code_reused",
                        "this code was already used; wait for the next one",
                    ));
                }
                Ok(())
            }
            (None, Some(rc)) => {
                let hash = sha256_hex(normalize_recovery(rc).as_bytes());
                if self.store.consume_recovery_code(user, &hash).await? {
                    Ok(())
                } else {
                    Err(AppError::unauthorized(
                        "invalid_recovery_code",
                        "the recovery code is wrong or was already used",
                    ))
                }
            }
            _ => Err(AppError::validation(
                "code",
                "give exactly one of code or recovery_code",
            )),
        }
    }

    pub async fn start_challenge(&self, c: &Challenge) -> Result<String, AppError> {
        let token = random_token(32);
        let json = serde_json::to_vec(c).map_err(|e| AppError::Internal(e.into()))?;
        self.kv
            .set(&challenge_key(&token), &json, Some(CHALLENGE_TTL))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(token)
    }

    /// Looks up a challenge, counting the attempt; a challenge allows five.
    pub async fn take_challenge(&self, token: &str) -> Result<Challenge, AppError> {
        let kv_err = |e: crate::kv::KvError| AppError::Unavailable(e.to_string());
        let key = challenge_key(token);
        let expired = || {
            AppError::unauthorized(
                "invalid_mfa_challenge",
                "the MFA challenge is unknown or expired; sign in again",
            )
        };
        let bytes = self
            .kv
            .get(&key)
            .await
            .map_err(kv_err)?
            .ok_or_else(expired)?;
        let attempts = self
            .kv
            .incr(&format!("{key}:attempts"), 1, CHALLENGE_TTL)
            .await
            .map_err(kv_err)?;
        if attempts > CHALLENGE_ATTEMPTS {
            self.kv.delete(&key).await.map_err(kv_err)?;
            return Err(expired());
        }
        serde_json::from_slice(&bytes).map_err(|_| expired())
    }

    pub async fn end_challenge(&self, token: &str) -> Result<(), AppError> {
        self.kv
            .delete(&challenge_key(token))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(())
    }
}

/// What a pending MFA sign-in remembers.
#[derive(Serialize, Deserialize)]
pub struct Challenge {
    pub user_id: Uuid,
    pub org: Option<String>,
    pub kind: SessionKind,
}

fn challenge_key(token: &str) -> String {
    format!("mfa_challenge:{}", sha256_hex(token.as_bytes()))
}
