//! `struct page_desc`: one 24-byte descriptor per dumpable pfn, in pfn order.

use std::mem::{offset_of, size_of};

use super::bytes::{get_i64, get_u32, get_u64, put_i64, put_u32, put_u64};

/// The C layout, for offsets and the size check only.
#[repr(C)]
#[allow(dead_code)]
struct RawPageDesc {
    offset: i64,
    size: u32,
    flags: u32,
    page_flags: u64,
}

/// On-disk size of a descriptor.
pub const PAGE_DESC_SIZE: usize = 24;
const _: () = assert!(size_of::<RawPageDesc>() == PAGE_DESC_SIZE);

/// Where a page's stored data is and how it is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageDesc {
    /// File offset of the data; 0 never occurs in a complete dump (readers take it as a
    /// lost page).
    pub offset: i64,
    /// Stored length; equals the block size for a raw page.
    pub size: u32,
    /// The compression flag, or 0 for raw.
    pub flags: u32,
    /// Always 0.
    pub page_flags: u64,
}

impl PageDesc {
    /// Encode into the C layout.
    pub fn to_bytes(self) -> [u8; PAGE_DESC_SIZE] {
        let mut b = [0u8; PAGE_DESC_SIZE];
        put_i64(&mut b, offset_of!(RawPageDesc, offset), self.offset);
        put_u32(&mut b, offset_of!(RawPageDesc, size), self.size);
        put_u32(&mut b, offset_of!(RawPageDesc, flags), self.flags);
        put_u64(&mut b, offset_of!(RawPageDesc, page_flags), self.page_flags);
        b
    }

    /// Decode one descriptor (`b` must hold 24 bytes).
    pub fn from_bytes(b: &[u8; PAGE_DESC_SIZE]) -> Self {
        PageDesc {
            offset: get_i64(b, offset_of!(RawPageDesc, offset)),
            size: get_u32(b, offset_of!(RawPageDesc, size)),
            flags: get_u32(b, offset_of!(RawPageDesc, flags)),
            page_flags: get_u64(b, offset_of!(RawPageDesc, page_flags)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let d = PageDesc {
            offset: 0x1_0000_0010,
            size: 1234,
            flags: 2,
            page_flags: 0,
        };
        let b = d.to_bytes();
        assert_eq!(&b[0..8], &0x1_0000_0010i64.to_le_bytes());
        assert_eq!(&b[8..12], &1234u32.to_le_bytes());
        assert_eq!(&b[12..16], &2u32.to_le_bytes());
        assert_eq!(&b[16..24], &[0; 8]);
        assert_eq!(PageDesc::from_bytes(&b), d);
    }
}
