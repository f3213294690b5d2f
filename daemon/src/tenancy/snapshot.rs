//! The current state a compliance report needs beside the audit bundle:
//! members (with MFA and super-admin flags), roles and their permissions,
//! API keys, the organization's settings.

use chrono::Utc;
use loki_shared::api::{ReportSnapshot, SnapshotMember};

use super::Tenancy;
use crate::auth::api_keys;
use crate::error::AppError;
use crate::rbac::OrgAccess;

impl Tenancy {
    pub async fn snapshot(&self, access: &OrgAccess) -> Result<ReportSnapshot, AppError> {
        let mut members = Vec::new();
        for m in self.members.members(access.tenant()).await? {
            let user = self.store.user_by_id(m.user_id).await?;
            members.push(SnapshotMember {
                user_id: m.user_id,
                email: m.email,
                roles: m.roles,
                mfa_enabled: user.as_ref().is_some_and(|u| u.mfa_enabled),
                is_super_admin: user.as_ref().is_some_and(|u| u.is_super_admin),
                joined_at: m.joined_at,
            });
        }
        let snapshot = ReportSnapshot {
            org_id: access.org().id,
            taken_at: Utc::now(),
            organization: access.org().clone(),
            members,
            roles: self.roles.list(access.tenant()).await?,
            api_keys: self
                .api_keys
                .list(access.tenant())
                .await?
                .iter()
                .map(api_keys::info)
                .collect(),
            sessions: Vec::new(),
            signature: None,
        };
        Ok(snapshot)
    }
}
