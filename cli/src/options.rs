//! Command-line parsing, stage one: exactly what was typed, getopt_long style.
//!
//! makedumpfile uses `getopt_long(argc, argv, "b:cDd:eEFfg:hi:lL:pRvXx:z", longopts)`:
//! short options cluster (`-cf`), a short option's argument may be attached (`-d31`) or
//! separate (`-d 31`), long options take `--opt VALUE` or `--opt=VALUE`, options and
//! operands may be interleaved (GNU permutation) and `--` ends option parsing. Values are
//! parsed with atoi semantics where makedumpfile uses atoi (leading digits, else 0).

use crate::option_table::{find_long, find_short};

/// One parsed option occurrence: its canonical name (`"d"`, `"num-threads"`) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    /// Short letter or long name.
    pub name: String,
    /// The argument, for options that take one.
    pub value: Option<String>,
}

/// Everything on the command line, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawArgs {
    /// Options in the order given.
    pub options: Vec<RawOption>,
    /// Operands (VMCORE, DUMPFILE, ...).
    pub operands: Vec<String>,
}

/// Why the command line could not be split into options and operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Split `args` (without the program name).
pub fn parse(args: &[String]) -> Result<RawArgs, ParseError> {
    let mut raw = RawArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            raw.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let spec = match find_long(name) {
                Ok(Some(spec)) => spec,
                Ok(None) => return Err(ParseError(format!("unrecognized option '--{name}'"))),
                Err(()) => return Err(ParseError(format!("option '--{name}' is ambiguous"))),
            };
            let (canonical, takes_arg) = (spec.long.unwrap_or(name), spec.takes_arg());
            let value = if takes_arg {
                match attached {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => {
                        return Err(ParseError(format!(
                            "option '--{canonical}' requires an argument"
                        )))
                    }
                }
            } else if attached.is_some() {
                return Err(ParseError(format!(
                    "option '--{canonical}' doesn't allow an argument"
                )));
            } else {
                None
            };
            raw.options.push(RawOption {
                name: canonical.to_string(),
                value,
            });
        } else if arg.len() > 1 && arg.starts_with('-') {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let Some(spec) = find_short(c) else {
                    return Err(ParseError(format!("invalid option -- '{c}'")));
                };
                if spec.takes_arg() {
                    let rest: String = chars[j..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(ParseError(format!("option requires an argument -- '{c}'")));
                    };
                    raw.options.push(RawOption {
                        name: c.to_string(),
                        value: Some(value),
                    });
                    break;
                } else {
                    raw.options.push(RawOption {
                        name: c.to_string(),
                        value: None,
                    });
                }
            }
        } else {
            raw.operands.push(arg.clone());
        }
    }
    Ok(raw)
}

/// C `atoi`: optional whitespace and sign, then leading digits; anything else gives 0.
pub fn atoi(text: &str) -> i64 {
    let t = text.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map(|v| sign * v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> RawArgs {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn names(raw: &RawArgs) -> Vec<(String, Option<String>)> {
        raw.options
            .iter()
            .map(|o| (o.name.clone(), o.value.clone()))
            .collect()
    }

    #[test]
    fn distribution_command_lines_parse() {
        let fedora = p(&[
            "-l",
            "--message-level",
            "7",
            "-d",
            "31",
            "/proc/vmcore",
            "vmcore-incomplete",
        ]);
        assert_eq!(
            names(&fedora),
            vec![
                ("l".into(), None),
                ("message-level".into(), Some("7".into())),
                ("d".into(), Some("31".into()))
            ]
        );
        assert_eq!(fedora.operands, vec!["/proc/vmcore", "vmcore-incomplete"]);
        let debian = p(&["-F", "-c", "-d", "31", "/proc/vmcore"]);
        assert_eq!(debian.operands, vec!["/proc/vmcore"]);
        let threads = p(&["--num-threads=4", "-cd31", "a", "b"]);
        assert_eq!(
            names(&threads),
            vec![
                ("num-threads".into(), Some("4".into())),
                ("c".into(), None),
                ("d".into(), Some("31".into()))
            ]
        );
    }

    #[test]
    fn operands_may_come_first_and_double_dash_ends_options() {
        let raw = p(&["in", "-c", "out", "--", "-weird"]);
        assert_eq!(raw.operands, vec!["in", "out", "-weird"]);
    }

    #[test]
    fn unknown_and_incomplete_options_are_errors() {
        for bad in [
            &["-Q"][..],
            &["--bogus"],
            &["-d"],
            &["--message-level"],
            &["--help=x"],
        ] {
            let args: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(parse(&args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn long_option_prefixes_resolve_when_unambiguous() {
        assert_eq!(
            names(&p(&["--num-t", "2"])),
            vec![("num-threads".into(), Some("2".into()))]
        );
        let args: Vec<String> = ["--d"].iter().map(|s| s.to_string()).collect();
        assert!(
            parse(&args).is_err(),
            "--d is ambiguous (dump-dmesg, diskset, dry-run)"
        );
    }

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi("31"), 31);
        assert_eq!(atoi(" -2x"), -2);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("+7"), 7);
    }
}
