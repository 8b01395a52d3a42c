//! makedumpfile's message levels and streams (print_info.h).
//!
//! Bits of `--message-level`: 1 progress, 2 common, 4 error, 8 debug, 16 report; default 7.
//! Common, debug and report messages go to stdout, or to stderr with `-F` (stdout then
//! carries the dump). Errors and progress always go to stderr.

use std::io::Write;

/// Progress indicator.
pub const ML_PRINT_PROGRESS: u8 = 0x01;
/// Common messages ("The dumpfile is saved to ...", the final banner).
pub const ML_PRINT_COMMON_MSG: u8 = 0x02;
/// Error messages.
pub const ML_PRINT_ERROR_MSG: u8 = 0x04;
/// Debug messages.
pub const ML_PRINT_DEBUG_MSG: u8 = 0x08;
/// Report messages (statistics).
pub const ML_PRINT_REPORT_MSG: u8 = 0x10;
/// makedumpfile's default level.
pub const DEFAULT_MSG_LEVEL: u8 = ML_PRINT_PROGRESS | ML_PRINT_COMMON_MSG | ML_PRINT_ERROR_MSG;

/// Where and whether messages are printed.
#[derive(Debug, Clone, Copy)]
pub struct Messages {
    level: u8,
    to_stderr: bool,
}

impl Default for Messages {
    fn default() -> Self {
        Messages {
            level: DEFAULT_MSG_LEVEL,
            to_stderr: false,
        }
    }
}

impl Messages {
    /// Messages at `level`, common ones on stderr when `flatten`.
    pub fn new(level: u8, flatten: bool) -> Self {
        Messages {
            level,
            to_stderr: flatten,
        }
    }

    /// The level in force.
    pub fn level(&self) -> u8 {
        self.level
    }

    fn common_stream(&self, text: &str) {
        // A closed stdout/stderr (e.g. `| head`) must not turn into a panic.
        if self.to_stderr {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    /// A common message (MSG).
    pub fn common(&self, text: &str) {
        if self.level & ML_PRINT_COMMON_MSG != 0 {
            self.common_stream(text);
        }
    }

    /// An error message (ERRMSG), always to stderr.
    pub fn error(&self, text: &str) {
        if self.level & ML_PRINT_ERROR_MSG != 0 {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }

    /// A debug message (DEBUG_MSG).
    pub fn debug(&self, text: &str) {
        if self.level & ML_PRINT_DEBUG_MSG != 0 {
            self.common_stream(text);
        }
    }

    /// A report message (REPORT_MSG).
    pub fn report(&self, text: &str) {
        if self.level & ML_PRINT_REPORT_MSG != 0 {
            self.common_stream(text);
        }
    }

    /// Whether report messages are printed.
    pub fn reports(&self) -> bool {
        self.level & ML_PRINT_REPORT_MSG != 0
    }
}
