//! Invitations and the accounts an organization manages. Joining needs the
//! invitee's consent: acceptance claims the pending invitation, checks the
//! tier's member limit under the organization's lock and creates the
//! membership (and, for someone without an account, the account) in one
//! transaction, with its audit events.
//!
//! On PostgreSQL the invitee reaches an invitation before knowing its
//! organization: `invitee_scope` opens the rows of one email or one id, and
//! the writes then run in the organization's scope.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use loki_shared::api::Member;
use uuid::Uuid;

use super::audit_store::{AuditBatch, AuditSql};
use super::common::Common;
use super::models::NewUser;
use super::tenant_sql::Tenant;
use super::{map_err, StoreError, StoreResult};

/// An invitation as stored, with its organization's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: String,
    pub email: String,
    /// JSON array of role names.
    pub roles: String,
    pub invited_by: Uuid,
    pub token_hash: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Who accepts: a signed-in account, or a new one created by accepting.
pub enum Accepting {
    Existing(Uuid),
    NewAccount(NewUser),
}

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// `Conflict{already_invited}` while one is pending for the email.
    async fn create_invitation(
        &self,
        inv: InvitationRecord,
        audit: &mut AuditBatch,
    ) -> StoreResult<()>;
    async fn org_invitations(&self, org: Uuid) -> StoreResult<Vec<InvitationRecord>>;
    /// The invitations addressed to `email` (any organization).
    async fn invitations_for_email(&self, email: &str) -> StoreResult<Vec<InvitationRecord>>;
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<InvitationRecord>>;
    /// Pending -> `status` (declined or revoked); false if not pending.
    async fn close_invitation(
        &self,
        org: Uuid,
        id: Uuid,
        status: &str,
        audit: &mut AuditBatch,
    ) -> StoreResult<bool>;
    /// Pending -> accepted, and the membership with the invitation's roles,
    /// unless that would exceed `max_members`.
    async fn accept_invitation(
        &self,
        inv: &InvitationRecord,
        who: Accepting,
        roles: &[String],
        max_members: Option<u32>,
        audit: &mut AuditBatch,
    ) -> StoreResult<Member>;
    /// The organization that manages the account: its invitation created it
    /// and it has belonged to no other organization since.
    async fn managed_by(&self, user: Uuid) -> StoreResult<Option<Uuid>>;
}

const COLUMNS: &str = "i.id, i.org_id, o.name AS org_name, i.email, i.roles, i.invited_by, \
     i.token_hash, i.status, i.created_at, i.expires_at, i.decided_at";

macro_rules! invitation_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl InvitationStore for $store {
            async fn create_invitation(&self, inv: InvitationRecord, audit: &mut AuditBatch) -> StoreResult<()> {
                let org = inv.org_id;
                let mut tx = self.scope(org).await?;
                // An expired one for the same email stops being pending.
                sqlx::query::<$db>(
                    "UPDATE invitations SET status = 'expired', decided_at = $3 \
                     WHERE org_id = $1 AND email = $2 AND status = 'pending' AND expires_at <= $3",
                )
                .bind(org)
                .bind(&inv.email)
                .bind(inv.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO invitations (id, org_id, email, roles, invited_by, token_hash, status, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
                )
                .bind(inv.id)
                .bind(org)
                .bind(inv.email)
                .bind(inv.roles)
                .bind(inv.invited_by)
                .bind(inv.token_hash)
                .bind(inv.created_at)
                .bind(inv.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                AuditSql::<$db>::commit(tx, org, audit).await
            }

            async fn org_invitations(&self, org: Uuid) -> StoreResult<Vec<InvitationRecord>> {
                let mut tx = self.scope(org).await?;
                let rows = sqlx::query_as::<$db, InvitationRecord>(&format!(
                    "SELECT {COLUMNS} FROM invitations i JOIN organizations o ON o.id = i.org_id \
                     WHERE i.org_id = $1 ORDER BY i.created_at DESC, i.id DESC LIMIT 500"
                ))
                .bind(org)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(rows)
            }

            async fn invitations_for_email(&self, email: &str) -> StoreResult<Vec<InvitationRecord>> {
                let mut tx = self.invitee_scope(Some(email), None).await?;
                let rows = sqlx::query_as::<$db, InvitationRecord>(&format!(
                    "SELECT {COLUMNS} FROM invitations i JOIN organizations o ON o.id = i.org_id \
                     WHERE i.email = $1 AND o.status <> 'deleted' ORDER BY i.created_at DESC, i.id DESC LIMIT 500"
                ))
                .bind(email.to_owned())
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(rows)
            }

            async fn invitation(&self, id: Uuid) -> StoreResult<Option<InvitationRecord>> {
                let mut tx = self.invitee_scope(None, Some(id)).await?;
                let row = sqlx::query_as::<$db, InvitationRecord>(&format!(
                    "SELECT {COLUMNS} FROM invitations i JOIN organizations o ON o.id = i.org_id \
                     WHERE i.id = $1 AND o.status <> 'deleted'"
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(row)
            }

            async fn close_invitation(&self, org: Uuid, id: Uuid, status: &str, audit: &mut AuditBatch) -> StoreResult<bool> {
                let mut tx = self.scope(org).await?;
                let done = sqlx::query::<$db>(
                    "UPDATE invitations SET status = $3, decided_at = $4 \
                     WHERE org_id = $1 AND id = $2 AND status = 'pending'",
                )
                .bind(org)
                .bind(id)
                .bind(status.to_owned())
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                AuditSql::<$db>::commit(tx, org, audit).await?;
                Ok(true)
            }

            async fn accept_invitation(
                &self,
                inv: &InvitationRecord,
                who: Accepting,
                roles: &[String],
                max_members: Option<u32>, audit: &mut AuditBatch) -> StoreResult<Member> {
                let org = inv.org_id;
                let mut tx = self.scope(org).await?;
                // The organization's lock first: the member count below
                // cannot change until commit.
                if !Tenant::<$db>::lock_org(&mut tx, org).await? {
                    return Err(StoreError::NotFound("organization"));
                }
                let claimed = sqlx::query::<$db>(
                    "UPDATE invitations SET status = 'accepted', decided_at = $3 \
                     WHERE org_id = $1 AND id = $2 AND status = 'pending'",
                )
                .bind(org)
                .bind(inv.id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                if claimed.rows_affected() != 1 {
                    return Err(StoreError::Conflict {
                        code: "invitation_closed",
                        message: "the invitation is no longer pending".into(),
                    });
                }
                if let Some(max) = max_members {
                    if Tenant::<$db>::count_members(&mut tx, org).await? >= u64::from(max) {
                        return Err(super::member_limit_error(Some(max)));
                    }
                }
                let user = match who {
                    Accepting::Existing(user) => {
                        // Joining a second organization ends being managed by the first.
                        sqlx::query::<$db>(
                            "UPDATE users SET managed_by_org = NULL \
                             WHERE id = $1 AND managed_by_org IS NOT NULL AND managed_by_org <> $2",
                        )
                        .bind(user)
                        .bind(org)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                        user
                    }
                    Accepting::NewAccount(new) => {
                        let id = new.id;
                        Common::<$db>(&mut tx).insert_user(new, false).await?;
                        sqlx::query::<$db>("UPDATE users SET managed_by_org = $2 WHERE id = $1")
                            .bind(id)
                            .bind(org)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        id
                    }
                };
                sqlx::query::<$db>("UPDATE invitations SET user_id = $2 WHERE id = $1")
                    .bind(inv.id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                Tenant::<$db>::insert_membership(&mut tx, org, user).await?;
                for r in roles {
                    Tenant::<$db>::add_member_role(&mut tx, org, user, r).await?;
                }
                let member = Tenant::<$db>::members(&mut tx, org, Some(user)).await?.pop();
                // A new account's event goes to the system chain, in this
                // same transaction (the batch names each event's chain).
                AuditSql::<$db>::commit(tx, org, audit).await?;
                member.ok_or(StoreError::NotFound("member"))
            }

            async fn managed_by(&self, user: Uuid) -> StoreResult<Option<Uuid>> {
                let mut conn = self.pool.acquire().await.map_err(map_err)?;
                let row: Option<(Option<Uuid>,)> =
                    sqlx::query_as::<$db, (Option<Uuid>,)>("SELECT managed_by_org FROM users WHERE id = $1")
                        .bind(user)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(map_err)?;
                Ok(row.and_then(|r| r.0))
            }
        }
    };
}

invitation_store!(super::sqlite::SqliteStore, sqlx::Sqlite);
invitation_store!(super::postgres::PgStore, sqlx::Postgres);
