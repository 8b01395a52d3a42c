//! VMCOREINFO lookups with makedumpfile's "not found" conventions.
//!
//! makedumpfile stores every `SIZE/OFFSET/LENGTH/NUMBER` in a `long` initialised to
//! `NOT_FOUND_NUMBER` (-1) and every `SYMBOL` in an address initialised to
//! `NOT_FOUND_SYMBOL` (0), then tests `!= NOT_FOUND_*`. A key present with exactly that
//! value is therefore indistinguishable from a missing key; mirroring it keeps the same
//! rule selection for hand-written `-i` files. Offsets are also turned into `usize` here
//! so that a negative or absurd value is "not found" instead of a wild read.

use crate::vmcoreinfo::VmcoreInfo;

/// `NUMBER(name)`, `None` when absent or -1.
pub(crate) fn number(info: &VmcoreInfo, name: &str) -> Option<i64> {
    info.number(name).filter(|&v| v != -1)
}

/// `SIZE(name)` as a byte count, `None` when absent, -1 or negative.
pub(crate) fn size(info: &VmcoreInfo, name: &str) -> Option<usize> {
    info.size(name).filter(|&v| v >= 0).map(|v| v as usize)
}

/// `OFFSET(name)` as a byte offset, `None` when absent, -1 or negative.
pub(crate) fn offset(info: &VmcoreInfo, name: &str) -> Option<usize> {
    info.offset(name).filter(|&v| v >= 0).map(|v| v as usize)
}

/// `OFFSET(name)` keeping its sign (`folio` offsets are rebased on `struct page`).
pub(crate) fn signed_offset(info: &VmcoreInfo, name: &str) -> Option<i64> {
    info.offset(name).filter(|&v| v != -1)
}

/// `LENGTH(name)`, `None` when absent or -1.
pub(crate) fn length(info: &VmcoreInfo, name: &str) -> Option<i64> {
    info.length(name).filter(|&v| v != -1)
}

/// `SYMBOL(name)`, `None` when absent or 0.
pub(crate) fn symbol(info: &VmcoreInfo, name: &str) -> Option<u64> {
    info.symbol(name).filter(|&v| v != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_sentinels_read_as_missing() {
        let info = VmcoreInfo::parse(
            b"NUMBER(a)=-1\nNUMBER(b)=-129\nSYMBOL(c)=0\nOFFSET(d)=-8\nOFFSET(e)=24\n",
        );
        assert_eq!(number(&info, "a"), None);
        assert_eq!(number(&info, "b"), Some(-129));
        assert_eq!(symbol(&info, "c"), None);
        assert_eq!(offset(&info, "d"), None);
        assert_eq!(signed_offset(&info, "d"), Some(-8));
        assert_eq!(offset(&info, "e"), Some(24));
    }
}
