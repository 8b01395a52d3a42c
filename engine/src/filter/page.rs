//! Classifying one `struct page`: the per-page decision of makedumpfile's
//! `__exclude_unnecessary_pages` (upstream master `b7587f1`), for every kernel generation
//! it supports.
//!
//! Which rule applies is chosen once, from what VMCOREINFO exports (never from the
//! version string alone, except where makedumpfile does so too):
//!
//! | kernel | compound order / hugetlb test                                  | key that selects it |
//! |--------|----------------------------------------------------------------|---------------------|
//! | < 4.4  | `page[1].lru.prev` / `lru.next` = `free_huge_page` address      | version |
//! | ≤ 6.2  | `page[1].compound_order` / `compound_dtor == HUGETLB_PAGE_DTOR` | `OFFSET(page.compound_order)` |
//! | 6.3    | `folio._folio_order` / `_folio_dtor` (rebased on page[1])       | `OFFSET(folio._folio_order)` |
//! | 6.6    | low byte of `page[1].flags` / `PG_hugetlb` in `page[1].flags`   | `NUMBER(PG_hugetlb)` |
//! | 6.9    | low byte of `page[1].flags` / head `_mapcount` type value       | `NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)` |
//!
//! Slab: `PG_slab`, or since 6.10 `_mapcount == PAGE_SLAB_MAPCOUNT_VALUE`. Since 6.12 the
//! page type lives in the top byte of `_mapcount` (`page_type`); makedumpfile compares the
//! whole 32-bit value with the exported one (`72c3414`), and so do we. Tail pages are
//! recognised by bit 0 of `compound_head` (renamed `compound_info` in 7.1).

use super::dump_level::DumpLevel;
use super::keys;
use super::stats::ExcludedClass;
use crate::error::{Error, Result};
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;

/// Struct pages read per batch (makedumpfile `PGMM_CACHED`). Compound heads are aligned
/// to their order, so a head is never the last entry of an aligned batch and its order
/// (kept in the next struct page) is always in the same batch.
pub const STRUCT_PAGES_PER_BATCH: u64 = 512;

/// makedumpfile's `IS_HUGETLB` marker for "hugetlb decided without a destructor id".
const IS_HUGETLB: u64 = u64::MAX;

// Page flag numbers of kernels before 2.6.26, used when VMCOREINFO lacks the key
// (makedumpfile `get_value_for_old_linux`).
const PG_LRU_ORIGINAL: i64 = 5;
const PG_SLAB_ORIGINAL: i64 = 7;
const PG_PRIVATE_ORIGINAL: i64 = 11;
const PG_COMPOUND_ORIGINAL: i64 = 14;
const PG_SWAPCACHE_ORIGINAL: i64 = 15;
const PAGE_BUDDY_MAPCOUNT_VALUE_2_6_38: i64 = -2;
const PAGE_BUDDY_MAPCOUNT_VALUE_2_6_39: i64 = -128;

/// Where `page.flags`, `_mapcount` & co. live inside `struct page`.
#[derive(Debug, Clone, Copy)]
struct StructPageLayout {
    size: usize,
    flags: usize,
    mapping: usize,
    mapcount: Option<usize>,
    private: Option<usize>,
    compound_head: Option<usize>,
}

/// A field of the struct page after a compound head, read at a byte offset from it.
#[derive(Debug, Clone, Copy)]
struct NextPageField {
    offset: usize,
    width: usize,
}

/// How a compound head's order and hugetlb-ness are found.
#[derive(Debug, Clone, Copy)]
enum CompoundRule {
    /// 6.9+: order in the low byte of `page[1].flags`; hugetlb if the head's `_mapcount`
    /// equals `PAGE_HUGETLB_MAPCOUNT_VALUE` (kernel `d99e3140a4d3`).
    HugetlbMapcount { value: u32 },
    /// 6.6+: order in the low byte of `page[1].flags`; hugetlb if `page[1].flags` has
    /// `PG_hugetlb`.
    HugetlbFlag { bit: i64 },
    /// Up to 6.5: order and destructor fields of `page[1]` (`folio` fields since 6.3).
    Fields {
        order: Option<NextPageField>,
        dtor: Option<NextPageField>,
    },
}

/// How a free buddy block's head is recognised (makedumpfile `setup_page_is_buddy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuddyRule {
    /// 2.6.38+: `_mapcount == PAGE_BUDDY_MAPCOUNT_VALUE` and not slab.
    Mapcount { value: u32 },
    /// 2.6.17–2.6.37: the `PG_buddy` flag.
    Flag { bit: i64 },
}

/// What to do with one pfn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep it (also: compound tails, excluded only with their head).
    Keep,
    /// Exclude `pages` pfns starting here.
    Exclude { class: ExcludedClass, pages: u64 },
    /// A buddy page with an impossible order: warn and keep.
    InvalidFreeOrder { order: u64, max_order: u64 },
}

/// Upper bound of `SIZE(page)`: the struct page array describes every 4 KiB frame, so a
/// struct page as large as a frame would need all of memory (real ones are 56–80 bytes).
const MAX_STRUCT_PAGE_SIZE: usize = 4096;

/// The per-page rules of one dumped kernel.
#[derive(Debug, Clone)]
pub(crate) struct PageRules {
    layout: StructPageLayout,
    pg_lru: i64,
    pg_private: i64,
    pg_swapcache: i64,
    pg_swapbacked: Option<i64>,
    pg_slab: i64,
    pg_hwpoison: Option<i64>,
    head_mask: u64,
    compound: CompoundRule,
    hugetlb_dtor: Option<u64>,
    free_huge_page: Option<u64>,
    buddy: Option<BuddyRule>,
    slab_type: Option<u32>,
    offline_type: Option<u32>,
    unaccepted_type: Option<u32>,
    free_area_length: Option<u64>,
}

/// A `_mapcount`/`page_type` value as the kernel exports it (a signed `int`), compared
/// as makedumpfile does: `(int)NUMBER(x)` against the 32-bit field.
fn type_value(info: &VmcoreInfo, name: &str) -> Option<u32> {
    keys::number(info, name).map(|v| v as i32 as u32)
}

impl PageRules {
    /// Select the rules for the kernel described by `info`.
    pub(crate) fn new(info: &VmcoreInfo, version: KernelVersion) -> Result<Self> {
        let missing = |what: &str| {
            Error::invalid(format!(
                "VMCOREINFO lacks {what}: can't read struct page (makedumpfile: \"Can't distinguish the memory type.\")"
            ))
        };
        let size = keys::size(info, "page")
            .filter(|&s| s > 0)
            .ok_or_else(|| missing("SIZE(page)"))?;
        // The scan buffers 512 struct pages at a time: an unchecked SIZE(page) sized
        // that allocation (and overflowed it) from a corrupted note (fuzz/mem_section_walk).
        // One struct page per 4 KiB page means a larger one could not fit in memory at all.
        if size > MAX_STRUCT_PAGE_SIZE {
            return Err(Error::invalid(format!(
                "VMCOREINFO: SIZE(page)={size} is larger than a page frame ({MAX_STRUCT_PAGE_SIZE} bytes): the VMCOREINFO is corrupted"
            )));
        }
        let flags =
            keys::offset(info, "page.flags").ok_or_else(|| missing("OFFSET(page.flags)"))?;
        // _refcount (_count before 4.6) is never used by the rules, but makedumpfile
        // refuses to filter without it (`get_mem_type`).
        keys::offset(info, "page._refcount")
            .or_else(|| keys::offset(info, "page._count"))
            .ok_or_else(|| missing("OFFSET(page._refcount)"))?;
        let mapping =
            keys::offset(info, "page.mapping").ok_or_else(|| missing("OFFSET(page.mapping)"))?;
        let mapcount = keys::offset(info, "page._mapcount");
        let private = keys::offset(info, "page.private");
        let compound_head = keys::offset(info, "page.compound_head")
            .or_else(|| keys::offset(info, "page.compound_info"));
        for (name, field, width) in [
            ("page.flags", Some(flags), 8),
            ("page.mapping", Some(mapping), 8),
            ("page._mapcount", mapcount, 4),
            ("page.private", private, 8),
            ("page.compound_head", compound_head, 8),
        ] {
            if field.is_some_and(|offset| offset + width > size) {
                return Err(Error::invalid(format!(
                    "VMCOREINFO: OFFSET({name}) lies outside SIZE(page)={size}"
                )));
            }
        }
        let layout = StructPageLayout {
            size,
            flags,
            mapping,
            mapcount,
            private,
            compound_head,
        };

        // get_value_for_old_linux: defaults for kernels that predate each export.
        let pg_lru = keys::number(info, "PG_lru").unwrap_or(PG_LRU_ORIGINAL);
        let pg_private = keys::number(info, "PG_private").unwrap_or(PG_PRIVATE_ORIGINAL);
        let pg_swapcache = keys::number(info, "PG_swapcache").unwrap_or(PG_SWAPCACHE_ORIGINAL);
        let pg_swapbacked = keys::number(info, "PG_swapbacked")
            .or((pg_swapcache < pg_private).then_some(pg_private + 6));
        let pg_slab = keys::number(info, "PG_slab").unwrap_or(PG_SLAB_ORIGINAL);
        let head_mask =
            keys::number(info, "PG_head_mask").unwrap_or(1 << PG_COMPOUND_ORIGINAL) as u64;
        let pg_hwpoison = keys::number(info, "PG_hwpoison");

        let compound = if let Some(value) = type_value(info, "PAGE_HUGETLB_MAPCOUNT_VALUE") {
            CompoundRule::HugetlbMapcount { value }
        } else if let Some(bit) = keys::number(info, "PG_hugetlb") {
            CompoundRule::HugetlbFlag { bit }
        } else {
            Self::compound_fields(info, version, size)
        };

        let mut buddy_value = keys::number(info, "PAGE_BUDDY_MAPCOUNT_VALUE");
        if buddy_value.is_none() {
            if version == KernelVersion::new(2, 6, 38) {
                buddy_value = Some(PAGE_BUDDY_MAPCOUNT_VALUE_2_6_38);
            } else if version >= KernelVersion::new(2, 6, 39) {
                buddy_value = Some(PAGE_BUDDY_MAPCOUNT_VALUE_2_6_39);
            }
        }
        let buddy = match (
            private,
            buddy_value,
            mapcount,
            keys::number(info, "PG_buddy"),
        ) {
            (None, ..) => None,
            (Some(_), Some(value), Some(_), _) => Some(BuddyRule::Mapcount {
                value: value as i32 as u32,
            }),
            (Some(_), Some(_), None, _) => None,
            (Some(_), None, _, Some(bit)) => Some(BuddyRule::Flag { bit }),
            (Some(_), None, _, None) => None,
        };

        Ok(PageRules {
            layout,
            pg_lru,
            pg_private,
            pg_swapcache,
            pg_swapbacked,
            pg_slab,
            pg_hwpoison,
            head_mask,
            compound,
            hugetlb_dtor: keys::number(info, "HUGETLB_PAGE_DTOR").map(|v| v as u64),
            free_huge_page: keys::symbol(info, "free_huge_page"),
            buddy,
            slab_type: type_value(info, "PAGE_SLAB_MAPCOUNT_VALUE"),
            offline_type: type_value(info, "PAGE_OFFLINE_MAPCOUNT_VALUE"),
            unaccepted_type: type_value(info, "PAGE_UNACCEPTED_MAPCOUNT_VALUE"),
            free_area_length: keys::length(info, "zone.free_area").map(|v| v as u64),
        })
    }

    /// makedumpfile `init_compound_offset`: the folio fields (6.3+) rebased on page[1],
    /// else the page fields, else (before 4.4) `page[1].lru.prev`/`lru.next`. An offset
    /// of 0 means "unknown" there, and here too.
    fn compound_fields(
        info: &VmcoreInfo,
        version: KernelVersion,
        page_size: usize,
    ) -> CompoundRule {
        let old_lru = |member: &str| -> Option<i64> {
            if version < KernelVersion::new(4, 4, 0) {
                Some(keys::signed_offset(info, "page.lru")? + keys::signed_offset(info, member)?)
            } else {
                None
            }
        };
        let order_offset = keys::signed_offset(info, "folio._folio_order")
            .map(|o| o - page_size as i64)
            .or_else(|| keys::signed_offset(info, "page.compound_order"))
            .or_else(|| old_lru("list_head.prev"));
        let dtor_offset = keys::signed_offset(info, "folio._folio_dtor")
            .map(|o| o - page_size as i64)
            .or_else(|| keys::signed_offset(info, "page.compound_dtor"))
            .or_else(|| old_lru("list_head.next"));
        let new_layout = version >= KernelVersion::new(4, 16, 0);
        let order_width = if new_layout { 1 } else { 2 };
        let dtor_width = if new_layout {
            1
        } else if version >= KernelVersion::new(4, 4, 0) {
            2
        } else {
            8
        };
        let field = |offset: Option<i64>, width| match offset {
            Some(offset) if offset > 0 => Some(NextPageField {
                offset: offset as usize,
                width,
            }),
            _ => None,
        };
        CompoundRule::Fields {
            order: field(order_offset, order_width),
            dtor: field(dtor_offset, dtor_width),
        }
    }

    /// Size of one struct page.
    pub(crate) fn struct_page_size(&self) -> usize {
        self.layout.size
    }

    /// The buddy detector, if the kernel exports what it needs.
    pub(crate) fn buddy(&self) -> Option<BuddyRule> {
        self.buddy
    }

    /// Whether `PG_hwpoison` is known (makes the mem_map scan run at every level).
    pub(crate) fn knows_hwpoison(&self) -> bool {
        self.pg_hwpoison.is_some()
    }

    /// makedumpfile's `test_bit`: `1 << (nr & 31)` as an `int`, sign-extended against
    /// the 64-bit flags, so only the low 32 bits are tested (bit 31 also matches 32–63).
    #[inline]
    fn test_bit(nr: i64, flags: u64) -> bool {
        let mask = (1i32 << (nr & 0x1f)) as i64 as u64;
        mask & flags != 0
    }

    #[inline]
    fn is_slab(&self, flags: u64, mapcount: u32) -> bool {
        if self.slab_type == Some(mapcount) {
            return true;
        }
        flag_set(self.pg_slab, flags)
    }

    #[inline]
    fn is_anon(&self, mapping: u64, flags: u64, mapcount: u32) -> bool {
        mapping & 1 != 0 && !self.is_slab(flags, mapcount)
    }

    #[inline]
    fn is_cache(&self, flags: u64) -> bool {
        if Self::test_bit(self.pg_lru, flags) {
            return true;
        }
        // PG_swapcache counts only with PG_swapbacked, or on kernels before 4.10 that
        // lack PG_swapbacked (makedumpfile `ca1f31e`).
        let swapbacked = self
            .pg_swapbacked
            .is_none_or(|bit| Self::test_bit(bit, flags));
        swapbacked && Self::test_bit(self.pg_swapcache, flags)
    }

    #[inline]
    fn is_hugetlb(&self, dtor: u64) -> bool {
        dtor == IS_HUGETLB || self.hugetlb_dtor == Some(dtor) || self.free_huge_page == Some(dtor)
    }

    /// Decide what to do with `pfn` whose struct page is `page`. `following` holds the
    /// struct pages after it in the same batch (where a compound head keeps its order),
    /// or is empty when the head is the last of its batch.
    pub(crate) fn classify(
        &self,
        level: DumpLevel,
        pfn: u64,
        page: &[u8],
        following: &[u8],
    ) -> Verdict {
        let layout = &self.layout;
        let flags = read_le(page, layout.flags, 8);
        let mapping = read_le(page, layout.mapping, 8);
        let mapcount = layout.mapcount.map_or(0, |at| read_le(page, at, 4) as u32);

        let mut order = 0u64;
        let mut dtor = 0u64;
        if flags & self.head_mask != 0 && following.len() >= layout.size {
            match self.compound {
                CompoundRule::HugetlbMapcount { value } => {
                    order = read_le(following, layout.flags, 8) & 0xff;
                    if mapcount == value {
                        dtor = IS_HUGETLB;
                    }
                }
                CompoundRule::HugetlbFlag { bit } => {
                    let flags_1 = read_le(following, layout.flags, 8);
                    order = flags_1 & 0xff;
                    if flag_set(bit, flags_1) {
                        dtor = IS_HUGETLB;
                    }
                }
                CompoundRule::Fields {
                    order: order_field,
                    dtor: dtor_field,
                } => {
                    if let Some(field) = order_field {
                        order = read_le(following, field.offset, field.width);
                    }
                    if let Some(field) = dtor_field {
                        dtor = read_le(following, field.offset, field.width);
                    }
                }
            }
            // A corrupted order, or a head not aligned to it, counts as a single page.
            if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
                order = 0;
            }
        }
        let compound_head = layout.compound_head.map_or(0, |at| read_le(page, at, 8));
        let private = layout.private.map_or(0, |at| read_le(page, at, 8));

        if compound_head & 1 != 0 {
            // A tail: excluded, if at all, together with its head.
            return Verdict::Keep;
        }
        let mut pages = 1u64 << order;
        let class = if level.excludes_free()
            && self
                .buddy
                .is_some_and(|rule| self.is_buddy(rule, flags, mapcount))
        {
            match self.free_area_length {
                Some(length) if private >= length => {
                    return Verdict::InvalidFreeOrder {
                        order: private,
                        max_order: length.wrapping_sub(1),
                    };
                }
                // Without LENGTH(zone.free_area) makedumpfile shifts by any order; an
                // order beyond the pfn space can only be corruption.
                None if private >= 64 => {
                    return Verdict::InvalidFreeOrder {
                        order: private,
                        max_order: 63,
                    }
                }
                _ => {}
            }
            pages = 1u64 << private;
            ExcludedClass::Free
        } else if level.excludes_free()
            && self.unaccepted_type == Some(mapcount)
            && self.free_area_length.is_some_and(|l| (1..=64).contains(&l))
        {
            // Unaccepted memory sits on zone.unaccepted_pages only in MAX_PAGE_ORDER
            // blocks (makedumpfile `c1a9301`).
            pages = 1u64 << (self.free_area_length.unwrap_or(1) - 1);
            ExcludedClass::Free
        } else if level.excludes_cache()
            && self.is_cache(flags)
            && !Self::test_bit(self.pg_private, flags)
            && !self.is_anon(mapping, flags, mapcount)
        {
            ExcludedClass::Cache
        } else if level.excludes_private_cache()
            && self.is_cache(flags)
            && !self.is_anon(mapping, flags, mapcount)
        {
            if Self::test_bit(self.pg_private, flags) {
                ExcludedClass::CachePrivate
            } else {
                ExcludedClass::Cache
            }
        } else if level.excludes_user()
            && (self.is_anon(mapping, flags, mapcount) || self.is_hugetlb(dtor))
        {
            ExcludedClass::User
        } else if self
            .pg_hwpoison
            .is_some_and(|bit| Self::test_bit(bit, flags))
        {
            ExcludedClass::Hwpoison
        } else if self.offline_type == Some(mapcount) && !self.is_slab(flags, mapcount) {
            ExcludedClass::Offline
        } else {
            return Verdict::Keep;
        };
        Verdict::Exclude { class, pages }
    }

    #[inline]
    fn is_buddy(&self, rule: BuddyRule, flags: u64, mapcount: u32) -> bool {
        match rule {
            BuddyRule::Mapcount { value } => !self.is_slab(flags, mapcount) && mapcount == value,
            BuddyRule::Flag { bit } => flag_set(bit, flags),
        }
    }
}

/// `flags & (1UL << bit)` for the full 64-bit tests (PG_slab, PG_buddy, PG_hugetlb); a
/// bit number outside 0..64 (corrupt VMCOREINFO) tests nothing instead of shifting wildly.
#[inline]
fn flag_set(bit: i64, flags: u64) -> bool {
    (0..64).contains(&bit) && flags >> bit & 1 != 0
}

/// A little-endian unsigned field of `width` bytes at `offset`; bytes beyond the slice
/// read as zero (a field of the struct page after the last one read).
#[inline]
fn read_le(bytes: &[u8], offset: usize, width: usize) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(field) = bytes.get(offset..) {
        let n = field.len().min(width);
        raw[..n].copy_from_slice(&field[..n]);
    }
    u64::from_le_bytes(raw)
}
