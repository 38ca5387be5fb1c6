//! What the workbench shows and changes of the Kafka security: the
//! listeners, SASL users, and the local CA clients must trust.

use std::path::PathBuf;

use pier_kafka::users::UserError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// One Kafka listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct ListenerInfo {
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (Kafka's
    /// `security.protocol`).
    pub protocol: String,
    /// `bootstrap.servers` for this listener.
    pub address: String,
    /// Clients authenticate with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
    pub sasl: bool,
    /// Connections are TLS; clients trust the CA below.
    pub tls: bool,
}

/// Listeners, users and the CA.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct SecurityInfo {
    pub listeners: Vec<ListenerInfo>,
    /// SASL mechanisms every SASL listener accepts.
    pub mechanisms: Vec<String>,
    /// SASL user names (passwords are never stored, only salted keys).
    pub users: Vec<String>,
    /// The CA certificate (PEM) made by `pier tls init`, when TLS is on.
    pub ca_pem: Option<String>,
    /// Kafka requests are checked against the ACL rules
    /// (`pier serve --authorization`); off, everything is allowed.
    pub authorization: bool,
}

/// A user's new password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct UserPassword {
    pub password: String,
}

#[derive(Debug, Default)]
pub(crate) struct SecurityState {
    listeners: Vec<ListenerInfo>,
    ca_path: Option<PathBuf>,
}

impl Workbench {
    /// Records the listeners and where the CA certificate is.
    pub fn set_security(&self, listeners: Vec<ListenerInfo>, ca_path: Option<PathBuf>) {
        let mut s = self.security.lock().expect("security lock");
        s.listeners = listeners;
        s.ca_path = ca_path;
    }

    pub fn security(&self) -> SecurityInfo {
        let s = self.security.lock().expect("security lock");
        let tls = s.listeners.iter().any(|l| l.tls);
        let ca_pem = s
            .ca_path
            .as_ref()
            .filter(|_| tls)
            .and_then(|p| std::fs::read_to_string(p).ok());
        SecurityInfo {
            listeners: s.listeners.clone(),
            mechanisms: pier_kafka::sasl::Mechanism::ALL
                .iter()
                .map(|m| m.name().to_owned())
                .collect(),
            users: self.users(),
            ca_pem,
            authorization: self.authorization(),
        }
    }

    pub fn users(&self) -> Vec<String> {
        self.broker().config.users.names()
    }

    /// Adds a user or sets their password.
    pub fn set_user(&self, name: &str, password: &str) -> Result<(), WorkbenchError> {
        self.broker()
            .config
            .users
            .set(name, password)
            .map_err(user_error)
    }

    pub fn delete_user(&self, name: &str) -> Result<(), WorkbenchError> {
        self.broker().config.users.delete(name).map_err(user_error)
    }
}

fn user_error(e: UserError) -> WorkbenchError {
    match e {
        UserError::InvalidName(_) | UserError::InvalidPassword | UserError::TooMany => {
            WorkbenchError::invalid(e.to_string())
        }
        UserError::Unknown(_) => WorkbenchError::not_found(e.to_string()),
        UserError::Io { .. } | UserError::Unreadable { .. } => {
            WorkbenchError::unavailable(e.to_string())
        }
    }
}
