//! Thin wrappers that let the benchmark crate time the ring and the slab on their own.
//! Not part of the engine's API.

use super::ring::{PageFlag, PageFlagRing};

/// Push `count` entries through `ring` from a second thread and consume them on this
/// one, waiting with crossbeam's `Backoff` (spin, then yield; no parking: the bench
/// measures the hand-off itself).
pub fn ring_handoff(ring_capacity: usize, count: u64) -> u64 {
    let ring = PageFlagRing::new(ring_capacity);
    let mut sum = 0u64;
    std::thread::scope(|s| {
        let ring = &ring;
        s.spawn(move || {
            let Some(mut p) = ring.producer() else { return };
            for pfn in 0..count {
                let backoff = crossbeam_utils::Backoff::new();
                while !p.publish(PageFlag::Zero { pfn }) {
                    backoff.snooze();
                }
            }
        });
        let Some(mut c) = ring.consumer() else { return };
        for _ in 0..count {
            let backoff = crossbeam_utils::Backoff::new();
            let flag = loop {
                match c.peek() {
                    Some(flag) => break flag,
                    None => backoff.snooze(),
                }
            };
            if let PageFlag::Zero { pfn } = flag {
                sum += pfn;
            }
            c.release();
        }
    });
    sum
}
