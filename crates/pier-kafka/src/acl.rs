//! Authorization: allow rules per principal on topics and groups, kept in
//! `acls.json` in the data directory (mode 0600), replaced atomically.
//!
//! Only allow rules, and no rule means denied: Kafka's
//! `allow.everyone.if.no.acl.found=false`. Pier's four operations stand
//! for Kafka's as the Kafka APIs need them (see `docs/security.md`);
//! DESCRIBE is implied by the other three, as Kafka implies it by READ,
//! WRITE, DELETE and ALTER (Pier's CREATE also covers deleting).

use std::path::PathBuf;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// File in the data directory holding the rules.
pub const ACLS_FILE: &str = "acls.json";
/// Most rules one broker keeps (every check reads them all).
pub const ACL_RULES_MAX: usize = 1_000;
/// Longest pattern, in bytes.
pub const PATTERN_MAX_BYTES: usize = 1_024;
/// The principal of a client that did not log in (`PLAINTEXT` and `SSL`
/// listeners), as Kafka names it (`User:ANONYMOUS`).
pub const ANONYMOUS: &str = "ANONYMOUS";
/// A rule for this principal applies to everyone, logged in or not.
pub const EVERYONE: &str = "*";

/// What a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Topic,
    Group,
}

/// What a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Read,
    Write,
    Create,
    Describe,
    /// Every operation.
    All,
}

impl Operation {
    pub const ALL: [Self; 5] = [
        Self::Read,
        Self::Write,
        Self::Create,
        Self::Describe,
        Self::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Describe => "describe",
            Self::All => "all",
        }
    }

    /// Whether a rule granting `self` allows `wanted`.
    fn grants(self, wanted: Self) -> bool {
        self == Self::All
            || self == wanted
            || (wanted == Self::Describe && matches!(self, Self::Read | Self::Write | Self::Create))
    }
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Group => "group",
        }
    }
}

impl std::str::FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown operation {s:?}: use read, write, create, describe or all")
            })
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One allow rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// A SASL user name, [`ANONYMOUS`], or [`EVERYONE`]. Kafka's `User:`
    /// prefix is accepted and dropped.
    pub principal: String,
    pub resource: Resource,
    /// An exact name, a prefix ending in `*` (`orders*`), or `*` alone.
    pub pattern: String,
    pub operations: Vec<Operation>,
}

impl std::fmt::Display for AclRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ops: Vec<&str> = self.operations.iter().map(|o| o.name()).collect();
        write!(
            f,
            "{} may {} {} {}",
            self.principal,
            ops.join(", "),
            self.resource,
            self.pattern
        )
    }
}

impl AclRule {
    /// The rule as it is stored and compared: `User:` dropped, operations
    /// sorted without repeats (`all` alone when present).
    pub fn normalized(mut self) -> Result<Self, AclError> {
        let invalid = |why: String| Err(AclError::InvalidRule(why));
        if let Some(name) = self.principal.strip_prefix("User:") {
            self.principal = name.to_owned();
        }
        let p = &self.principal;
        if p.is_empty() || p.len() > 255 || p.chars().any(char::is_control) {
            return invalid(format!(
                "the principal is a user name (1–255 characters), {ANONYMOUS} or {EVERYONE}, got {p:?}"
            ));
        }
        let prefix = self.pattern.strip_suffix('*').unwrap_or(&self.pattern);
        if self.pattern.is_empty()
            || self.pattern.len() > PATTERN_MAX_BYTES
            || prefix.contains('*')
            || self.pattern.chars().any(char::is_control)
        {
            return invalid(format!(
                "the pattern is a name, a prefix ending in '*', or '*' (at most {PATTERN_MAX_BYTES} bytes), got {:?}",
                self.pattern
            ));
        }
        self.operations.sort_unstable();
        self.operations.dedup();
        if self.operations.contains(&Operation::All) {
            self.operations = vec![Operation::All];
        }
        if self.operations.is_empty() {
            return invalid("a rule allows at least one operation".to_owned());
        }
        Ok(self)
    }

    fn matches(&self, principal: &str, resource: Resource, name: &str) -> bool {
        if self.resource != resource || !(self.principal == EVERYONE || self.principal == principal)
        {
            return false;
        }
        match self.pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => self.pattern == name,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("{0}")]
    InvalidRule(String),
    #[error("no rule \"{0}\"")]
    Unknown(AclRule),
    #[error("at most {ACL_RULES_MAX} rules")]
    TooMany,
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} cannot be read: {reason}; fix or remove it (with authorization on, nothing is allowed until then)"
    )]
    Unreadable { path: PathBuf, reason: String },
}

/// The rules of one broker; on disk when given a data directory.
#[derive(Debug, Default)]
pub struct AclStore {
    path: Option<PathBuf>,
    rules: RwLock<Vec<AclRule>>,
}

impl AclStore {
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads `dir/acls.json` (none yet is no rules). A file that does not
    /// parse, or holds an invalid rule, is an error naming it.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AclError> {
        let path = dir.into().join(ACLS_FILE);
        let bytes = crate::private_file::read(&path).map_err(|source| AclError::Io {
            what: "reading",
            path: path.clone(),
            source,
        })?;
        let rules = match bytes {
            None => Vec::new(),
            Some(bytes) => parse(&bytes).map_err(|reason| AclError::Unreadable {
                path: path.clone(),
                reason,
            })?,
        };
        Ok(Self {
            path: Some(path),
            rules: RwLock::new(rules),
        })
    }

    /// The rules, in the order they were added.
    pub fn list(&self) -> Vec<AclRule> {
        self.rules.read().expect("acls lock").clone()
    }

    /// Adds a rule; returns it as stored and whether it is new (adding a
    /// rule that is already there changes nothing).
    pub fn add(&self, rule: AclRule) -> Result<(AclRule, bool), AclError> {
        let rule = rule.normalized()?;
        let mut rules = self.rules.write().expect("acls lock");
        if rules.contains(&rule) {
            return Ok((rule, false));
        }
        if rules.len() >= ACL_RULES_MAX {
            return Err(AclError::TooMany);
        }
        let mut next = rules.clone();
        next.push(rule.clone());
        self.save(&next)?;
        *rules = next;
        Ok((rule, true))
    }

    /// Removes the rule equal to `rule` (after normalizing it).
    pub fn remove(&self, rule: AclRule) -> Result<AclRule, AclError> {
        let rule = rule.normalized()?;
        let mut rules = self.rules.write().expect("acls lock");
        let Some(at) = rules.iter().position(|r| *r == rule) else {
            return Err(AclError::Unknown(rule));
        };
        let mut next = rules.clone();
        next.remove(at);
        self.save(&next)?;
        *rules = next;
        Ok(rule)
    }

    /// Whether some rule lets `principal` do `op` on the named resource.
    pub fn allows(&self, principal: &str, resource: Resource, name: &str, op: Operation) -> bool {
        self.rules.read().expect("acls lock").iter().any(|r| {
            r.matches(principal, resource, name) && r.operations.iter().any(|g| g.grants(op))
        })
    }

    fn save(&self, rules: &[AclRule]) -> Result<(), AclError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(rules).expect("rules serialize");
        crate::private_file::replace(path, &bytes).map_err(|(what, source)| AclError::Io {
            what,
            path: path.clone(),
            source,
        })
    }
}

/// Rules from the file; each must be valid as written.
fn parse(bytes: &[u8]) -> Result<Vec<AclRule>, String> {
    let rules: Vec<AclRule> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if rules.len() > ACL_RULES_MAX {
        return Err(format!("{} rules, at most {ACL_RULES_MAX}", rules.len()));
    }
    for (i, rule) in rules.iter().enumerate() {
        let normal = rule
            .clone()
            .normalized()
            .map_err(|e| format!("rule {i}: {e}"))?;
        if normal != *rule {
            return Err(format!("rule {i} is not in its stored form: {rule}"));
        }
    }
    Ok(rules)
}

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;
