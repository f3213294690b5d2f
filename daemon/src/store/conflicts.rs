//! Unique constraints the API reports as conflicts, found by the
//! constraint's name (PostgreSQL) or the columns it covers (SQLite names
//! the columns, not the index) — never by guessing at message text.

/// (PostgreSQL constraint, SQLite columns, code, message).
const UNIQUE: &[(&str, &str, &str, &str)] = &[
    (
        "users_email_key",
        "users.email",
        "email_taken",
        "a user with this email already exists",
    ),
    (
        "organizations_slug_key",
        "organizations.slug",
        "slug_taken",
        "an organization with this slug already exists",
    ),
    (
        "memberships_pkey",
        "memberships.org_id, memberships.user_id",
        "already_member",
        "the user is already a member",
    ),
    (
        "roles_org_name_key",
        "roles.org_id, roles.name",
        "role_exists",
        "a role with this name already exists",
    ),
    (
        "grants_unique_key",
        "grants.org_id, grants.resource_type, grants.resource_id, grants.subject_type, grants.subject, grants.permission",
        "grant_exists",
        "this grant already exists",
    ),
    (
        "invitations_pending_key",
        "invitations.org_id, invitations.email",
        "already_invited",
        "an invitation for this email is already pending; revoke it first",
    ),
];

/// The conflict a unique violation stands for, if it is one the API names.
pub(crate) fn known(db: &dyn sqlx::error::DatabaseError) -> Option<(&'static str, &'static str)> {
    let sqlite_columns = db.message().strip_prefix("UNIQUE constraint failed: ");
    UNIQUE
        .iter()
        .find(|(pg, sqlite, _, _)| db.constraint() == Some(*pg) || sqlite_columns == Some(*sqlite))
        .map(|(_, _, code, message)| (*code, *message))
}
