//! The flattened format (`-F` / `-R`): a 4096-byte header block, then records
//! `{offset i64 BE, buf_size i64 BE}` + data, each standing for one positioned write of the
//! regular file, ended by `{-1, -1}`. Records may be out of order and may overwrite each
//! other: a reassembler applies them in stream order.

use std::io::{self, Read, Write};

use crate::error::{Error, ErrorKind, Result};

/// `makedumpfile` padded with NULs to 16 bytes.
pub const FLAT_SIGNATURE: &[u8; 16] = b"makedumpfile\0\0\0\0";
/// Size of the header block at the start of a stream.
pub const FLAT_HEADER_BLOCK: usize = 4096;
/// `type` field: 1 = flattened kdump data.
pub const FLAT_TYPE: i64 = 1;
/// `version` field.
pub const FLAT_VERSION: i64 = 1;
/// Size of one record header.
pub const FLAT_RECORD_HEADER: usize = 16;
/// Upper bound on one record's payload when reading: makedumpfile never writes more than
/// its write cache or a bitmap at once; a larger size is corruption, and refusing it bounds
/// memory.
pub const MAX_FLAT_RECORD: i64 = 1 << 30;

/// The stream's header block.
pub fn header_block() -> Vec<u8> {
    let mut block = vec![0u8; FLAT_HEADER_BLOCK];
    block[..16].copy_from_slice(FLAT_SIGNATURE);
    block[16..24].copy_from_slice(&FLAT_TYPE.to_be_bytes());
    block[24..32].copy_from_slice(&FLAT_VERSION.to_be_bytes());
    block
}

/// A record header for a write of `len` bytes at `offset`.
pub fn record_header(offset: i64, len: i64) -> [u8; FLAT_RECORD_HEADER] {
    let mut h = [0u8; FLAT_RECORD_HEADER];
    h[..8].copy_from_slice(&offset.to_be_bytes());
    h[8..].copy_from_slice(&len.to_be_bytes());
    h
}

/// Whether the first bytes of a file look like a flattened stream.
pub fn is_flattened(head: &[u8]) -> bool {
    head.len() >= 24
        && &head[..16] == FLAT_SIGNATURE
        && i64::from_be_bytes(head[16..24].try_into().expect("8")) == FLAT_TYPE
}

/// Reads records from a flattened stream.
pub struct FlatReader<R: Read> {
    input: R,
    name: String,
    done: bool,
}

/// One record: where its bytes go in the regular file.
#[derive(Debug)]
pub struct FlatRecord {
    /// Destination offset.
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

impl<R: Read> FlatReader<R> {
    /// Check the header block (signature and type; the version is not checked, as in
    /// makedumpfile).
    pub fn new(mut input: R, name: &str) -> Result<Self> {
        let mut block = vec![0u8; FLAT_HEADER_BLOCK];
        read_full(&mut input, &mut block).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("{name}: Can't get header of flattened format"),
                e,
            )
        })?;
        if &block[..16] != FLAT_SIGNATURE {
            return Err(Error::invalid(format!(
                "{name}: Can't get valid header of flattened format (bad signature)"
            )));
        }
        let kind = i64::from_be_bytes(block[16..24].try_into().expect("8"));
        if kind != FLAT_TYPE {
            return Err(Error::invalid(format!(
                "{name}: flattened header type is {kind}, expected {FLAT_TYPE}"
            )));
        }
        Ok(FlatReader {
            input,
            name: name.to_string(),
            done: false,
        })
    }

    /// The next record, or `None` after the end marker. End of input before the marker is
    /// an error: the stream was cut short.
    pub fn next_record(&mut self) -> Result<Option<FlatRecord>> {
        if self.done {
            return Ok(None);
        }
        let mut h = [0u8; FLAT_RECORD_HEADER];
        read_full(&mut self.input, &mut h).map_err(|e| {
            Error::io(
                ErrorKind::InvalidInput,
                format!(
                    "{}: Can't get valid end header of flattened format",
                    self.name
                ),
                e,
            )
        })?;
        let offset = i64::from_be_bytes(h[..8].try_into().expect("8"));
        let size = i64::from_be_bytes(h[8..].try_into().expect("8"));
        if offset == -1 && size == -1 {
            self.done = true;
            return Ok(None);
        }
        if offset < 0 || !(0..=MAX_FLAT_RECORD).contains(&size) {
            return Err(Error::invalid(format!(
                "{}: flattened record header is invalid (offset {offset}, buf_size {size})",
                self.name
            )));
        }
        let mut data = vec![0u8; size as usize];
        read_full(&mut self.input, &mut data).map_err(|e| {
            Error::io(
                ErrorKind::InvalidInput,
                format!(
                    "{}: flattened record at offset {offset:#x} ({size} bytes) is truncated",
                    self.name
                ),
                e,
            )
        })?;
        Ok(Some(FlatRecord {
            offset: offset as u64,
            data,
        }))
    }
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    input.read_exact(buf)
}

/// Write the end marker.
pub fn write_end_marker(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&record_header(-1, -1))
}

/// A whole stream of `records` (offset, bytes), with or without its end marker: the
/// fixture of the tests of every stream reader.
#[cfg(test)]
pub fn stream_of(records: &[(i64, &[u8])], ended: bool) -> Vec<u8> {
    let mut bytes = header_block();
    for (offset, data) in records {
        bytes.extend_from_slice(&record_header(*offset, data.len() as i64));
        bytes.extend_from_slice(data);
    }
    if ended {
        write_end_marker(&mut bytes).expect("a Vec takes every write");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[(i64, &[u8])], end: bool) -> Vec<u8> {
        stream_of(records, end)
    }

    #[test]
    fn header_is_big_endian_and_padded() {
        let h = header_block();
        assert_eq!(h.len(), 4096);
        assert_eq!(&h[..12], b"makedumpfile");
        assert_eq!(&h[16..24], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&h[24..32], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(is_flattened(&h));
    }

    #[test]
    fn records_read_back_in_order() {
        let s = stream(&[(4096, b"abc"), (0, b"KDUMP")], true);
        let mut r = FlatReader::new(&s[..], "s").unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.offset, a.data.as_slice()), (4096, &b"abc"[..]));
        let b = r.next_record().unwrap().unwrap();
        assert_eq!((b.offset, b.data.as_slice()), (0, &b"KDUMP"[..]));
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn missing_end_marker_and_bad_sizes_are_errors() {
        let s = stream(&[(0, b"x")], false);
        let mut r = FlatReader::new(&s[..], "s").unwrap();
        r.next_record().unwrap();
        assert!(r
            .next_record()
            .unwrap_err()
            .to_string()
            .contains("end header"));
        let s = stream(&[(-5, b"x")], true);
        assert!(FlatReader::new(&s[..], "s").unwrap().next_record().is_err());
        let mut bad = header_block();
        bad[0] = b'X';
        assert!(FlatReader::new(&bad[..], "s").is_err());
    }
}
