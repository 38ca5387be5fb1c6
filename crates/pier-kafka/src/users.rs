//! SASL users: salted SCRAM credentials (never a password), kept in
//! `users.json` in the data directory (mode 0600), replaced atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use crate::sasl::{CredentialLookup, SCRAM_ITERATIONS_DEFAULT, UserCredentials};

/// File in the data directory holding the users.
pub const USERS_FILE: &str = "users.json";
/// Most users one broker keeps.
pub const USERS_MAX: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user names are 1–255 characters without control characters, got {0:?}")]
    InvalidName(String),
    #[error("passwords are 1–1024 bytes")]
    InvalidPassword,
    #[error("no user {0:?}")]
    Unknown(String),
    #[error("at most {USERS_MAX} users")]
    TooMany,
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} cannot be read: {reason}; fix or remove it (its users cannot log in until then)"
    )]
    Unreadable { path: PathBuf, reason: String },
}

/// The users of one broker; on disk when given a data directory.
pub struct UserStore {
    path: Option<PathBuf>,
    users: RwLock<BTreeMap<String, UserCredentials>>,
}

impl std::fmt::Debug for UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStore")
            .field("path", &self.path)
            .field("users", &self.names())
            .finish()
    }
}

impl Default for UserStore {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl UserStore {
    pub fn in_memory() -> Self {
        Self {
            path: None,
            users: RwLock::new(BTreeMap::new()),
        }
    }

    /// Loads `dir/users.json` (none yet is an empty store). A file that
    /// does not parse is an error, not an empty store.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, UserError> {
        let path = dir.into().join(USERS_FILE);
        let users = match crate::private_file::read(&path) {
            Ok(Some(bytes)) => {
                serde_json::from_slice(&bytes).map_err(|e| UserError::Unreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            Ok(None) => BTreeMap::new(),
            Err(source) => {
                return Err(UserError::Io {
                    what: "reading",
                    path,
                    source,
                });
            }
        };
        Ok(Self {
            path: Some(path),
            users: RwLock::new(users),
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.users
            .read()
            .expect("users lock")
            .keys()
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.users.read().expect("users lock").is_empty()
    }

    /// Adds a user or changes their password.
    pub fn set(&self, name: &str, password: &str) -> Result<(), UserError> {
        if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            return Err(UserError::InvalidName(name.to_owned()));
        }
        if password.is_empty() || password.len() > 1024 {
            return Err(UserError::InvalidPassword);
        }
        let credentials = UserCredentials::new(password, SCRAM_ITERATIONS_DEFAULT)
            .map_err(|_| UserError::InvalidPassword)?;
        let mut users = self.users.write().expect("users lock");
        if !users.contains_key(name) && users.len() >= USERS_MAX {
            return Err(UserError::TooMany);
        }
        let mut next = users.clone();
        next.insert(name.to_owned(), credentials);
        self.save(&next)?;
        *users = next;
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<(), UserError> {
        let mut users = self.users.write().expect("users lock");
        if !users.contains_key(name) {
            return Err(UserError::Unknown(name.to_owned()));
        }
        let mut next = users.clone();
        next.remove(name);
        self.save(&next)?;
        *users = next;
        Ok(())
    }

    /// Replaces the file atomically, readable by the owner only.
    fn save(&self, users: &BTreeMap<String, UserCredentials>) -> Result<(), UserError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(users).expect("credentials serialize");
        crate::private_file::replace(path, &bytes).map_err(|(what, source)| UserError::Io {
            what,
            path: path.clone(),
            source,
        })
    }
}

impl CredentialLookup for UserStore {
    fn credentials(&self, user: &str) -> Option<UserCredentials> {
        self.users.read().expect("users lock").get(user).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::Mechanism;

    #[test]
    fn users_persist_privately_and_a_broken_file_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(dir.path()).unwrap();
        store.set("alice", "wonderland").unwrap();
        store.set("bob", "builder").unwrap();
        store.delete("bob").unwrap();
        assert!(matches!(store.delete("bob"), Err(UserError::Unknown(_))));
        let path = dir.path().join(USERS_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("wonderland"), "never the password");

        let again = UserStore::open(dir.path()).unwrap();
        assert_eq!(again.names(), vec!["alice".to_owned()]);
        let alice = again.credentials("alice").unwrap();
        assert!(alice.sha512.verify(Mechanism::ScramSha512, "wonderland"));
        assert!(!alice.sha256.verify(Mechanism::ScramSha256, "builder"));

        std::fs::write(&path, b"{ not json").unwrap();
        let err = UserStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains(USERS_FILE), "{err}");
        assert!(matches!(store.set("", "x"), Err(UserError::InvalidName(_))));
    }
}
