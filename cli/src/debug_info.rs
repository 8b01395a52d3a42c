//! What makedumpfile prints first at message level 8 (`-D`): its version and command line.
//! The input's PT_LOAD table and VMCOREINFO lines follow, from the engine
//! (the engine prints them when the job opens the input).

use crate::messages::Messages;

/// Version and command line (makedumpfile prints them first at debug level).
pub fn print_invocation(messages: &Messages, args: &[String]) {
    messages.debug(&format!(
        "makedumpfile: version {} (makedumpfile-rs)\ncommand line: makedumpfile {} \n\n",
        env!("CARGO_PKG_VERSION"),
        args.join(" ")
    ));
}
