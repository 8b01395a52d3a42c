//! Counts of excluded pages per class, as makedumpfile's report prints them.

use std::ops::Range;

use crate::protect::KeptPage;

/// Why a page was left out of the dump (one counter of makedumpfile's report each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExcludedClass {
    /// "Non-private cache pages" (`pfn_cache`).
    Cache,
    /// "Private cache pages" (`pfn_cache_private`).
    CachePrivate,
    /// "User process data pages" (`pfn_user`).
    User,
    /// "Free pages" (`pfn_free`), including unaccepted memory.
    Free,
    /// "Hwpoison pages" (`pfn_hwpoison`).
    Hwpoison,
    /// "Offline pages" (`pfn_offline`).
    Offline,
}

/// A buddy page whose order is not below `LENGTH(zone.free_area)`: makedumpfile prints
/// "WARNING: Invalid free page order: pfn=%llx, order=%lu, max order=%lu" and keeps the
/// page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidFreeOrder {
    /// The pfn of the buddy page.
    pub pfn: u64,
    /// Its `page.private`.
    pub order: u64,
    /// `LENGTH(zone.free_area) - 1`.
    pub max_order: u64,
}

/// At most this many warnings are kept (a corrupted mem_map could produce millions).
pub const MAX_KEPT_WARNINGS: usize = 1024;

/// Excluded-page counters of one pass over all cycles. Zero pages are counted by the
/// writer, which finds them while copying.
///
/// Like makedumpfile, a multi-page exclusion (a buddy block, a compound page) counts
/// every pfn of the block inside the current cycle, whether or not its bit was set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterStats {
    /// `pfn_cache`.
    pub cache: u64,
    /// `pfn_cache_private`.
    pub cache_private: u64,
    /// `pfn_user`.
    pub user: u64,
    /// `pfn_free`.
    pub free: u64,
    /// `pfn_hwpoison`.
    pub hwpoison: u64,
    /// `pfn_offline`.
    pub offline: u64,
    /// Number of "Invalid free page order" warnings.
    pub invalid_free_order_count: u64,
    /// The first [`MAX_KEPT_WARNINGS`] of them, for the CLI to print.
    pub invalid_free_orders: Vec<InvalidFreeOrder>,
    /// Protected pages the rules above would have excluded, kept (`crate::protect`);
    /// they are also counted in their class, as makedumpfile would count them.
    pub protected: u64,
    /// The first [`crate::protect::MAX_LISTED_KEPT_PAGES`] of them, for the CLI to name.
    pub protected_pages: Vec<KeptPage>,
    /// Hwpoison and offline pfns of the cycle being filtered: excluded even when
    /// protected (reading a poisoned page can stop the capture kernel; an offline page
    /// has no content). Emptied after each cycle.
    pub(crate) never_kept: Vec<Range<u64>>,
}

impl FilterStats {
    /// Add `pages` to the counter of `class`.
    #[inline]
    pub fn add(&mut self, class: ExcludedClass, pages: u64) {
        let counter = match class {
            ExcludedClass::Cache => &mut self.cache,
            ExcludedClass::CachePrivate => &mut self.cache_private,
            ExcludedClass::User => &mut self.user,
            ExcludedClass::Free => &mut self.free,
            ExcludedClass::Hwpoison => &mut self.hwpoison,
            ExcludedClass::Offline => &mut self.offline,
        };
        *counter += pages;
    }

    /// Record an invalid free page order warning.
    pub fn warn_invalid_free_order(&mut self, warning: InvalidFreeOrder) {
        self.invalid_free_order_count += 1;
        if self.invalid_free_orders.len() < MAX_KEPT_WARNINGS {
            self.invalid_free_orders.push(warning);
        }
    }

    /// Add the counts of a later part of the same scan (pfns after all of `self`'s), so
    /// the kept warnings stay the first ones in pfn order.
    pub fn merge(&mut self, later: FilterStats) {
        self.cache += later.cache;
        self.cache_private += later.cache_private;
        self.user += later.user;
        self.free += later.free;
        self.hwpoison += later.hwpoison;
        self.offline += later.offline;
        let kept = later.invalid_free_orders.len() as u64;
        for warning in later.invalid_free_orders {
            self.warn_invalid_free_order(warning);
        }
        self.invalid_free_order_count += later.invalid_free_order_count - kept;
        self.protected += later.protected;
        for page in later.protected_pages {
            if self.protected_pages.len() < crate::protect::MAX_LISTED_KEPT_PAGES {
                self.protected_pages.push(page);
            }
        }
        self.never_kept.extend(later.never_kept);
    }

    /// Remember that `[start, end)` was excluded as `class`, where that exclusion must
    /// survive protection.
    #[inline]
    pub(crate) fn note_never_kept(&mut self, class: ExcludedClass, start: u64, end: u64) {
        if matches!(class, ExcludedClass::Hwpoison | ExcludedClass::Offline) {
            match self.never_kept.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => self.never_kept.push(start..end),
            }
        }
    }

    /// Pages excluded: the sum of all classes less the protected pages kept
    /// (makedumpfile adds the writer's zero pages to get "Excluded pages").
    pub fn total(&self) -> u64 {
        (self.cache + self.cache_private + self.user + self.free + self.hwpoison + self.offline)
            .saturating_sub(self.protected)
    }
}
