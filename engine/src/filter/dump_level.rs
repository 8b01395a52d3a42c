//! The `-d` dump level: a bit mask of page classes to leave out of the dump.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A dump level 0..=31 (makedumpfile `DL_EXCLUDE_*`). Retry lists such as `-d 31,1` are
/// the CLI's business; this is one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DumpLevel(u8);

impl DumpLevel {
    /// Bit 1: pages filled with zero (checked by the writer while copying).
    pub const ZERO: u8 = 1;
    /// Bit 2: page cache pages without private data.
    pub const CACHE: u8 = 2;
    /// Bit 4: all page cache pages, private or not.
    pub const CACHE_PRIVATE: u8 = 4;
    /// Bit 8: user process data (anonymous and hugetlbfs pages).
    pub const USER: u8 = 8;
    /// Bit 16: free pages.
    pub const FREE: u8 = 16;
    /// The highest valid level.
    pub const MAX: u8 = 31;

    /// A level from its number; anything above 31 is makedumpfile's
    /// "Dump_level(%d) is invalid." error.
    pub fn new(level: u32) -> Result<Self> {
        if level > Self::MAX as u32 {
            return Err(Error::argument(format!("Dump_level({level}) is invalid.")));
        }
        Ok(DumpLevel(level as u8))
    }

    /// Whether every bit of `mask` is set.
    #[inline]
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// Bit 2.
    pub fn excludes_cache(self) -> bool {
        self.has(Self::CACHE)
    }

    /// Bit 4.
    pub fn excludes_private_cache(self) -> bool {
        self.has(Self::CACHE_PRIVATE)
    }

    /// Bit 8.
    pub fn excludes_user(self) -> bool {
        self.has(Self::USER)
    }

    /// Bit 16.
    pub fn excludes_free(self) -> bool {
        self.has(Self::FREE)
    }
}

impl FromStr for DumpLevel {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let level: i64 = text
            .trim()
            .parse()
            .map_err(|_| Error::argument(format!("Dump_level({text}) is invalid.")))?;
        match u32::try_from(level) {
            Ok(level) => DumpLevel::new(level),
            Err(_) => Err(Error::argument(format!("Dump_level({level}) is invalid."))),
        }
    }
}

impl fmt::Display for DumpLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_like_makedumpfile() {
        let level: DumpLevel = "31".parse().unwrap();
        assert!(level.excludes_free() && level.excludes_user());
        let level: DumpLevel = "10".parse().unwrap();
        assert!(level.excludes_cache() && level.excludes_user() && !level.excludes_private_cache());
        assert_eq!(
            "32".parse::<DumpLevel>().unwrap_err().message(),
            "Dump_level(32) is invalid."
        );
        assert_eq!(
            "-1".parse::<DumpLevel>().unwrap_err().message(),
            "Dump_level(-1) is invalid."
        );
        assert!("x".parse::<DumpLevel>().is_err());
    }
}
