//! Tunables of a [`HandleTable`](crate::HandleTable), gathered and validated
//! in one place.

use std::error::Error;
use std::fmt;

use crate::limits::DEFAULT_MAX_HANDLES;
use crate::location::{MAX_SHARDS, SLOTS_PER_SHARD};

/// How a [`HandleTable`](crate::HandleTable) is sized.
///
/// # Examples
///
/// ```
/// use smb_handles::{Config, HandleTable};
///
/// let table = HandleTable::with_config(Config::default().shards(64).max_handles(1 << 20));
/// assert_eq!(table.shard_count(), 64);
/// assert_eq!(table.max_handles(), 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    shards: Option<usize>,
    max_handles: usize,
    break_timeout: std::time::Duration,
    durable_timeout: std::time::Duration,
    durable_max_timeout: std::time::Duration,
}

impl Default for Config {
    /// Shards sized to the machine (see [`Config::default_shards`]) and
    /// [`DEFAULT_MAX_HANDLES`].
    fn default() -> Self {
        Config {
            shards: None,
            max_handles: DEFAULT_MAX_HANDLES,
            break_timeout: crate::lease::DEFAULT_BREAK_TIMEOUT,
            durable_timeout: crate::durable::DEFAULT_DURABLE_TIMEOUT,
            durable_max_timeout: crate::durable::MAX_DURABLE_TIMEOUT,
        }
    }
}

impl Config {
    /// Sets the number of shards (1 to 256). Each shard is one lock and its
    /// own slab; handles of one file always live in the same shard.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Sets the most handles the table holds at once (1 to 2^24); an open
    /// past it fails with [`OpenError::TableFull`](crate::OpenError::TableFull).
    ///
    /// At most one shard's slots (2^24): a file's handles all live in its
    /// file's shard, so a table whose opens all hash to one shard (one hot
    /// file) must still reach `max_handles` before refusing an open.
    pub fn max_handles(mut self, max_handles: usize) -> Self {
        self.max_handles = max_handles;
        self
    }

    /// Sets how long an open waits for break acknowledgements before
    /// [`HandleTable::expire_breaks`](crate::HandleTable::expire_breaks)
    /// ends the breaks (default 35 s, smbd's).
    pub fn break_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.break_timeout = timeout;
        self
    }

    pub(crate) fn break_timeout_value(&self) -> std::time::Duration {
        self.break_timeout
    }

    /// Sets the timeout a durable open gets when it asks for none (v1, or
    /// v2 with zero; default [`DEFAULT_DURABLE_TIMEOUT`](crate::DEFAULT_DURABLE_TIMEOUT))
    /// and the most a v2 request is granted (default
    /// [`MAX_DURABLE_TIMEOUT`](crate::MAX_DURABLE_TIMEOUT)); the default is
    /// capped by the maximum.
    ///
    /// ```
    /// use std::time::Duration;
    /// use smb_handles::Config;
    /// let c = Config::default().durable_timeouts(Duration::from_secs(30), Duration::from_secs(120));
    /// # let _ = c;
    /// ```
    pub fn durable_timeouts(
        mut self,
        default: std::time::Duration,
        max: std::time::Duration,
    ) -> Self {
        self.durable_timeout = default.min(max);
        self.durable_max_timeout = max;
        self
    }

    pub(crate) fn durable_timeout_values(&self) -> (std::time::Duration, std::time::Duration) {
        (self.durable_timeout, self.durable_max_timeout)
    }

    /// The shard count used when none is set: the power of two nearest above
    /// four times the available cores, at most 256.
    pub fn default_shards() -> usize {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 4).next_power_of_two().min(MAX_SHARDS)
    }

    /// Checks the configuration and returns `(shards, max_handles)`.
    pub(crate) fn validate(&self) -> Result<(usize, usize), ConfigError> {
        let shards = self.shards.unwrap_or_else(Config::default_shards);
        if shards == 0 || shards > MAX_SHARDS {
            return Err(ConfigError::Shards(shards));
        }
        // Not shards x slots: the opens may all fall in one shard.
        if self.max_handles == 0 || self.max_handles > SLOTS_PER_SHARD as usize {
            return Err(ConfigError::MaxHandles(self.max_handles));
        }
        Ok((shards, self.max_handles))
    }
}

/// Why [`HandleTable::try_with_config`](crate::HandleTable::try_with_config)
/// refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `shards` was 0 or more than [`MAX_SHARDS`].
    Shards(usize),
    /// `max_handles` was 0 or more than one shard's slots (2^24).
    MaxHandles(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Shards(n) => {
                write!(f, "shards must be 1..={}, not {n}", MAX_SHARDS)
            }
            ConfigError::MaxHandles(n) => write!(
                f,
                "max_handles must be 1..={SLOTS_PER_SHARD} (one shard's slots: a file's handles all live in one shard), not {n}"
            ),
        }
    }
}

impl Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_refuses_out_of_range_values() {
        assert!(Config::default().validate().is_ok());
        assert_eq!(Config::default().shards(0).validate(), Err(ConfigError::Shards(0)));
        assert_eq!(Config::default().shards(257).validate(), Err(ConfigError::Shards(257)));
        assert_eq!(Config::default().max_handles(0).validate(), Err(ConfigError::MaxHandles(0)));
        // One shard's slots, whatever the shard count: every open may hash
        // to one shard (one hot file), which must still take them all.
        let too_many = SLOTS_PER_SHARD as usize + 1;
        assert_eq!(
            Config::default().shards(2).max_handles(too_many).validate(),
            Err(ConfigError::MaxHandles(too_many))
        );
        assert_eq!(
            Config::default().shards(256).max_handles(SLOTS_PER_SHARD as usize).validate(),
            Ok((256, SLOTS_PER_SHARD as usize))
        );
        assert_eq!(Config::default().shards(3).max_handles(7).validate(), Ok((3, 7)));
    }

    #[test]
    fn default_shards_is_a_power_of_two_in_range() {
        let n = Config::default_shards();
        assert!(n.is_power_of_two() && (1..=MAX_SHARDS).contains(&n));
    }
}
