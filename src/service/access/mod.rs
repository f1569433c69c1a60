//! Who may call what. Each route needs a [`Rule`]; a caller shows an API key (whose role
//! must include the rule's), or, on the public intake when it is switched on, nothing but
//! its address (and gets that address's quota). With no key anywhere, a server that only
//! listens on the loopback interface is open, as a developer's machine expects; on any
//! other address it refuses to start. Nothing here knows HTTP: the API layer reads the
//! credential and the address and asks [`Access::authorize`].

pub mod keys;
pub mod limits;
pub mod sessions;

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The roles keys carry (the store's enumeration), for the layers above.
pub use crate::store::Role;
pub use keys::{KeyRing, NewKeyRequest, Principal};
pub use limits::{IntakeKind, LimitsConfig, RateLimits};
pub use sessions::Sessions;

use super::conversation::CreateMessage;
use super::tickets::CreateTicket;
use super::Desk;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Channel;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Probes (`/livez`, `/readyz`, `/health`) and the API's description (`/openapi.json`,
    /// `/docs`): never a key.
    Anyone,
    /// Filing a ticket or a message: an intake key (or a higher one), or no key at all
    /// when the public intake is on, limited per address.
    Intake(IntakeKind),
    /// A key whose role includes this one.
    Needs(Role),
}

/// Who a request was let in as.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// A probe route, no credential looked at.
    Anyone,
    /// No key exists and the server listens on loopback only.
    Open,
    /// The public intake: no key, limited per address.
    Public(IpAddr),
    Key(Principal),
}

impl Caller {
    /// The name history rows record for what this caller does.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anyone | Caller::Open => "api".into(),
            Caller::Public(_) => "public".into(),
            Caller::Key(p) => format!("key:{}", p.name),
        }
    }
}

pub struct Access {
    pub keys: KeyRing,
    pub limits: RateLimits,
    /// Sessions of the staff workspace (signed with the data directory's secret).
    pub sessions: Sessions,
    /// Keyless tickets and messages accepted (`DEVICEKB_PUBLIC_INTAKE`).
    public_intake: bool,
    refresh_every: Duration,
}

impl Access {
    /// Reads the keys once (when the store answers) and keeps them fresh in the
    /// background, with the limits from the configuration.
    pub async fn start(config: &Config, desk: &Arc<Desk>) -> Result<Arc<Access>> {
        let access = Arc::new(Access {
            keys: KeyRing::new(config.admin_api_key.as_deref()),
            limits: RateLimits::new(config.limits)?,
            sessions: Sessions::load_or_create(&config.data_dir)?,
            public_intake: config.public_intake,
            refresh_every: Duration::from_millis(config.keys_refresh_ms.max(100)),
        });
        access.refresh(desk).await;
        access.spawn_upkeep(desk);
        Ok(access)
    }

    /// Re-reads the keys from the store; a store that does not answer keeps the ring as
    /// it was (and says so).
    pub async fn refresh(&self, desk: &Desk) {
        let keys = match desk.store() {
            Ok(store) => store.keys().await,
            Err(e) => Err(e),
        };
        match keys {
            Ok(keys) => self.keys.replace(&keys),
            Err(e) => tracing::warn!(error = %e.chain(), "the API keys could not be read"),
        }
    }

    fn spawn_upkeep(self: &Arc<Self>, desk: &Arc<Desk>) {
        let (access, desk): (Weak<Access>, Weak<Desk>) =
            (Arc::downgrade(self), Arc::downgrade(desk));
        let every = self.refresh_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks: u64 = 0;
            loop {
                tick.tick().await;
                let (Some(access), Some(desk)) = (access.upgrade(), desk.upgrade()) else {
                    return;
                };
                access.refresh(&desk).await;
                ticks += 1;
                if ticks.is_multiple_of((60_000 / every.as_millis().max(1) as u64).max(1)) {
                    access.limits.forget_idle();
                }
            }
        });
    }

    /// Whether the server may run with no key: only when none exists and it listens on
    /// loopback only. Checked at start; `authorize` checks it again on every request,
    /// so a key created while the server runs closes it.
    pub fn check_listening(&self, loopback_only: bool, addr: &str) -> Result<()> {
        if self.keys.is_empty() && !loopback_only {
            return Err(Error::Config(format!(
                "refusing to listen on {addr} with no API key: anyone who can reach it would read \
                 every ticket. Create a key (`devicekb keys create --role admin --name NAME`), set \
                 DEVICEKB_ADMIN_KEY, or listen on 127.0.0.1"
            )));
        }
        Ok(())
    }

    /// True when requests are let in with no key (loopback server, no key anywhere).
    pub fn is_open(&self, loopback_only: bool) -> bool {
        loopback_only && self.keys.is_empty()
    }

    /// Lets a request in, or says why not (401, 403, 429, or 503 while the keys cannot
    /// be read). `secret` is the key the request carries, if any.
    pub fn authorize(
        &self,
        rule: Rule,
        secret: Option<&str>,
        address: IpAddr,
        loopback_only: bool,
    ) -> Result<Caller> {
        let needed = match rule {
            Rule::Anyone => return Ok(Caller::Anyone),
            Rule::Intake(_) => Role::Intake,
            Rule::Needs(role) => role,
        };
        if self.is_open(loopback_only) {
            return Ok(Caller::Open);
        }
        let Some(secret) = secret else {
            return match rule {
                Rule::Intake(kind) if self.public_intake => {
                    self.limits.check_public(address, kind)?;
                    if kind == IntakeKind::Message {
                        // A keyless message opens a ticket as often as not: it counts
                        // against the tickets' quota too, or it would get round it.
                        self.limits.check_public(address, IntakeKind::Ticket)?;
                    }
                    Ok(Caller::Public(address))
                }
                // Until the keys are read, "no key needed" (loopback, none exists) cannot
                // be told from "a key is missing".
                _ if loopback_only && self.keys.unknown() => Err(Error::StorageUnavailable(
                    "the API keys cannot be read yet: the database is unreachable".into(),
                )),
                _ => Err(Error::Unauthorized(
                    "this endpoint needs an API key (Authorization: Bearer KEY)".into(),
                )),
            };
        };
        let principal = self.keys.find(secret)?;
        self.admit_key(principal, needed, "endpoint")
            .map(Caller::Key)
    }

    /// A key's principal let in where `needed` is asked (`what`: "endpoint", "page"):
    /// its role must grant it, and its rate limit must allow one more request.
    fn admit_key(&self, principal: Principal, needed: Role, what: &str) -> Result<Principal> {
        if !principal.role.grants(needed) {
            return Err(Error::Forbidden(format!(
                "the key `{}` has the {} role; this {what} needs {}",
                principal.name,
                principal.role.as_str(),
                needed.as_str()
            )));
        }
        self.limits.check_key(principal.key_id, &principal.name)?;
        Ok(principal)
    }

    /// Lets a browser session in for a page needing `needed`: its signature and end
    /// (`Sessions::verify`), its key still active, the key's role and rate limit.
    pub fn authorize_session(&self, token: &str, needed: Role, now: u64) -> Result<Principal> {
        let claims = self.sessions.verify(token, now)?;
        let (principal, digest) = self.keys.by_id(claims.key_id)?;
        if self.sessions.key_fingerprint(&digest) != claims.fingerprint {
            return Err(Error::Unauthorized(
                "the key of this session was replaced; sign in again".into(),
            ));
        }
        self.admit_key(principal, needed, "page")
    }
}

impl Caller {
    /// The channel and customer an intake key is bound to, if any.
    fn pins(&self) -> Option<&Principal> {
        match self {
            Caller::Key(p) if p.role == Role::Intake => Some(p),
            _ => None,
        }
    }

    /// Applies an intake key's pins to a new ticket: its customer and channel are the
    /// key's; a request naming others is refused rather than silently changed.
    pub fn pin_ticket(&self, request: &mut CreateTicket) -> Result<()> {
        let Some(key) = self.pins() else {
            return Ok(());
        };
        if let Some(customer) = key.customer_id {
            if request.customer_id != customer {
                return Err(Error::Forbidden(format!(
                    "the key `{}` files tickets for customer {customer} only",
                    key.name
                )));
            }
        }
        if let Some(channel) = key.channel {
            request.channel = Some(pinned_channel(key, channel, request.channel.as_deref())?);
        }
        Ok(())
    }

    /// The same for a new message; besides, only staff record outbound messages (replies
    /// already sent): an intake key or the public form files what customers send.
    pub fn pin_message(&self, request: &mut CreateMessage) -> Result<()> {
        let public = matches!(self, Caller::Public(_));
        if public && request.ticket_id.is_some() {
            // Ticket ids are sequential: a keyless caller naming one could write into any
            // customer's conversation.
            return Err(Error::Forbidden(
                "the public intake opens conversations; a follow-up on a ticket needs an intake key"
                    .into(),
            ));
        }
        let intake = public || self.pins().is_some();
        if intake && request.direction.trim() != "inbound" {
            return Err(Error::Forbidden(
                "only a staff key records outbound messages; intake files inbound ones".into(),
            ));
        }
        let Some(key) = self.pins() else {
            return Ok(());
        };
        if let Some(customer) = key.customer_id {
            if request.customer_id.is_some_and(|c| c != customer) {
                return Err(Error::Forbidden(format!(
                    "the key `{}` files messages for customer {customer} only",
                    key.name
                )));
            }
            request.customer_id = Some(customer);
        }
        if let Some(channel) = key.channel {
            request.channel = pinned_channel(key, channel, Some(&request.channel))?;
        }
        Ok(())
    }
}

/// The key's channel, unless the request names another one.
fn pinned_channel(key: &Principal, channel: Channel, asked: Option<&str>) -> Result<String> {
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        Some(asked) if asked != channel.as_str() => Err(Error::Forbidden(format!(
            "the key `{}` files on the {} channel only",
            key.name,
            channel.as_str()
        ))),
        _ => Ok(channel.as_str().to_string()),
    }
}
