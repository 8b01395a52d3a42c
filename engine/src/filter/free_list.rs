//! Free pages from the buddy allocator's free lists, for kernels whose struct pages carry
//! no buddy marker (makedumpfile `exclude_free_page` / `reset_bitmap_of_free_pages`).
//!
//! For each online node's `pglist_data`, each zone with pages, each order from the
//! highest down and each migrate type, the `free_area[order].free_list[type]` list is
//! followed through `list_head.next`; every entry is the `lru` member of a free block's
//! head page, and the block's 2^order pfns are excluded.
//!
//! Termination: like makedumpfile we check that each entry's `prev` points at the entry
//! we came from ("The free list is broken."). That check alone already forbids any cycle
//! that does not pass through the list head, but we also bound the walk by the number of
//! pfns so that a hostile image can never make it spin.

use std::ops::Range;

use super::cycle::DumpableBits;
use super::keys;
use super::mem_section::MemMapRange;
use super::stats::{ExcludedClass, FilterStats};
use crate::arch::VirtualReader;
use crate::error::{Error, Result};
use crate::vmcoreinfo::VmcoreInfo;

/// Where the node list comes from.
#[derive(Debug, Clone, Copy)]
enum PgdatSource {
    /// `node_data[node]` (x86_64 NUMA and non-NUMA since 2.6.17).
    NodeData { array: u64 },
    /// `pgdat_list[node]`.
    PgdatList { array: u64, length: Option<i64> },
    /// `contig_page_data`, node 0 only.
    Contig { pgdat: u64 },
}

/// Offsets and sizes the walk needs, validated up front.
#[derive(Debug, Clone)]
pub(crate) struct FreeLists {
    online_map: u64,
    nodemask_size: usize,
    pgdat_sources: Vec<PgdatSource>,
    node_zones: u64,
    nr_zones: u64,
    zone_size: u64,
    spanned_pages: u64,
    free_area: u64,
    free_area_size: u64,
    free_list: u64,
    list_head_size: u64,
    next: u64,
    prev: u64,
    page_lru: u64,
    orders: u64,
    migrate_types: u64,
}

impl FreeLists {
    /// Check that VMCOREINFO describes the free lists, with makedumpfile's messages.
    pub(crate) fn new(info: &VmcoreInfo) -> Result<Self> {
        let node_data =
            keys::symbol(info, "node_data").filter(|_| keys::length(info, "node_data").is_some());
        let pgdat_list = keys::symbol(info, "pgdat_list");
        let contig = keys::symbol(info, "contig_page_data");
        if node_data.is_none() && pgdat_list.is_none() && contig.is_none() {
            return Err(Error::invalid(
                "Can't get necessary symbols for excluding free pages (VMCOREINFO lacks SYMBOL(node_data), SYMBOL(pgdat_list) and SYMBOL(contig_page_data))",
            ));
        }
        let mut pgdat_sources = Vec::new();
        if let Some(array) = node_data {
            pgdat_sources.push(PgdatSource::NodeData { array });
        }
        if let Some(array) = pgdat_list {
            pgdat_sources.push(PgdatSource::PgdatList {
                array,
                length: keys::length(info, "pgdat_list"),
            });
        }
        if let Some(pgdat) = contig {
            pgdat_sources.push(PgdatSource::Contig { pgdat });
        }

        let structures = || {
            let offset = |name| keys::offset(info, name).map(|v| v as u64);
            let size = |name| keys::size(info, name).map(|v| v as u64);
            // The free-page count makedumpfile compares against (only for a debug
            // message) must be locatable, or it refuses to walk.
            offset("zone.free_pages").or_else(|| offset("zone.vm_stat"))?;
            Some(FreeLists {
                online_map: 0,
                nodemask_size: 0,
                pgdat_sources: Vec::new(),
                node_zones: offset("pglist_data.node_zones")?,
                nr_zones: offset("pglist_data.nr_zones")?,
                zone_size: size("zone")?,
                spanned_pages: offset("zone.spanned_pages")?,
                free_area: offset("zone.free_area")?,
                free_area_size: size("free_area")?,
                free_list: offset("free_area.free_list")?,
                list_head_size: size("list_head").unwrap_or(16),
                next: offset("list_head.next")?,
                prev: offset("list_head.prev")?,
                page_lru: offset("page.lru")?,
                orders: keys::length(info, "zone.free_area").filter(|&l| (1..=64).contains(&l))?
                    as u64,
                // Before 2.6.24 there was one list per order.
                migrate_types: keys::length(info, "free_area.free_list")
                    .filter(|&l| l > 0)
                    .unwrap_or(1) as u64,
            })
        };
        let mut lists = structures().ok_or_else(|| {
            Error::invalid(
                "Can't get necessary structures for excluding free pages (VMCOREINFO lacks a zone, free_area, list_head or page.lru entry)",
            )
        })?;
        lists.pgdat_sources = pgdat_sources;

        let nodemask_size = keys::size(info, "nodemask_t").filter(|&s| s > 0 && s <= 4096);
        let online_map = keys::symbol(info, "node_online_map").or_else(|| {
            let states = keys::symbol(info, "node_states")?;
            let n_online = keys::number(info, "N_ONLINE")?;
            Some(states.wrapping_add((nodemask_size? as u64).wrapping_mul(n_online as u64)))
        });
        match (online_map, nodemask_size) {
            (Some(map), Some(size)) => {
                lists.online_map = map;
                lists.nodemask_size = size;
            }
            _ => return Err(Error::invalid("Can't get next online node (VMCOREINFO lacks SYMBOL(node_online_map) or SIZE(nodemask_t))")),
        }
        Ok(lists)
    }

    /// The online node numbers from the node online mask.
    fn online_nodes(&self, kernel: &mut VirtualReader<'_, '_>) -> Result<Vec<u64>> {
        let mut mask = vec![0u8; self.nodemask_size];
        kernel
            .read(self.online_map, &mut mask)
            .map_err(|e| e.context("Can't get the node online map"))?;
        let nodes: Vec<u64> = (0..mask.len() as u64 * 8)
            .filter(|&bit| mask[(bit / 8) as usize] >> (bit % 8) & 1 != 0)
            .collect();
        if nodes.is_empty() {
            return Err(Error::invalid(
                "Can't get next online node: the node online map is empty",
            ));
        }
        Ok(nodes)
    }

    /// makedumpfile `next_online_pgdat`: the first source that gives a kernel address.
    fn pgdat(&self, kernel: &mut VirtualReader<'_, '_>, node: u64) -> Result<u64> {
        let page_offset = kernel.translator().kvbase();
        for source in &self.pgdat_sources {
            let candidate = match *source {
                PgdatSource::NodeData { array } => {
                    kernel.read_u64(array.wrapping_add(node * 8)).ok()
                }
                PgdatSource::PgdatList { array, length } => {
                    let allowed = match length {
                        None => node == 0,
                        Some(length) => length >= node as i64,
                    };
                    if allowed {
                        kernel.read_u64(array.wrapping_add(node * 8)).ok()
                    } else {
                        None
                    }
                }
                PgdatSource::Contig { pgdat } => (node == 0).then_some(pgdat),
            };
            if let Some(pgdat) = candidate.filter(|&p| p >= page_offset) {
                return Ok(pgdat);
            }
        }
        Err(Error::invalid(format!(
            "Can't determine pgdat list (node {node})"
        )))
    }

    /// Clear the free blocks that fall in `cycle`, counting them as free.
    pub(crate) fn exclude(
        &self,
        kernel: &mut VirtualReader<'_, '_>,
        mem_maps: &[MemMapRange],
        struct_page_size: u64,
        cycle: Range<u64>,
        bits: &mut dyn DumpableBits,
        stats: &mut FilterStats,
    ) -> Result<()> {
        // Each list entry is a distinct free block, so the number of entries is bounded
        // by the number of pfns; one more means the list loops.
        let step_limit = mem_maps
            .iter()
            .map(|m| m.pfn_end - m.pfn_start)
            .sum::<u64>()
            + 1;
        let mut steps = 0u64;
        for node in self.online_nodes(kernel)? {
            let pgdat = self.pgdat(kernel, node)?;
            let node_zones = pgdat.wrapping_add(self.node_zones);
            let nr_zones = kernel
                .read_u32(pgdat.wrapping_add(self.nr_zones))
                .map_err(|e| e.context("Can't get nr_zones"))?;
            // MAX_NR_ZONES is at most 6; a larger count is corruption, not a reason to
            // read hundreds of bogus zones.
            if nr_zones > 64 {
                return Err(Error::invalid(format!(
                    "pglist_data of node {node} has nr_zones {nr_zones}"
                )));
            }
            for zone_index in 0..nr_zones as u64 {
                let zone = node_zones.wrapping_add(zone_index * self.zone_size);
                let spanned = kernel
                    .read_u64(zone.wrapping_add(self.spanned_pages))
                    .map_err(|e| e.context("Can't get spanned_pages"))?;
                if spanned == 0 {
                    continue;
                }
                for order in (0..self.orders).rev() {
                    for migrate_type in 0..self.migrate_types {
                        let head = zone
                            .wrapping_add(self.free_area)
                            .wrapping_add(self.free_area_size * order)
                            .wrapping_add(self.free_list)
                            .wrapping_add(self.list_head_size * migrate_type);
                        let mut previous = head;
                        let mut current = kernel
                            .read_u64(head.wrapping_add(self.next))
                            .map_err(|e| e.context("Can't get next list_head"))?;
                        while current != head {
                            steps += 1;
                            if steps > step_limit {
                                return Err(Error::invalid("The free list is broken: it has more entries than there are pages"));
                            }
                            let page = current.wrapping_sub(self.page_lru);
                            let start_pfn = page_to_pfn(mem_maps, struct_page_size, page)?;
                            let prev = kernel
                                .read_u64(current.wrapping_add(self.prev))
                                .map_err(|e| e.context("Can't get prev list_head"))?;
                            if prev != previous {
                                return Err(Error::invalid(format!(
                                    "The free list is broken: entry {current:#x} has prev {prev:#x}, expected {previous:#x}"
                                )));
                            }
                            let start = start_pfn.max(cycle.start);
                            let end = start_pfn.saturating_add(1 << order).min(cycle.end);
                            if start < end {
                                bits.clear_range(start, end);
                                stats.add(ExcludedClass::Free, end - start);
                            }
                            previous = current;
                            current = kernel
                                .read_u64(current.wrapping_add(self.next))
                                .map_err(|e| e.context("Can't get next list_head"))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// makedumpfile `page_to_pfn`: the pfn whose struct page is at `page`.
fn page_to_pfn(mem_maps: &[MemMapRange], struct_page_size: u64, page: u64) -> Result<u64> {
    mem_maps
        .iter()
        .find_map(|m| {
            let index = page.checked_sub(m.mem_map)? / struct_page_size;
            (index < m.pfn_end - m.pfn_start).then_some(m.pfn_start + index)
        })
        .ok_or_else(|| {
            Error::invalid(format!(
                "Can't convert the address of page descriptor ({page:#x}) to pfn"
            ))
        })
}
