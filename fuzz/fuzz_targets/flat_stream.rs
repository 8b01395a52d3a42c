//! Flattened stream (`-F` output, `-R` input): header block and records, applied in
//! stream order by `-R`. Records are bounded by the stream; written back with `FlatOutput` they
//! must read back identically.
#![no_main]

use engine::format::flat::FlatReader;
use engine::format::{DumpOutput, FlatOutput};
use libfuzzer_sys::fuzz_target;

/// Records applied per input; a valid stream of tiny records could otherwise be long.
const MAX_RECORDS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = FlatReader::new(data, "fuzz") else {
        return;
    };
    let mut records = Vec::new();
    let mut payload = 0usize;
    while records.len() < MAX_RECORDS {
        match reader.next_record() {
            Ok(Some(record)) => {
                payload += record.data.len();
                // A record cannot carry more bytes than the stream had.
                assert!(payload <= data.len());
                records.push(record);
            }
            Ok(None) => {
                // The end marker is sticky.
                assert!(matches!(reader.next_record(), Ok(None)));
                break;
            }
            Err(_) => break,
        }
    }
    // Write the records again and read them back.
    let mut stream = Vec::new();
    {
        let mut out = FlatOutput::new(&mut stream).expect("header");
        for record in &records {
            out.write_at(record.offset, &record.data)
                .expect("write record");
        }
        out.finish().expect("end marker");
    }
    let mut again = FlatReader::new(&stream[..], "again").expect("our header");
    for record in &records {
        let back = again
            .next_record()
            .expect("our record")
            .expect("not the end");
        assert_eq!(back.offset, record.offset);
        assert_eq!(back.data, record.data);
    }
    assert!(again.next_record().expect("our end marker").is_none());
});
