//! Security and state-change events for the audit trail.
//!
//! Every state change and security decision goes through [`record`], which
//! appends the event to its organization's hash chain (format and offline
//! verifier in `loki_shared::audit`). Checkpoints are signed by `signer`.

pub mod aggregate;
pub mod export;
pub mod fold;
pub mod keys;
pub mod read;
pub mod retention;
pub mod signer;

use loki_shared::audit::actions::Action;
use loki_shared::audit::{Actor, AuditEvent, SCHEMA_VERSION};

use crate::store::AuditBatch;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::fold::Aggregator;
use crate::audit::keys::AuditKeys;
use crate::audit::keys::Touched;
use crate::auth::throttle::Throttle;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::kv::{versions, DynKv};
use crate::store::group_commit::AuditAppender;
use crate::store::DynStore;
use std::sync::Arc;

/// Appends events to their chains and signs checkpoints: the one writer of the audit trail.
#[derive(Clone)]
pub struct Auditor {
    pub(crate) store: DynStore,
    /// Where changes are announced to caches (`kv::versions`).
    pub(crate) kv: DynKv,
    /// Events without a change of their own, group-committed.
    pub(crate) appender: AuditAppender,
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<AuditKeys>,
    pub(crate) touched: Arc<Touched>,
    pub(crate) aggregator: Arc<Aggregator>,
}

/// Reads, exports, verifies and purges an organization's trail.
#[derive(Clone)]
pub struct AuditTrail {
    pub(crate) store: DynStore,
    pub(crate) auditor: Auditor,
    pub(crate) throttle: Throttle,
}

/// The chain of events that belong to no organization.
pub const SYSTEM_CHAIN: Uuid = Uuid::nil();

/// Outcome of the audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// One audit event. Build with [`Event::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: Action,
    pub outcome: Outcome,
    pub org_id: Option<Uuid>,
    pub actor_user: Option<Uuid>,
    pub actor_api_key: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Never secrets or hashes.
    pub metadata: Value,
}

impl Event {
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            outcome,
            org_id: None,
            actor_user: None,
            actor_api_key: None,
            session_id: None,
            resource_type: None,
            resource_id: None,
            ip: None,
            user_agent: None,
            metadata: Value::Null,
        }
    }

    pub fn org(mut self, org: Option<Uuid>) -> Self {
        self.org_id = org;
        self
    }

    pub fn actor(mut self, user: Option<Uuid>, session: Option<Uuid>) -> Self {
        self.actor_user = user;
        self.session_id = session;
        self
    }

    pub fn api_key(mut self, key: Uuid) -> Self {
        self.actor_api_key = Some(key);
        self
    }

    pub fn resource(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.resource_type = Some(kind);
        self.resource_id = Some(id.to_string());
        self
    }

    pub fn client(mut self, client: &ClientInfo) -> Self {
        self.ip = Some(client.ip.to_string());
        self.user_agent = client.user_agent.clone();
        self
    }

    pub fn meta(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The same actor and client, another action.
    pub fn retitled(mut self, action: Action, outcome: Outcome) -> Self {
        self.action = action;
        self.outcome = outcome;
        self
    }
}

/// Turns an event into a draft for its chain (seq and hashes come later).
fn draft(e: Event) -> AuditEvent {
    let org = e.org_id.unwrap_or(SYSTEM_CHAIN);
    let actor = Actor {
        kind: if e.actor_api_key.is_some() {
            "api_key"
        } else if e.actor_user.is_some() {
            "user"
        } else {
            "system"
        }
        .to_owned(),
        user_id: e.actor_user,
        api_key_id: e.actor_api_key,
        session_id: e.session_id,
    };
    let request_id = Some(crate::context::current_request_id()).filter(|r| r != "-");
    let (before, after, metadata) = split_metadata(e.metadata);
    AuditEvent {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        org_id: org,
        seq: 0,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor,
        action: e.action.as_str().to_owned(),
        resource_type: e.resource_type.map(str::to_owned),
        resource_id: e.resource_id,
        outcome: e.outcome.as_str().to_owned(),
        ip: e.ip,
        user_agent: e.user_agent,
        request_id,
        before,
        after,
        metadata,
        count: 1,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

impl Auditor {
    /// Records an event that changes no state (a denial, a failed sign-in, a
    /// read) in its chain, durably, before the caller goes on. When the write
    /// fails, the caller fails: nothing proceeds unrecorded.
    pub async fn record(&self, e: Event) -> Result<(), crate::error::AppError> {
        let d = draft(e);
        let org = d.org_id;
        let window = std::time::Duration::from_secs(self.config.audit_aggregate_secs);
        if d.outcome != "success" && !window.is_zero() && self.aggregator.fold(&d, window) {
            return Ok(()); // counted; written when the window closes
        }
        let stored = self.appender.append(org, d).await?;
        self.after_append(org, stored.seq).await
    }

    /// After the change committed: signs the checkpoints that are due and
    /// announces the change to every daemon's caches — the counters of each
    /// organization whose chain it wrote to and of each user it names
    /// (`kv::versions`). Every audited change passes here, so no cache of
    /// the request path can miss one.
    pub async fn committed(&self, audit: &AuditBatch) -> Result<(), crate::error::AppError> {
        let mut orgs: Vec<Uuid> = Vec::new();
        for &(org, seq) in audit.appended() {
            self.after_append(org, seq).await?;
            if org != SYSTEM_CHAIN && !orgs.contains(&org) {
                orgs.push(org);
            }
        }
        let keys = orgs
            .into_iter()
            .map(versions::org)
            .chain(audit.users().iter().copied().map(versions::user));
        for key in keys {
            versions::bump(self.kv.as_ref(), &key)
                .await
                .map_err(|e| crate::error::AppError::Unavailable(e.to_string()))?;
        }
        Ok(())
    }

    /// Checkpoints every N events; remembers the chain for the periodic ones.
    async fn after_append(&self, org: Uuid, seq: u64) -> Result<(), crate::error::AppError> {
        self.touched.touch(org);
        if seq.is_multiple_of(self.config.audit_checkpoint_every.max(1)) {
            self.checkpoint(org).await?;
        }
        Ok(())
    }
}

/// The audit record of a state change about to be made: hand it to the
/// store write, which commits it in the change's transaction (both or
/// neither), then pass it to [`committed`].
pub fn batch(e: Event) -> AuditBatch {
    AuditBatch::of(draft(e))
}

/// A further event of the same change (e.g. on another chain).
pub fn and(b: AuditBatch, e: Event) -> AuditBatch {
    b.and(draft(e))
}

/// `before` and `after` travel inside the metadata given to [`Event::meta`];
/// they become fields of their own. Metadata is always an object.
fn split_metadata(v: Value) -> (Option<Value>, Option<Value>, Value) {
    match v {
        Value::Object(mut m) => {
            let before = m.remove("before");
            let after = m.remove("after");
            (before, after, Value::Object(m))
        }
        Value::Null => (None, None, Value::Object(Default::default())),
        other => (None, None, serde_json::json!({ "value": other })),
    }
}
