//! The provider's answer, verified: OpenID Connect and GitHub at the
//! callback, SAML at the assertion consumer service; then the account and
//! the one-time code for the app (`SignOn::issue_code`).

use std::time::Duration;

use loki_shared::api::{IdpKind, IdpSettings};

use super::oidc::{self, Verified};
use super::signon::{
    code_key, refused, settings, CallbackQuery, Grant, Pending, Refused, SignOn, CODE_TTL,
};
use super::{github, saml};
use crate::auth::secrets::{random_token, sha256_hex};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::store::IdpRecord;

impl SignOn {
    /// The provider a pending sign-in started with, unless it was removed
    /// meanwhile.
    async fn pending_provider(
        &self,
        p: &Pending,
    ) -> Result<Result<(IdpRecord, IdpSettings), Refused>, AppError> {
        let found = self
            .store
            .idps(p.org_id)
            .await?
            .into_iter()
            .find(|r| r.id == p.idp_id);
        Ok(match found {
            Some(record) => {
                let s = settings(&record)?;
                Ok((record, s))
            }
            None => Err(refused(
                "provider_removed",
                "the identity provider was removed meanwhile",
            )),
        })
    }

    /// A SAML IdP's post back (HTTP-POST binding): where the browser goes next.
    pub async fn saml_acs(
        &self,
        response: Option<&str>,
        relay_state: Option<&str>,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let pending = self.take_pending(relay_state).await?;
        let outcome = self.complete_saml(&pending, response, client).await?;
        self.conclude(&pending, outcome, client).await
    }

    async fn complete_saml(
        &self,
        p: &Pending,
        response: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Result<String, Refused>, AppError> {
        let Some(response) = response.filter(|r| !r.is_empty()) else {
            return Ok(Err(refused(
                "no_response",
                "the identity provider sent no SAML response",
            )));
        };
        let Some(request_id) = p.saml_request_id.as_deref() else {
            return Ok(Err(refused(
                "response_invalid",
                "this sign-in was not started with a SAML provider",
            )));
        };
        let (record, s) = match self.pending_provider(p).await? {
            Ok(found) => found,
            Err(r) => return Ok(Err(r)),
        };
        let checked = match self.saml_metadata(&s).await {
            Ok(metadata) => {
                let (entity_id, acs_url) = (self.sp_entity_id(&s), self.acs_url());
                let (response, request_id) = (response.to_owned(), request_id.to_owned());
                // libxml2 and xmlsec work synchronously: off the async workers.
                tokio::task::spawn_blocking(move || {
                    let sp = saml::Sp {
                        entity_id: &entity_id,
                        acs_url: &acs_url,
                        idp_metadata: &metadata,
                    };
                    saml::verify(&sp, &response, &request_id)
                })
                .await
                .map_err(|e| AppError::Internal(e.into()))?
            }
            Err(e) => Err(e),
        };
        let (verified, assertion_id) = match checked {
            Ok(v) => v,
            Err(e) => {
                let mut r = refused(e.reason, "the identity provider's answer did not verify");
                r.detail = Some(e.detail);
                return Ok(Err(r));
            }
        };
        // An assertion is used once, whatever state it comes back with.
        let fresh = self
            .kv
            .set_nx(
                &format!(
                    "saml_assertion:{}:{}",
                    record.id,
                    sha256_hex(assertion_id.as_bytes())
                ),
                b"1",
                Duration::from_secs(3600),
            )
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        if !fresh {
            return Ok(Err(refused(
                "replayed",
                "this SAML response was already used",
            )));
        }
        self.issue_code(p, &record, &s, &verified, client).await
    }

    /// Verifies the provider's answer and finds the account; the one-time
    /// code for the app, or why not.
    pub(super) async fn complete(
        &self,
        p: &Pending,
        q: &CallbackQuery,
        client: &ClientInfo,
    ) -> Result<Result<String, Refused>, AppError> {
        if let Some(err) = &q.error {
            let mut r = refused(
                "provider_error",
                "the identity provider did not sign you in",
            );
            r.detail = Some(format!(
                "{err}: {}",
                q.error_description.as_deref().unwrap_or("")
            ));
            return Ok(Err(r));
        }
        let Some(code) = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2000)
        else {
            return Ok(Err(refused(
                "no_code",
                "the identity provider sent no code",
            )));
        };
        let (record, s) = match self.pending_provider(p).await? {
            Ok(found) => found,
            Err(r) => return Ok(Err(r)),
        };
        let secret = self.idps.client_secret(p.org_id, record.id).await?;
        let redirect_uri = self.callback_url();
        let rp = oidc::Relying {
            issuer: s.issuer.as_deref().unwrap_or_default(),
            client_id: s.client_id.as_deref().unwrap_or_default(),
            client_secret: secret,
            redirect_uri: &redirect_uri,
            scopes: &s.scopes,
        };
        let answer = if s.kind == IdpKind::Github {
            let app = github::GitHubApp {
                base: s.issuer.as_deref().unwrap_or(github::GITHUB_COM),
                client_id: rp.client_id,
                client_secret: rp.client_secret.clone(),
                redirect_uri: &redirect_uri,
                scopes: &s.scopes,
            };
            github::redeem(&self.http, &app, code, &p.pkce_verifier, &s.allowed_domains).await
        } else {
            oidc::redeem(&self.http, &rp, code, &p.pkce_verifier, &p.nonce).await
        };
        let verified = match answer {
            Ok(v) => v,
            Err(e) => {
                let mut r = refused(e.reason, "the identity provider's answer did not verify");
                r.detail = Some(e.detail);
                return Ok(Err(r));
            }
        };
        self.issue_code(p, &record, &s, &verified, client).await
    }

    /// The account behind a verified identity, and a one-time code for it.
    async fn issue_code(
        &self,
        p: &Pending,
        record: &IdpRecord,
        s: &IdpSettings,
        verified: &Verified,
        client: &ClientInfo,
    ) -> Result<Result<String, Refused>, AppError> {
        let user = match self.account(p, record, s, verified, client).await? {
            Ok(u) => u,
            Err(r) => return Ok(Err(r)),
        };
        let code = format!("lsc_{}", random_token(32));
        let grant = Grant {
            user_id: user.id,
            org_id: p.org_id,
            idp_id: p.idp_id,
            mfa: verified.mfa,
            kind: p.kind,
            code_challenge: p.code_challenge.clone(),
        };
        let bytes = serde_json::to_vec(&grant).map_err(|e| AppError::Internal(e.into()))?;
        self.kv
            .set(&code_key(&code), &bytes, Some(CODE_TTL))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(Ok(code))
    }
}
