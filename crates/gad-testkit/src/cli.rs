//! The `--name value` arguments of the bench and probe binaries in `src/bin/`.

/// The value after `name` in `args`, or `default` when the flag is absent.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    value(args, name).unwrap_or_else(|| default.to_string())
}

/// The value after `name` in `args`; panics with the flag's name when it is absent (these are
/// operator tools: a missing flag ends the run with a clear message).
pub fn required_arg(args: &[String], name: &str) -> String {
    value(args, name).unwrap_or_else(|| panic!("missing {name}"))
}

fn value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
