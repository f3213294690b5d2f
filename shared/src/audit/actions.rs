//! The catalogue of audit actions the daemon records: a closed type, like
//! the permission catalogue. Code records an `Action`, never a string, and
//! the report collector matches every variant, so a new action is a compile
//! error until reports either count it or say it is not evidence. Stored
//! events keep the dotted name (`as_str`), the format's stable identifier.

macro_rules! actions {
    ($($variant:ident = $name:literal, $what:literal;)*) => {
        /// An audit action (dotted name in stored events).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $(#[doc = $what] $variant,)*
        }

        impl Action {
            /// Every action, in catalogue order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The dotted name written into events, e.g. `member.role_changed`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// What an event with this action records.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Action::$variant => $what,)*
                }
            }

            /// The action a stored event names; `None` for a name this
            /// version does not know (an event from a newer daemon).
            pub fn from_name(name: &str) -> Option<Action> {
                match name {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    UserRegistered = "user.registered", "A user account was created";
    UserSuperAdminGranted = "user.super_admin_granted", "An operator made a user super admin";
    UserPasswordChanged = "user.password_changed", "A user changed their password (other sessions ended)";
    UserPasswordChangeFailed = "user.password_change_failed", "A password change gave a wrong current password";
    UserPasswordReset = "user.password_reset", "An admin reset a member's password (all sessions ended)";
    AuthLoginSucceeded = "auth.login_succeeded", "Sign-in completed (password, and MFA when enabled)";
    AuthLoginFailed = "auth.login_failed", "Sign-in refused: wrong email or password";
    AuthLoginLocked = "auth.login_locked", "Sign-in refused: the account is locked";
    AuthAccountLocked = "auth.account_locked", "Repeated failures locked an account";
    AuthSigninRateLimited = "auth.signin_rate_limited", "Sign-in refused: too many attempts from the address, or (reason capacity) no password-hashing slot free";
    AuthMfaFailed = "auth.mfa_failed", "A second factor was wrong or reused";
    AuthTokenRefreshed = "auth.token_refreshed", "A refresh token was rotated";
    AuthRefreshTokenReused = "auth.refresh_token_reused", "A used refresh token came back: its session was revoked";
    AuthRefreshRefused = "auth.refresh_refused", "A refresh token of a revoked session was presented";
    AuthOrgSwitched = "auth.org_switched", "A session switched organization";
    AuthLogout = "auth.logout", "A session ended by its user";
    AuthCsrfFailed = "auth.csrf_failed", "A cookie request without the right CSRF token";
    RequestIpDenied = "request.ip_denied", "A request from an address refused by the global or organization IP rules";
    RequestRateLimited = "request.rate_limited", "A request refused by the organization's or the credential's rate limit";
    RequestSignatureRejected = "request.signature_rejected", "An API-key request with a missing, stale, replayed or wrong signature";
    ReportGenerated = "report.generated", "A report's current-state snapshot was taken (members, roles, keys)";
    SessionRevoked = "session.revoked", "A session was revoked by its user or an admin";
    MfaEnrollmentStarted = "mfa.enrollment_started", "TOTP enrolment started";
    MfaEnabled = "mfa.enabled", "TOTP confirmed and enabled";
    MfaDisabled = "mfa.disabled", "TOTP disabled";
    MfaDisableFailed = "mfa.disable_failed", "Disabling TOTP failed a code check";
    ApiKeyCreated = "api_key.created", "An API key was created";
    ApiKeyRotated = "api_key.rotated", "An API key's secret was replaced";
    ApiKeyRevoked = "api_key.revoked", "An API key was revoked";
    ApiKeyRejected = "api_key.rejected", "A request with an invalid, revoked or expired key";
    OrgCreated = "org.created", "An organization was created";
    OrgUpdated = "org.updated", "An organization was renamed";
    SecuritySettingsChanged = "security.settings_changed", "Security settings (MFA policy, retention, IP rules, signing) changed";
    OrgTierChanged = "org.tier_changed", "A super admin changed the tier";
    OrgDeleted = "org.deleted", "An organization was deleted (soft)";
    OrgPurged = "org.purged", "A super admin removed an organization for good";
    MemberAdded = "member.added", "A user joined the organization by accepting an invitation";
    MemberInvited = "member.invited", "An email was invited to join with roles (pending until accepted)";
    InvitationRevoked = "invitation.revoked", "A pending invitation was withdrawn";
    InvitationDeclined = "invitation.declined", "The invitee declined an invitation";
    InvitationTokenRejected = "invitation.token_rejected", "An invitation was presented with a wrong accept token";
    MemberRemoved = "member.removed", "A member was removed";
    MemberRoleChanged = "member.role_changed", "A member's roles were replaced";
    RoleCreated = "role.created", "A custom role was created";
    RoleUpdated = "role.updated", "A custom role's permissions or parent changed";
    RoleDeleted = "role.deleted", "A custom role was deleted";
    RoleAssigned = "role.assigned", "A role was assigned to a member";
    RoleRevoked = "role.revoked", "A role was taken from a member";
    GrantCreated = "grant.created", "A permission was granted on one resource";
    GrantRevoked = "grant.revoked", "A resource grant was revoked";
    SsoProviderCreated = "sso.provider_created", "An identity provider was configured for single sign-on";
    SsoProviderDeleted = "sso.provider_deleted", "An identity provider was removed";
    SsoIdentityLinked = "sso.identity_linked", "An identity provider's account was linked to a LOKI account (by verified email, or when provisioned)";
    DocumentCreated = "document.created", "Evidence was uploaded";
    DocumentUpdated = "document.updated", "Evidence metadata changed";
    DocumentContentReplaced = "document.content_replaced", "A new version of evidence was uploaded";
    DocumentDownloaded = "document.downloaded", "Evidence was downloaded";
    DocumentDeleted = "document.deleted", "Evidence was deleted";
    AccessDenied = "access.denied", "A request was refused for a missing permission or scope";
    AccessEscalationRefused = "access.escalation_refused", "A change was refused because it would give permissions the caller does not hold";
    AuthRecoveryCodeUsed = "auth.recovery_code_used", "A sign-in's second factor was a one-time recovery code";
    AuthSsoFailed = "auth.sso_failed", "A single sign-on was refused: the identity provider's answer did not verify, or the account may not sign in through it";
    AuthSsoRequired = "auth.sso_required", "A password sign-in was refused: the organization requires single sign-on";
    AuthMembershipRefused = "auth.membership_refused", "A sign-in or organization switch named an organization the account is not (or no longer) a member of";
    AuditRead = "audit.read", "The audit trail was searched or read";
    AuditExported = "audit.exported", "The audit trail was exported";
    AuditVerified = "audit.verified", "The audit trail was verified on the server";
    AuditPurged = "audit.purged", "Events past retention were purged behind a checkpoint";
    AuditKeyRotated = "audit.key_rotated", "An operator rotated the audit key: the old key signed every chain's head and introduced its successor";
    SystemSigningKeyRotated = "system.signing_key_rotated", "An operator rotated the token-signing key";
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn names_are_dotted_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            let n = a.as_str();
            assert!(
                n.split_once('.')
                    .is_some_and(|(x, y)| !x.is_empty() && !y.is_empty()),
                "{n}"
            );
            assert!(!a.description().is_empty());
            assert!(seen.insert(n), "{n} twice");
            assert_eq!(Action::from_name(n), Some(*a));
        }
        assert_eq!(Action::from_name("no.such_action"), None);
    }
}
