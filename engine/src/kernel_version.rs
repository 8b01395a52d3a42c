//! The dumped kernel's version, as makedumpfile compares it.
//!
//! makedumpfile packs `major.minor.release` into one integer (`KERNEL_VERSION(a, b, c)` =
//! `a << 16 | b << 8 | c`) parsed from OSRELEASE with `strtol`, so "6.1.0-56-cloud-amd64"
//! is 6.1.0 and trailing text is ignored. Several filtering rules depend on it: the width
//! of `compound_order` (u16 before 4.16), the `compound_dtor` encoding (a function pointer
//! before 4.4), the default buddy `_mapcount` value and the x86_64 address-space defaults.

use std::fmt;

use crate::error::{Error, Result};

/// A kernel version in makedumpfile's packed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion(u32);

impl KernelVersion {
    /// `KERNEL_VERSION(major, minor, release)`; components above 255 saturate so that
    /// ordering stays monotonic.
    pub const fn new(major: u32, minor: u32, release: u32) -> Self {
        KernelVersion((clamp(major) << 16) | (clamp(minor) << 8) | clamp(release))
    }

    /// Parse an OSRELEASE string. Missing minor/release components read as 0 (makedumpfile's
    /// `strtol` would run past the end of the string there); a missing major is an error.
    pub fn parse(osrelease: &str) -> Result<Self> {
        let mut parts = osrelease.trim().splitn(3, '.');
        let mut component = |required: bool| -> Result<u32> {
            let text = parts.next().unwrap_or("");
            let digits: &str = &text[..text.bytes().take_while(u8::is_ascii_digit).count()];
            match digits.parse::<u32>() {
                Ok(value) => Ok(value),
                Err(_) if !required => Ok(0),
                Err(_) => Err(Error::invalid(format!(
                    "VMCOREINFO: OSRELEASE={osrelease} does not start with a kernel version"
                ))),
            }
        };
        let major = component(true)?;
        let minor = component(false)?;
        let release = component(false)?;
        Ok(KernelVersion::new(major, minor, release))
    }
}

const fn clamp(component: u32) -> u32 {
    if component > 255 {
        255
    } else {
        component
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.0 >> 16,
            (self.0 >> 8) & 0xff,
            self.0 & 0xff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_distribution_release_strings() {
        assert_eq!(
            KernelVersion::parse("6.1.0-56-cloud-amd64").unwrap(),
            KernelVersion::new(6, 1, 0)
        );
        assert_eq!(
            KernelVersion::parse("4.15.18").unwrap(),
            KernelVersion::new(4, 15, 18)
        );
        assert_eq!(
            KernelVersion::parse("7.1-rc1").unwrap(),
            KernelVersion::new(7, 1, 0)
        );
        assert!(KernelVersion::parse("linux").is_err());
        assert!(KernelVersion::new(4, 16, 0) > KernelVersion::new(4, 15, 255));
        assert_eq!(KernelVersion::new(6, 12, 3).to_string(), "6.12.3");
    }
}
