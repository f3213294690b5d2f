//! An organization's identity providers (OpenID Connect, GitHub, SAML 2.0)
//! as configuration. The client secret is sealed with the master key, bound
//! to the provider's id, and never returned.

use std::sync::Arc;

use chrono::Utc;
use loki_shared::api::{
    CreateIdentityProviderRequest, IdentityProviderInfo, IdpKind, IdpPreset, IdpSettings,
};
use loki_shared::audit::actions::Action;
use loki_shared::PermSet;
use uuid::Uuid;

use crate::audit::{self, Auditor, Outcome};
use crate::auth::keys::MasterKey;
use crate::auth::sessions;
use crate::auth::Principal;
use crate::error::AppError;
use crate::rbac::OrgAccess;
use crate::store::{DynStore, IdpRecord};

#[derive(Clone)]
pub struct IdentityProviders {
    pub(crate) store: DynStore,
    pub(crate) kv: crate::kv::DynKv,
    pub(crate) auditor: Auditor,
    pub(crate) master: Arc<MasterKey>,
}

/// What the client secret is sealed to: it opens only as this provider's.
fn secret_context(id: Uuid) -> Vec<u8> {
    format!("idp-client-secret:{id}").into_bytes()
}

pub fn info(r: &IdpRecord) -> Result<IdentityProviderInfo, AppError> {
    let settings: IdpSettings =
        serde_json::from_str(&r.settings).map_err(|e| AppError::Internal(e.into()))?;
    Ok(IdentityProviderInfo {
        id: r.id,
        org_id: r.org_id,
        name: r.name.clone(),
        settings,
        has_client_secret: r.client_secret.is_some(),
        created_at: r.created_at,
    })
}

fn v(field: &'static str, msg: impl Into<String>) -> AppError {
    AppError::validation(field, msg)
}

/// An https URL; http only on this machine (a provider run for testing).
fn checked_url(field: &'static str, s: &str) -> Result<String, AppError> {
    let url = url::Url::parse(s.trim()).map_err(|_| v(field, "must be a URL"))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(v(field, "must be https (http only on 127.0.0.1)")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(v(field, "must not carry credentials or a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn text(field: &'static str, s: &Option<String>, max: usize) -> Result<Option<String>, AppError> {
    match s.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(v(field, "must not be empty")),
        Some(t) if t.chars().count() > max => Err(v(field, format!("at most {max} characters"))),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// Checks a request and turns it into the stored settings (presets filled in).
pub fn settings_of(req: &CreateIdentityProviderRequest) -> Result<IdpSettings, AppError> {
    let (kind, issuer) = match (req.preset, req.kind) {
        (Some(IdpPreset::Google), None | Some(IdpKind::Oidc)) => (
            IdpKind::Oidc,
            Some("https://accounts.google.com".to_owned()),
        ),
        (Some(IdpPreset::Microsoft), None | Some(IdpKind::Oidc)) => {
            let tenant = text("tenant", &req.tenant, 100)?
                .ok_or_else(|| v("tenant", "the microsoft preset needs the Entra ID tenant"))?;
            if !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(v("tenant", "a tenant id or domain"));
            }
            // Multi-tenant endpoints would take any tenant's word for an
            // email address (the "nOAuth" mistake): one tenant only.
            if ["common", "organizations", "consumers"].contains(&tenant.to_lowercase().as_str()) {
                return Err(v(
                    "tenant",
                    "name your own tenant (its id or domain), not a multi-tenant endpoint",
                ));
            }
            (
                IdpKind::Oidc,
                Some(format!("https://login.microsoftonline.com/{tenant}/v2.0")),
            )
        }
        (Some(IdpPreset::Github), None | Some(IdpKind::Github)) => {
            (IdpKind::Github, Some(super::github::GITHUB_COM.to_owned()))
        }
        // GitHub Enterprise Server: its own address (default github.com).
        (None, Some(IdpKind::Github)) => {
            let issuer = match text("issuer", &req.issuer, 500)? {
                Some(i) => checked_url("issuer", &i)?,
                None => super::github::GITHUB_COM.to_owned(),
            };
            (IdpKind::Github, Some(issuer))
        }
        (Some(_), Some(_)) => return Err(v("kind", "does not match the preset")),
        (None, Some(IdpKind::Oidc)) => {
            let issuer = text("issuer", &req.issuer, 500)?
                .ok_or_else(|| v("issuer", "OpenID Connect needs the issuer URL"))?;
            (IdpKind::Oidc, Some(checked_url("issuer", &issuer)?))
        }
        (None, Some(k)) => (k, None),
        (None, None) => return Err(v("kind", "give a kind (oidc, github, saml) or a preset")),
    };
    if req.preset.is_some() && req.issuer.is_some() {
        return Err(v("issuer", "is set by the preset"));
    }
    let client_id = text("client_id", &req.client_id, 300)?;
    let mut s = IdpSettings {
        kind,
        preset: req.preset,
        issuer,
        client_id: client_id.clone(),
        scopes: Vec::new(),
        metadata_url: None,
        metadata_xml: None,
        entity_id: None,
        allowed_domains: Vec::new(),
        role_mapping: req.role_mapping.clone(),
        jit_provisioning: req.jit_provisioning,
        default_role: text("default_role", &req.default_role, 100)?,
    };
    match kind {
        IdpKind::Oidc | IdpKind::Github => {
            if client_id.is_none() {
                return Err(v("client_id", "is required"));
            }
            if kind == IdpKind::Github && req.client_secret.is_none() {
                return Err(v("client_secret", "GitHub apps need the client secret"));
            }
            if req.metadata_url.is_some() || req.metadata_xml.is_some() || req.entity_id.is_some() {
                return Err(v("metadata_url", "SAML fields on an OAuth provider"));
            }
            let scopes = req.scopes.clone().unwrap_or_else(|| match kind {
                IdpKind::Github => vec!["read:user".into(), "user:email".into()],
                _ => vec!["openid".into(), "email".into(), "profile".into()],
            });
            if kind == IdpKind::Oidc && !scopes.iter().any(|s| s == "openid") {
                return Err(v("scopes", "OpenID Connect needs the `openid` scope"));
            }
            if scopes.len() > 20
                || scopes
                    .iter()
                    .any(|s| s.is_empty() || s.len() > 100 || s.chars().any(|c| c.is_whitespace()))
            {
                return Err(v("scopes", "1 to 20 scopes without spaces"));
            }
            s.scopes = scopes;
        }
        IdpKind::Saml => {
            if req.client_id.is_some() || req.client_secret.is_some() || req.scopes.is_some() {
                return Err(v("client_id", "OAuth fields on a SAML provider"));
            }
            s.metadata_url = match &req.metadata_url {
                Some(u) => Some(checked_url("metadata_url", u)?),
                None => None,
            };
            s.metadata_xml = text("metadata_xml", &req.metadata_xml, 200_000)?;
            match (&s.metadata_url, &s.metadata_xml) {
                (None, None) => return Err(v("metadata_url", "give the IdP metadata URL or XML")),
                (Some(_), Some(_)) => {
                    return Err(v(
                        "metadata_xml",
                        "give the metadata URL or the XML, not both",
                    ))
                }
                _ => {}
            }
            // Without a signing certificate nothing the IdP sends could be
            // verified: refuse now rather than accept unsigned assertions.
            if let Some(xml) = &s.metadata_xml {
                if !xml.contains("IDPSSODescriptor") || !xml.contains("X509Certificate") {
                    return Err(v(
                        "metadata_xml",
                        "must be IdP metadata (IDPSSODescriptor) with a signing certificate (X509Certificate)",
                    ));
                }
            }
            s.entity_id = text("entity_id", &req.entity_id, 500)?;
        }
    }
    if req.allowed_domains.len() > 50 {
        return Err(v("allowed_domains", "at most 50"));
    }
    for d in &req.allowed_domains {
        let d = d.trim().trim_start_matches('@').to_lowercase();
        let ok = d.contains('.')
            && d.len() <= 253
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(v("allowed_domains", format!("`{d}` is not a domain")));
        }
        s.allowed_domains.push(d);
    }
    if s.jit_provisioning && (s.allowed_domains.is_empty() || s.default_role.is_none()) {
        return Err(v(
            "jit_provisioning",
            "needs allowed_domains and a default_role (who may join, and as what)",
        ));
    }
    if s.role_mapping.len() > 50 {
        return Err(v("role_mapping", "at most 50 rules"));
    }
    for m in &s.role_mapping {
        if m.claim.trim().is_empty()
            || m.value.is_empty()
            || m.claim.len() > 200
            || m.value.len() > 500
        {
            return Err(v(
                "role_mapping",
                "each rule needs a claim, a value and a role",
            ));
        }
    }
    Ok(s)
}

impl IdentityProviders {
    pub async fn list(&self, org: Uuid) -> Result<Vec<IdentityProviderInfo>, AppError> {
        self.store.idps(org).await?.iter().map(info).collect()
    }

    pub async fn get(&self, org: Uuid, id: Uuid) -> Result<IdentityProviderInfo, AppError> {
        let all = self.store.idps(org).await?;
        info(all.iter().find(|r| r.id == id).ok_or(AppError::NotFound {
            what: "identity provider",
        })?)
    }

    /// Adds a provider. It takes an admin's authority (it can sign in as any
    /// member), and every role it can hand out (mapping or JIT default) must
    /// be one the caller could grant: a provider is not a way around the
    /// escalation check.
    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: CreateIdentityProviderRequest,
    ) -> Result<IdentityProviderInfo, AppError> {
        let name = text("name", &Some(req.name.clone()), 100)?.unwrap_or_default();
        let settings = settings_of(&req)?;
        let mut granted = PermSet::EMPTY;
        for role in settings
            .role_mapping
            .iter()
            .map(|m| m.role.as_str())
            .chain(settings.default_role.as_deref())
        {
            let perms = access.policy().role(role).ok_or_else(|| {
                v(
                    "role_mapping",
                    format!("no role `{role}` in this organization"),
                )
            })?;
            granted = granted.union(perms);
        }
        // A provider can sign in as any member whose email it asserts, the
        // admins included: adding one takes an admin's authority, signed in
        // as oneself (not an API key).
        principal.require_session()?;
        let admin = access
            .policy()
            .role("admin")
            .unwrap_or_else(PermSet::all_org);
        access
            .require_at_least(
                granted.union(admin),
                "an identity provider (it signs in as any member it names) and the roles it hands out",
            )
            .await?;
        let id = Uuid::now_v7();
        let client_secret = match text("client_secret", &req.client_secret, 1000)? {
            Some(s) => Some(
                self.master
                    .seal(s.as_bytes(), &secret_context(id))
                    .map_err(AppError::Internal)?,
            ),
            None => None,
        };
        let record = IdpRecord {
            id,
            org_id: access.org().id,
            name,
            kind: settings.kind.as_str().to_owned(),
            settings: serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.into()))?,
            client_secret,
            created_by: principal.user.id,
            created_at: Utc::now(),
        };
        let out = info(&record)?;
        // The event carries the configuration, never the secret.
        let mut audit = audit::batch(
            principal
                .event(Action::SsoProviderCreated, Outcome::Success)
                .resource("identity_provider", id)
                .meta(serde_json::json!({"after": {
                    "name": out.name,
                    "kind": settings.kind.as_str(),
                    "issuer": settings.issuer,
                    "client_id": settings.client_id,
                    "allowed_domains": settings.allowed_domains,
                    "role_mapping": settings.role_mapping,
                    "jit_provisioning": settings.jit_provisioning,
                    "default_role": settings.default_role,
                    "has_client_secret": out.has_client_secret,
                }})),
        );
        self.store.create_idp(record, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        Ok(out)
    }

    /// Removes a provider and ends every session it started (a provider
    /// taken away no longer vouches for anyone).
    pub async fn delete(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        let before = self.get(org, id).await?;
        if access.org().settings.require_sso && self.store.idps(org).await?.len() == 1 {
            return Err(AppError::Conflict {
                code: "identity_provider_required",
                message: "the organization requires single sign-on and this is its last identity provider: turn settings.require_sso off first".into(),
            });
        }
        let started: Vec<_> = sessions::list_for_org(self.kv.as_ref(), org)
            .await?
            .into_iter()
            .filter(|s| s.sso.is_some_and(|o| o.idp_id == id))
            .collect();
        let mut audit = audit::batch(
            principal
                .event(Action::SsoProviderDeleted, Outcome::Success)
                .resource("identity_provider", id)
                .meta(serde_json::json!({
                    "before": {"name": before.name, "kind": before.settings.kind.as_str()},
                    "sessions_ended": started.len(),
                })),
        );
        self.store.delete_idp(org, id, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        for s in &started {
            self.store
                .revoke_refresh_family(s.id, "identity_provider_removed")
                .await?;
            sessions::remove(self.kv.as_ref(), s).await?;
        }
        Ok(())
    }

    /// The client secret, for the sign-in flow (opened only for its own
    /// provider).
    pub async fn client_secret(&self, org: Uuid, id: Uuid) -> Result<Option<String>, AppError> {
        let all = self.store.idps(org).await?;
        let r = all.iter().find(|r| r.id == id).ok_or(AppError::NotFound {
            what: "identity provider",
        })?;
        match &r.client_secret {
            Some(sealed) => {
                let plain = self
                    .master
                    .open(sealed, &secret_context(id))
                    .map_err(AppError::Internal)?;
                Ok(Some(
                    String::from_utf8(plain.to_vec()).map_err(|e| AppError::Internal(e.into()))?,
                ))
            }
            None => Ok(None),
        }
    }
}
