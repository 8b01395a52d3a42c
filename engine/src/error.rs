//! The one error type of the engine.
//!
//! Every error names what was being read or written (a file, a field, a pfn) so that the
//! CLI can print a message a kdump user can act on. The CLI maps [`ErrorKind`] to
//! makedumpfile's exit codes in one place.

use std::fmt;
use std::io;

/// What went wrong, coarsely: enough for the CLI to choose an exit status and for tests
/// to assert on the class of failure without matching message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not what it claims to be (bad magic, bad field, truncated).
    InvalidInput,
    /// Reading the input failed at the operating-system level.
    Read,
    /// Writing the output failed at the operating-system level (other than no space).
    Write,
    /// The output device is full, or the `-L` limit was reached.
    NoSpace,
    /// The command line or the configuration is not valid.
    InvalidArgument,
    /// The output file exists and `-f` was not given.
    OutputExists,
    /// A feature that is recognised but not implemented for this input.
    Unsupported,
    /// The OSRELEASE of a `-i` VMCOREINFO file differs from the vmcore (exit 2 in makedumpfile).
    OsReleaseMismatch,
    /// An internal invariant broke (a bug); reported, never a panic.
    Internal,
}

/// An engine error: a kind plus a message that names the file and field concerned.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a message and no underlying OS error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by an OS error; ENOSPC and EDQUOT become [`ErrorKind::NoSpace`].
    pub fn io(kind: ErrorKind, message: impl Into<String>, source: io::Error) -> Self {
        let kind = match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorKind::NoSpace,
            _ => kind,
        };
        Error {
            kind,
            message: message.into(),
            source: Some(source),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the OS error text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefix the message with more context (e.g. the file name), keeping kind and source.
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            // Like C's strerror, as makedumpfile prints: without Rust's " (os error N)".
            Some(source) => {
                let text = source.to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                write!(f, "{}. {}", self.message, text)
            }
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_no_space_whatever_the_caller_said() {
        let e = Error::io(
            ErrorKind::Write,
            "write x",
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(e.kind(), ErrorKind::NoSpace);
        let e = Error::io(
            ErrorKind::Write,
            "write x",
            io::Error::from_raw_os_error(libc::EIO),
        );
        assert_eq!(e.kind(), ErrorKind::Write);
    }

    #[test]
    fn display_includes_context_and_os_error() {
        let e = Error::io(
            ErrorKind::Read,
            "read y",
            io::Error::from_raw_os_error(libc::EIO),
        )
        .context("vmcore");
        let text = e.to_string();
        assert!(text.starts_with("vmcore: read y. "), "{text}");
    }
}
