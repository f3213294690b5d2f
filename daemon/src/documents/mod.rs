//! Evidence documents. Content is stored content-addressed (SHA-256) in the
//! database, once per organization, so every daemon sharing the database
//! serves it and a backup holds documents and metadata together. Versions
//! keep earlier content; the tier's storage quota counts unique bytes and is
//! enforced in the same statement that records them.

use chrono::Utc;
use loki_shared::api::{DocumentInfo, DocumentVersionInfo, UpdateDocumentRequest};
use loki_shared::audit::actions::Action;
use loki_shared::Framework;
use uuid::Uuid;

use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::secrets::sha256_hex;
use crate::auth::Principal;
use crate::config::Config;
use crate::error::AppError;
use crate::rbac::OrgAccess;
use crate::rbac::Tenant;
use crate::store::DynStore;
use crate::store::{DocumentFilter, DocumentPatch, DocumentRecord, NewContent, VersionRecord};
use crate::validate;
use std::sync::Arc;

/// Evidence documents and their versions.
#[derive(Clone)]
pub struct Documents {
    pub(crate) store: DynStore,
    pub(crate) config: Arc<Config>,
    pub(crate) auditor: Auditor,
}

/// Content types accepted as evidence (never HTML or scripts).
pub const CONTENT_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

const MAX_TAGS: usize = 50;

pub fn info(d: &DocumentRecord) -> DocumentInfo {
    DocumentInfo {
        id: d.id,
        org_id: d.org_id,
        name: d.name.clone(),
        description: d.description.clone(),
        content_type: d.content_type.clone(),
        size: u64::try_from(d.size).unwrap_or(0),
        sha256: d.sha256.clone(),
        version: u32::try_from(d.version).unwrap_or(0),
        frameworks: serde_json::from_str(&d.frameworks).unwrap_or_default(),
        controls: serde_json::from_str(&d.controls).unwrap_or_default(),
        created_by: d.created_by,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

pub fn version_info(v: &VersionRecord) -> DocumentVersionInfo {
    DocumentVersionInfo {
        version: u32::try_from(v.version).unwrap_or(0),
        sha256: v.sha256.clone(),
        size: u64::try_from(v.size).unwrap_or(0),
        content_type: v.content_type.clone(),
        created_by: v.created_by,
        created_at: v.created_at,
    }
}

/// Checks the declared type and that the bytes look like it.
pub fn check_content(content_type: Option<&str>, bytes: &[u8]) -> Result<String, AppError> {
    let declared = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !CONTENT_TYPES.contains(&declared.as_str()) {
        return Err(AppError::UnsupportedContentType(format!(
            "content type `{}` is not accepted for evidence; use one of: {}",
            declared.chars().take(100).collect::<String>(),
            CONTENT_TYPES.join(", ")
        )));
    }
    if bytes.is_empty() {
        return Err(AppError::validation("content", "must not be empty"));
    }
    let magic_ok = match declared.as_str() {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(b"\xff\xd8\xff"),
        "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            bytes.starts_with(b"PK\x03\x04")
        }
        "application/json" => serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok(),
        _ => std::str::from_utf8(bytes).is_ok(),
    };
    if !magic_ok {
        return Err(AppError::validation(
            "content",
            format!("does not look like {declared}"),
        ));
    }
    Ok(declared)
}

/// Parses framework and control tags; a control implies its framework.
pub fn check_tags(
    frameworks: &[String],
    controls: &[String],
) -> Result<(Vec<String>, Vec<String>), AppError> {
    if frameworks.len() + controls.len() > MAX_TAGS {
        return Err(AppError::validation(
            "controls",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut fw: Vec<String> = Vec::new();
    for f in frameworks
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
    {
        let parsed = Framework::parse(&f.to_ascii_lowercase()).ok_or_else(|| {
            AppError::validation(
                "frameworks",
                format!(
                    "unknown framework `{}` (soc2, iso27001, gdpr)",
                    f.chars().take(40).collect::<String>()
                ),
            )
        })?;
        if !fw.iter().any(|x| x == parsed.as_str()) {
            fw.push(parsed.as_str().to_owned());
        }
    }
    let mut ctl: Vec<String> = Vec::new();
    for c in controls.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let framework = Framework::of_control(c).ok_or_else(|| {
            AppError::validation(
                "controls",
                format!(
                    "unknown control `{}`",
                    c.chars().take(40).collect::<String>()
                ),
            )
        })?;
        if !fw.iter().any(|x| x == framework.as_str()) {
            fw.push(framework.as_str().to_owned());
        }
        if !ctl.iter().any(|x| x == c) {
            ctl.push(c.to_owned());
        }
    }
    Ok((fw, ctl))
}

impl Documents {
    fn quota(&self, access: &OrgAccess) -> Option<i64> {
        self.config
            .limits(access.org().tier)
            .max_storage_bytes
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX))
    }

    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        u: Upload,
    ) -> Result<DocumentInfo, AppError> {
        let name = validate::name("name", &u.name, 200)?;
        let description = if u.description.is_empty() {
            String::new()
        } else {
            validate::name("description", &u.description, 2000)?
        };
        let content_type = check_content(u.content_type.as_deref(), &u.bytes)?;
        let (frameworks, controls) = check_tags(&u.frameworks, &u.controls)?;
        let sha256 = sha256_hex(&u.bytes);
        let now = Utc::now();
        let doc = DocumentRecord {
            id: Uuid::now_v7(),
            org_id: access.org().id,
            name,
            description,
            content_type: content_type.clone(),
            size: i64::try_from(u.bytes.len()).unwrap_or(i64::MAX),
            sha256: sha256.clone(),
            version: 1,
            frameworks: serde_json::to_string(&frameworks)
                .map_err(|e| AppError::Internal(e.into()))?,
            controls: serde_json::to_string(&controls).map_err(|e| AppError::Internal(e.into()))?,
            created_by: principal.user.id,
            created_at: now,
            updated_at: now,
        };
        let content = NewContent {
            sha256,
            content_type,
            bytes: u.bytes,
            created_by: principal.user.id,
        };
        let out = info(&doc);
        let mut audit = audit::batch(principal
            .event(Action::DocumentCreated, Outcome::Success)
            .resource("document", out.id)
            .meta(serde_json::json!({"after": {"name": out.name, "sha256": out.sha256, "size": out.size, "frameworks": out.frameworks, "controls": out.controls}})),
    );
        self.store
            .create_document(
                doc,
                content,
                (frameworks, controls),
                self.quota(access),
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(out)
    }

    pub async fn get(&self, tenant: Tenant, id: Uuid) -> Result<DocumentRecord, AppError> {
        let org = tenant.id();
        self.store
            .document(org, id)
            .await?
            .ok_or(AppError::NotFound { what: "document" })
    }

    /// A document's versions, oldest first.
    pub async fn versions(&self, tenant: Tenant, id: Uuid) -> Result<Vec<VersionRecord>, AppError> {
        self.get(tenant, id).await?;
        Ok(self.store.document_versions(tenant.id(), id).await?)
    }

    pub async fn list(
        &self,
        tenant: Tenant,
        filter: DocumentFilter,
    ) -> Result<(Vec<DocumentInfo>, Option<String>), AppError> {
        let org = tenant.id();
        let limit = filter.limit;
        let docs = self.store.documents(org, filter).await?;
        let next = (docs.len() as i64 == limit)
            .then(|| docs.last().map(|d| d.id.to_string()))
            .flatten();
        Ok((docs.iter().map(info).collect(), next))
    }

    pub async fn update(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
        req: UpdateDocumentRequest,
    ) -> Result<DocumentInfo, AppError> {
        let org = access.org().id;
        let before = info(&self.get(access.tenant(), id).await?);
        let tags = match (&req.frameworks, &req.controls) {
            (None, None) => None,
            (f, c) => Some(check_tags(
                f.as_deref().unwrap_or(&before.frameworks),
                c.as_deref().unwrap_or(&before.controls),
            )?),
        };
        let patch = DocumentPatch {
            name: req
                .name
                .as_deref()
                .map(|n| validate::name("name", n, 200))
                .transpose()?,
            description: req
                .description
                .as_deref()
                .map(|d| {
                    if d.is_empty() {
                        Ok(String::new())
                    } else {
                        validate::name("description", d, 2000)
                    }
                })
                .transpose()?,
            tags,
        };
        if patch.name.is_none() && patch.description.is_none() && patch.tags.is_none() {
            return Err(AppError::validation(
                "body",
                "nothing to update: give name, description, frameworks or controls",
            ));
        }
        let (frameworks, controls) = match &patch.tags {
            Some((f, c)) => (f.clone(), c.clone()),
            None => (before.frameworks.clone(), before.controls.clone()),
        };
        let mut audit = audit::batch(principal
            .event(Action::DocumentUpdated, Outcome::Success)
            .resource("document", id)
            .meta(serde_json::json!({
                "before": {"name": before.name, "description": before.description, "frameworks": before.frameworks, "controls": before.controls},
                "after": {
                    "name": patch.name.as_ref().unwrap_or(&before.name),
                    "description": patch.description.as_ref().unwrap_or(&before.description),
                    "frameworks": frameworks,
                    "controls": controls,
                },
            })),
    );
        self.store
            .update_document(org, id, patch, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(info(&self.get(access.tenant(), id).await?))
    }

    pub async fn replace(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
        content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<DocumentInfo, AppError> {
        let org = access.org().id;
        let content_type = check_content(content_type, &bytes)?;
        let before = self.get(access.tenant(), id).await?;
        let content = NewContent {
            sha256: sha256_hex(&bytes),
            content_type,
            bytes,
            created_by: principal.user.id,
        };
        let mut audit = audit::batch(principal
            .event(Action::DocumentContentReplaced, Outcome::Success)
            .resource("document", id)
            .meta(serde_json::json!({
                "before": {"version": before.version, "sha256": before.sha256, "size": before.size},
                "after": {"version": before.version + 1, "sha256": content.sha256, "size": content.bytes.len()},
            })),
    );
        let doc = self
            .store
            .replace_document_content(org, id, content, self.quota(access), &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(info(&doc))
    }

    pub async fn delete(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        let before = info(&self.get(access.tenant(), id).await?);
        let mut audit = audit::batch(principal
            .event(Action::DocumentDeleted, Outcome::Success)
            .resource("document", id)
            .meta(serde_json::json!({"before": {"name": before.name, "sha256": before.sha256, "version": before.version}})),
    );
        self.store.delete_document(org, id, &mut audit).await?;
        // Committing announces the change to every daemon's caches.
        self.auditor.committed(&audit).await
    }

    pub async fn download(
        &self,
        principal: &Principal,
        tenant: Tenant,
        id: Uuid,
        version: Option<i64>,
    ) -> Result<(DocumentRecord, VersionRecord, Vec<u8>), AppError> {
        let org = tenant.id();
        let doc = self.get(tenant, id).await?;
        let (v, bytes) =
            self.store
                .document_content(org, id, version)
                .await?
                .ok_or(AppError::NotFound {
                    what: "document version",
                })?;
        self.auditor
            .record(
                principal
                    .event(Action::DocumentDownloaded, Outcome::Success)
                    .resource("document", id)
                    .meta(serde_json::json!({"version": v.version, "sha256": v.sha256})),
            )
            .await?;
        Ok((doc, v, bytes))
    }
}

pub struct Upload {
    pub name: String,
    pub description: String,
    pub frameworks: Vec<String>,
    pub controls: Vec<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}
