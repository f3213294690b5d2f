//! A signed-in session: the client, the tokens (mirrored in the keyring at
//! every rotation) and who the user is. Requests go through
//! [`Session::call`], which refreshes the access token when it is about to
//! expire or the server says it has, once.

use std::future::Future;
use std::time::{Duration, Instant};

use loki_shared::api::{MyOrganization, TokenResponse, User};
use serde::Serialize;
use uuid::Uuid;

use crate::client::DaemonClient;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::trust::PinState;
use crate::vault::{self, SharedVault, StoredTokens};

/// An organization the user can switch to.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct OrgChoice {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub roles: Vec<String>,
}

impl From<&MyOrganization> for OrgChoice {
    fn from(o: &MyOrganization) -> Self {
        Self {
            id: o.organization.id,
            slug: o.organization.slug.clone(),
            name: o.organization.name.clone(),
            roles: o.roles.clone(),
        }
    }
}

/// What the window knows about the session (no tokens).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SessionView {
    pub server: String,
    pub user: User,
    pub org: Option<Uuid>,
    pub organizations: Vec<OrgChoice>,
    pub pin: PinState,
}

pub struct Session {
    pub client: DaemonClient,
    pub server: String,
    pub account: String,
    tokens: StoredTokens,
    expires_at: Instant,
    pub user: User,
    pub org: Option<Uuid>,
    pub organizations: Vec<OrgChoice>,
    pub pin: PinState,
    vault: SharedVault,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("user", &self.user.email)
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// Refresh this long before the access token expires.
const MARGIN: Duration = Duration::from_secs(30);

impl Session {
    /// A session from freshly issued tokens; stores them in the keyring
    /// first (no keyring: no session).
    pub async fn start(
        client: DaemonClient,
        vault: SharedVault,
        account: String,
        t: &TokenResponse,
        pin: PinState,
    ) -> AppResult<Self> {
        let tokens = stored(t);
        store(&vault, &account, &tokens).await?;
        let mut s = Self {
            server: client.base().as_str().trim_end_matches('/').to_owned(),
            client,
            account,
            tokens,
            expires_at: Instant::now() + Duration::from_secs(t.expires_in),
            user: t.user.clone(),
            org: t.org.as_ref().map(|o| o.id),
            organizations: Vec::new(),
            pin,
            vault,
        };
        if let Err(e) = s.reload_me().await {
            // Half a sign-in leaves nothing behind: not the server session,
            // not the keyring entry.
            let _ = s.sign_out().await;
            return Err(e);
        }
        Ok(s)
    }

    /// A session from tokens found in the keyring (the app restarted).
    pub async fn resume(
        client: DaemonClient,
        vault: SharedVault,
        account: String,
        tokens: StoredTokens,
        pin: PinState,
    ) -> AppResult<Self> {
        let me = client.me(&tokens.access_token).await;
        let mut s = Self {
            server: client.base().as_str().trim_end_matches('/').to_owned(),
            client,
            account,
            tokens,
            // Unknown: refresh at the first sign of expiry.
            expires_at: Instant::now() + MARGIN + Duration::from_secs(1),
            user: match &me {
                Ok(m) => m.user.clone(),
                Err(_) => placeholder_user(),
            },
            org: None,
            organizations: Vec::new(),
            pin,
            vault,
        };
        if me.is_err() {
            s.refresh().await?;
        }
        s.reload_me().await?;
        Ok(s)
    }

    pub fn view(&self) -> SessionView {
        SessionView {
            server: self.server.clone(),
            user: self.user.clone(),
            org: self.org,
            organizations: self.organizations.clone(),
            pin: self.pin.clone(),
        }
    }

    /// Treats the access token as expired: the next call refreshes first
    /// (used after the machine slept, and by tests of rotation).
    pub fn expire_access_token(&mut self) {
        self.expires_at = Instant::now();
    }

    /// The organization the session is scoped to, which audit and report
    /// commands need.
    pub fn current_org(&self) -> AppResult<Uuid> {
        self.org
            .ok_or_else(|| AppError::input("Choose an organization first."))
    }

    pub fn session_id(&self) -> &str {
        &self.tokens.session_id
    }

    async fn reload_me(&mut self) -> AppResult<()> {
        let me = self.call(|c, t| async move { c.me(&t).await }).await?;
        self.user = me.user;
        self.org = me.org;
        self.organizations = me.organizations.iter().map(OrgChoice::from).collect();
        Ok(())
    }

    /// Rotates the refresh token; the new pair replaces the old in the
    /// keyring before it is used.
    pub async fn refresh(&mut self) -> AppResult<()> {
        let t = self.client.refresh(&self.tokens.refresh_token).await?;
        self.adopt(&t).await
    }

    /// Runs a request with the access token, refreshing first when it is
    /// near expiry and once more when the server says it expired.
    pub async fn call<T, F, Fut>(&mut self, f: F) -> AppResult<T>
    where
        F: Fn(DaemonClient, String) -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        if Instant::now() + MARGIN >= self.expires_at {
            self.refresh().await?;
        }
        match f(self.client.clone(), self.tokens.access_token.clone()).await {
            Err(e) if e.kind == ErrorKind::SessionExpired => {
                self.refresh().await?;
                f(self.client.clone(), self.tokens.access_token.clone()).await
            }
            other => other,
        }
    }

    pub async fn switch_org(&mut self, org: Uuid) -> AppResult<()> {
        let t = self
            .call(|c, tok| async move { c.switch_org(&tok, org).await })
            .await?;
        self.adopt(&t).await?;
        self.reload_me().await
    }

    /// Takes a new token pair: in memory first (the server has already
    /// spent the old refresh token, so it must never be sent again), then
    /// into the keyring.
    async fn adopt(&mut self, t: &TokenResponse) -> AppResult<()> {
        self.tokens = stored(t);
        self.expires_at = Instant::now() + Duration::from_secs(t.expires_in);
        self.org = t.org.as_ref().map(|o| o.id);
        store(&self.vault, &self.account, &self.tokens).await
    }

    /// Ends the session on the server, then forgets the tokens. The keyring
    /// entry goes even when the server cannot be told (reported after).
    pub async fn sign_out(mut self) -> AppResult<()> {
        // Through `call`: an expired access token is refreshed first, so the
        // session (and its refresh token) really ends on the server.
        let told = self.call(|c, t| async move { c.logout(&t).await }).await;
        let vault = self.vault.clone();
        let account = self.account.clone();
        vault::blocking(move || vault.delete(&account)).await?;
        match told {
            Ok(()) => Ok(()),
            // Already over on the server: nothing left to end.
            Err(e) if e.kind == ErrorKind::SessionExpired => Ok(()),
            Err(e) => Err(AppError::new(
                e.kind,
                format!(
                    "Signed out on this computer (the keyring entry is deleted), but the server \
                     could not be told: {} The session ends when it expires.",
                    e.message
                ),
            )),
        }
    }
}

fn stored(t: &TokenResponse) -> StoredTokens {
    StoredTokens {
        access_token: t.access_token.clone(),
        refresh_token: t.refresh_token.clone(),
        session_id: t.session_id.to_string(),
    }
}

async fn store(vault: &SharedVault, account: &str, tokens: &StoredTokens) -> AppResult<()> {
    let (vault, account, tokens) = (vault.clone(), account.to_owned(), tokens.clone());
    vault::blocking(move || vault.put(&account, &tokens)).await
}

fn placeholder_user() -> User {
    User {
        id: Uuid::nil(),
        email: String::new(),
        display_name: None,
        is_super_admin: false,
        mfa_enabled: false,
        created_at: chrono::Utc::now(),
    }
}
