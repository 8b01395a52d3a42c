//! `--dump-dmesg` over fuzzed kernel memory: the 5.10+ lockless ring buffer, the 3.5–5.9
//! structured `log_buf` and the pre-3.5 raw `log_buf`, with `--partial-dmesg` and the
//! caller-id column.
//!
//! Two kinds of input, chosen by the first byte:
//! - a well-formed lockless ring built from fuzzed records (timestamps, caller ids, text,
//!   ids that wrap the descriptor ring), then optionally corrupted by fuzzed byte writes.
//!   Uncorrupted, the log must be exactly the records formatted in order — an oracle, so
//!   this also checks that nothing is dropped, duplicated or reordered;
//! - a raw memory image with the VMCOREINFO of one of the three generations: the
//!   structures are whatever the fuzzer wrote.
//!
//! Every structure lives in the kernel-text mapping (virtual = START_KERNEL_MAP + physical,
//! phys_base 0), so no page tables are needed and every pointer the fuzzer writes is a
//! plausible kernel address.
#![no_main]

use engine::arch::x86_64::{X86_64Translator, START_KERNEL_MAP};
use engine::arch::Translator;
use engine::dmesg::{dump_dmesg, format_record, DmesgOptions};
use engine::input::PhysicalMemory;
use engine::kernel_version::KernelVersion;
use engine::synthetic::machine::SyntheticMemory;
use engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::Cursor;

const PAGE: usize = 4096;
const IMAGE_PAGES: usize = 16;

/// Where the built ring's pieces sit (physical = virtual - START_KERNEL_MAP).
const PRB_SYMBOL: u64 = 0x0000; // holds the pointer to the ring buffer struct
const PRB: u64 = 0x0100; // struct printk_ringbuffer (88 bytes)
const CLEAR_SEQ: u64 = 0x0200; // latched_seq (24 bytes)
const DESCS: u64 = 0x1000; // up to 32 descriptors of 24 bytes
const INFOS: u64 = 0x2000; // up to 32 infos of 88 bytes (2816 bytes)
const TEXT: u64 = 0x4000; // the text data ring
const TEXT_SIZE_BITS: u32 = 13; // 8 KiB
/// Page tables mapping the first 2 MiB of the kernel-text mapping to physical 0 (written
/// after the fuzzed bytes, so that every mode can reach its structures).
const TOP_TABLE: u64 = 0xf000;
const PUD_TABLE: u64 = 0xe000;
const PMD_TABLE: u64 = 0xd000;

/// Offsets of Debian's 6.1 kernel (the real vmcore's VMCOREINFO).
const LOCKLESS_KEYS: &str = "\
SIZE(printk_ringbuffer)=88\nOFFSET(printk_ringbuffer.desc_ring)=0\n\
OFFSET(printk_ringbuffer.text_data_ring)=48\nOFFSET(prb_desc_ring.count_bits)=0\n\
OFFSET(prb_desc_ring.descs)=8\nOFFSET(prb_desc_ring.infos)=16\n\
OFFSET(prb_desc_ring.head_id)=24\nOFFSET(prb_desc_ring.tail_id)=32\nSIZE(prb_desc)=24\n\
OFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)=8\n\
OFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\nSIZE(printk_info)=88\n\
OFFSET(printk_info.ts_nsec)=8\nOFFSET(printk_info.text_len)=16\n\
OFFSET(printk_info.caller_id)=20\nOFFSET(prb_data_ring.size_bits)=0\n\
OFFSET(prb_data_ring.data)=8\nOFFSET(atomic_long_t.counter)=0\nSIZE(latched_seq)=24\n\
OFFSET(latched_seq.val)=8\n";
/// A 4.x `printk_log` layout.
const STRUCTURED_KEYS: &str = "\
SIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\n\
OFFSET(printk_log.text_len)=10\n";

const DESC_FINALIZED: u64 = 2 << 62;

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let flags = input.u8();
    let options = DmesgOptions {
        partial: flags & 1 != 0,
        caller_id: flags & 2 != 0,
    };
    let mut image = vec![0u8; IMAGE_PAGES * PAGE];
    let (keys, expected) = match (flags >> 2) % 4 {
        0 => {
            let expected = build_lockless_ring(&mut input, &mut image, options.caller_id);
            let corruptions = input.u8() % 8;
            for _ in 0..corruptions {
                let at = input.u16() as usize % image.len();
                image[at] = input.u8();
            }
            // The oracle holds for an intact ring read whole.
            let exact = corruptions == 0 && !options.partial;
            (lockless_keys(), exact.then_some(expected))
        }
        1 => {
            fill(&mut image, &mut input);
            (lockless_keys(), None)
        }
        2 => {
            fill(&mut image, &mut input);
            let keys = format!(
                "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_first_idx)={:x}\n\
                 SYMBOL(log_next_idx)={:x}\nSYMBOL(clear_idx)={:x}\n{STRUCTURED_KEYS}",
                kernel(0x0),
                kernel(0x8),
                kernel(0x10),
                kernel(0x18),
                kernel(0x20)
            );
            (keys, None)
        }
        _ => {
            fill(&mut image, &mut input);
            let keys = format!(
                "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_end)={:x}\n",
                kernel(0x0),
                kernel(0x8),
                kernel(0x10)
            );
            (keys, None)
        }
    };
    map_kernel_text(&mut image);
    let text = format!(
        "OSRELEASE=6.1.0\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)={:x}\n{keys}",
        kernel(TOP_TABLE)
    );
    let info = VmcoreInfo::parse(text.as_bytes());
    let translator = Translator::X86_64(X86_64Translator::new(
        &info,
        &[],
        KernelVersion::new(6, 1, 0),
    ));
    let memory = SyntheticMemory {
        bytes: image,
        holes: Vec::new(),
    };
    let mut reader = memory.reader().expect("synthetic reader");
    let mut out = Vec::new();
    let result = dump_dmesg(&info, &translator, &mut *reader, options, &mut out);
    if let Some(expected) = expected {
        result.expect("an intact ring buffer must dump");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
    }
});

fn kernel(physical: u64) -> u64 {
    START_KERNEL_MAP + physical
}

fn lockless_keys() -> String {
    format!(
        "SYMBOL(prb)={:x}\nSYMBOL(clear_seq)={:x}\n{LOCKLESS_KEYS}",
        kernel(PRB_SYMBOL),
        kernel(CLEAR_SEQ)
    )
}

/// PGD[511] -> PUD[510] -> PMD[0] = a 2 MiB leaf at physical 0: START_KERNEL_MAP + x is x.
fn map_kernel_text(image: &mut [u8]) {
    const PRESENT_RW: u64 = 0x3;
    const PSE: u64 = 0x80;
    image[PMD_TABLE as usize..TOP_TABLE as usize + PAGE].fill(0);
    put(
        image,
        TOP_TABLE + 511 * 8,
        &(PUD_TABLE | PRESENT_RW).to_le_bytes(),
    );
    put(
        image,
        PUD_TABLE + 510 * 8,
        &(PMD_TABLE | PRESENT_RW).to_le_bytes(),
    );
    put(image, PMD_TABLE, &(PSE | PRESENT_RW).to_le_bytes());
}

fn fill(image: &mut [u8], input: &mut Cursor<'_>) {
    let bytes = input.bytes(image.len());
    image[..bytes.len()].copy_from_slice(bytes);
}

fn put(image: &mut [u8], at: u64, bytes: &[u8]) {
    image[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
}

/// Lay out a finalized lockless ring from fuzzed records, the way printk leaves it: each
/// record's text block is its 8-byte id followed by the text, 8-byte aligned, in order in
/// the data ring; the descriptor at `id % count` holds the id, the finalized state and the
/// block's logical positions. Returns the log makedumpfile would print.
fn build_lockless_ring(input: &mut Cursor<'_>, image: &mut [u8], caller_id: bool) -> Vec<u8> {
    let count_bits = 1 + input.u8() as u32 % 5; // 2..32 descriptors
    let count = 1u64 << count_bits;
    let data_size = 1u64 << TEXT_SIZE_BITS;
    // Ids and logical positions of a ring that has wrapped many times already.
    let first_id = input.u32() as u64;
    let mut lpos = (input.u16() as u64) << TEXT_SIZE_BITS;
    let records = 1 + input.u8() as u64 % count;
    let mut expected = Vec::new();
    let mut last_id = first_id;
    for n in 0..records {
        let ts = input.u64();
        let caller = input.u32();
        let len = input.u8() as usize % 200;
        let text = input.bytes(len).to_vec();
        let block = (8 + text.len() as u64).next_multiple_of(8);
        // Keep the oracle simple: no block wraps the data ring. printk never ends a block
        // exactly at the ring's end either (that block is stored wrapped, at index 0).
        if lpos % data_size + block >= data_size {
            break;
        }
        let id = first_id + n;
        last_id = id;
        let at = TEXT + lpos % data_size;
        put(image, at, &id.to_le_bytes());
        put(image, at + 8, &text);
        let desc = DESCS + (id % count) * 24;
        put(image, desc, &(DESC_FINALIZED | id).to_le_bytes());
        put(image, desc + 8, &lpos.to_le_bytes());
        put(image, desc + 16, &(lpos + block).to_le_bytes());
        let info = INFOS + (id % count) * 88;
        put(image, info + 8, &ts.to_le_bytes());
        put(image, info + 16, &(text.len() as u16).to_le_bytes());
        put(image, info + 20, &caller.to_le_bytes());
        format_record(ts, caller_id.then_some(caller), &text, &mut expected);
        lpos += block;
    }
    put(image, PRB_SYMBOL, &kernel(PRB).to_le_bytes());
    put(image, PRB, &count_bits.to_le_bytes());
    put(image, PRB + 8, &kernel(DESCS).to_le_bytes());
    put(image, PRB + 16, &kernel(INFOS).to_le_bytes());
    put(image, PRB + 24, &last_id.to_le_bytes()); // head_id
    put(image, PRB + 32, &first_id.to_le_bytes()); // tail_id
    put(image, PRB + 48, &TEXT_SIZE_BITS.to_le_bytes());
    put(image, PRB + 56, &kernel(TEXT).to_le_bytes());
    // clear_seq (latched): both copies name the first record.
    put(image, CLEAR_SEQ + 8, &first_id.to_le_bytes());
    put(image, CLEAR_SEQ + 16, &first_id.to_le_bytes());
    expected
}
