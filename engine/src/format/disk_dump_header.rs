//! `struct disk_dump_header`: block 0 of a kdump-compressed file (makedumpfile
//! `diskdump_mod.h`), 464 bytes on LP64.

use std::mem::{offset_of, size_of};

use super::bytes::{get_i32, get_i64, get_u32, put_i32, put_i64, put_u32};
use crate::error::{Error, ErrorKind, Result};

/// `KDUMP` followed by three spaces, no NUL.
pub const KDUMP_SIGNATURE: &[u8; 8] = b"KDUMP   ";
/// The legacy diskdump signature, accepted on input.
pub const DISKDUMP_SIGNATURE: &[u8; 8] = b"DISKDUMP";
/// makedumpfile has written header version 6 since 2013 (`8e12417`).
pub const HEADER_VERSION: i32 = 6;
/// Length of one `new_utsname` field.
pub const UTS_FIELD_LEN: usize = 65;

/// Header status: the dump was cut short (ENOSPC or `-L`).
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
// (0x10, DUMP_DH_EXCLUDED_VMEMMAP, marks dumps made with `-e`, which this tool does not offer.)

/// The C layout, for offsets and the size check only; never read or written directly.
#[repr(C)]
#[allow(dead_code)]
struct RawDiskDumpHeader {
    signature: [u8; 8],
    header_version: i32,
    utsname: [u8; 6 * UTS_FIELD_LEN],
    timestamp: [i64; 2],
    status: u32,
    block_size: i32,
    sub_hdr_size: i32,
    bitmap_blocks: u32,
    max_mapnr: u32,
    total_ram_blocks: u32,
    device_blocks: u32,
    written_blocks: u32,
    current_cpu: u32,
    nr_cpus: i32,
}

/// On-disk size of the header.
pub const DISK_DUMP_HEADER_SIZE: usize = 464;
const _: () = assert!(size_of::<RawDiskDumpHeader>() == DISK_DUMP_HEADER_SIZE);
const _: () = assert!(offset_of!(RawDiskDumpHeader, timestamp) == 408);
const _: () = assert!(offset_of!(RawDiskDumpHeader, status) == 424);
const _: () = assert!(offset_of!(RawDiskDumpHeader, nr_cpus) == 460);

/// `struct new_utsname` as six NUL-padded 65-byte fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Utsname(pub [u8; 6 * UTS_FIELD_LEN]);

impl Default for Utsname {
    fn default() -> Self {
        Utsname([0; 6 * UTS_FIELD_LEN])
    }
}

impl std::fmt::Debug for Utsname {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Utsname({} {} {})",
            self.field_str(0),
            self.field_str(2),
            self.field_str(4)
        )
    }
}

impl Utsname {
    /// Field i (0 sysname, 1 nodename, 2 release, 3 version, 4 machine, 5 domainname)
    /// up to its first NUL, lossily decoded.
    pub fn field_str(&self, index: usize) -> String {
        let field = &self.0[index * UTS_FIELD_LEN..(index + 1) * UTS_FIELD_LEN];
        let end = field.iter().position(|&b| b == 0).unwrap_or(UTS_FIELD_LEN);
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
}

/// The main header, as the code works with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDumpHeader {
    /// `KDUMP   ` (or `DISKDUMP` on old input).
    pub signature: [u8; 8],
    /// Always 6 on output.
    pub header_version: i32,
    /// The crashed kernel's `init_uts_ns.name`.
    pub utsname: Utsname,
    /// Seconds: VMCOREINFO CRASHTIME.
    pub timestamp_sec: i64,
    /// Microseconds: 0.
    pub timestamp_usec: i64,
    /// Compression bit | incomplete | excluded vmemmap.
    pub status: u32,
    /// Page size.
    pub block_size: i32,
    /// Blocks of sub header + notes.
    pub sub_hdr_size: i32,
    /// Blocks of both bitmaps together.
    pub bitmap_blocks: u32,
    /// max_mapnr truncated to 32 bits (obsolete; the sub header has the real value).
    pub max_mapnr: u32,
    /// Unused, 0.
    pub total_ram_blocks: u32,
    /// Unused, 0.
    pub device_blocks: u32,
    /// Unused, 0.
    pub written_blocks: u32,
    /// Unused, 0.
    pub current_cpu: u32,
    /// Number of NT_PRSTATUS notes.
    pub nr_cpus: i32,
}

impl DiskDumpHeader {
    /// Encode into the C layout (padding bytes zero).
    pub fn to_bytes(&self) -> [u8; DISK_DUMP_HEADER_SIZE] {
        let mut b = [0u8; DISK_DUMP_HEADER_SIZE];
        b[offset_of!(RawDiskDumpHeader, signature)..][..8].copy_from_slice(&self.signature);
        put_i32(
            &mut b,
            offset_of!(RawDiskDumpHeader, header_version),
            self.header_version,
        );
        b[offset_of!(RawDiskDumpHeader, utsname)..][..6 * UTS_FIELD_LEN]
            .copy_from_slice(&self.utsname.0);
        let ts = offset_of!(RawDiskDumpHeader, timestamp);
        put_i64(&mut b, ts, self.timestamp_sec);
        put_i64(&mut b, ts + 8, self.timestamp_usec);
        put_u32(&mut b, offset_of!(RawDiskDumpHeader, status), self.status);
        put_i32(
            &mut b,
            offset_of!(RawDiskDumpHeader, block_size),
            self.block_size,
        );
        put_i32(
            &mut b,
            offset_of!(RawDiskDumpHeader, sub_hdr_size),
            self.sub_hdr_size,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, bitmap_blocks),
            self.bitmap_blocks,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, max_mapnr),
            self.max_mapnr,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, total_ram_blocks),
            self.total_ram_blocks,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, device_blocks),
            self.device_blocks,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, written_blocks),
            self.written_blocks,
        );
        put_u32(
            &mut b,
            offset_of!(RawDiskDumpHeader, current_cpu),
            self.current_cpu,
        );
        put_i32(&mut b, offset_of!(RawDiskDumpHeader, nr_cpus), self.nr_cpus);
        b
    }

    /// Decode and sanity-check a header read from `name`.
    pub fn from_bytes(b: &[u8], name: &str) -> Result<Self> {
        if b.len() < DISK_DUMP_HEADER_SIZE {
            return Err(Error::invalid(format!(
                "{name}: kdump header is truncated ({} bytes)",
                b.len()
            )));
        }
        let mut signature = [0u8; 8];
        signature.copy_from_slice(&b[..8]);
        if &signature != KDUMP_SIGNATURE && &signature != DISKDUMP_SIGNATURE {
            return Err(Error::invalid(format!(
                "{name}: not a kdump-compressed file (bad signature)"
            )));
        }
        let mut utsname = Utsname::default();
        utsname
            .0
            .copy_from_slice(&b[offset_of!(RawDiskDumpHeader, utsname)..][..6 * UTS_FIELD_LEN]);
        let ts = offset_of!(RawDiskDumpHeader, timestamp);
        let header = DiskDumpHeader {
            signature,
            header_version: get_i32(b, offset_of!(RawDiskDumpHeader, header_version)),
            utsname,
            timestamp_sec: get_i64(b, ts),
            timestamp_usec: get_i64(b, ts + 8),
            status: get_u32(b, offset_of!(RawDiskDumpHeader, status)),
            block_size: get_i32(b, offset_of!(RawDiskDumpHeader, block_size)),
            sub_hdr_size: get_i32(b, offset_of!(RawDiskDumpHeader, sub_hdr_size)),
            bitmap_blocks: get_u32(b, offset_of!(RawDiskDumpHeader, bitmap_blocks)),
            max_mapnr: get_u32(b, offset_of!(RawDiskDumpHeader, max_mapnr)),
            total_ram_blocks: get_u32(b, offset_of!(RawDiskDumpHeader, total_ram_blocks)),
            device_blocks: get_u32(b, offset_of!(RawDiskDumpHeader, device_blocks)),
            written_blocks: get_u32(b, offset_of!(RawDiskDumpHeader, written_blocks)),
            current_cpu: get_u32(b, offset_of!(RawDiskDumpHeader, current_cpu)),
            nr_cpus: get_i32(b, offset_of!(RawDiskDumpHeader, nr_cpus)),
        };
        let bs = header.block_size;
        if bs <= 0 || !(bs as u32).is_power_of_two() || !(512..=(1 << 20)).contains(&bs) {
            return Err(Error::invalid(format!(
                "{name}: kdump header block_size {bs} is not a power of two page size"
            )));
        }
        if header.sub_hdr_size < 0 {
            return Err(Error::invalid(format!(
                "{name}: kdump header sub_hdr_size {} is negative",
                header.sub_hdr_size
            )));
        }
        Ok(header)
    }
}

/// Set the incomplete bit (status 0x8) in the header of the kdump file `file` (named
/// `name` in errors): for a `--split` part whose set another part could not finish, and
/// for a file rebuilt by `-R` from a stream cut short, so readers report the missing
/// pages as lost instead of trusting the file.
pub fn mark_file_incomplete(file: &std::fs::File, name: &str) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let io = |e| {
        Error::io(
            ErrorKind::Write,
            format!("Can't mark the dump file({name}) incomplete"),
            e,
        )
    };
    let mut raw = [0u8; DISK_DUMP_HEADER_SIZE];
    file.read_exact_at(&mut raw, 0).map_err(io)?;
    let mut header = DiskDumpHeader::from_bytes(&raw, name)?;
    header.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
    file.write_all_at(&header.to_bytes(), 0).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DiskDumpHeader {
        let mut utsname = Utsname::default();
        utsname.0[..5].copy_from_slice(b"Linux");
        DiskDumpHeader {
            signature: *KDUMP_SIGNATURE,
            header_version: 6,
            utsname,
            timestamp_sec: 1_700_000_000,
            timestamp_usec: 0,
            status: 0x2,
            block_size: 4096,
            sub_hdr_size: 2,
            bitmap_blocks: 10,
            max_mapnr: 131072,
            total_ram_blocks: 0,
            device_blocks: 0,
            written_blocks: 0,
            current_cpu: 0,
            nr_cpus: 2,
        }
    }

    #[test]
    fn layout_matches_makedumpfile_offsets() {
        let b = sample().to_bytes();
        assert_eq!(b.len(), 464);
        assert_eq!(&b[0..8], b"KDUMP   ");
        assert_eq!(get_i32(&b, 8), 6);
        assert_eq!(&b[12..17], b"Linux");
        assert_eq!(&b[402..408], &[0; 6], "padding before timestamp");
        assert_eq!(get_i64(&b, 408), 1_700_000_000);
        assert_eq!(get_u32(&b, 424), 2);
        assert_eq!(get_i32(&b, 428), 4096);
        assert_eq!(get_i32(&b, 432), 2);
        assert_eq!(get_u32(&b, 436), 10);
        assert_eq!(get_u32(&b, 440), 131072);
        assert_eq!(get_i32(&b, 460), 2);
    }

    #[test]
    fn round_trips() {
        let h = sample();
        assert_eq!(DiskDumpHeader::from_bytes(&h.to_bytes(), "x").unwrap(), h);
    }

    #[test]
    fn rejects_bad_signature_and_block_size() {
        let mut b = sample().to_bytes();
        b[0] = b'X';
        assert!(DiskDumpHeader::from_bytes(&b, "f")
            .unwrap_err()
            .to_string()
            .contains("signature"));
        let mut h = sample();
        h.block_size = 4095;
        assert!(DiskDumpHeader::from_bytes(&h.to_bytes(), "f")
            .unwrap_err()
            .to_string()
            .contains("block_size"));
        assert!(DiskDumpHeader::from_bytes(&b[..100], "f").is_err());
    }
}
