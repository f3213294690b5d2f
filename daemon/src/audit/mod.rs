//! Security and state-change events for the audit trail.
//!
//! Every security decision goes through [`record`]. Until the tamper-evident
//! trail lands, events are emitted as structured logs on the `loki::audit`
//! target; the call sites and the event shape stay when they are persisted.

use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::http::client::ClientInfo;

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
    pub action: &'static str,
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
    pub fn new(action: &'static str, outcome: Outcome) -> Self {
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
}

/// Records an event. Fails closed once events are persisted: a caller that
/// cannot record must not proceed.
pub async fn record(_state: &AppState, e: Event) -> Result<(), crate::error::AppError> {
    tracing::info!(
        target: "loki::audit",
        action = e.action,
        outcome = e.outcome.as_str(),
        org_id = ?e.org_id,
        actor_user = ?e.actor_user,
        actor_api_key = ?e.actor_api_key,
        session_id = ?e.session_id,
        resource_type = e.resource_type,
        resource_id = e.resource_id.as_deref(),
        ip = e.ip.as_deref(),
        metadata = %e.metadata,
        "audit"
    );
    Ok(())
}
