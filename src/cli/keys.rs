//! `devicekb keys`: create, list and revoke API keys, in the same store (`--data`,
//! `DATABASE_URL`) the server reads. A running server sees a change within
//! `DEVICEKB_KEYS_REFRESH_MS`.

use std::sync::Arc;

use super::Dirs;
use crate::error::Result;
use crate::service::access::keys::{self, NewKeyRequest};
use crate::store::{Channel, Role, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mint a key; it is printed once, alone on the last line, and only its hash is kept.
    Create(CreateArgs),
    /// Every key with its role, prefix and state (the keys themselves are not stored).
    List(ListArgs),
    /// Revoke a key by name or id.
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    dirs: Dirs,
    /// admin (reindex, keys), staff (search, tickets, customers, stats) or intake
    /// (file tickets and messages).
    #[arg(long)]
    role: String,
    /// Who or what uses it (e.g. helpdesk, web-form, mail-gateway).
    #[arg(long)]
    name: String,
    /// Intake keys: the channel every ticket filed with the key gets.
    #[arg(long)]
    channel: Option<String>,
    /// Intake keys: the customer every ticket filed with the key belongs to.
    #[arg(long)]
    customer: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    dirs: Dirs,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    dirs: Dirs,
    /// The key's name or id.
    key: String,
}

async fn open_store(dirs: &Dirs) -> Result<Arc<dyn Store>> {
    crate::service::desk::open_store(&dirs.config()?).await
}

pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Create(args) => {
            let store = open_store(&args.dirs).await?;
            let request = NewKeyRequest {
                name: args.name,
                role: Role::parse(&args.role)?,
                channel: args.channel.as_deref().map(Channel::parse).transpose()?,
                customer_id: args.customer,
            };
            let (key, secret) = keys::create(store.as_ref(), request).await?;
            println!(
                "created the {} key `{}` (id {}); keep it now, it is not shown again:",
                key.role.as_str(),
                key.name,
                key.id
            );
            println!("{secret}");
        }
        Command::List(args) => {
            let store = open_store(&args.dirs).await?;
            let keys = store.keys().await?;
            if keys.is_empty() {
                println!("no API key: a server on loopback is open to this machine");
            }
            for key in keys {
                let pins = [
                    key.channel.as_ref().map(|c| format!("channel={c}")),
                    key.customer_id.map(|c| format!("customer={c}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                let state = match &key.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => "active".into(),
                };
                let line = format!(
                    "{:>4}  {:<24} {:<7} {}…  created {}  {state}  {pins}",
                    key.id,
                    key.name,
                    key.role.as_str(),
                    key.key_prefix,
                    key.created_at
                );
                println!("{}", line.trim_end());
            }
        }
        Command::Revoke(args) => {
            let store = open_store(&args.dirs).await?;
            let key = keys::revoke(store.as_ref(), &args.key).await?;
            println!(
                "revoked the {} key `{}` (id {})",
                key.role.as_str(),
                key.name,
                key.id
            );
        }
    }
    Ok(())
}
