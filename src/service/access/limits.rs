//! Rate limits: per client address on the public intake (tickets and messages filed with
//! no key), per key on everything else. GCRA (governor): a quota of 5 per hour lets 5
//! through at once, then one more every 12 minutes; the refusal says when to come back.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

pub use crate::config::LimitsConfig;
use crate::error::{Error, Result};

/// What a keyless intake request files: each has its own quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntakeKind {
    Ticket,
    Message,
}

type Keyed<K, C> = RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

pub struct RateLimits<C: Clock + Clone = DefaultClock> {
    clock: C,
    tickets: Keyed<IpAddr, C>,
    messages: Keyed<IpAddr, C>,
    keys: Keyed<i64, C>,
}

fn quota(count: u32, per: fn(NonZeroU32) -> Quota, setting: &str) -> Result<Quota> {
    NonZeroU32::new(count)
        .map(per)
        .ok_or_else(|| Error::Config(format!("{setting} must be at least 1")))
}

impl RateLimits<DefaultClock> {
    pub fn new(config: LimitsConfig) -> Result<Self> {
        RateLimits::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// Limits on the clock given (tests pass one they advance by hand).
    pub fn with_clock(config: LimitsConfig, clock: C) -> Result<Self> {
        let tickets = quota(
            config.public_tickets_per_hour,
            Quota::per_hour,
            "DEVICEKB_LIMIT_PUBLIC_TICKETS_PER_HOUR",
        )?;
        let messages = quota(
            config.public_messages_per_minute,
            Quota::per_minute,
            "DEVICEKB_LIMIT_PUBLIC_MESSAGES_PER_MINUTE",
        )?;
        let keys = quota(
            config.key_requests_per_minute,
            Quota::per_minute,
            "DEVICEKB_LIMIT_KEY_REQUESTS_PER_MINUTE",
        )?;
        Ok(RateLimits {
            tickets: RateLimiter::dashmap_with_clock(tickets, clock.clone()),
            messages: RateLimiter::dashmap_with_clock(messages, clock.clone()),
            keys: RateLimiter::dashmap_with_clock(keys, clock.clone()),
            clock,
        })
    }

    /// One keyless intake request from `address`. IPv6 clients are counted by /64, the
    /// block one subscriber gets: counting single addresses would give each of them
    /// billions of quotas.
    pub fn check_public(&self, address: IpAddr, kind: IntakeKind) -> Result<()> {
        let address = match address {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
            v4 => v4,
        };
        let (limiter, what) = match kind {
            IntakeKind::Ticket => (&self.tickets, "tickets"),
            IntakeKind::Message => (&self.messages, "messages"),
        };
        limiter.check_key(&address).map_err(|until| {
            self.refused(
                until.wait_time_from(self.clock.now()),
                format!("too many {what} from {address}"),
            )
        })
    }

    /// One request made with the key `key_id`.
    pub fn check_key(&self, key_id: i64, key_name: &str) -> Result<()> {
        self.keys.check_key(&key_id).map_err(|until| {
            self.refused(
                until.wait_time_from(self.clock.now()),
                format!("too many requests with the key `{key_name}`"),
            )
        })
    }

    /// Forgets the addresses and keys that are back to a full quota, so a flood of
    /// addresses does not grow the tables for ever (called every minute).
    pub fn forget_idle(&self) {
        for limiter in [&self.tickets, &self.messages] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.keys.retain_recent();
    }

    /// How many addresses and keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.tickets.len() + self.messages.len() + self.keys.len()
    }

    fn refused(&self, wait: Duration, detail: String) -> Error {
        // Whole seconds, rounded up: a client that waits that long gets through.
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Error::RateLimited {
            detail: format!("{detail}; retry in {}s", retry_after_secs.max(1)),
            retry_after_secs: retry_after_secs.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::net::Ipv4Addr;

    fn limits() -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::with_clock(
            LimitsConfig {
                key_requests_per_minute: 3,
                ..LimitsConfig::default()
            },
            clock.clone(),
        )
        .unwrap();
        (limits, clock)
    }

    fn retry_after(result: Result<()>) -> u64 {
        match result {
            Err(Error::RateLimited {
                retry_after_secs, ..
            }) => retry_after_secs,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn five_tickets_an_hour_per_address_then_one_every_twelve_minutes() {
        let (limits, clock) = limits();
        let a = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let b = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8));
        for _ in 0..5 {
            limits.check_public(a, IntakeKind::Ticket).unwrap();
        }
        assert_eq!(retry_after(limits.check_public(a, IntakeKind::Ticket)), 720);
        // Another address, and messages from the same one, have their own quotas.
        limits.check_public(b, IntakeKind::Ticket).unwrap();
        limits.check_public(a, IntakeKind::Message).unwrap();
        clock.advance(Duration::from_secs(719));
        assert_eq!(retry_after(limits.check_public(a, IntakeKind::Ticket)), 1);
        clock.advance(Duration::from_secs(1));
        limits.check_public(a, IntakeKind::Ticket).unwrap();
        assert!(limits.check_public(a, IntakeKind::Ticket).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_block() {
        let (limits, _) = limits();
        for i in 0..5u16 {
            let a: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            limits.check_public(a, IntakeKind::Ticket).unwrap();
        }
        let same_block: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(limits.check_public(same_block, IntakeKind::Ticket).is_err());
        let next_block: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limits.check_public(next_block, IntakeKind::Ticket).unwrap();
    }

    #[test]
    fn twenty_messages_a_minute_per_address() {
        let (limits, clock) = limits();
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..20 {
            limits.check_public(a, IntakeKind::Message).unwrap();
        }
        assert_eq!(retry_after(limits.check_public(a, IntakeKind::Message)), 3);
        clock.advance(Duration::from_secs(3));
        limits.check_public(a, IntakeKind::Message).unwrap();
    }

    #[test]
    fn each_key_has_its_own_quota_and_idle_ones_are_forgotten() {
        let (limits, clock) = limits();
        for _ in 0..3 {
            limits.check_key(1, "helpdesk").unwrap();
        }
        let refused = limits.check_key(1, "helpdesk");
        assert!(
            matches!(&refused, Err(Error::RateLimited { detail, .. }) if detail.contains("`helpdesk`")),
            "{refused:?}"
        );
        limits.check_key(2, "mail-gateway").unwrap();
        assert_eq!(limits.tracked(), 2);
        clock.advance(Duration::from_secs(3600));
        limits.forget_idle();
        assert_eq!(limits.tracked(), 0);
        limits.check_key(1, "helpdesk").unwrap();
    }

    #[test]
    fn a_zero_quota_is_a_configuration_error() {
        let zero = LimitsConfig {
            public_tickets_per_hour: 0,
            ..LimitsConfig::default()
        };
        assert!(matches!(RateLimits::new(zero), Err(Error::Config(m)) if m.contains("TICKETS")));
    }
}
