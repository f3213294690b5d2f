//! Sign-up, sign-in and organization switching. No HTTP types in here.

use loki_shared::api::{
    LoginRequest, MeResponse, Organization, RegisterRequest, SwitchOrgRequest, TokenResponse, User,
};
use uuid::Uuid;

use super::password::check_policy;
use super::Principal;
use crate::app::AppState;
use crate::error::AppError;
use crate::store::NewUser;
use crate::validate;

pub async fn register(state: &AppState, req: RegisterRequest) -> Result<User, AppError> {
    if !state.config.allow_registration {
        return Err(AppError::forbidden(
            "registration_closed",
            "self-registration is disabled on this server",
        ));
    }
    let email = validate::email("email", &req.email)?;
    check_policy(&req.password, &email)?;
    let display_name = req
        .display_name
        .as_deref()
        .map(|n| validate::name("display_name", n, 100))
        .transpose()?;
    let password_hash = state.passwords.hash(req.password).await?;
    let user = state
        .store
        .create_user(NewUser {
            id: Uuid::now_v7(),
            email,
            display_name,
            password_hash,
        })
        .await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok(user)
}

/// Creates the first operator (or promotes an existing user): the path of
/// `lokid admin create-super-admin`.
pub async fn bootstrap_super_admin(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<User, AppError> {
    let email = validate::email("email", email)?;
    check_policy(&password, &email)?;
    let password_hash = state.passwords.hash(password).await?;
    let user = state
        .store
        .upsert_super_admin(NewUser {
            id: Uuid::now_v7(),
            email,
            display_name: None,
            password_hash,
        })
        .await?;
    tracing::info!(user_id = %user.id, "super admin bootstrapped");
    Ok(user)
}

fn bad_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "email or password is incorrect")
}

pub async fn login(state: &AppState, req: LoginRequest) -> Result<TokenResponse, AppError> {
    // A malformed email cannot belong to anyone: answer exactly like a wrong
    // password (after the same hashing work) rather than revealing the check.
    let email = validate::email("email", &req.email).ok();
    let creds = match &email {
        Some(e) => state.store.credentials_by_email(e).await?,
        None => None,
    };
    let (user, hash) = match creds {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(req.password, hash).await?;
    let user = match (ok, user) {
        (true, Some(user)) => user,
        _ => {
            tracing::info!("sign-in failed");
            return Err(bad_credentials());
        }
    };
    let org = match req.org.as_deref() {
        Some(reference) => Some(resolve_membership(state, &user, reference).await?),
        None => None,
    };
    tracing::info!(user_id = %user.id, org_id = ?org.as_ref().map(|o| o.id), "signed in");
    token_response(state, user, org, Uuid::now_v7())
}

pub async fn switch_org(
    state: &AppState,
    principal: &Principal,
    req: SwitchOrgRequest,
) -> Result<TokenResponse, AppError> {
    let org = resolve_membership(state, &principal.user, &req.org).await?;
    token_response(
        state,
        principal.user.clone(),
        Some(org),
        principal.session_id,
    )
}

pub async fn me(state: &AppState, principal: &Principal) -> Result<MeResponse, AppError> {
    Ok(MeResponse {
        user: principal.user.clone(),
        org: principal.org,
        session_id: principal.session_id,
        organizations: state.store.orgs_of_user(principal.user.id).await?,
    })
}

/// Finds the organization `reference` (id or slug) among the user's own.
/// Not being a member and the organization not existing answer alike, so
/// the endpoint cannot be used to probe for other tenants.
async fn resolve_membership(
    state: &AppState,
    user: &User,
    reference: &str,
) -> Result<Organization, AppError> {
    let reference = reference.trim();
    let id = Uuid::parse_str(reference).ok();
    state
        .store
        .orgs_of_user(user.id)
        .await?
        .into_iter()
        .map(|m| m.organization)
        .find(|o| Some(o.id) == id || o.slug == reference)
        .ok_or_else(|| {
            AppError::forbidden(
                "not_a_member",
                "you are not a member of that organization (or it does not exist)",
            )
        })
}

fn token_response(
    state: &AppState,
    user: User,
    org: Option<Organization>,
    sid: Uuid,
) -> Result<TokenResponse, AppError> {
    let access_token = state
        .tokens
        .issue(user.id, org.as_ref().map(|o| o.id), sid)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl_secs,
        user,
        org,
    })
}
