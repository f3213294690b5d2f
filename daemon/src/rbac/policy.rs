//! The authorization decision, as a pure function over an organization's
//! policy snapshot: roles (effective permission bitsets, inheritance
//! resolved) and resource grants (indexed by resource). No I/O here, so it
//! is cheap to call on every request and to benchmark.

use std::collections::HashMap;

use loki_shared::permissions::{predefined_role, PermSet, Permission};
use uuid::Uuid;

/// Inheritance deeper than this is refused (and never resolved further).
pub const MAX_ROLE_DEPTH: usize = 16;

/// Who is asking, within one organization.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user: Uuid,
    /// Roles held in the organization.
    pub roles: Vec<String>,
    pub super_admin: bool,
    /// API keys: the key's scopes (the result is intersected with them).
    pub scopes: Option<PermSet>,
}

/// The answer, with the reason (which role or grant allowed it, or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSubject {
    User(Uuid),
    Role(String),
}

#[derive(Debug, Clone)]
pub struct GrantEntry {
    pub id: Uuid,
    pub subject: GrantSubject,
    pub permission: Permission,
}

/// A custom role as the policy needs it.
#[derive(Debug, Clone)]
pub struct RoleDef {
    pub name: String,
    pub own: PermSet,
    pub parent: Option<String>,
}

/// One organization's roles and grants.
#[derive(Debug, Default)]
pub struct OrgPolicy {
    /// The invalidation counter this snapshot was built at.
    pub version: i64,
    roles: HashMap<String, PermSet>,
    grants: HashMap<Uuid, Vec<GrantEntry>>,
}

/// Resolves a role's effective permissions through its parents; `None` if
/// the chain is broken, cyclic or too deep.
pub fn effective(name: &str, customs: &HashMap<&str, &RoleDef>) -> Option<PermSet> {
    let mut set = PermSet::EMPTY;
    let mut current = name;
    for _ in 0..MAX_ROLE_DEPTH {
        if let Some(p) = predefined_role(current) {
            return Some(set.union(p));
        }
        let def = customs.get(current)?;
        set = set.union(def.own);
        match def.parent.as_deref() {
            Some(parent) => current = parent,
            None => return Some(set),
        }
    }
    None
}

impl OrgPolicy {
    pub fn build(
        version: i64,
        customs: &[RoleDef],
        grants: HashMap<Uuid, Vec<GrantEntry>>,
    ) -> Self {
        let by_name: HashMap<&str, &RoleDef> =
            customs.iter().map(|r| (r.name.as_str(), r)).collect();
        let roles = customs
            .iter()
            .filter_map(|r| Some((r.name.clone(), effective(&r.name, &by_name)?)))
            .collect();
        Self {
            version,
            roles,
            grants,
        }
    }

    /// A role's effective permissions (predefined or custom).
    pub fn role(&self, name: &str) -> Option<PermSet> {
        predefined_role(name).or_else(|| self.roles.get(name).copied())
    }

    /// What the subject may do anywhere in the organization.
    pub fn permissions_of(&self, s: &Subject) -> PermSet {
        let base = if s.super_admin {
            PermSet::all()
        } else {
            s.roles
                .iter()
                .filter_map(|r| self.role(r))
                .fold(PermSet::EMPTY, PermSet::union)
        };
        match s.scopes {
            Some(scopes) => base.intersect(scopes),
            None => base,
        }
    }

    /// The one authorization decision. `resource` is the id of the resource
    /// acted on (for resource grants).
    pub fn decide(&self, s: &Subject, perm: Permission, resource: Option<Uuid>) -> Decision {
        if let Some(scopes) = s.scopes {
            if !scopes.contains(perm) {
                return deny(format!("the API key's scopes do not include {perm}"));
            }
        }
        if s.super_admin {
            return allow("super admin".to_owned());
        }
        if let Some(role) = s
            .roles
            .iter()
            .find(|r| self.role(r).is_some_and(|set| set.contains(perm)))
        {
            return allow(format!("role {role}"));
        }
        if let Some(id) = resource {
            if let Some(grant) = self.grants.get(&id).and_then(|gs| {
                gs.iter().find(|g| {
                    g.permission == perm
                        && match &g.subject {
                            GrantSubject::User(u) => *u == s.user,
                            GrantSubject::Role(r) => s.roles.iter().any(|mine| mine == r),
                        }
                })
            }) {
                return allow(format!("grant {}", grant.id));
            }
        }
        deny(format!("no role or grant gives {perm}"))
    }
}

fn allow(reason: String) -> Decision {
    Decision {
        allowed: true,
        reason,
    }
}

fn deny(reason: String) -> Decision {
    Decision {
        allowed: false,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn subject(roles: &[&str]) -> Subject {
        Subject {
            user: Uuid::nil(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            super_admin: false,
            scopes: None,
        }
    }

    fn custom(name: &str, own: &[Permission], parent: Option<&str>) -> RoleDef {
        RoleDef {
            name: name.into(),
            own: PermSet::of(own),
            parent: parent.map(Into::into),
        }
    }

    #[test]
    fn roles_and_inheritance() {
        let p = OrgPolicy::build(
            0,
            &[
                custom("reviewer", &[DocDownload], Some("viewer")),
                custom("lead", &[DocUpdate], Some("reviewer")),
                custom("loop_a", &[DocDelete], Some("loop_b")),
                custom("loop_b", &[], Some("loop_a")),
            ],
            HashMap::new(),
        );
        let lead = subject(&["lead"]);
        assert!(p.decide(&lead, DocUpdate, None).allowed);
        assert!(p.decide(&lead, DocDownload, None).allowed, "from reviewer");
        assert!(p.decide(&lead, OrgRead, None).allowed, "from viewer");
        assert!(!p.decide(&lead, DocDelete, None).allowed);
        assert_eq!(p.decide(&lead, DocUpdate, None).reason, "role lead");
        // A cycle resolves to nothing rather than looping.
        assert!(p.role("loop_a").is_none());
        assert!(!p.decide(&subject(&["loop_a"]), DocDelete, None).allowed);
    }

    #[test]
    fn grants_scopes_and_super_admins() {
        let doc = Uuid::now_v7();
        let mut grants = HashMap::new();
        grants.insert(
            doc,
            vec![GrantEntry {
                id: Uuid::nil(),
                subject: GrantSubject::Role("viewer".into()),
                permission: DocDownload,
            }],
        );
        let p = OrgPolicy::build(0, &[], grants);
        let viewer = subject(&["viewer"]);
        assert!(p.decide(&viewer, DocDownload, Some(doc)).allowed);
        assert!(!p.decide(&viewer, DocDownload, Some(Uuid::now_v7())).allowed);
        assert!(!p.decide(&viewer, DocDownload, None).allowed);

        let key = Subject {
            scopes: Some(PermSet::of(&[OrgRead, DocDelete])),
            ..subject(&["viewer"])
        };
        assert!(p.decide(&key, OrgRead, None).allowed);
        assert!(
            !p.decide(&key, DocDelete, None).allowed,
            "scope without the role"
        );
        assert!(
            !p.decide(&key, MemberRead, None).allowed,
            "role without the scope"
        );
        assert_eq!(p.permissions_of(&key), PermSet::of(&[OrgRead]));

        let root = Subject {
            super_admin: true,
            ..subject(&[])
        };
        assert!(p.decide(&root, SystemTiers, None).allowed);
    }
}
