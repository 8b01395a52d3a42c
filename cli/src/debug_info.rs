//! What makedumpfile prints at message level 8 (`-D`) about its input before working:
//! the PT_LOAD table and the VMCOREINFO lines, each indented by two spaces. openSUSE's
//! kdump-save parses OSRELEASE and CRASHTIME out of exactly this stderr text
//! (`makedumpfile -F --message-level 8 --dump-dmesg /proc/vmcore`), so the layout follows
//! makedumpfile's (`dump_Elf_load`, `read_vmcoreinfo_basic_info`).

use engine::input::elf::ElfVmcore;
use engine::input::PhysicalMemory;

use crate::messages::Messages;

/// Version and command line (makedumpfile prints them first at debug level).
pub fn print_invocation(messages: &Messages, args: &[String]) {
    messages.debug(&format!(
        "makedumpfile: version {} (makedumpfile-rs)\ncommand line: makedumpfile {} \n\n",
        env!("CARGO_PKG_VERSION"),
        args.join(" ")
    ));
}

/// The PT_LOADs and VMCOREINFO of an ELF vmcore.
pub fn print_vmcore(messages: &Messages, vmcore: &ElfVmcore) {
    let mut text = format!(
        "{:8} {:>16} {:>16} {:>16} {:>16}\n",
        "", "phys_start", "phys_end", "virt_start", "virt_end"
    );
    for (i, load) in vmcore.loads().iter().enumerate() {
        let virt_end = load
            .virt_start
            .wrapping_add(load.phys_end - load.phys_start);
        text += &format!(
            "LOAD[{i:2}] {:>16x} {:>16x} {:>16x} {:>16x}\n",
            load.phys_start, load.phys_end, load.virt_start, virt_end
        );
    }
    text += "Linux kdump\n";
    if let Some(info) = vmcore.vmcoreinfo() {
        text += "VMCOREINFO   :\n";
        let raw = info.raw();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        for line in String::from_utf8_lossy(&raw[..end]).lines() {
            text += &format!("  {line}\n");
            if line.starts_with("PAGESIZE=") {
                text += &format!("page_size    : {}\n", vmcore.page_size());
            }
        }
        text += "\n";
    }
    messages.debug(&text);
}
