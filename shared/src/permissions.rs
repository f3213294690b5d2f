//! The permission catalogue (`area:verb`) and the predefined roles.
//!
//! Permissions are a closed set: each has a bit, so a role's permissions are
//! a [`PermSet`] (a `u64`) and checks are a single AND.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! permissions {
    ($($variant:ident = $name:literal, $system:literal, $desc:literal;)*) => {
        /// One permission of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission { $($variant,)* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn name(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $desc,)* }
            }

            /// System permissions belong to super admins only; no
            /// organization role can hold them.
            pub fn is_system(self) -> bool {
                match self { $(Permission::$variant => $system,)* }
            }
        }
    };
}

permissions! {
    OrgRead = "org:read", false, "View the organization's profile, tier and settings";
    OrgUpdate = "org:update", false, "Rename the organization or change its slug";
    OrgDelete = "org:delete", false, "Delete (soft) the organization";
    MemberRead = "member:read", false, "List members and their roles";
    MemberInvite = "member:invite", false, "Add existing users to the organization";
    MemberRemove = "member:remove", false, "Remove members from the organization";
    MemberResetPassword = "member:reset_password", false, "Reset a member's password and end their sessions";
    RoleRead = "role:read", false, "List predefined and custom roles and their permissions";
    RoleCreate = "role:create", false, "Create custom roles";
    RoleUpdate = "role:update", false, "Change custom roles' permissions, parent or description";
    RoleDelete = "role:delete", false, "Delete custom roles";
    RoleAssign = "role:assign", false, "Assign roles to members and revoke them";
    GrantRead = "grant:read", false, "List resource-level grants";
    GrantCreate = "grant:create", false, "Grant a permission on one resource to a user or a role";
    GrantRevoke = "grant:revoke", false, "Revoke resource-level grants";
    ApiKeyRead = "apikey:read", false, "List API keys (never their secrets)";
    ApiKeyCreate = "apikey:create", false, "Create API keys";
    ApiKeyRotate = "apikey:rotate", false, "Rotate API keys";
    ApiKeyRevoke = "apikey:revoke", false, "Revoke API keys";
    DocRead = "doc:read", false, "List evidence documents and read their metadata";
    DocDownload = "doc:download", false, "Download evidence document content";
    DocCreate = "doc:create", false, "Upload evidence documents";
    DocUpdate = "doc:update", false, "Change document metadata or upload a new version";
    DocDelete = "doc:delete", false, "Delete evidence documents";
    AuditRead = "audit:read", false, "Search and read the audit trail";
    AuditExport = "audit:export", false, "Export the audit trail (CSV or verifiable bundle)";
    AuditVerify = "audit:verify", false, "Verify the audit trail's hash chain and signatures";
    AuditPurge = "audit:purge", false, "Purge audit events past the retention period";
    ReportGenerate = "report:generate", false, "Generate compliance reports and their state snapshots";
    SecurityRead = "security:read", false, "View security settings (MFA policy, IP rules, signing, retention)";
    SecurityUpdate = "security:update", false, "Change security settings";
    SessionRead = "session:read", false, "List the sessions of the organization's members";
    SessionRevoke = "session:revoke", false, "Revoke members' sessions";
    SystemTiers = "system:tiers", true, "Change an organization's subscription tier";
    SystemHardDelete = "system:hard_delete", true, "Remove an organization and all its data for good";
    SystemKeys = "system:keys", true, "Rotate the daemon's signing keys";
    SystemAudit = "system:audit", true, "Read the system audit chain";
}

impl Permission {
    pub fn bit(self) -> u64 {
        1u64 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown permission `{0}`")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPermission(s.chars().take(64).collect()))
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of permissions as a bitset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermSet(pub u64);

impl PermSet {
    pub const EMPTY: PermSet = PermSet(0);

    pub fn all() -> Self {
        Permission::ALL.iter().fold(Self::EMPTY, |s, p| s.with(*p))
    }

    /// Every permission an organization role may hold.
    pub fn all_org() -> Self {
        Permission::ALL
            .iter()
            .filter(|p| !p.is_system())
            .fold(Self::EMPTY, |s, p| s.with(*p))
    }

    pub fn of(perms: &[Permission]) -> Self {
        perms.iter().fold(Self::EMPTY, |s, p| s.with(*p))
    }

    pub fn with(self, p: Permission) -> Self {
        PermSet(self.0 | p.bit())
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn union(self, o: PermSet) -> Self {
        PermSet(self.0 | o.0)
    }

    /// What `self` holds that `o` does not.
    pub fn minus(self, o: PermSet) -> Self {
        PermSet(self.0 & !o.0)
    }

    pub fn intersect(self, o: PermSet) -> Self {
        PermSet(self.0 & o.0)
    }

    pub fn is_subset_of(self, o: PermSet) -> bool {
        self.0 & !o.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<String> {
        self.iter().map(|p| p.name().to_owned()).collect()
    }
}

/// The predefined roles. `super_admin` is not a role but a flag on the user.
pub const PREDEFINED_ROLES: [&str; 4] = ["admin", "compliance_officer", "auditor", "viewer"];

/// The permissions of a predefined role, or `None` for other names.
pub fn predefined_role(name: &str) -> Option<PermSet> {
    use Permission::*;
    Some(match name {
        "admin" => PermSet::all_org(),
        "compliance_officer" => PermSet::of(&[
            OrgRead,
            MemberRead,
            RoleRead,
            GrantRead,
            GrantCreate,
            GrantRevoke,
            ApiKeyRead,
            DocRead,
            DocDownload,
            DocCreate,
            DocUpdate,
            DocDelete,
            AuditRead,
            AuditExport,
            AuditVerify,
            ReportGenerate,
            SecurityRead,
        ]),
        "auditor" => PermSet::of(&[
            OrgRead,
            MemberRead,
            RoleRead,
            GrantRead,
            ApiKeyRead,
            DocRead,
            DocDownload,
            AuditRead,
            AuditExport,
            AuditVerify,
            ReportGenerate,
            SecurityRead,
            SessionRead,
        ]),
        "viewer" => PermSet::of(&[OrgRead, MemberRead, RoleRead, DocRead]),
        _ => return None,
    })
}

pub fn predefined_description(name: &str) -> &'static str {
    match name {
        "admin" => "Everything in the organization",
        "compliance_officer" => "Compliance operations: evidence documents, grants, audit, reports",
        "auditor" => "Read-only on everything, plus audit export and verification and reports",
        "viewer" => "Basic read-only access",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_fits_a_bitset() {
        assert!(Permission::ALL.len() >= 30);
        assert!(Permission::ALL.len() <= 64);
        for p in Permission::ALL {
            let (area, verb) = p.name().split_once(':').unwrap_or_default();
            assert!(!area.is_empty() && !verb.is_empty(), "{p}");
            assert_eq!(p.name().parse::<Permission>().ok(), Some(*p));
            assert!(!p.description().is_empty());
        }
    }

    #[test]
    fn role_matrix() {
        let admin = predefined_role("admin").unwrap_or_default();
        assert!(admin.contains(Permission::RoleAssign));
        assert!(
            !admin.contains(Permission::SystemTiers),
            "admins hold no system permission"
        );
        for r in PREDEFINED_ROLES {
            let set = predefined_role(r).unwrap_or_default();
            assert!(set.is_subset_of(admin), "{r} within admin");
        }
        let auditor = predefined_role("auditor").unwrap_or_default();
        assert!(auditor.contains(Permission::AuditExport));
        assert!(!auditor.contains(Permission::DocCreate));
        assert!(predefined_role("viewer")
            .unwrap_or_default()
            .is_subset_of(auditor));
        assert!(predefined_role("root").is_none());
    }

    #[test]
    fn sets() {
        let s = PermSet::of(&[Permission::OrgRead, Permission::DocRead]);
        assert!(s.contains(Permission::DocRead));
        assert!(!s.contains(Permission::DocDelete));
        assert!(s.is_subset_of(PermSet::all_org()));
        assert_eq!(s.names(), ["org:read", "doc:read"]);
    }
}

#[cfg(test)]
mod readme {
    use super::*;

    /// The role matrix as the README shows it.
    fn matrix() -> String {
        let mut out = String::from("| permission | description | admin | compliance_officer | auditor | viewer |\n|---|---|:-:|:-:|:-:|:-:|\n");
        for p in Permission::ALL {
            let cells: Vec<&str> = PREDEFINED_ROLES
                .iter()
                .map(|r| {
                    if predefined_role(r).unwrap_or_default().contains(*p) {
                        "✓"
                    } else {
                        ""
                    }
                })
                .collect();
            let name = if p.is_system() {
                format!("`{p}` (system)")
            } else {
                format!("`{p}`")
            };
            out.push_str(&format!(
                "| {name} | {} | {} |\n",
                p.description(),
                cells.join(" | ")
            ));
        }
        out
    }

    #[test]
    fn the_readme_shows_the_real_role_matrix() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .unwrap_or_default();
        let expected = matrix();
        assert!(
            readme.contains(&expected),
            "README.md must contain this role matrix:\n{expected}"
        );
    }
}
