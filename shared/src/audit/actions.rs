//! The catalogue of audit actions (dotted names) the daemon records.

/// (action, what it records)
pub const ACTIONS: &[(&str, &str)] = &[
    ("user.registered", "A user account was created"),
    (
        "user.super_admin_granted",
        "An operator made a user super admin",
    ),
    (
        "user.password_changed",
        "A user changed their password (other sessions ended)",
    ),
    (
        "user.password_change_failed",
        "A password change gave a wrong current password",
    ),
    (
        "user.password_reset",
        "An admin reset a member's password (all sessions ended)",
    ),
    (
        "auth.login_succeeded",
        "Sign-in completed (password, and MFA when enabled)",
    ),
    (
        "auth.login_failed",
        "Sign-in refused: wrong email or password",
    ),
    (
        "auth.login_locked",
        "Sign-in refused: the account is locked",
    ),
    ("auth.account_locked", "Repeated failures locked an account"),
    (
        "auth.signin_rate_limited",
        "Sign-in refused: too many attempts from the address",
    ),
    ("auth.mfa_failed", "A second factor was wrong or reused"),
    ("auth.token_refreshed", "A refresh token was rotated"),
    (
        "auth.refresh_token_reused",
        "A used refresh token came back: its session was revoked",
    ),
    (
        "auth.refresh_refused",
        "A refresh token of a revoked session was presented",
    ),
    ("auth.org_switched", "A session switched organization"),
    ("auth.logout", "A session ended by its user"),
    (
        "auth.csrf_failed",
        "A cookie request without the right CSRF token",
    ),
    (
        "request.ip_denied",
        "A request from an address refused by the global or organization IP rules",
    ),
    (
        "request.rate_limited",
        "A request refused by the organization's or the credential's rate limit",
    ),
    (
        "request.signature_rejected",
        "An API-key request with a missing, stale, replayed or wrong signature",
    ),
    (
        "report.generated",
        "A report's current-state snapshot was taken (members, roles, keys)",
    ),
    (
        "session.revoked",
        "A session was revoked by its user or an admin",
    ),
    ("mfa.enrollment_started", "TOTP enrolment started"),
    ("mfa.enabled", "TOTP confirmed and enabled"),
    ("mfa.disabled", "TOTP disabled"),
    ("mfa.disable_failed", "Disabling TOTP failed a code check"),
    ("api_key.created", "An API key was created"),
    ("api_key.rotated", "An API key's secret was replaced"),
    ("api_key.revoked", "An API key was revoked"),
    (
        "api_key.rejected",
        "A request with an invalid, revoked or expired key",
    ),
    ("org.created", "An organization was created"),
    ("org.updated", "An organization was renamed"),
    (
        "security.settings_changed",
        "Security settings (MFA policy, retention, IP rules, signing) changed",
    ),
    ("org.tier_changed", "A super admin changed the tier"),
    ("org.deleted", "An organization was deleted (soft)"),
    (
        "org.purged",
        "A super admin removed an organization for good",
    ),
    (
        "member.added",
        "A user joined the organization by accepting an invitation",
    ),
    (
        "member.invited",
        "An email was invited to join with roles (pending until accepted)",
    ),
    ("invitation.revoked", "A pending invitation was withdrawn"),
    ("invitation.declined", "The invitee declined an invitation"),
    (
        "invitation.token_rejected",
        "An invitation was presented with a wrong accept token",
    ),
    ("member.removed", "A member was removed"),
    ("member.role_changed", "A member's roles were replaced"),
    ("role.created", "A custom role was created"),
    (
        "role.updated",
        "A custom role's permissions or parent changed",
    ),
    ("role.deleted", "A custom role was deleted"),
    ("role.assigned", "A role was assigned to a member"),
    ("role.revoked", "A role was taken from a member"),
    ("grant.created", "A permission was granted on one resource"),
    ("grant.revoked", "A resource grant was revoked"),
    ("document.created", "Evidence was uploaded"),
    ("document.updated", "Evidence metadata changed"),
    (
        "document.content_replaced",
        "A new version of evidence was uploaded",
    ),
    ("document.downloaded", "Evidence was downloaded"),
    ("document.deleted", "Evidence was deleted"),
    (
        "access.denied",
        "A request was refused for a missing permission or scope",
    ),
    ("audit.read", "The audit trail was searched or read"),
    ("audit.exported", "The audit trail was exported"),
    (
        "audit.verified",
        "The audit trail was verified on the server",
    ),
    (
        "audit.purged",
        "Events past retention were purged behind a checkpoint",
    ),
    (
        "system.signing_key_rotated",
        "An operator rotated the token-signing key",
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_dotted_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (a, d) in super::ACTIONS {
            assert!(
                a.split_once('.')
                    .is_some_and(|(x, y)| !x.is_empty() && !y.is_empty()),
                "{a}"
            );
            assert!(!d.is_empty());
            assert!(seen.insert(a), "{a} twice");
        }
    }
}
