//! VMCOREINFO: the `KEY=VALUE` text the crashed kernel exports in its ELF note.
//!
//! Value syntax follows makedumpfile's readers: `SYMBOL(x)` and `KERNELOFFSET` are hex;
//! `SIZE/OFFSET/LENGTH/NUMBER(x)` are decimal, with hex accepted when the decimal parse
//! does not consume the whole value (`read_vmcoreinfo_long`); `PAGESIZE` and `CRASHTIME`
//! are decimal. The first occurrence of a key wins, as makedumpfile scans from the top.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Parsed VMCOREINFO text.
#[derive(Debug, Clone, Default)]
pub struct VmcoreInfo {
    raw: Vec<u8>,
    entries: HashMap<String, String>,
}

impl VmcoreInfo {
    /// Parse the note descriptor (or a `-i` file). Non-UTF-8 bytes and lines without
    /// `=` are skipped: a corrupted line must not hide the others. Trailing NULs (note
    /// padding) are ignored.
    pub fn parse(raw: &[u8]) -> Self {
        let mut entries = HashMap::new();
        let text_end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        for line in raw[..text_end].split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            if let Some((key, value)) = line.split_once('=') {
                entries
                    .entry(key.to_string())
                    .or_insert_with(|| value.to_string());
            }
        }
        VmcoreInfo {
            raw: raw.to_vec(),
            entries,
        }
    }

    /// The raw bytes as given (written verbatim by `-g`, compared by tests).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The value of a key as text, e.g. `get("OSRELEASE")`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// `OSRELEASE=`.
    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    /// `PAGESIZE=`, checked to be a power of two between 4 KiB and 64 KiB (the range
    /// Linux supports and readers accept).
    pub fn page_size(&self) -> Result<Option<u64>> {
        let Some(text) = self.get("PAGESIZE") else {
            return Ok(None);
        };
        match text.trim().parse::<u64>() {
            Ok(size) if size.is_power_of_two() && (4096..=65536).contains(&size) => Ok(Some(size)),
            _ => Err(Error::invalid(format!(
                "VMCOREINFO: PAGESIZE={text} is not a supported page size"
            ))),
        }
    }

    /// `CRASHTIME=` (seconds since the epoch), used as the dump header's timestamp.
    pub fn crashtime(&self) -> Option<i64> {
        self.get("CRASHTIME")?.trim().parse().ok()
    }

    /// `KERNELOFFSET=` (hex): the KASLR slide of the kernel text.
    #[cfg(any(test, feature = "testing"))]
    pub fn kernel_offset(&self) -> Option<u64> {
        parse_hex(self.get("KERNELOFFSET")?)
    }

    /// `SYMBOL(name)=hex`.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        parse_hex(self.get(&format!("SYMBOL({name})"))?)
    }

    /// Every `SYMBOL(name)=hex` whose value parses, sorted by name (a stable order for
    /// reports; the text's order is lost in parsing).
    pub fn symbols(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self
            .entries
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix("SYMBOL(")?.strip_suffix(')')?;
                Some((name, parse_hex(value)?))
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// `SIZE(name)`.
    pub fn size(&self, name: &str) -> Option<i64> {
        self.number_like("SIZE", name)
    }

    /// `OFFSET(name)`, e.g. `offset("page.flags")`.
    pub fn offset(&self, name: &str) -> Option<i64> {
        self.number_like("OFFSET", name)
    }

    /// `LENGTH(name)`.
    pub fn length(&self, name: &str) -> Option<i64> {
        self.number_like("LENGTH", name)
    }

    /// `NUMBER(name)`: may be negative (e.g. `PAGE_BUDDY_MAPCOUNT_VALUE=-129`).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.number_like("NUMBER", name)
    }

    fn number_like(&self, kind: &str, name: &str) -> Option<i64> {
        parse_long(self.get(&format!("{kind}({name})"))?)
    }
}

fn parse_hex(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    u64::from_str_radix(digits, 16).ok()
}

/// Decimal first, then hex, as `read_vmcoreinfo_long`.
fn parse_long(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(value) = text.parse::<i64>() {
        return Some(value);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    let value = u64::from_str_radix(digits, 16).ok()? as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"OSRELEASE=6.1.0-56-cloud-amd64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff9a613fe0\n\
SIZE(page)=64\nOFFSET(page.flags)=0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(phys_base)=0x1000\n\
CRASHTIME=1764300000\nKERNELOFFSET=18600000\nOSRELEASE=ignored\n\0\0\0";

    #[test]
    fn parses_every_value_form() {
        let info = VmcoreInfo::parse(SAMPLE);
        assert_eq!(info.osrelease(), Some("6.1.0-56-cloud-amd64"));
        assert_eq!(info.page_size().unwrap(), Some(4096));
        assert_eq!(info.symbol("init_uts_ns"), Some(0xffffffff9a613fe0));
        assert_eq!(info.size("page"), Some(64));
        assert_eq!(info.offset("page.flags"), Some(0));
        assert_eq!(info.number("PAGE_BUDDY_MAPCOUNT_VALUE"), Some(-129));
        assert_eq!(info.number("phys_base"), Some(0x1000));
        assert_eq!(info.crashtime(), Some(1764300000));
        assert_eq!(info.kernel_offset(), Some(0x18600000));
        assert_eq!(info.symbol("missing"), None);
    }

    #[test]
    fn bad_page_size_is_an_error_naming_the_key() {
        let info = VmcoreInfo::parse(b"PAGESIZE=4095\n");
        let err = info.page_size().unwrap_err();
        assert!(err.to_string().contains("PAGESIZE"));
    }

    #[test]
    fn garbage_lines_do_not_hide_good_ones() {
        let info =
            VmcoreInfo::parse(b"\xff\xfe=\x01\nno equals sign\nSIZE(page)=zz\nOSRELEASE=x\n");
        assert_eq!(info.osrelease(), Some("x"));
        assert_eq!(info.size("page"), None);
    }
}
