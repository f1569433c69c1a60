//! Signed sessions for the staff workspace in the browser.
//!
//! Staff sign in with their API key once; the browser then carries a session token, not
//! the key. The token is `KEY_ID.EXPIRES.KEY_FINGERPRINT.SIGNATURE`: the key it was issued
//! for, when it ends (Unix seconds), a fingerprint of that key's digest, and an
//! HMAC-SHA256 of the three under a secret kept in the data directory. Nothing is stored
//! per session, so every server sharing the data directory accepts the same sessions, and
//! a restart signs no one out. The key is looked up again on every request, by id and
//! fingerprint: revoking it (or replacing `DEVICEKB_ADMIN_KEY`, always id 0) ends its
//! sessions within one key refresh. Signing out removes the cookie from the browser; a
//! copy of the token taken before stays valid until it ends (12 hours) or its key is
//! revoked.
//!
//! Forms carry a CSRF token derived from the session (an HMAC of the session token under
//! the same secret): a page of another site can make the browser send the cookie, but
//! cannot read the token a form needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The secret's file in the data directory (32 random bytes, owner-only).
pub const SECRET_FILE: &str = "ui-session.key";
/// How long a session lasts: one working day and some.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

type HmacSha256 = Hmac<Sha256>;

/// What a valid session token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionClaims {
    pub key_id: i64,
    pub expires: u64,
    /// `Sessions::key_fingerprint` of the key's digest at sign-in.
    pub fingerprint: u64,
}

/// Issues and checks session and CSRF tokens.
pub struct Sessions {
    secret: [u8; 32],
}

impl Sessions {
    /// Reads the data directory's secret, or creates it (atomically: when two servers
    /// start at once, both end up with the one that was renamed into place first).
    pub fn load_or_create(data_dir: &Path) -> Result<Sessions> {
        let path = data_dir.join(SECRET_FILE);
        if let Some(secret) = read_secret(&path)? {
            return Ok(Sessions { secret });
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Internal(format!("no randomness for the session secret: {e}")))?;
        let tmp = temp_path(&path);
        write_owner_only(&tmp, &secret)?;
        // `hard_link` fails when the file exists: the first server to get here wins.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Sessions { secret }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_secret(&path)?
                .map(|secret| Sessions { secret })
                .ok_or_else(|| Error::Internal(format!("{} vanished", path.display()))),
            Err(e) => Err(Error::io(format!("creating {}", path.display()), e)),
        }
    }

    /// A session secret given as is (tests, and servers without a data directory).
    pub fn with_secret(secret: [u8; 32]) -> Sessions {
        Sessions { secret }
    }

    /// A token for the key `key_id` whose digest is `key_digest`, valid from `now` (Unix
    /// seconds) for `SESSION_LIFETIME`.
    pub fn issue(&self, key_id: i64, key_digest: &[u8; 32], now: u64) -> String {
        let payload = format!(
            "{key_id}.{}.{:016x}",
            now + SESSION_LIFETIME.as_secs(),
            self.key_fingerprint(key_digest)
        );
        let signature = hex::encode(self.mac(b"session", payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    /// What a session records of its key: enough to tell two keys apart, nothing that
    /// helps find the key (an HMAC under the server's secret).
    pub fn key_fingerprint(&self, key_digest: &[u8; 32]) -> u64 {
        let mac = self.mac(b"key", key_digest);
        u64::from_be_bytes(mac[..8].try_into().expect("8 bytes"))
    }

    /// The claims of `token` if this server signed it and it has not ended by `now`.
    pub fn verify(&self, token: &str, now: u64) -> Result<SessionClaims> {
        let invalid = || Error::Unauthorized("the session is not valid; sign in again".into());
        let mut parts = token.rsplitn(2, '.');
        let (Some(signature), Some(payload)) = (parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let given = hex::decode(signature).map_err(|_| invalid())?;
        let mut mac = self.hmac(b"session");
        mac.update(payload.as_bytes());
        mac.verify_slice(&given).map_err(|_| invalid())?;
        let mut fields = payload.split('.');
        let (Some(key_id), Some(expires), Some(fingerprint), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid());
        };
        let claims = SessionClaims {
            key_id: key_id.parse().map_err(|_| invalid())?,
            expires: expires.parse().map_err(|_| invalid())?,
            fingerprint: u64::from_str_radix(fingerprint, 16).map_err(|_| invalid())?,
        };
        if claims.expires <= now {
            return Err(Error::Unauthorized(
                "the session has ended; sign in again".into(),
            ));
        }
        Ok(claims)
    }

    /// The token forms of `session` must carry.
    pub fn csrf_token(&self, session: &str) -> String {
        hex::encode(&self.mac(b"csrf", session.as_bytes())[..16])
    }

    /// Whether `given` is the CSRF token of `session` (compared in constant time).
    pub fn check_csrf(&self, session: &str, given: &str) -> bool {
        let Ok(given) = hex::decode(given) else {
            return false;
        };
        let mut mac = self.hmac(b"csrf");
        mac.update(session.as_bytes());
        mac.verify_truncated_left(&given).is_ok() && given.len() == 16
    }

    fn hmac(&self, purpose: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(b":");
        mac
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = self.hmac(purpose);
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

fn read_secret(path: &Path) -> Result<Option<[u8; 32]>> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|_| {
            Error::Config(format!(
                "{} is not a session secret (32 bytes); remove it to make a new one (everyone is signed out)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(name)
}

fn write_owner_only(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_valid_until_it_ends_and_only_as_signed() {
        let sessions = Sessions::with_secret([7; 32]);
        let token = sessions.issue(42, &[1; 32], 1_000);
        let claims = sessions.verify(&token, 1_001).unwrap();
        assert_eq!(claims.key_id, 42);
        assert_eq!(claims.fingerprint, sessions.key_fingerprint(&[1; 32]));
        assert_ne!(claims.fingerprint, sessions.key_fingerprint(&[2; 32]));
        assert!(sessions
            .verify(&token, 1_000 + SESSION_LIFETIME.as_secs())
            .is_err());
        let forged = token.replacen("42.", "1.", 1);
        assert!(sessions.verify(&forged, 1_001).is_err());
        assert!(Sessions::with_secret([8; 32])
            .verify(&token, 1_001)
            .is_err());
        for junk in ["", ".", "a.b.c", "42.99999999999.zz", "42.9.1.2.3"] {
            assert!(sessions.verify(junk, 1_001).is_err(), "{junk}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let sessions = Sessions::with_secret([7; 32]);
        let a = sessions.issue(1, &[1; 32], 0);
        let b = sessions.issue(2, &[1; 32], 0);
        let token = sessions.csrf_token(&a);
        assert!(sessions.check_csrf(&a, &token));
        assert!(!sessions.check_csrf(&b, &token));
        assert!(!sessions.check_csrf(&a, ""));
        assert!(!sessions.check_csrf(&a, &token[..8]));
    }

    #[test]
    fn the_secret_is_made_once_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sessions::load_or_create(dir.path()).unwrap();
        let b = Sessions::load_or_create(dir.path()).unwrap();
        let token = a.issue(3, &[3; 32], 0);
        assert!(b.verify(&token, 1).is_ok());
        std::fs::write(dir.path().join(SECRET_FILE), b"short").unwrap();
        assert!(Sessions::load_or_create(dir.path()).is_err());
    }
}
