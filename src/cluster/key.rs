//! The key the nodes of a cluster share, and the peer credential made
//! from it: HMAC-SHA-256 of the cluster's name, hex. Peers compare it in
//! constant time (`ring::hmac::verify`).

use std::fmt;
use std::path::{Path, PathBuf};

use ring::hmac;

/// The shortest key accepted: 32 bytes, as the issue of the cluster asks
/// (a random 256-bit secret).
pub const MIN_KEY_BYTES: usize = 32;

/// What the credential is a MAC of, before the cluster's name.
const CONTEXT: &[u8] = b"smb-handles peer credential v1\0";

/// A cluster's shared secret (at least [`MIN_KEY_BYTES`]). Its `Debug`
/// shows nothing of it.
#[derive(Clone)]
pub struct ClusterKey {
    key: hmac::Key,
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// Why a key was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Fewer than [`MIN_KEY_BYTES`] bytes: the node refuses to join rather
    /// than talk to its peers with a guessable credential.
    TooShort {
        /// How many bytes it had.
        len: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, source } => {
                write!(f, "cluster key {}: {source}", path.display())
            }
            KeyError::TooShort { len } => write!(
                f,
                "cluster key has {len} bytes; at least {MIN_KEY_BYTES} random bytes are needed \
                 (for example: head -c 32 /dev/urandom > cluster.key)"
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { source, .. } => Some(source),
            KeyError::TooShort { .. } => None,
        }
    }
}

impl ClusterKey {
    /// A key of these bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::TooShort`] under [`MIN_KEY_BYTES`].
    pub fn new(secret: &[u8]) -> Result<ClusterKey, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        Ok(ClusterKey { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    /// The key in a file (its bytes, as they are).
    ///
    /// # Errors
    ///
    /// [`KeyError::Io`] when it cannot be read, [`KeyError::TooShort`].
    pub fn from_file(path: &Path) -> Result<ClusterKey, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Io { path: path.into(), source })?;
        ClusterKey::new(&bytes)
    }

    fn message(cluster: &str) -> Vec<u8> {
        let mut m = CONTEXT.to_vec();
        m.extend_from_slice(cluster.as_bytes());
        m
    }

    /// The peer credential of `cluster` (64 hex digits).
    pub(crate) fn credential(&self, cluster: &str) -> String {
        let tag = hmac::sign(&self.key, &Self::message(cluster));
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `presented` is the credential of `cluster`.
    pub(crate) fn verify(&self, cluster: &str, presented: &str) -> bool {
        let p = presented.trim().as_bytes();
        if p.len() != 64 {
            return false;
        }
        let mut tag = [0u8; 32];
        for (i, pair) in p.chunks(2).enumerate() {
            let Some(b) =
                std::str::from_utf8(pair).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            else {
                return false;
            };
            tag[i] = b;
        }
        hmac::verify(&self.key, &Self::message(cluster), &tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(ClusterKey::new(&[7; 31]), Err(KeyError::TooShort { len: 31 })));
        assert!(ClusterKey::new(&[7; 32]).is_ok());
    }

    #[test]
    fn the_credential_is_the_clusters_and_the_keys() {
        let a = ClusterKey::new(&[1; 32]).unwrap();
        let b = ClusterKey::new(&[2; 32]).unwrap();
        let c = a.credential("prod");
        assert_eq!(c.len(), 64);
        assert!(a.verify("prod", &c));
        assert!(!a.verify("test", &c), "another cluster's");
        assert!(!b.verify("prod", &c), "another key's");
        assert!(!a.verify("prod", &c[..62]));
        assert!(!a.verify("prod", &format!("{}zz", &c[..62])));
    }
}
