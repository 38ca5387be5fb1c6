//! `pier user add|list|delete`: SASL users of a running Pier.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::client::{Client, Remote};

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a SASL user, or set their password. The password is read from
    /// standard input (one line), so it stays out of the shell history.
    Add {
        name: String,
        /// The password, instead of reading it from standard input.
        #[arg(long, env = "PIER_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List SASL user names.
    List,
    /// Delete a SASL user.
    Delete { name: String },
}

pub fn run(args: UserArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote);
    match args.command {
        UserCommand::Add { name, password } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let body = serde_json::json!({ "password": password });
            client.put::<serde_json::Value>("adding the user", &user_path(&name), &body)?;
            if args.remote.json {
                println!("{}", serde_json::json!({ "user": name }));
            } else {
                println!(
                    "user {name:?} can now log in with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
                );
            }
        }
        UserCommand::List => {
            let names: Vec<String> = client.get("listing users", "/api/v1/users")?;
            if args.remote.json {
                println!("{}", serde_json::to_string(&names)?);
            } else if names.is_empty() {
                println!("no SASL users (add one with `pier user add NAME`)");
            } else {
                for n in names {
                    println!("{n}");
                }
            }
        }
        UserCommand::Delete { name } => {
            client.delete("deleting the user", &user_path(&name))?;
            if !args.remote.json {
                println!("deleted user {name:?}");
            }
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("password (input is shown; or pipe it in): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!(
            "no password given: pipe one in (`echo secret | pier user add NAME`) or use --password"
        );
    }
    Ok(password)
}

/// `/api/v1/users/NAME`, with the name percent-encoded.
fn user_path(name: &str) -> String {
    let mut out = String::from("/api/v1/users/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
