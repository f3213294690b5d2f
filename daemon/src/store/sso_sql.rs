//! An organization's identity providers (single sign-on).
//! Written once for both backends (see `tenant_sql`).

use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::models::{IdpRecord, SsoLink};
use super::tenant_sql::Tenant;
use super::{map_sqlx, StoreError, StoreResult};

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(
        e,
        Some((
            "identity_provider_exists",
            "an identity provider with this name already exists",
        )),
    )
}

macro_rules! sso_sql {
    ($db:ty) => {
        impl Tenant<$db> {
            pub async fn insert_idp(conn: &mut <$db as sqlx::Database>::Connection, r: IdpRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO identity_providers (id, org_id, name, kind, settings, client_secret, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.id)
                .bind(r.org_id)
                .bind(r.name)
                .bind(r.kind)
                .bind(r.settings)
                .bind(r.client_secret)
                .bind(r.created_by)
                .bind(r.created_at)
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(())
            }

            pub async fn idps(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<Vec<IdpRecord>> {
                sqlx::query_as::<$db, IdpRecord>(
                    "SELECT id, org_id, name, kind, settings, client_secret, created_by, created_at \
                     FROM identity_providers WHERE org_id = $1 ORDER BY name",
                )
                .bind(org)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            /// The account an identity provider's subject is linked to.
            pub async fn sso_identity(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, idp: Uuid, subject: &str) -> StoreResult<Option<Uuid>> {
                let row = sqlx::query_as::<$db, (Uuid,)>(
                    "SELECT user_id FROM sso_identities WHERE org_id = $1 AND idp_id = $2 AND subject = $3",
                )
                .bind(org)
                .bind(idp)
                .bind(subject.to_owned())
                .fetch_optional(conn)
                .await
                .map_err(err)?;
                Ok(row.map(|r| r.0))
            }

            pub async fn insert_sso_identity(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, link: &SsoLink) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO sso_identities (idp_id, subject, org_id, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(link.idp_id)
                .bind(link.subject.clone())
                .bind(org)
                .bind(link.user_id)
                .bind(chrono::Utc::now())
                .execute(conn)
                .await
                .map_err(|e| map_sqlx(e, Some(("sso_identity_linked", "this identity is already linked to an account"))))?;
                Ok(())
            }

            pub async fn delete_idp(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM identity_providers WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

sso_sql!(Sqlite);
sso_sql!(Postgres);
