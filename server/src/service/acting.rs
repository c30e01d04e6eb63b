//! Who performs a change Trailkeep records (an account operation, a key's creation), and from
//! where: the actor, address and user agent of the entry that records it.

use std::net::IpAddr;

use app::model::{ActorType, SessionUser};

use crate::domain::entry::event::NewEvent;
use crate::storage::api_keys;

/// Who performs an account operation, and from where.
#[derive(Clone, Debug)]
pub struct Acting {
    pub actor_type: ActorType,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Acting {
    /// The command line of the server host.
    pub fn cli() -> Self {
        Acting {
            actor_type: ActorType::System,
            id: "cli".into(),
            name: Some("trailkeep CLI".into()),
            email: None,
            ip: None,
            user_agent: None,
        }
    }

    /// Trailkeep's own scheduler (scheduled exports).
    pub fn scheduler() -> Self {
        Acting {
            actor_type: ActorType::System,
            id: "scheduler".into(),
            name: Some("Trailkeep scheduler".into()),
            email: None,
            ip: None,
            user_agent: None,
        }
    }

    /// Trailkeep's alert evaluator (`alert.fired`, `alert.resolved`).
    pub fn evaluator() -> Self {
        Acting {
            actor_type: ActorType::System,
            id: "alerts".into(),
            name: Some("Trailkeep alerts".into()),
            email: None,
            ip: None,
            user_agent: None,
        }
    }

    pub fn user(user: &SessionUser, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Acting {
            actor_type: ActorType::User,
            id: user.id.to_string(),
            name: Some(user.name.clone()),
            email: Some(user.email.clone()),
            ip,
            user_agent,
        }
    }

    /// A client using an API key.
    pub fn key(key: &api_keys::ApiKeyRow, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Acting {
            actor_type: ActorType::ApiKey,
            id: key.id.to_string(),
            name: Some(key.name.clone()),
            email: None,
            ip,
            user_agent,
        }
    }

    /// How reports name who did it: email, else name, else id.
    pub fn label(&self) -> String {
        self.email
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.id.clone())
    }

    pub fn event(&self, action: &str) -> NewEvent {
        let mut e = NewEvent::new(action, self.actor_type, &self.id);
        e.record.actor_name = self.name.clone();
        e.record.actor_email = self.email.clone();
        e.record.ip = self.ip;
        e.record.user_agent = self.user_agent.clone();
        e
    }
}
