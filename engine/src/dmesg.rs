//! `--dump-dmesg`: the kernel log from the crashed kernel's memory.
//!
//! Three generations, chosen by what VMCOREINFO exports (makedumpfile `dump_dmesg`,
//! printk.c):
//! - 5.10+ lockless ring buffer (`SYMBOL(prb)`): descriptor ring + info array + text data
//!   ring; records from tail id to head id, only committed/finalized ones;
//! - 3.5–5.9 structured `log_buf` (`SYMBOL(log_first_idx)`): variable-length `printk_log`
//!   records, a zero length wraps to the start; a cycle or an index outside the buffer is
//!   reported as corruption after writing what came before it;
//! - before 3.5 (`SYMBOL(log_end)`): the raw ring copied as is.
//!
//! Lines are formatted as makedumpfile: `[%5llu.%06lu] `, an optional `[%8s] ` caller id,
//! text with each newline followed by indentation, and bytes that are neither printable
//! nor space as `\xNN` — where a byte >= 0x80, a negative `char` in C, prints sign-extended
//! (`\xffffffc3`). We reproduce that so the logs are byte-identical.

use crate::arch::Translator;
use crate::arch::VirtualReader;
use crate::error::{Error, Result};
use crate::input::PageReader;
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;

/// Upper bound on any buffer sized from the dump (ring sizes, log_buf_len): real kernels
/// use at most a few MiB; a larger value is corruption and must not drive an allocation.
const MAX_BUFFER: u64 = 256 << 20;

/// The `[T1234]` / `[C0]` caller id bit: set for CPU ids.
const CALLER_ID_CPU: u32 = 0x8000_0000;

/// How to extract the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmesgOptions {
    /// `--partial-dmesg`: only records after the last `dmesg -c`.
    pub partial: bool,
    /// Print the `[T123]`/`[C1]` caller id column when the kernel exports
    /// `OFFSET(printk_info.caller_id)`, as makedumpfile 1.7.5+ does (`48bb1e0`). Off by
    /// default: makedumpfile 1.7.2, our byte-for-byte reference, does not print it.
    pub caller_id: bool,
}

/// Extract the log of the kernel described by `info` into `out`.
pub fn dump_dmesg(
    info: &VmcoreInfo,
    translator: &Translator,
    reader: &mut dyn PageReader,
    options: DmesgOptions,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut kernel = VirtualReader::new(translator, reader);
    let partial = options.partial;
    if let Some(prb) = info.symbol("prb") {
        let mut layout = LocklessLog::new(info)?;
        if !options.caller_id {
            layout.caller_id = None;
        }
        return layout.dump(&mut kernel, prb, partial, out);
    }
    let (Some(log_buf), Some(log_buf_len)) = (info.symbol("log_buf"), info.symbol("log_buf_len"))
    else {
        return Err(Error::invalid("Can't find some symbols for log_buf."));
    };
    let buf_addr = kernel
        .read_u64(log_buf)
        .map_err(|e| e.context("Can't get log_buf"))?;
    let len = kernel
        .read_u32(log_buf_len)
        .map_err(|e| e.context("Can't get log_buf_len"))? as u64;
    if len == 0 || len > MAX_BUFFER {
        return Err(Error::invalid(format!("log_buf_len {len} is not a plausible log size: the printk log_buf is most likely corrupted")));
    }
    let mut buffer = vec![0u8; len as usize];
    if let Some(log_end) = info.symbol("log_end") {
        let version = KernelVersion::parse(info.osrelease().unwrap_or("0.0"))?;
        // log_end was an unsigned long up to 2.6.24, an unsigned int after.
        let end = if version < KernelVersion::new(2, 6, 25) {
            kernel.read_u64(log_end)?
        } else {
            kernel.read_u32(log_end)? as u64
        };
        if end < len {
            kernel
                .read(buf_addr, &mut buffer[..end as usize])
                .map_err(|e| e.context("Can't read dmesg log"))?;
            out.extend_from_slice(&buffer[..end as usize]);
        } else {
            let index = end & (len - 1);
            let old = len - index;
            kernel
                // Kernel addresses are modular (C unsigned long): a corrupted log_buf near
                // 2^64 wraps and then fails to translate, as in makedumpfile.
                .read(buf_addr.wrapping_add(index), &mut buffer[..old as usize])
                .map_err(|e| e.context("Can't read old dmesg log"))?;
            kernel
                .read(buf_addr, &mut buffer[old as usize..])
                .map_err(|e| e.context("Can't read new dmesg log"))?;
            out.extend_from_slice(&buffer);
        }
        return Ok(());
    }
    let (Some(first_sym), Some(next_sym)) =
        (info.symbol("log_first_idx"), info.symbol("log_next_idx"))
    else {
        return Err(Error::invalid("Can't find variable-length record symbols"));
    };
    let first_sym = if partial {
        info.symbol("clear_idx").unwrap_or(first_sym)
    } else {
        first_sym
    };
    let first = kernel
        .read_u32(first_sym)
        .map_err(|e| e.context("Can't get log_first_idx"))? as u64;
    let next = kernel
        .read_u32(next_sym)
        .map_err(|e| e.context("Can't get log_next_idx"))? as u64;
    kernel
        .read(buf_addr, &mut buffer)
        .map_err(|e| e.context("Can't read indexed dmesg log"))?;
    let mut layout = StructuredLog::new(info)?;
    if !options.caller_id {
        layout.caller_id = None;
    }
    layout.dump(&buffer, first, next, buf_addr, out)
}

/// Format one record as makedumpfile's `dump_record` / `dump_log_entry`.
pub fn format_record(ts_nsec: u64, caller_id: Option<u32>, text: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(
        format!(
            "[{:5}.{:06}] ",
            ts_nsec / 1_000_000_000,
            ts_nsec % 1_000_000_000 / 1000
        )
        .as_bytes(),
    );
    if let Some(cid) = caller_id {
        let id = format!(
            "{}{}",
            if cid & CALLER_ID_CPU != 0 { 'C' } else { 'T' },
            cid & !CALLER_ID_CPU
        );
        out.extend_from_slice(format!("[{id:>8}] ").as_bytes());
    }
    let indent = out.len() - start;
    for &byte in text {
        match byte {
            b'\n' => {
                out.push(b'\n');
                out.resize(out.len() + indent, b' ');
            }
            // isprint || isspace in the C locale
            0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(byte),
            _ => out.extend_from_slice(format!("\\x{:02x}", byte as i8 as i32 as u32).as_bytes()),
        }
    }
    out.push(b'\n');
}

fn required(info: &VmcoreInfo, kind: &str, name: &str) -> Result<u64> {
    let value = match kind {
        "SIZE" => info.size(name),
        "OFFSET" => info.offset(name),
        _ => info.length(name),
    };
    value
        .filter(|&v| (0..=MAX_BUFFER as i64).contains(&v))
        .map(|v| v as u64)
        .ok_or_else(|| {
            Error::invalid(format!(
                "VMCOREINFO lacks a usable {kind}({name}): can't extract the dmesg log"
            ))
        })
}

fn u64_at(buf: &[u8], at: u64) -> Result<u64> {
    buf.get(at as usize..at as usize + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| {
            Error::invalid(format!(
                "printk structure offset {at} lies outside the structure"
            ))
        })
}

fn u32_at(buf: &[u8], at: u64) -> Result<u32> {
    buf.get(at as usize..at as usize + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| {
            Error::invalid(format!(
                "printk structure offset {at} lies outside the structure"
            ))
        })
}

fn u16_at(buf: &[u8], at: u64) -> Result<u16> {
    buf.get(at as usize..at as usize + 2)
        .map(|b| u16::from_le_bytes(b.try_into().expect("2 bytes")))
        .ok_or_else(|| {
            Error::invalid(format!(
                "printk structure offset {at} lies outside the structure"
            ))
        })
}

/// Layout of the 5.10+ lockless ring buffer, from VMCOREINFO.
struct LocklessLog {
    size_prb: u64,
    desc_ring: u64,
    text_data_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    size_desc: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    size_bits: u64,
    data: u64,
    size_info: u64,
    ts_nsec: u64,
    text_len: u64,
    caller_id: Option<u64>,
    counter: u64,
    /// `SYMBOL(clear_seq)` and, for the 5.13+ latched form, `OFFSET(latched_seq.val)`.
    clear_seq: Option<(u64, Option<u64>)>,
}

/// Descriptor states (top two bits of `state_var`).
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;
const DESC_ID_MASK: u64 = !(3u64 << 62);

impl LocklessLog {
    fn new(info: &VmcoreInfo) -> Result<Self> {
        Ok(LocklessLog {
            size_prb: required(info, "SIZE", "printk_ringbuffer")?,
            desc_ring: required(info, "OFFSET", "printk_ringbuffer.desc_ring")?,
            text_data_ring: required(info, "OFFSET", "printk_ringbuffer.text_data_ring")?,
            count_bits: required(info, "OFFSET", "prb_desc_ring.count_bits")?,
            descs: required(info, "OFFSET", "prb_desc_ring.descs")?,
            infos: required(info, "OFFSET", "prb_desc_ring.infos")?,
            head_id: required(info, "OFFSET", "prb_desc_ring.head_id")?,
            tail_id: required(info, "OFFSET", "prb_desc_ring.tail_id")?,
            size_desc: required(info, "SIZE", "prb_desc")?,
            state_var: required(info, "OFFSET", "prb_desc.state_var")?,
            text_blk_lpos: required(info, "OFFSET", "prb_desc.text_blk_lpos")?,
            lpos_begin: required(info, "OFFSET", "prb_data_blk_lpos.begin")?,
            lpos_next: required(info, "OFFSET", "prb_data_blk_lpos.next")?,
            size_bits: required(info, "OFFSET", "prb_data_ring.size_bits")?,
            data: required(info, "OFFSET", "prb_data_ring.data")?,
            size_info: required(info, "SIZE", "printk_info")?,
            ts_nsec: required(info, "OFFSET", "printk_info.ts_nsec")?,
            text_len: required(info, "OFFSET", "printk_info.text_len")?,
            caller_id: info
                .offset("printk_info.caller_id")
                .filter(|&v| v >= 0)
                .map(|v| v as u64),
            counter: info
                .offset("atomic_long_t.counter")
                .filter(|&v| v >= 0)
                .unwrap_or(0) as u64,
            clear_seq: info.symbol("clear_seq").map(|symbol| {
                let latched = info
                    .size("latched_seq")
                    .and(info.offset("latched_seq.val"))
                    .filter(|&v| v >= 0)
                    .map(|v| v as u64);
                (symbol, latched)
            }),
        })
    }

    fn dump(
        &self,
        kernel: &mut VirtualReader<'_, '_>,
        prb_symbol: u64,
        partial: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let prb_addr = kernel
            .read_u64(prb_symbol)
            .map_err(|e| e.context("Can't get the prb address"))?;
        let mut prb = vec![0u8; self.size_prb as usize];
        kernel
            .read(prb_addr, &mut prb)
            .map_err(|e| e.context("Can't get prb"))?;
        let ring = self.desc_ring;
        let count_bits = u32_at(&prb, ring + self.count_bits)?;
        let size_bits = u32_at(&prb, self.text_data_ring + self.size_bits)?;
        // count_bits up to 63 is representable, but the arrays it sizes must not overflow
        // or exceed MAX_BUFFER (fuzz/fuzz_targets/printk.rs found the overflow).
        let count = 1u64.checked_shl(count_bits).filter(|&c| {
            c.checked_mul(self.size_desc.max(self.size_info))
                .is_some_and(|bytes| bytes <= MAX_BUFFER)
        });
        let data_size = 1u64.checked_shl(size_bits).filter(|&s| s <= MAX_BUFFER);
        let (Some(count), Some(data_size)) = (count, data_size) else {
            return Err(Error::invalid(format!(
                "prb count_bits {count_bits} / size_bits {size_bits} are not plausible: the printk ring buffer is most likely corrupted"
            )));
        };
        let read_array = |kernel: &mut VirtualReader<'_, '_>,
                          addr: u64,
                          len: u64,
                          what: &str|
         -> Result<Vec<u8>> {
            let mut buf = vec![0u8; len as usize];
            kernel
                .read(addr, &mut buf)
                .map_err(|e| e.context(format!("Can't get {what}")))?;
            Ok(buf)
        };
        let descs = read_array(
            kernel,
            u64_at(&prb, ring + self.descs)?,
            self.size_desc * count,
            "prb.desc_ring.descs",
        )?;
        let infos = read_array(
            kernel,
            u64_at(&prb, ring + self.infos)?,
            self.size_info * count,
            "prb.desc_ring.infos",
        )?;
        let text = read_array(
            kernel,
            u64_at(&prb, self.text_data_ring + self.data)?,
            data_size,
            "prb.text_data_ring",
        )?;
        let head_id = u64_at(&prb, ring + self.head_id + self.counter)?;
        let mut tail_id = u64_at(&prb, ring + self.tail_id + self.counter)?;
        if let (true, Some((symbol, latched))) = (partial, self.clear_seq) {
            let raw = kernel
                .read_u64(symbol)
                .map_err(|e| e.context("Can't get clear_seq"))?;
            let clear_seq = match latched {
                Some(val) => kernel
                    .read_u64(symbol.wrapping_add(val).wrapping_add((raw & 1) * 8))
                    .map_err(|e| e.context("Can't get latched clear_seq"))?,
                None => raw,
            };
            tail_id = (head_id - head_id % count).wrapping_add(clear_seq % count);
        }
        let mut id = tail_id;
        // At most `count` records exist; the bound also stops a corrupted head/tail pair
        // from looping for 2^62 ids.
        for _ in 0..count {
            if id == head_id {
                break;
            }
            self.record(&descs, &infos, &text, count, data_size, id, out)?;
            id = id.wrapping_add(1) & DESC_ID_MASK;
        }
        self.record(&descs, &infos, &text, count, data_size, id, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        descs: &[u8],
        infos: &[u8],
        text: &[u8],
        count: u64,
        data_size: u64,
        id: u64,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let desc = (id % count) * self.size_desc;
        let state_var = u64_at(descs, desc + self.state_var + self.counter)?;
        let state = state_var >> 62;
        if state_var & DESC_ID_MASK != id || (state != DESC_COMMITTED && state != DESC_FINALIZED) {
            return Ok(());
        }
        let mut begin = u64_at(descs, desc + self.text_blk_lpos + self.lpos_begin)? % data_size;
        let next = u64_at(descs, desc + self.text_blk_lpos + self.lpos_next)? % data_size;
        if begin == next {
            return Ok(());
        }
        let info = (id % count) * self.size_info;
        let mut text_len = u16_at(infos, info + self.text_len)? as u64;
        if begin > next {
            begin = 0; // the block wrapped: its data starts at the ring's beginning
        }
        begin += 8; // skip the descriptor id stored in front of the text
        if next.wrapping_sub(begin) < text_len {
            text_len = next.wrapping_sub(begin);
        }
        let ts = u64_at(infos, info + self.ts_nsec)?;
        let caller = self
            .caller_id
            .map(|at| u32_at(infos, info + at))
            .transpose()?;
        let body = text.get(begin as usize..(begin + text_len) as usize).ok_or_else(|| {
            Error::invalid(format!("printk record {id:#x} points outside the text ring: the ring buffer is most likely corrupted"))
        })?;
        format_record(ts, caller, body, out);
        Ok(())
    }
}

/// Layout of the 3.5–5.9 structured `log_buf` records.
struct StructuredLog {
    size_log: u64,
    len: u64,
    text_len: u64,
    ts_nsec: u64,
    caller_id: Option<u64>,
}

impl StructuredLog {
    fn new(info: &VmcoreInfo) -> Result<Self> {
        // 3.5–3.10 named the record `struct log`.
        let name = if info.size("printk_log").is_some() {
            "printk_log"
        } else {
            "log"
        };
        let missing = || Error::invalid("Can't get necessary structures for extracting dmesg log.");
        let get = |v: Option<i64>| {
            v.filter(|&v| (0..=MAX_BUFFER as i64).contains(&v))
                .map(|v| v as u64)
                .ok_or_else(missing)
        };
        Ok(StructuredLog {
            size_log: get(info.size(name))?,
            len: get(info.offset(&format!("{name}.len")))?,
            text_len: get(info.offset(&format!("{name}.text_len")))?,
            ts_nsec: get(info.offset(&format!("{name}.ts_nsec")))?,
            caller_id: info
                .offset(&format!("{name}.caller_id"))
                .filter(|&v| v >= 0)
                .map(|v| v as u64),
        })
    }

    /// Length field of the record at `at`; 0 marks the end of the buffer.
    fn record_len(&self, buffer: &[u8], at: u64) -> Result<u64> {
        Ok(u16_at(buffer, at + self.len)? as u64)
    }

    /// makedumpfile `log_from_ptr`: a zero-length record means "wrap to the start".
    fn resolve(&self, buffer: &[u8], at: u64) -> Result<u64> {
        Ok(if self.record_len(buffer, at)? == 0 {
            0
        } else {
            at
        })
    }

    /// makedumpfile `log_next`.
    fn next(&self, buffer: &[u8], at: u64) -> Result<u64> {
        let len = self.record_len(buffer, at)?;
        Ok(if len == 0 {
            self.record_len(buffer, 0)?
        } else {
            at + len
        })
    }

    fn entry(&self, buffer: &[u8], at: u64, out: &mut Vec<u8>) -> Result<()> {
        let text_len = u16_at(buffer, at + self.text_len)? as u64;
        let ts = u64_at(buffer, at + self.ts_nsec)?;
        let caller = self.caller_id.map(|c| u32_at(buffer, at + c)).transpose()?;
        let start = at + self.size_log;
        let body = buffer
            .get(start as usize..(start + text_len) as usize)
            .ok_or_else(|| {
                Error::invalid(format!("dmesg record at {at:#x} extends past log_buf"))
            })?;
        format_record(ts, caller, body, out);
        Ok(())
    }

    /// Walk from `first` to `next_idx`. A cycle (Brent's algorithm, as makedumpfile's
    /// detect_cycle.c) or an index outside the buffer ends the walk with an error after
    /// the records before the corruption are in `out`.
    fn dump(
        &self,
        buffer: &[u8],
        first: u64,
        next_idx: u64,
        buf_addr: u64,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let limit = (buffer.len() as u64).saturating_sub(self.size_log);
        if first > limit {
            return Err(Error::invalid(format!(
                "Index outside log_buf detected (log_first_idx {first:#x})."
            )));
        }
        let mut ptr = first;
        let (mut slow, mut fast, mut length, mut power) = (first, first, 0u64, 2u64);
        while ptr != next_idx {
            let record = self.resolve(buffer, ptr)?;
            self.entry(buffer, record, out)?;
            let next = self.next(buffer, ptr)?;
            if length == power {
                length = 0;
                power *= 2;
                slow = fast;
            }
            fast = self.next(buffer, fast)?;
            length += 1;
            if slow == fast {
                return Err(Error::invalid(format!(
                    "Cycle when parsing dmesg detected. The printk log_buf is most likely corrupted. log_buf = {buf_addr:#x}, idx = {next:#x}"
                )));
            }
            if next > limit {
                return Err(Error::invalid(format!(
                    "Index outside log_buf detected. The printk log_buf is most likely corrupted. log_buf = {buf_addr:#x}, idx = {next:#x}"
                )));
            }
            ptr = next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(ts: u64, caller: Option<u32>, text: &[u8]) -> String {
        let mut out = Vec::new();
        format_record(ts, caller, text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_format_as_makedumpfile() {
        assert_eq!(
            formatted(1_234_567_890, None, b"hello"),
            "[    1.234567] hello\n"
        );
        assert_eq!(
            formatted(5, Some(42), b"x"),
            "[    0.000000] [     T42] x\n"
        );
        assert_eq!(
            formatted(5, Some(0x8000_0001), b"x"),
            "[    0.000000] [      C1] x\n"
        );
        assert_eq!(
            formatted(0, None, b"a\nb"),
            "[    0.000000] a\n               b\n"
        );
        assert_eq!(
            formatted(0, None, b"\x01\xc3\t"),
            "[    0.000000] \\x01\\xffffffc3\t\n"
        );
    }

    /// A 3.5–5.9 style log_buf with `records`, each {ts u64, len u16, text_len u16} + text.
    fn structured(records: &[&[u8]], wrap_at: Option<usize>) -> (Vec<u8>, StructuredLog, u64) {
        let layout = StructuredLog {
            size_log: 16,
            len: 8,
            text_len: 10,
            ts_nsec: 0,
            caller_id: None,
        };
        let mut buf = vec![0u8; 4096];
        let mut at = 0usize;
        for (i, text) in records.iter().enumerate() {
            if Some(i) == wrap_at {
                // zero-length marker, next record at 0 (overwrites the oldest)
                buf[at + 8..at + 10].copy_from_slice(&0u16.to_le_bytes());
                at = 0;
            }
            let len = (16 + text.len()).next_multiple_of(8);
            buf[at..at + 8].copy_from_slice(&(i as u64 * 1_000_000).to_le_bytes());
            buf[at + 8..at + 10].copy_from_slice(&(len as u16).to_le_bytes());
            buf[at + 10..at + 12].copy_from_slice(&(text.len() as u16).to_le_bytes());
            buf[at + 16..at + 16 + text.len()].copy_from_slice(text);
            at += len;
        }
        (buf, layout, at as u64)
    }

    #[test]
    fn structured_log_walks_records_in_order() {
        let (buf, layout, next) = structured(&[b"one", b"two", b"three"], None);
        let mut out = Vec::new();
        layout.dump(&buf, 0, next, 0, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[    0.000000] one\n[    0.001000] two\n[    0.002000] three\n"
        );
    }

    #[test]
    fn structured_log_cycle_is_an_error_after_the_good_records() {
        let (mut buf, layout, _) = structured(&[b"one", b"two"], None);
        // make "two" point back to "one": a cycle that never reaches next_idx
        buf[24 + 8..24 + 10].copy_from_slice(&(-24i16 as u16).to_le_bytes());
        let mut out = Vec::new();
        let err = layout.dump(&buf, 0, 4000, 0, &mut out).unwrap_err();
        assert!(
            err.to_string().contains("Cycle") || err.to_string().contains("outside"),
            "{err}"
        );
        assert!(String::from_utf8_lossy(&out).starts_with("[    0.000000] one\n"));
    }

    #[test]
    fn structured_log_index_outside_buffer_is_an_error() {
        let (buf, layout, _) = structured(&[b"one"], None);
        let mut out = Vec::new();
        assert!(layout.dump(&buf, 5000, 0, 0, &mut out).is_err());
    }
}
