//! `struct kdump_sub_header`: at file offset `block_size`, followed directly by the copied
//! ELF notes. 104 bytes on LP64 (header version 6).

use std::mem::{offset_of, size_of};

use super::bytes::{get_i32, get_u64, put_i32, put_u64};
use crate::error::{Error, Result};

/// The C layout, for offsets and the size check only.
#[repr(C)]
#[allow(dead_code)]
struct RawKdumpSubHeader {
    phys_base: u64,
    dump_level: i32,
    split: i32,
    start_pfn: u64,
    end_pfn: u64,
    offset_vmcoreinfo: u64,
    size_vmcoreinfo: u64,
    offset_note: u64,
    size_note: u64,
    offset_eraseinfo: u64,
    size_eraseinfo: u64,
    start_pfn_64: u64,
    end_pfn_64: u64,
    max_mapnr_64: u64,
}

/// On-disk size of the sub header.
pub const KDUMP_SUB_HEADER_SIZE: usize = 104;
const _: () = assert!(size_of::<RawKdumpSubHeader>() == KDUMP_SUB_HEADER_SIZE);
const _: () = assert!(offset_of!(RawKdumpSubHeader, offset_vmcoreinfo) == 32);
const _: () = assert!(offset_of!(RawKdumpSubHeader, max_mapnr_64) == 96);

/// The sub header, as the code works with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KdumpSubHeader {
    /// x86_64 relocation of the kernel text (NUMBER(phys_base)).
    pub phys_base: u64,
    /// Effective dump level.
    pub dump_level: i32,
    /// 1 for `--split` parts.
    pub split: i32,
    /// Split range start, truncated to 32 bits (obsolete).
    pub start_pfn: u64,
    /// Split range end, truncated to 32 bits (obsolete).
    pub end_pfn: u64,
    /// File offset of the VMCOREINFO text, inside the copied notes.
    pub offset_vmcoreinfo: u64,
    /// Its length.
    pub size_vmcoreinfo: u64,
    /// File offset of the notes: `block_size + 104`.
    pub offset_note: u64,
    /// Length of the notes.
    pub size_note: u64,
    /// File offset of eraseinfo text, or 0.
    pub offset_eraseinfo: u64,
    /// Its length, or 0.
    pub size_eraseinfo: u64,
    /// Split range start.
    pub start_pfn_64: u64,
    /// Split range end (exclusive).
    pub end_pfn_64: u64,
    /// Highest pfn + 1.
    pub max_mapnr_64: u64,
}

impl KdumpSubHeader {
    /// Encode into the C layout.
    pub fn to_bytes(&self) -> [u8; KDUMP_SUB_HEADER_SIZE] {
        let mut b = [0u8; KDUMP_SUB_HEADER_SIZE];
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, phys_base),
            self.phys_base,
        );
        put_i32(
            &mut b,
            offset_of!(RawKdumpSubHeader, dump_level),
            self.dump_level,
        );
        put_i32(&mut b, offset_of!(RawKdumpSubHeader, split), self.split);
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, start_pfn),
            self.start_pfn,
        );
        put_u64(&mut b, offset_of!(RawKdumpSubHeader, end_pfn), self.end_pfn);
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, offset_vmcoreinfo),
            self.offset_vmcoreinfo,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, size_vmcoreinfo),
            self.size_vmcoreinfo,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, offset_note),
            self.offset_note,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, size_note),
            self.size_note,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, offset_eraseinfo),
            self.offset_eraseinfo,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, size_eraseinfo),
            self.size_eraseinfo,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, start_pfn_64),
            self.start_pfn_64,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, end_pfn_64),
            self.end_pfn_64,
        );
        put_u64(
            &mut b,
            offset_of!(RawKdumpSubHeader, max_mapnr_64),
            self.max_mapnr_64,
        );
        b
    }

    /// Decode a sub header read from `name`.
    pub fn from_bytes(b: &[u8], name: &str) -> Result<Self> {
        if b.len() < KDUMP_SUB_HEADER_SIZE {
            return Err(Error::invalid(format!(
                "{name}: kdump sub header is truncated ({} bytes)",
                b.len()
            )));
        }
        Ok(KdumpSubHeader {
            phys_base: get_u64(b, offset_of!(RawKdumpSubHeader, phys_base)),
            dump_level: get_i32(b, offset_of!(RawKdumpSubHeader, dump_level)),
            split: get_i32(b, offset_of!(RawKdumpSubHeader, split)),
            start_pfn: get_u64(b, offset_of!(RawKdumpSubHeader, start_pfn)),
            end_pfn: get_u64(b, offset_of!(RawKdumpSubHeader, end_pfn)),
            offset_vmcoreinfo: get_u64(b, offset_of!(RawKdumpSubHeader, offset_vmcoreinfo)),
            size_vmcoreinfo: get_u64(b, offset_of!(RawKdumpSubHeader, size_vmcoreinfo)),
            offset_note: get_u64(b, offset_of!(RawKdumpSubHeader, offset_note)),
            size_note: get_u64(b, offset_of!(RawKdumpSubHeader, size_note)),
            offset_eraseinfo: get_u64(b, offset_of!(RawKdumpSubHeader, offset_eraseinfo)),
            size_eraseinfo: get_u64(b, offset_of!(RawKdumpSubHeader, size_eraseinfo)),
            start_pfn_64: get_u64(b, offset_of!(RawKdumpSubHeader, start_pfn_64)),
            end_pfn_64: get_u64(b, offset_of!(RawKdumpSubHeader, end_pfn_64)),
            max_mapnr_64: get_u64(b, offset_of!(RawKdumpSubHeader, max_mapnr_64)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let h = KdumpSubHeader {
            phys_base: 0x1234,
            dump_level: 31,
            offset_vmcoreinfo: 0x1100,
            size_vmcoreinfo: 0x800,
            offset_note: 4096 + 104,
            size_note: 0x1000,
            max_mapnr_64: 0x4_0000_0000,
            ..Default::default()
        };
        let b = h.to_bytes();
        assert_eq!(b.len(), 104);
        assert_eq!(get_u64(&b, 0), 0x1234);
        assert_eq!(get_i32(&b, 8), 31);
        assert_eq!(get_u64(&b, 32), 0x1100);
        assert_eq!(get_u64(&b, 48), 4200);
        assert_eq!(get_u64(&b, 96), 0x4_0000_0000);
        assert_eq!(KdumpSubHeader::from_bytes(&b, "x").unwrap(), h);
        assert!(KdumpSubHeader::from_bytes(&b[..103], "x").is_err());
    }
}
