//! `pier acl add|list|delete`: ACL rules of a running Pier (enforced when
//! it was started with `pier serve --authorization`).

use anyhow::bail;
use clap::{Args, Subcommand};
use pier::pier_kafka::acl::Operation;
use serde::{Deserialize, Serialize};

use super::client::{Client, Remote};

#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: AclCommand,
}

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Allow a user operations on a topic or group: `pier acl add --user
    /// alice --topic 'orders*' --ops read,write`.
    Add(RuleArgs),
    /// List the rules.
    List,
    /// Delete a rule, given as it was added.
    Delete(RuleArgs),
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// A SASL user name, ANONYMOUS (clients of listeners without SASL), or
    /// '*' (everyone).
    #[arg(long, value_name = "NAME")]
    user: String,
    /// A topic name, a prefix ending in '*' ('orders*'), or '*'.
    #[arg(
        long,
        value_name = "PATTERN",
        required_unless_present = "group",
        conflicts_with = "group"
    )]
    topic: Option<String>,
    /// A group id, a prefix ending in '*', or '*'.
    #[arg(long, value_name = "PATTERN")]
    group: Option<String>,
    /// read, write, create, describe or all (comma-separated); describe is
    /// implied by the others.
    #[arg(long, value_name = "OPS", value_delimiter = ',', required = true)]
    ops: Vec<Operation>,
}

/// A rule as the HTTP API spells it.
#[derive(Debug, Serialize, Deserialize)]
struct Rule {
    principal: String,
    resource: String,
    pattern: String,
    operations: Vec<String>,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.principal == "*" {
            "everyone"
        } else {
            &self.principal
        };
        let ops = self.operations.join(", ");
        write!(f, "{who} may {ops} {} {}", self.resource, self.pattern)
    }
}

impl RuleArgs {
    fn rule(self) -> anyhow::Result<Rule> {
        let (resource, pattern) = match (self.topic, self.group) {
            (Some(t), None) => ("topic", t),
            (None, Some(g)) => ("group", g),
            _ => bail!("give one of --topic and --group"),
        };
        Ok(Rule {
            principal: self.user,
            resource: resource.to_owned(),
            pattern,
            operations: self.ops.iter().map(|o| o.name().to_owned()).collect(),
        })
    }
}

pub fn run(args: AclArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote);
    let json = args.remote.json;
    match args.command {
        AclCommand::Add(rule) => {
            let stored: Rule = client.post("adding the rule", "/api/v1/acls", &rule.rule()?)?;
            if json {
                println!("{}", serde_json::to_string(&stored)?);
            } else {
                println!("added: {stored}");
            }
        }
        AclCommand::List => {
            let rules: Vec<Rule> = client.get("listing rules", "/api/v1/acls")?;
            let security: serde_json::Value =
                client.get("reading the settings", "/api/v1/security")?;
            let enforced = security["authorization"].as_bool().unwrap_or(false);
            if json {
                println!("{}", serde_json::to_string(&rules)?);
                return Ok(());
            }
            if !enforced {
                println!(
                    "(authorization is off: start Pier with --authorization to enforce these)"
                );
            }
            if rules.is_empty() {
                println!(
                    "no rules (add one with `pier acl add --user NAME --topic PATTERN --ops read`)"
                );
            }
            for r in rules {
                println!("{r}");
            }
        }
        AclCommand::Delete(rule) => {
            let rule = rule.rule()?;
            client.delete_with_body("deleting the rule", "/api/v1/acls", &rule)?;
            if !json {
                println!("deleted: {rule}");
            }
        }
    }
    Ok(())
}
