//! API keys: `loki_<key id>_<secret>`, 256-bit secrets stored only as
//! SHA-256 digests (high-entropy secrets need no Argon2, so validation is
//! fast and constant-time). Rotation keeps the old secret valid for a grace
//! period. Keys need a tier with API access, to create and to use.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use loki_shared::api::{
    ApiKeyInfo, ApiKeySecretResponse, CreateApiKeyRequest, RotateApiKeyRequest,
};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::secrets::{ct_eq, random_token, sha256_hex};
use super::{Credential, Principal};
use crate::audit::Auditor;
use crate::audit::{self, Event, Outcome};
use crate::auth::keys::MasterKey;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::rbac::OrgAccess;
use crate::rbac::Tenant;
use crate::store::ApiKeyRecord;
use crate::store::DynStore;
use crate::validate;
use std::sync::Arc;

/// API keys: issue, rotation, revocation, authentication.
#[derive(Clone)]
pub struct ApiKeys {
    pub(crate) store: DynStore,
    pub(crate) config: Arc<Config>,
    pub(crate) master: Arc<MasterKey>,
    pub(crate) auditor: Auditor,
}

pub const PREFIX: &str = "loki_";
/// Signing secrets look different from keys so they are not mixed up.
pub const SIGNING_PREFIX: &str = "lks_";
const SECRET_BYTES: usize = 32;
const MAX_SCOPES: usize = 64;
const TOUCH_EVERY: ChronoDuration = ChronoDuration::seconds(60);

/// Splits `loki_<key id>_<secret>`; the secret may itself contain `_`.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && !secret.is_empty()).then_some((id, secret))
}

fn new_key_id() -> String {
    super::keys::hex_encode(&rand::random::<[u8; 8]>())
}

pub fn info(r: &ApiKeyRecord) -> ApiKeyInfo {
    ApiKeyInfo {
        id: r.id,
        org_id: r.org_id,
        key_id: r.key_id.clone(),
        name: r.name.clone(),
        scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
        created_by: r.created_by,
        created_at: r.created_at,
        expires_at: r.expires_at,
        last_used_at: r.last_used_at,
        rotated_at: r.rotated_at,
        previous_secret_valid_until: r.previous_valid_until.filter(|t| *t > Utc::now()),
        revoked_at: r.revoked_at,
        require_signature: r.require_signature,
    }
}

impl ApiKeys {
    /// A new signing secret: what the client is shown, and what is stored.
    fn new_signing_secret(&self, key_id: &str) -> Result<(String, Vec<u8>), AppError> {
        let secret = format!("{SIGNING_PREFIX}{}", random_token(SECRET_BYTES));
        let sealed = self
            .master
            .seal(secret.as_bytes(), &signing_context(key_id))
            .map_err(AppError::Internal)?;
        Ok((secret, sealed))
    }

    /// The signing secrets a request with this key may be signed with: the
    /// current one, and during a rotation's grace period the previous one.
    pub fn signing_secrets(
        &self,
        record: &ApiKeyRecord,
    ) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>, AppError> {
        let grace = record.previous_valid_until.is_some_and(|t| t > Utc::now());
        let previous = record
            .previous_signing_secret_enc
            .as_ref()
            .filter(|_| grace);
        [record.signing_secret_enc.as_ref(), previous]
            .into_iter()
            .flatten()
            .map(|sealed| {
                self.master
                    .open(sealed, &signing_context(&record.key_id))
                    .map_err(AppError::Internal)
            })
            .collect()
    }

    fn require_api_tier(&self, access: &OrgAccess) -> Result<(), AppError> {
        if self.config.limits(access.org().tier).api_access {
            Ok(())
        } else {
            Err(AppError::TierLimit {
            message: format!(
                "API keys need a tier with API access (starter or above); this organization is on {}",
                access.org().tier
            ),
        })
        }
    }

    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: CreateApiKeyRequest,
    ) -> Result<ApiKeySecretResponse, AppError> {
        // Keys cannot create keys: a person creates them.
        principal.require_session()?;
        self.require_api_tier(access)?;
        let name = validate::name("name", &req.name, 100)?;
        let scopes = check_scopes(&req.scopes)?;
        // A key never carries more than its creator holds (and at use it is
        // further cut to what the creator holds then).
        let wanted = crate::rbac::roles::parse_names("scopes", &scopes)?;
        access.require_at_least(wanted, "this API key").await?;
        if req.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(AppError::validation("expires_at", "must be in the future"));
        }
        let secret = random_token(SECRET_BYTES);
        let key_id = new_key_id();
        let (signing_secret, signing_secret_enc) = self.new_signing_secret(&key_id)?;
        let record = ApiKeyRecord {
            id: Uuid::now_v7(),
            org_id: access.org().id,
            key_id,
            name,
            scopes: serde_json::to_string(&scopes).map_err(|e| AppError::Internal(e.into()))?,
            secret_hash: sha256_hex(secret.as_bytes()),
            previous_secret_hash: None,
            previous_valid_until: None,
            created_by: principal.user.id,
            created_at: Utc::now(),
            expires_at: req.expires_at,
            last_used_at: None,
            rotated_at: None,
            revoked_at: None,
            signing_secret_enc: Some(signing_secret_enc),
            previous_signing_secret_enc: None,
            require_signature: req.require_signature,
        };
        let api_key = format!("{PREFIX}{}_{secret}", record.key_id);
        let mut audit = audit::batch(principal
            .event(Action::ApiKeyCreated, Outcome::Success)
            .resource("api_key", record.id)
            .meta(serde_json::json!({"after": {"name": record.name, "scopes": scopes, "expires_at": record.expires_at, "require_signature": record.require_signature}})),
    );
        self.store
            .create_api_key(record.clone(), &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(ApiKeySecretResponse {
            key: info(&record),
            api_key,
            signing_secret,
        })
    }

    pub async fn rotate(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
        req: RotateApiKeyRequest,
    ) -> Result<ApiKeySecretResponse, AppError> {
        // A key cannot mint key material, its own or another's.
        principal.require_session()?;
        self.require_api_tier(access)?;
        let grace = req
            .grace_period_secs
            .unwrap_or(self.config.api_key_rotation_grace_secs);
        if grace > 30 * 24 * 3600 {
            return Err(AppError::validation(
                "grace_period_secs",
                "must be at most 30 days",
            ));
        }
        let current = self.get(access.tenant(), id).await?;
        if current.revoked_at.is_some() {
            return Err(AppError::conflict(
                "api_key_revoked",
                "a revoked key stays revoked; create a new one",
            ));
        }
        // Rotating hands out a new secret for everything the key can do: the
        // caller must hold all of it (as when creating it).
        let scopes: Vec<String> = serde_json::from_str(&current.scopes).unwrap_or_default();
        let wanted = crate::rbac::roles::parse_names("scopes", &scopes)?;
        access
            .require_at_least(wanted, "rotating this API key")
            .await?;
        let secret = random_token(SECRET_BYTES);
        let (signing_secret, signing_secret_enc) = self.new_signing_secret(&current.key_id)?;
        let until: DateTime<Utc> =
            Utc::now() + ChronoDuration::seconds(i64::try_from(grace).unwrap_or(0));
        let mut audit = audit::batch(
            principal
                .event(Action::ApiKeyRotated, Outcome::Success)
                .resource("api_key", id)
                .meta(serde_json::json!({"grace_period_secs": grace})),
        );
        self.store
            .rotate_api_key(
                access.org().id,
                id,
                sha256_hex(secret.as_bytes()),
                until,
                signing_secret_enc,
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        let record = self.get(access.tenant(), id).await?;
        Ok(ApiKeySecretResponse {
            api_key: format!("{PREFIX}{}_{secret}", record.key_id),
            key: info(&record),
            signing_secret,
        })
    }

    pub async fn revoke(
        &self,
        tenant: Tenant,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let org = tenant.id();
        let mut audit = audit::batch(
            principal
                .event(Action::ApiKeyRevoked, Outcome::Success)
                .resource("api_key", id),
        );
        self.store.revoke_api_key(org, id, &mut audit).await?;
        self.auditor.committed(&audit).await
    }

    /// The organization's API keys.
    pub async fn list(&self, tenant: Tenant) -> Result<Vec<ApiKeyRecord>, AppError> {
        Ok(self.store.list_api_keys(tenant.id()).await?)
    }

    pub async fn get(&self, tenant: Tenant, id: Uuid) -> Result<ApiKeyRecord, AppError> {
        let org = tenant.id();
        self.store
            .api_key(org, id)
            .await?
            .ok_or(AppError::NotFound { what: "API key" })
    }

    /// Authenticates `Authorization: Bearer loki_…`.
    pub async fn authenticate(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Principal, AppError> {
        let (key_id, secret) = parse(token).ok_or_else(invalid)?;
        let record = self.store.api_key_by_key_id(key_id).await?;
        // Hash even when the key id is unknown, so both paths cost the same.
        let digest = sha256_hex(secret.as_bytes());
        let now = Utc::now();
        let Some(record) = record else {
            return Err(invalid());
        };
        let current = ct_eq(&record.secret_hash, &digest);
        let previous = record
            .previous_secret_hash
            .as_deref()
            .is_some_and(|p| ct_eq(p, &digest))
            && record.previous_valid_until.is_some_and(|t| t > now);
        let refusal = if !(current || previous) {
            Some(("invalid_api_key", "the API key is invalid"))
        } else if record.revoked_at.is_some() {
            Some(("api_key_revoked", "the API key was revoked"))
        } else if record.expires_at.is_some_and(|t| t <= now) {
            Some(("api_key_expired", "the API key has expired"))
        } else {
            None
        };
        if let Some((code, message)) = refusal {
            self.auditor
                .record(
                    Event::new(Action::ApiKeyRejected, Outcome::Denied)
                        .org(Some(record.org_id))
                        .api_key(record.id)
                        .client(client)
                        .meta(serde_json::json!({"reason": code})),
                )
                .await?;
            return Err(AppError::unauthorized(code, message));
        }
        let org = self
            .store
            .org_by_id(record.org_id)
            .await?
            .filter(|o| o.deleted_at.is_none())
            .ok_or_else(invalid)?;
        if !self.config.limits(org.tier).api_access {
            return Err(AppError::TierLimit {
                message: format!("the organization's tier ({}) has no API access", org.tier),
            });
        }
        let user = self
            .store
            .user_by_id(record.created_by)
            .await?
            .ok_or_else(invalid)?;
        if record.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            self.store.touch_api_key(record.org_id, record.id).await?;
        }
        Ok(Principal {
            user,
            org: Some(record.org_id),
            credential: Credential::ApiKey {
                id: record.id,
                key_id: record.key_id.clone(),
                scopes: serde_json::from_str(&record.scopes).unwrap_or_default(),
                require_signature: record.require_signature,
            },
            client: client.clone(),
            org_version: None,
        })
    }
}

fn signing_context(key_id: &str) -> Vec<u8> {
    format!("api-key-signing:{key_id}").into_bytes()
}

fn check_scopes(scopes: &[String]) -> Result<Vec<String>, AppError> {
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(AppError::validation(
            "scopes",
            format!("give 1 to {MAX_SCOPES} permission names"),
        ));
    }
    let mut out = Vec::new();
    for s in scopes {
        validate::permission_name("scopes", s)?;
        let p = s
            .parse::<loki_shared::Permission>()
            .map_err(|e| AppError::validation("scopes", e.to_string()))?;
        // Keys are bound to their organization: no global power.
        if p.is_system() {
            return Err(AppError::validation(
                "scopes",
                format!("`{s}` is a system permission; API keys cannot carry it"),
            ));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

fn invalid() -> AppError {
    AppError::unauthorized("invalid_api_key", "the API key is invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys() {
        assert_eq!(
            parse("loki_0123456789abcdef_s3_cr-et"),
            Some(("0123456789abcdef", "s3_cr-et"))
        );
        assert_eq!(parse("loki_0123456789abcdef_"), None);
        assert_eq!(parse("loki_short_secret"), None);
        assert_eq!(parse("nope_0123456789abcdef_x"), None);
    }
}
