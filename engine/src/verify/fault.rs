//! The first thing found wrong in a dump: which file, which field, where.

use std::fmt;

use crate::error::Error;

/// One fault: enough for a user to find the broken bytes with a hex editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The file, as given.
    pub file: String,
    /// The field or region at fault ("header status", "page descriptor", "2nd bitmap"…).
    pub field: String,
    /// The page frame concerned, when the fault is one page's.
    pub pfn: Option<u64>,
    /// The file offset of the faulty bytes, when one is known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub detail: String,
}

impl Fault {
    /// A fault of `field` in `file`.
    pub fn new(file: &str, field: &str, detail: impl Into<String>) -> Self {
        Fault {
            file: file.to_string(),
            field: field.to_string(),
            pfn: None,
            offset: None,
            detail: detail.into(),
        }
    }

    /// A fault from an engine error about `file` (its message often starts with the
    /// file name already: that prefix is dropped).
    pub(crate) fn from_error(file: &str, field: &str, error: &Error) -> Self {
        let text = error.to_string();
        let prefix = format!("{file}: ");
        let detail = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
        Fault::new(file, field, detail)
    }

    /// A read that failed at the operating-system level.
    pub(crate) fn io(file: &str, field: &str, error: &std::io::Error) -> Self {
        Fault::new(file, field, format!("cannot be read: {error}"))
    }

    /// The same fault, located at file offset `offset`.
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The same fault, about page frame `pfn`.
    pub fn at_pfn(mut self, pfn: u64) -> Self {
        self.pfn = Some(pfn);
        self
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.field)?;
        if let Some(pfn) = self.pfn {
            write!(f, " of pfn {pfn:#x}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset:#x}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_field_pfn_and_offset() {
        let fault = Fault::new("dump", "page descriptor", "size 0")
            .at_pfn(0x12)
            .at_offset(0x3000);
        assert_eq!(
            fault.to_string(),
            "dump: page descriptor of pfn 0x12 at offset 0x3000: size 0"
        );
        let plain = Fault::from_error("dump", "layout", &Error::invalid("dump: 2nd bitmap short"));
        assert_eq!(plain.to_string(), "dump: layout: 2nd bitmap short");
    }
}
