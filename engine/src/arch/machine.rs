//! Which architecture dumped the vmcore: read from the input, never from the host, so
//! one binary handles every supported architecture on any host.
//!
//! An ELF vmcore names its machine in `e_machine`; a kdump-compressed dump in the
//! `machine` field of its header's utsname (makedumpfile copies the crashed kernel's
//! `init_uts_ns`). Anything else is refused when the input is opened, naming the file and
//! the field, because every later step (page size, translation, memory model) depends on
//! it.

use crate::error::{Error, ErrorKind, Result};

/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;

/// A supported architecture of the dumped kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86_64 (4 KiB pages, 4- or 5-level paging).
    X86_64,
    /// arm64 (4, 16 or 64 KiB pages, 2 to 5 levels).
    Aarch64,
}

/// Architectures Linux dumps that we recognise but do not support, by `e_machine`, so
/// the refusal names them.
const KNOWN_UNSUPPORTED: &[(u16, &str)] = &[
    (3, "i386"),
    (8, "mips"),
    (20, "ppc"),
    (21, "ppc64"),
    (22, "s390x"),
    (40, "arm"),
    (42, "sh"),
    (43, "sparc64"),
    (50, "ia64"),
    (243, "riscv64"),
    (258, "loongarch64"),
];

impl Arch {
    /// The architecture of an ELF vmcore's `e_machine`; `file` names the input in the
    /// error.
    pub fn from_e_machine(e_machine: u16, file: &str) -> Result<Self> {
        match e_machine {
            EM_X86_64 => Ok(Arch::X86_64),
            EM_AARCH64 => Ok(Arch::Aarch64),
            other => {
                let name = KNOWN_UNSUPPORTED
                    .iter()
                    .find(|(number, _)| *number == other)
                    .map_or("unknown", |(_, name)| name);
                Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{file}: e_machine {other} ({name}) is not supported (x86_64 and aarch64 are)"),
                ))
            }
        }
    }

    /// The architecture named by a kdump-compressed header's `utsname.machine`.
    pub fn from_uts_machine(machine: &str, file: &str) -> Result<Self> {
        match machine {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(Error::new(
                ErrorKind::Unsupported,
                format!("{file}: utsname.machine \"{other}\" is not supported (x86_64 and aarch64 are)"),
            )),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    /// The ELF `e_machine` value (for synthetic cores and `-E` checks).
    pub fn e_machine(self) -> u16 {
        match self {
            Arch::X86_64 => EM_X86_64,
            Arch::Aarch64 => EM_AARCH64,
        }
    }

    #[cfg(any(test, feature = "testing"))]
    /// The `utsname.machine` string the kernel reports.
    pub fn uts_machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_machine_round_trips_and_others_are_refused_by_name() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(Arch::from_e_machine(arch.e_machine(), "f").unwrap(), arch);
            assert_eq!(Arch::from_uts_machine(arch.uts_machine(), "f").unwrap(), arch);
        }
        let err = Arch::from_e_machine(21, "/tmp/vmcore").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(
            err.to_string()
                .contains("/tmp/vmcore: e_machine 21 (ppc64) is not supported"),
            "{err}"
        );
        assert!(Arch::from_e_machine(22, "f")
            .unwrap_err()
            .to_string()
            .contains("(s390x)"));
        assert!(Arch::from_e_machine(243, "f")
            .unwrap_err()
            .to_string()
            .contains("(riscv64)"));
        assert!(Arch::from_e_machine(9999, "f")
            .unwrap_err()
            .to_string()
            .contains("(unknown)"));
        let err = Arch::from_uts_machine("ppc64le", "dump").unwrap_err();
        assert!(err.to_string().contains("dump: utsname.machine \"ppc64le\""), "{err}");
    }
}
