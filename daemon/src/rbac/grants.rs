//! Resource-level grants: one permission on one document for a user or a
//! role. A grant never gives more than its granter holds.

use chrono::Utc;
use loki_shared::api::{CreateGrantRequest, GrantInfo, GrantSubjectType};
use loki_shared::audit::actions::Action;
use loki_shared::permissions::Permission;
use uuid::Uuid;

use super::{OrgAccess, Tenant};
use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::Principal;
use crate::error::AppError;
use crate::store::DynStore;
use crate::store::GrantRecord;

/// Resource grants.
#[derive(Clone)]
pub struct Grants {
    pub(crate) store: DynStore,
    pub(crate) auditor: Auditor,
}

/// Permissions that make sense on a single document.
const DOCUMENT_PERMISSIONS: [Permission; 4] = [
    Permission::DocRead,
    Permission::DocDownload,
    Permission::DocUpdate,
    Permission::DocDelete,
];

pub fn info(g: &GrantRecord) -> GrantInfo {
    GrantInfo {
        id: g.id,
        resource_type: g.resource_type.clone(),
        resource_id: g.resource_id,
        subject_type: if g.subject_type == "user" {
            GrantSubjectType::User
        } else {
            GrantSubjectType::Role
        },
        subject: g.subject.clone(),
        permission: g.permission.clone(),
        created_by: g.created_by,
        created_at: g.created_at,
    }
}

impl Grants {
    /// The organization's grants, optionally those on one resource.
    pub async fn list(
        &self,
        tenant: Tenant,
        resource: Option<(String, Uuid)>,
    ) -> Result<Vec<crate::store::GrantRecord>, AppError> {
        Ok(self.store.grants(tenant.id(), resource).await?)
    }

    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: CreateGrantRequest,
    ) -> Result<GrantInfo, AppError> {
        let org = access.org().id;
        if req.resource_type != "document" {
            return Err(AppError::validation("resource_type", "must be `document`"));
        }
        let perm: Permission =
            req.permission
                .parse()
                .map_err(|e: loki_shared::permissions::UnknownPermission| {
                    AppError::validation("permission", e.to_string())
                })?;
        if !DOCUMENT_PERMISSIONS.contains(&perm) {
            return Err(AppError::validation(
                "permission",
                "documents take doc:read, doc:download, doc:update or doc:delete",
            ));
        }
        access
            .require_at_least(loki_shared::PermSet::EMPTY.with(perm), "this grant")
            .await?;
        if self.store.document(org, req.resource_id).await?.is_none() {
            return Err(AppError::NotFound { what: "document" });
        }
        let subject = match req.subject_type {
            GrantSubjectType::User => {
                let user: Uuid = req
                    .subject
                    .parse()
                    .map_err(|_| AppError::validation("subject", "must be a user id"))?;
                if self.store.member(org, user).await?.is_none() {
                    return Err(AppError::validation(
                        "subject",
                        "is not a member of this organization",
                    ));
                }
                user.to_string()
            }
            GrantSubjectType::Role => {
                if access.policy().role(&req.subject).is_none() {
                    return Err(AppError::validation("subject", "no role with this name"));
                }
                req.subject.clone()
            }
        };
        let record = GrantRecord {
            id: Uuid::now_v7(),
            org_id: org,
            resource_type: req.resource_type.clone(),
            resource_id: req.resource_id,
            subject_type: match req.subject_type {
                GrantSubjectType::User => "user".into(),
                GrantSubjectType::Role => "role".into(),
            },
            subject,
            permission: perm.name().to_owned(),
            created_by: principal.user.id,
            created_at: Utc::now(),
        };
        let out = info(&record);
        let mut audit = audit::batch(
            principal
                .event(Action::GrantCreated, Outcome::Success)
                .resource("grant", record.id)
                .meta(serde_json::json!({"after": out})),
        );
        self.store.create_grant(record, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        Ok(out)
    }

    pub async fn revoke(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        let before = self
            .store
            .grants(org, None)
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or(AppError::NotFound { what: "grant" })?;
        let mut audit = audit::batch(
            principal
                .event(Action::GrantRevoked, Outcome::Success)
                .resource("grant", id)
                .meta(serde_json::json!({"before": info(&before)})),
        );
        self.store.delete_grant(org, id, &mut audit).await?;
        // Committing announces the change to every daemon's caches.
        self.auditor.committed(&audit).await
    }
}
