//! Terminations: each removal of a member in the period and what of theirs
//! was revoked after it (sessions ended, API keys they created revoked), so
//! a report measures the time from removal to the last revocation instead
//! of assuming it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::collect::Row;
use crate::audit::actions::Action;
use crate::audit::AuditEvent;

/// One removal and the revocations that followed it.
#[derive(Debug, Clone, Serialize)]
pub struct Termination {
    pub user: Uuid,
    pub removal: Row,
    /// `session.revoked` naming the member, and `api_key.revoked` of keys
    /// the member created, at or after the removal.
    pub revocations: Vec<Row>,
}

#[derive(Debug, Default)]
pub struct Terminations {
    pub list: Vec<Termination>,
    /// API key (resource id) -> who created it, from `api_key.created`.
    pub key_creators: HashMap<String, Uuid>,
    /// The open termination of each removed member (index into `list`).
    open: HashMap<Uuid, usize>,
}

impl Terminations {
    pub fn observe(&mut self, e: &AuditEvent, row: &Row) {
        let resource_uuid = || {
            e.resource_id
                .as_deref()
                .and_then(|s| s.parse::<Uuid>().ok())
        };
        match Action::from_name(&e.action) {
            Some(Action::MemberRemoved) if e.outcome == "success" => {
                if let Some(user) = resource_uuid() {
                    self.open.insert(user, self.list.len());
                    self.list.push(Termination {
                        user,
                        removal: row.clone(),
                        revocations: Vec::new(),
                    });
                }
            }
            Some(Action::MemberAdded) => {
                // Back as a member: later revocations are ordinary ones.
                if let Some(user) = resource_uuid() {
                    self.open.remove(&user);
                }
            }
            Some(Action::ApiKeyCreated) => {
                if let (Some(id), Some(by)) = (&e.resource_id, e.actor.user_id) {
                    self.key_creators.insert(id.clone(), by);
                }
            }
            Some(Action::SessionRevoked) if e.outcome == "success" => {
                let user = e
                    .metadata
                    .get("user_id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<Uuid>().ok())
                    .or(e.actor.user_id);
                self.revoked(user, row);
            }
            Some(Action::ApiKeyRevoked) if e.outcome == "success" => {
                let user = e
                    .resource_id
                    .as_ref()
                    .and_then(|k| self.key_creators.get(k))
                    .copied();
                self.revoked(user, row);
            }
            _ => {}
        }
    }

    fn revoked(&mut self, user: Option<Uuid>, row: &Row) {
        let Some(i) = user.and_then(|u| self.open.get(&u)).copied() else {
            return;
        };
        let t = &mut self.list[i];
        if row.at >= t.removal.at {
            t.revocations.push(row.clone());
        }
    }

    pub fn rows_mut(&mut self) -> impl Iterator<Item = &mut Row> {
        self.list
            .iter_mut()
            .flat_map(|t| std::iter::once(&mut t.removal).chain(t.revocations.iter_mut()))
    }
}
