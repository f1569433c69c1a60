//! API keys: minted here, stored as their SHA-256 only, and looked up from an in-memory
//! ring that a task refreshes from the store, so a request costs no database round trip
//! and a key revoked by `devicekb keys revoke` (another process) stops working within one
//! refresh interval.

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{ApiKey, Channel, NewApiKey, Role, Store};

/// What every minted key starts with, so a leaked one is recognisable in logs and scans.
pub const KEY_PREFIX: &str = "dkb_";
/// `api_keys.name`, short enough that `key:NAME` fits `ticket_history.actor` (100).
pub const MAX_KEY_NAME: usize = 96;
/// How many characters of a key `keys list` shows.
const SHOWN_PREFIX: usize = 12;

/// Who is calling, as a key says.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub key_id: i64,
    pub name: String,
    pub role: Role,
    /// The channel an intake key files tickets on, whatever the request says.
    pub channel: Option<Channel>,
    /// The customer an intake key files tickets for, whatever the request says.
    pub customer_id: Option<i64>,
}

struct ActiveKey {
    digest: [u8; 32],
    principal: Principal,
}

/// The keys that are not revoked, as last read from the store, plus the operator's
/// `DEVICEKB_ADMIN_KEY` when set.
pub struct KeyRing {
    /// `None` until the store has been read once (it may be unreachable at start).
    keys: RwLock<Option<Vec<ActiveKey>>>,
    env_admin: Option<[u8; 32]>,
}

/// The SHA-256 of a key, as stored and as the ring holds it.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The operator's `DEVICEKB_ADMIN_KEY`.
fn env_admin_principal() -> Principal {
    Principal {
        key_id: 0,
        name: "DEVICEKB_ADMIN_KEY".into(),
        role: Role::Admin,
        channel: None,
        customer_id: None,
    }
}

/// Equal digests, compared in full whatever they hold: the time taken says nothing of
/// where two keys differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl KeyRing {
    pub fn new(env_admin_key: Option<&str>) -> KeyRing {
        KeyRing {
            keys: RwLock::new(None),
            env_admin: env_admin_key.map(digest),
        }
    }

    /// Replaces the ring with the store's keys (revoked ones are left out).
    pub fn replace(&self, keys: &[ApiKey]) {
        let active = keys
            .iter()
            .filter(|k| k.revoked_at.is_none())
            .filter_map(|k| {
                let mut digest = [0u8; 32];
                let channel = k.channel.as_deref().map(Channel::parse).transpose();
                match (hex::decode_to_slice(&k.key_hash, &mut digest), channel) {
                    (Ok(()), Ok(channel)) => Some(ActiveKey {
                        digest,
                        principal: Principal {
                            key_id: k.id,
                            name: k.name.clone(),
                            role: k.role,
                            channel,
                            customer_id: k.customer_id,
                        },
                    }),
                    // A key whose pin cannot be read must not work unpinned.
                    _ => {
                        tracing::warn!(key = %k.name, "an API key's stored hash or channel is unreadable; the key is ignored");
                        None
                    }
                }
            })
            .collect();
        *self.keys.write() = Some(active);
    }

    /// True when no key exists at all: the store was read, it holds none, and no
    /// `DEVICEKB_ADMIN_KEY` is set. Only then may a loopback server stay open.
    pub fn is_empty(&self) -> bool {
        self.env_admin.is_none() && self.keys.read().as_ref().is_some_and(|k| k.is_empty())
    }

    /// True while it cannot be told whether any key exists: the store has not been read
    /// yet and no `DEVICEKB_ADMIN_KEY` is set.
    pub fn unknown(&self) -> bool {
        self.env_admin.is_none() && self.keys.read().is_none()
    }

    /// How many keys work now (the operator's admin key included).
    pub fn active(&self) -> usize {
        usize::from(self.env_admin.is_some()) + self.keys.read().as_ref().map_or(0, |k| k.len())
    }

    /// The principal of the key with this id and its digest, if it still works (a session
    /// names its key by id and a fingerprint of its digest: the operator's
    /// `DEVICEKB_ADMIN_KEY` is id 0, and a new one there has another digest).
    pub fn by_id(&self, key_id: i64) -> Result<(Principal, [u8; 32])> {
        if let (0, Some(admin)) = (key_id, &self.env_admin) {
            return Ok((env_admin_principal(), *admin));
        }
        let keys = self.keys.read();
        let Some(keys) = keys.as_ref() else {
            return Err(Error::StorageUnavailable(
                "the API keys cannot be read yet: the database is unreachable".into(),
            ));
        };
        keys.iter()
            .find(|k| k.principal.key_id == key_id)
            .map(|k| (k.principal.clone(), k.digest))
            .ok_or_else(|| {
                Error::Unauthorized("the key of this session was revoked; sign in again".into())
            })
    }

    /// The principal `secret` belongs to. Every key's digest is compared, matched or not.
    pub fn find(&self, secret: &str) -> Result<Principal> {
        let given = digest(secret);
        let mut found = None;
        if let Some(admin) = &self.env_admin {
            if same_digest(&given, admin) {
                found = Some(env_admin_principal());
            }
        }
        let keys = self.keys.read();
        for key in keys.iter().flatten() {
            if same_digest(&given, &key.digest) && found.is_none() {
                found = Some(key.principal.clone());
            }
        }
        match (found, keys.is_some()) {
            (Some(principal), _) => Ok(principal),
            (None, true) => Err(Error::Unauthorized("unknown or revoked API key".into())),
            (None, false) => Err(Error::StorageUnavailable(
                "the API keys cannot be read yet: the database is unreachable".into(),
            )),
        }
    }
}

/// What `devicekb keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKeyRequest {
    pub name: String,
    pub role: Role,
    pub channel: Option<Channel>,
    pub customer_id: Option<i64>,
}

/// Mints a key, stores its hash and returns the stored row with the key itself: the only
/// time anyone sees it.
pub async fn create(store: &dyn Store, request: NewKeyRequest) -> Result<(ApiKey, String)> {
    let name = request.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_KEY_NAME} characters"),
        ));
    }
    if request.role != Role::Intake && (request.channel.is_some() || request.customer_id.is_some())
    {
        return Err(Error::invalid(
            "role",
            "only an intake key may pin a channel or a customer",
        ));
    }
    let existing = store.keys().await?;
    if existing
        .iter()
        .any(|k| k.revoked_at.is_none() && k.name == name)
    {
        return Err(Error::Conflict(format!(
            "a key named `{name}` exists; revoke it first or choose another name"
        )));
    }
    let secret = mint()?;
    let stored = store
        .create_key(&NewApiKey {
            name,
            role: request.role,
            key_hash: hex::encode(digest(&secret)),
            key_prefix: secret.chars().take(SHOWN_PREFIX).collect(),
            channel: request.channel,
            customer_id: request.customer_id,
        })
        .await?;
    Ok((stored, secret))
}

/// Revokes the key named `name_or_id` (its name, or its id).
pub async fn revoke(store: &dyn Store, name_or_id: &str) -> Result<ApiKey> {
    let keys = store.keys().await?;
    let active = || keys.iter().filter(|k| k.revoked_at.is_none());
    // A name first: a key named "3" is not the key whose id is 3.
    let target = active()
        .find(|k| k.name == name_or_id)
        .or_else(|| active().find(|k| k.id.to_string() == name_or_id))
        .ok_or_else(|| Error::NotFound {
            what: "key".into(),
            id: name_or_id.to_string(),
        })?;
    store
        .revoke_key(target.id)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "key".into(),
            id: name_or_id.to_string(),
        })
}

/// `dkb_` and 48 hex digits: 192 bits from the operating system's generator.
fn mint() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a new key: {e}")))?;
    Ok(format!("{KEY_PREFIX}{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, name: &str, role: Role, secret: &str, revoked: bool) -> ApiKey {
        ApiKey {
            id,
            name: name.into(),
            role,
            key_hash: hex::encode(digest(secret)),
            key_prefix: secret.chars().take(SHOWN_PREFIX).collect(),
            channel: None,
            customer_id: None,
            created_at: "2026-12-03T00:00:00.000Z".into(),
            revoked_at: revoked.then(|| "2026-12-03T01:00:00.000Z".into()),
        }
    }

    #[test]
    fn a_key_is_found_by_its_secret_and_a_revoked_one_is_not() {
        let ring = KeyRing::new(None);
        assert!(
            matches!(ring.find("dkb_x"), Err(Error::StorageUnavailable(_))),
            "before the store is read, no key can be told apart from a wrong one"
        );
        assert!(!ring.is_empty());
        ring.replace(&[
            stored(1, "helpdesk", Role::Staff, "dkb_staff", false),
            stored(2, "old", Role::Admin, "dkb_old", true),
        ]);
        assert_eq!(ring.find("dkb_staff").unwrap().name, "helpdesk");
        assert!(matches!(ring.find("dkb_old"), Err(Error::Unauthorized(_))));
        assert!(matches!(ring.find("dkb_staf"), Err(Error::Unauthorized(_))));
        assert_eq!(ring.active(), 1);
        assert!(!ring.is_empty());
        ring.replace(&[]);
        assert!(ring.is_empty());
    }

    #[test]
    fn the_operator_s_admin_key_is_a_key_too() {
        let ring = KeyRing::new(Some("s3cret"));
        ring.replace(&[]);
        assert!(!ring.is_empty());
        assert_eq!(ring.find("s3cret").unwrap().role, Role::Admin);
        assert!(matches!(ring.find("s3cre"), Err(Error::Unauthorized(_))));
    }

    #[test]
    fn minted_keys_are_long_random_and_recognisable() {
        let (a, b) = (mint().unwrap(), mint().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 48);
        assert!(a[KEY_PREFIX.len()..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.grants(Role::Staff) && Role::Admin.grants(Role::Intake));
        assert!(Role::Staff.grants(Role::Intake) && !Role::Staff.grants(Role::Admin));
        assert!(!Role::Intake.grants(Role::Staff));
    }
}
