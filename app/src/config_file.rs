//! The TOML config file of `alys node` and `alys dev` (`--config <file>` or `ALYS_CONFIG`).
//!
//! Built from clap's own definition of the command, so every flag (and any flag added later)
//! can be set from the file with nothing to maintain here: a key is a flag's long name
//! (`rpc-port = 3000`), a list is a repeated flag (`bootnodes = ["/ip4/…", "/ip4/…"]`), a
//! switch is a boolean (`embedded-el = true`). Each value is checked with the flag's own value
//! parser; an unknown key or a value of the wrong type is an error naming the key and the file.
//!
//! The file's entries become command-line arguments inserted right after the subcommand, less
//! those whose flag the command line or its environment variable already sets, so the order of
//! precedence is: command line, environment, file, default. A list given on the command line
//! replaces the file's list (it is not appended to it).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The flag that names the config file (on `alys node` and `alys dev`).
pub const CONFIG_FLAG: &str = "config";

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column included).
        message: String,
    },
    /// A key that names no flag of the command.
    #[error("config file {}: unknown key `{key}`: `alys {command}` has no flag --{key}", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The subcommand the file was given to.
        command: String,
    },
    /// A value the flag does not accept.
    #[error("config file {}: key `{key}`: {reason}", path.display())]
    WrongValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
}

/// Parses `args` (program name first) against `cli`, merging in the config file named by the
/// chosen subcommand's `--config` flag (or its environment variable), if it has one.
pub fn matches_with_config<I, T>(cli: Command, args: I) -> Result<ArgMatches, crate::CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some((at, from_file)) = config_args(&cli, &args)? {
        args.splice(at..at, from_file);
    }
    Ok(cli.try_get_matches_from(args)?)
}

/// Where to insert the config file's arguments into `args`, and the arguments; `None` when
/// the subcommand has no `--config` flag or none is given. A first, lenient pass finds the
/// subcommand, the file and what the command line and environment set; any error in it is
/// left for the real pass to report.
fn config_args(
    cli: &Command,
    args: &[OsString],
) -> Result<Option<(usize, Vec<OsString>)>, ConfigError> {
    let Ok(probe) = cli.clone().ignore_errors(true).try_get_matches_from(args) else {
        return Ok(None);
    };
    let Some((name, sub)) = probe.subcommand() else {
        return Ok(None);
    };
    let (Ok(Some(path)), Some(sub_cmd)) = (
        sub.try_get_one::<PathBuf>(CONFIG_FLAG),
        cli.find_subcommand(name),
    ) else {
        return Ok(None);
    };
    let table = read_table(path)?;
    let set_outside_file = |id: &str| {
        matches!(
            sub.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let from_file = file_args(sub_cmd, &table, path, set_outside_file)?;
    // Right after the subcommand's name: the command line's own flags come later and win.
    let at = args
        .iter()
        .skip(1)
        .position(|a| a == OsStr::new(name))
        .map_or(args.len(), |i| i + 2);
    Ok(Some((at, from_file)))
}

/// Reads and parses a config file into its top-level table.
pub fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
}

/// The command-line arguments that `table` stands for in `command` (one subcommand's clap
/// definition), leaving out the flags for which `skip(id)` holds. `path` names the file in
/// errors.
pub fn file_args(
    command: &Command,
    table: &toml::Table,
    path: &Path,
    skip: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::new();
    for (key, value) in table {
        let wrong = |reason: String| ConfigError::WrongValue {
            path: path.to_path_buf(),
            key: key.clone(),
            reason,
        };
        let arg = settable_arg(command, key).ok_or_else(|| ConfigError::UnknownKey {
            path: path.to_path_buf(),
            key: key.clone(),
            command: command.get_name().to_string(),
        })?;
        if key == CONFIG_FLAG {
            return Err(wrong(
                "a config file cannot name another config file".into(),
            ));
        }
        if skip(arg.get_id().as_str()) {
            continue;
        }
        let flag = format!("--{key}");
        match arg.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => {
                let on = value
                    .as_bool()
                    .ok_or_else(|| wrong(format!("expected true or false, found {value}")))?;
                // A switch is present when it should take its non-default value.
                if on == matches!(arg.get_action(), ArgAction::SetTrue) {
                    out.push(flag.into());
                }
            }
            ArgAction::Count => {
                let n = value
                    .as_integer()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| wrong(format!("expected a count (0, 1, …), found {value}")))?;
                out.extend((0..n).map(|_| OsString::from(&flag)));
            }
            ArgAction::Set | ArgAction::Append => {
                let values = match value {
                    toml::Value::Array(items) => {
                        if !takes_many(arg) {
                            return Err(wrong(format!(
                                "--{key} takes one value, found a list {value}"
                            )));
                        }
                        items.iter().collect()
                    }
                    _ => vec![value],
                };
                let mut texts = Vec::with_capacity(values.len());
                for item in values {
                    let text = scalar_text(item).ok_or_else(|| {
                        wrong(format!("expected a string or a number, found {item}"))
                    })?;
                    check_value(arg, &text).map_err(wrong)?;
                    texts.push(text);
                }
                if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                    // Several values of one occurrence: `--range 1 5`.
                    out.push(flag.into());
                    out.extend(texts.into_iter().map(OsString::from));
                } else {
                    // One occurrence per value: `--rpc-port=3000`, `--bootnodes=a --bootnodes=b`.
                    out.extend(texts.iter().map(|t| OsString::from(format!("{flag}={t}"))));
                }
            }
            _ => {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                    command: command.get_name().to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// The flag a config key sets: a long flag of the command that takes a value or is a switch
/// (not `--help`/`--version`).
pub fn settable_arg<'c>(command: &'c Command, key: &str) -> Option<&'c Arg> {
    command.get_arguments().find(|a| {
        a.get_long() == Some(key)
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

/// Whether the flag may be given several values (repeated, or a list per occurrence).
fn takes_many(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// A TOML scalar as the text a command line would carry.
fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Runs the flag's own value parser (and possible values) on `text`; the error is clap's
/// message, naming the flag.
fn check_value(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = Arg::new(arg.get_id().clone())
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Set)
        .allow_hyphen_values(true);
    Command::new("config")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([text])
        .map(|_| ())
        .map_err(|e| {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            // clap names the probe by its id; name the flag instead.
            let flag = arg.get_long().unwrap_or_default();
            match message.find(" for '") {
                Some(i) => match message[i + 6..].find('\'') {
                    Some(j) => format!("{} for --{flag}{}", &message[..i], &message[i + 7 + j..]),
                    None => message.to_string(),
                },
                None => message.to_string(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command with every kind of flag the file maps: switches both ways, a counter, a
    /// repeatable flag, a flag taking two values at once, a plain value.
    fn command() -> Command {
        Command::new("t")
            .arg(Arg::new("on").long("on").action(ArgAction::SetTrue))
            .arg(Arg::new("off").long("off").action(ArgAction::SetFalse))
            .arg(Arg::new("verbose").long("verbose").action(ArgAction::Count))
            .arg(Arg::new("peer").long("peer").action(ArgAction::Append))
            .arg(
                Arg::new("range")
                    .long("range")
                    .num_args(2)
                    .value_parser(clap::value_parser!(u32)),
            )
            .arg(
                Arg::new("port")
                    .long("port")
                    .value_parser(clap::value_parser!(u16)),
            )
    }

    fn args(text: &str) -> Result<Vec<String>, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        file_args(&command(), &table, Path::new("t.toml"), |_| false).map(|v| {
            v.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn each_kind_of_flag_becomes_its_arguments() {
        let out = args(
            "on = true\noff = false\nverbose = 2\npeer = [\"a\", \"b\"]\nrange = [1, 5]\nport = 80\n",
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "--off",
                "--on",
                "--peer=a",
                "--peer=b",
                "--port=80",
                "--range",
                "1",
                "5",
                "--verbose",
                "--verbose"
            ]
        );
        let m = command()
            .no_binary_name(true)
            .try_get_matches_from(&out)
            .unwrap();
        assert!(m.get_flag("on"));
        assert!(!m.get_flag("off"));
        assert_eq!(m.get_count("verbose"), 2);
        let range: Vec<u32> = m.get_many("range").unwrap().copied().collect();
        assert_eq!(range, [1, 5]);
        // Switches at their defaults add nothing.
        assert!(args("on = false\noff = true\nverbose = 0\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("verbose = -1", "verbose"),
            ("verbose = true", "verbose"),
            ("port = [1, 2]", "port"),
            ("range = [1, \"x\"]", "range"),
            ("port = 1.5", "port"),
            ("peer = [[\"a\"]]", "peer"),
        ] {
            match args(text) {
                Err(ConfigError::WrongValue { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            args("help = true"),
            Err(ConfigError::UnknownKey { .. })
        ));
    }
}
