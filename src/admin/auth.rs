//! Login: the configured user and its Argon2 password hash, and the bearer
//! tokens handed out by `POST /v1/session/login`.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parking_lot::Mutex;

use super::error::CredentialsError;

/// The one administrator account: a user name and an Argon2id password hash
/// (never the password itself).
///
/// # Examples
///
/// ```
/// use smb_handles::admin::Credentials;
///
/// // Hash at start-up from a secret you were given...
/// let c = Credentials::new("admin", "s3cret").unwrap();
/// assert!(c.password_hash().starts_with("$argon2id$"));
/// // ...or keep only the hash in your configuration file.
/// let same = Credentials::from_password_hash("admin", c.password_hash()).unwrap();
/// assert_eq!(same.username(), "admin");
/// ```
#[derive(Clone)]
pub struct Credentials {
    username: String,
    hash: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("hash", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Hashes `password` with Argon2id (the crate's default parameters: 19 MiB,
    /// 2 passes) under a fresh random salt and keeps only the hash.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::EmptyUsername`] for an empty user name.
    pub fn new(username: &str, password: &str) -> Result<Credentials, CredentialsError> {
        if username.is_empty() {
            return Err(CredentialsError::EmptyUsername);
        }
        Ok(Credentials { username: username.to_owned(), hash: hash_password(password)? })
    }

    /// Uses a stored Argon2 hash in PHC string form (as made by
    /// [`Credentials::password_hash`], or `argon2`'s command-line tools).
    ///
    /// # Errors
    ///
    /// [`CredentialsError::BadHash`] when `hash` is not a PHC string of an
    /// Argon2 variant, [`CredentialsError::EmptyUsername`] for an empty name.
    pub fn from_password_hash(username: &str, hash: &str) -> Result<Credentials, CredentialsError> {
        if username.is_empty() {
            return Err(CredentialsError::EmptyUsername);
        }
        let parsed =
            PasswordHash::new(hash).map_err(|e| CredentialsError::BadHash(e.to_string()))?;
        if !parsed.algorithm.as_str().starts_with("argon2") || parsed.hash.is_none() {
            return Err(CredentialsError::BadHash(format!("algorithm {}", parsed.algorithm)));
        }
        Ok(Credentials { username: username.to_owned(), hash: hash.to_owned() })
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password hash in PHC string form, to store in a configuration file.
    pub fn password_hash(&self) -> &str {
        &self.hash
    }

    /// True when both match. The password check always runs (so timing does
    /// not tell whether the user name was right) and compares the hashes in
    /// constant time. Slow on purpose: call it off the I/O threads.
    pub(crate) fn verify(&self, username: &str, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(&self.hash) else {
            return false;
        };
        let password_ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        password_ok & (username == self.username)
    }
}

fn hash_password(password: &str) -> Result<String, CredentialsError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| CredentialsError::BadHash(e.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| CredentialsError::BadHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialsError::BadHash(e.to_string()))
}

/// Bearer tokens: 256 random bits as 64 hex digits, each valid for a fixed
/// time from login. At most `max` live at once; past that, the one closest
/// to expiring is dropped.
///
/// Lookup is by `HashMap` (SipHash under a random key), so response timing
/// says nothing useful about a stored token's bytes.
#[derive(Debug)]
pub(crate) struct TokenStore {
    lifetime: Duration,
    max: usize,
    /// Each token's expiry, and whether it was issued to the read-only user.
    tokens: Mutex<HashMap<String, (Instant, bool)>>,
}

impl TokenStore {
    pub(crate) fn new(lifetime: Duration, max: usize) -> TokenStore {
        TokenStore { lifetime, max: max.max(1), tokens: Mutex::new(HashMap::new()) }
    }

    /// A fresh token with every privilege, or `None` if the system's random
    /// source failed.
    pub(crate) fn issue(&self) -> Option<String> {
        self.issue_as(false)
    }

    /// A fresh token that may read but not close.
    pub(crate) fn issue_read_only(&self) -> Option<String> {
        self.issue_as(true)
    }

    fn issue_as(&self, read_only: bool) -> Option<String> {
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).ok()?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let expires = now.checked_add(self.lifetime).unwrap_or(now + Duration::from_secs(86_400));
        let mut tokens = self.tokens.lock();
        tokens.retain(|_, &mut (exp, _)| exp > now);
        while tokens.len() >= self.max {
            let oldest = tokens.iter().min_by_key(|(_, &(exp, _))| exp).map(|(t, _)| t.clone());
            match oldest {
                Some(t) => tokens.remove(&t),
                None => break,
            };
        }
        tokens.insert(token.clone(), (expires, read_only));
        Some(token)
    }

    /// True when `token` was issued here and has not expired.
    #[cfg(test)]
    pub(crate) fn check(&self, token: &str) -> bool {
        self.role(token).is_some()
    }

    /// `Some(read_only)` for a live token, `None` for none.
    pub(crate) fn role(&self, token: &str) -> Option<bool> {
        let mut tokens = self.tokens.lock();
        match tokens.get(token) {
            Some(&(exp, read_only)) if exp > Instant::now() => Some(read_only),
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }
}

/// Who a login comes from, as far as the transport can tell: the peer's IP
/// address over TCP, its user id over the Unix socket (which only the
/// server's own user and root can reach).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    Ip(std::net::IpAddr),
    Uid(u32),
    Unknown,
}

impl Peer {
    /// The peer of a TCP client at `ip`, as the login backoff counts it: an
    /// IPv6 client by its /64 (one host or site holds a whole /64, so
    /// rotating addresses inside it must not buy fresh guesses), an
    /// IPv4-mapped IPv6 address as the IPv4 address.
    pub(crate) fn from_ip(ip: std::net::IpAddr) -> Peer {
        use std::net::{IpAddr, Ipv6Addr};
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer::Ip(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Peer::Ip(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
            v4 => Peer::Ip(v4),
        }
    }
}

/// Per-peer backoff on failed logins. The first `free` failures in a row
/// cost nothing; each later one makes the peer wait before its next login
/// is checked, 250 ms doubling up to `max`. A login during the wait is
/// refused unchecked (429, `Retry-After`) and does not lengthen it; a
/// success forgets the peer's failures, and so does a quiet hour. So a
/// guesser gets a few checks and then about one per `max`, other peers are
/// not affected, and the administrator at a throttled peer waits at most
/// `max` after the guessing stops.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    free: u32,
    max: Duration,
    peers: Mutex<HashMap<Peer, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    until: Instant,
}

/// Peers remembered at once; past it the one whose wait ends first is
/// forgotten (bounds memory against many source addresses).
const MAX_THROTTLED_PEERS: usize = 4096;
const FIRST_WAIT: Duration = Duration::from_millis(250);
const FORGET_AFTER: Duration = Duration::from_secs(3600);

impl LoginThrottle {
    pub(crate) fn new(free: u32, max: Duration) -> LoginThrottle {
        LoginThrottle { free, max, peers: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` while `peer` must wait before its next check.
    pub(crate) fn check(&self, peer: &Peer) -> Result<(), Duration> {
        let now = Instant::now();
        match self.peers.lock().get(peer) {
            Some(f) if f.until > now => Err(f.until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed check of `peer`'s login.
    pub(crate) fn failed(&self, peer: &Peer) {
        let now = Instant::now();
        let mut peers = self.peers.lock();
        if !peers.contains_key(peer) && peers.len() >= MAX_THROTTLED_PEERS {
            peers.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if peers.len() >= MAX_THROTTLED_PEERS {
                let first = peers.iter().min_by_key(|(_, f)| f.until).map(|(p, _)| p.clone());
                if let Some(p) = first {
                    peers.remove(&p);
                }
            }
        }
        let f = peers.entry(peer.clone()).or_insert(Failures { count: 0, last: now, until: now });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count > self.free {
            let doublings = (f.count - self.free - 1).min(16);
            let wait = FIRST_WAIT.saturating_mul(1 << doublings).min(self.max);
            f.until = now + wait;
        }
    }

    /// Forgets `peer`'s failures after a successful login.
    pub(crate) fn succeeded(&self, peer: &Peer) {
        self.peers.lock().remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_capped() {
        let store = TokenStore::new(Duration::from_millis(50), 2);
        let a = store.issue().unwrap();
        assert_eq!(a.len(), 64);
        assert!(store.check(&a));
        let b = store.issue().unwrap();
        let c = store.issue().unwrap();
        assert!(!store.check(&a), "the oldest token is dropped past the cap");
        assert!(store.check(&b) && store.check(&c));
        assert!(!store.check("nope"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!store.check(&b), "expired");
    }

    #[test]
    fn ipv6_peers_are_throttled_by_their_64() {
        let ip = |s: &str| Peer::from_ip(s.parse().unwrap());
        let t = LoginThrottle::new(1, Duration::from_secs(5));
        t.failed(&ip("2001:db8:1:2::1"));
        t.failed(&ip("2001:db8:1:2::2"));
        // Another address in the same /64 must wait too; another /64 not.
        assert!(t.check(&ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(t.check(&ip("2001:db8:1:3::1")).is_ok());
        assert_eq!(ip("::ffff:192.0.2.7"), Peer::Ip([192, 0, 2, 7].into()));
        assert_eq!(ip("192.0.2.7"), Peer::Ip([192, 0, 2, 7].into()));
    }

    #[test]
    fn throttle_backs_off_per_peer_and_forgets_on_success() {
        let t = LoginThrottle::new(2, Duration::from_millis(600));
        let (a, b) = (Peer::Uid(1), Peer::Ip([127, 0, 0, 1].into()));
        for _ in 0..2 {
            assert!(t.check(&a).is_ok());
            t.failed(&a);
        }
        assert!(t.check(&a).is_ok(), "the first two failures are free");
        t.failed(&a);
        let w = t.check(&a).unwrap_err();
        assert!(w <= FIRST_WAIT && w > Duration::from_millis(100), "{w:?}");
        assert!(t.check(&b).is_ok(), "another peer is not affected");
        for _ in 0..10 {
            t.failed(&a);
        }
        let w = t.check(&a).unwrap_err();
        assert!(w <= Duration::from_millis(600) && w > Duration::from_millis(400), "capped: {w:?}");
        t.succeeded(&a);
        assert!(t.check(&a).is_ok());
    }

    #[test]
    fn credentials_verify() {
        let c = Credentials::new("admin", "secret").unwrap();
        assert!(c.verify("admin", "secret"));
        assert!(!c.verify("admin", "Secret"));
        assert!(!c.verify("root", "secret"));
        assert!(Credentials::from_password_hash("admin", "plain").is_err());
        assert!(Credentials::new("", "x").is_err());
        assert!(!format!("{c:?}").contains("argon2"));
    }
}
