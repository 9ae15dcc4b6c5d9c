//! The TOML config file of `alys node` and `alys dev`: values applied, the command line and
//! the environment override it, unknown keys and wrong types refused with the key and the file
//! named, and every flag of both commands settable from a file (read from clap's definition).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use alys::config_file::{matches_with_config, ConfigError};
use alys::CliError;
use clap::{parser::ValueSource, ArgAction, ArgMatches};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Held while a test parses or changes the environment: clap reads the flags' environment
/// variables, and one test sets one.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn parse(args: &[&str]) -> Result<ArgMatches, CliError> {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    parse_unlocked(args)
}

fn parse_unlocked(args: &[&str]) -> Result<ArgMatches, CliError> {
    matches_with_config(
        alys::command(),
        std::iter::once("alys").chain(args.iter().copied()),
    )
}

fn sub<'m>(m: &'m ArgMatches, name: &str) -> &'m ArgMatches {
    m.subcommand_matches(name).unwrap()
}

fn raw(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_raw(id)
        .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

const NODE_FILE: &str = r#"
chain = "/etc/alys/chain.json"
embedded-el = true
rpc-port = 3100
bootnodes = ["/ip4/10.0.0.1/tcp/55444", "/ip4/10.0.0.2/tcp/55444"]
max-peers = 7
no-p2p = false
"#;

#[test]
fn file_values_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "node.toml", NODE_FILE);
    let m = parse(&["node", "--config", file.to_str().unwrap()]).unwrap();
    let node = sub(&m, "node");
    assert_eq!(raw(node, "chain"), ["/etc/alys/chain.json"]);
    assert!(node.get_flag("embedded_el"));
    assert_eq!(node.get_one::<u16>("rpc_port"), Some(&3100));
    assert_eq!(
        raw(node, "bootnodes"),
        ["/ip4/10.0.0.1/tcp/55444", "/ip4/10.0.0.2/tcp/55444"]
    );
    assert_eq!(node.get_one::<u32>("max_peers"), Some(&7));
    assert!(!node.get_flag("no_p2p"), "false leaves a switch off");
    // Untouched flags keep their defaults.
    assert_eq!(
        node.value_source("http_port"),
        Some(ValueSource::DefaultValue)
    );
    // The file makes a complete command: it parses into the binary's own type.
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    alys::Cli::try_parse_args(["alys", "node", "--config", file.to_str().unwrap()]).unwrap();
}

#[test]
fn the_command_line_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "node.toml", NODE_FILE);
    let f = file.to_str().unwrap();
    // Before or after --config, a flag on the command line wins; a list replaces the file's.
    for args in [
        vec![
            "node",
            "--rpc-port",
            "4000",
            "--config",
            f,
            "--bootnodes",
            "/ip4/10.0.0.9/tcp/1",
        ],
        vec![
            "node",
            "--config",
            f,
            "--rpc-port=4000",
            "--bootnodes=/ip4/10.0.0.9/tcp/1",
        ],
    ] {
        let m = parse(&args).unwrap();
        let node = sub(&m, "node");
        assert_eq!(node.get_one::<u16>("rpc_port"), Some(&4000), "{args:?}");
        assert_eq!(raw(node, "bootnodes"), ["/ip4/10.0.0.9/tcp/1"], "{args:?}");
        assert_eq!(node.get_one::<u32>("max_peers"), Some(&7), "{args:?}");
    }
    // `alys dev` too, with a switch and the file named by ALYS_CONFIG's flag.
    let dev = write(dir.path(), "dev.toml", "authorities = 3\nno-miner = true\n");
    let m = parse(&[
        "dev",
        "--authorities",
        "2",
        "--config",
        dev.to_str().unwrap(),
    ])
    .unwrap();
    let d = sub(&m, "dev");
    assert_eq!(d.get_one::<usize>("authorities"), Some(&2));
    assert!(d.get_flag("no_miner"));
}

#[test]
fn the_environment_overrides_the_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "node.toml",
        "chain = \"c.json\"\nembedded-el = true\nrpc-port = 3100\nbitcoin-rpc-password = \"from-file\"\n",
    );
    let alys = env!("CARGO_BIN_EXE_alys");
    // The binary prints the config file it runs with, then fails on the missing chain spec:
    // the file was found through ALYS_CONFIG and its password overridden by the environment.
    let out = Process::new(alys)
        .args(["node", "--datadir"])
        .arg(dir.path().join("data"))
        .env("ALYS_CONFIG", &file)
        .env("ALYS_BITCOIN_RPC_PASSWORD", "from-env")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains(&format!("config file {}", file.display())),
        "{stdout}"
    );
    assert!(stderr.contains("c.json"), "{stderr}");
    assert!(!out.status.success());

    // In-process: the environment beats the file (command line > environment > file).
    let m = {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: every test of this binary that reads the environment holds `ENV`.
        unsafe { std::env::set_var("ALYS_BITCOIN_RPC_PASSWORD", "from-env") };
        let m = parse_unlocked(&["node", "--config", file.to_str().unwrap()]);
        unsafe { std::env::remove_var("ALYS_BITCOIN_RPC_PASSWORD") };
        m.unwrap()
    };
    let node = sub(&m, "node");
    assert_eq!(raw(node, "bitcoin_rpc_password"), ["from-env"]);
    assert_eq!(
        node.value_source("bitcoin_rpc_password"),
        Some(ValueSource::EnvVariable)
    );
}

#[test]
fn an_unknown_key_is_refused_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "node.toml",
        "chain = \"c.json\"\nrpc-prot = 3000\n",
    );
    let err = parse(&["node", "--config", file.to_str().unwrap()]).unwrap_err();
    assert!(
        matches!(&err, CliError::Config(ConfigError::UnknownKey { key, .. }) if key == "rpc-prot"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("rpc-prot") && msg.contains(&file.display().to_string()),
        "{msg}"
    );
    // A flag of `alys dev` only is unknown to `alys node`, and snake_case is not a flag name.
    for text in [
        "authorities = 3\n",
        "rpc_port = 3000\n",
        "config = \"other.toml\"\n",
    ] {
        let file = write(dir.path(), "other.toml", text);
        let err = parse(&["node", "--config", file.to_str().unwrap()]).unwrap_err();
        assert!(matches!(err, CliError::Config(_)), "{text}: {err:?}");
    }
}

#[test]
fn a_wrong_type_is_refused_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key, says) in [
        ("rpc-port = \"three thousand\"", "rpc-port", "invalid digit"),
        ("rpc-port = 70000", "rpc-port", "70000"),
        ("rpc-port = true", "rpc-port", "true"),
        ("embedded-el = \"yes\"", "embedded-el", "true or false"),
        ("embedded-el = 1", "embedded-el", "true or false"),
        ("chain = [\"a.json\", \"b.json\"]", "chain", "one value"),
        (
            "chain = { path = \"a.json\" }",
            "chain",
            "string or a number",
        ),
        (
            "bootnodes = [\"not a multiaddr\"]",
            "bootnodes",
            "not a multiaddr",
        ),
        ("miner-address = \"0x12\"", "miner-address", "0x12"),
    ] {
        let file = write(dir.path(), "node.toml", text);
        let err = parse(&["node", "--config", file.to_str().unwrap()]).unwrap_err();
        let CliError::Config(ConfigError::WrongValue { key: k, .. }) = &err else {
            panic!("{text}: {err:?}");
        };
        assert_eq!(k, key, "{text}");
        let msg = err.to_string();
        assert!(
            msg.contains(says) && msg.contains(&file.display().to_string()),
            "{text}: {msg}"
        );
    }
    let file = write(dir.path(), "bad.toml", "chain = \"a.json\n");
    let err = parse(&["node", "--config", file.to_str().unwrap()]).unwrap_err();
    assert!(
        matches!(err, CliError::Config(ConfigError::Syntax { .. })),
        "{err:?}"
    );
    let err = parse(&["node", "--config", "/nonexistent/alys.toml"]).unwrap_err();
    assert!(
        matches!(err, CliError::Config(ConfigError::Read { .. })),
        "{err:?}"
    );
}

#[test]
fn the_binary_refuses_a_bad_file_with_a_message_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "node.toml", "rpc-port = \"x\"\n");
    let out = Process::new(env!("CARGO_BIN_EXE_alys"))
        .args(["node", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("key `rpc-port`") && stderr.contains(&file.display().to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Candidate values for a flag without a default, tried in order with the flag's own parser.
const CANDIDATES: &[&str] = &[
    "1",
    "127.0.0.1",
    "/ip4/127.0.0.1/tcp/1",
    "0x00000000000000000000000000000000000a1b5e",
    "http://127.0.0.1:1",
];

/// A value `arg` accepts: its default, its first possible value, or the first candidate its
/// value parser takes.
fn sample_value(cmd: &clap::Command, arg: &clap::Arg) -> toml::Value {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return toml::Value::Boolean(true);
    }
    let accepts = |text: &str| {
        clap::Command::new("probe")
            .no_binary_name(true)
            .arg(
                clap::Arg::new("v")
                    .value_parser(arg.get_value_parser().clone())
                    .allow_hyphen_values(true),
            )
            .try_get_matches_from([text])
            .is_ok()
    };
    let text = arg
        .get_possible_values()
        .first()
        .map(|p| p.get_name().to_string())
        .or_else(|| {
            CANDIDATES
                .iter()
                .find(|c| accepts(c))
                .map(|c| c.to_string())
        })
        .or_else(|| {
            arg.get_default_values()
                .first()
                .map(|d| d.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "no sample value for --{:?} of {}",
                arg.get_long(),
                cmd.get_name()
            )
        });
    if arg.get_action().takes_values() && matches!(arg.get_action(), ArgAction::Append) {
        toml::Value::Array(vec![toml::Value::String(text)])
    } else {
        toml::Value::String(text)
    }
}

#[test]
fn every_flag_of_node_and_dev_can_be_set_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cli = alys::command();
    for name in ["node", "dev"] {
        let cmd = cli.find_subcommand(name).unwrap();
        let flags: Vec<&clap::Arg> = cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some_and(|l| l != "config"))
            .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
            .collect();
        assert!(flags.len() > 20, "{name}: {} flags", flags.len());
        // Flags that conflict cannot share a file: split them into files without conflicts.
        let mut files: Vec<Vec<&clap::Arg>> = Vec::new();
        for arg in &flags {
            let conflicts = cmd.get_arg_conflicts_with(arg);
            let fits = |file: &Vec<&clap::Arg>| {
                !file.iter().any(|other| {
                    conflicts.iter().any(|c| c.get_id() == other.get_id())
                        || cmd
                            .get_arg_conflicts_with(other)
                            .iter()
                            .any(|c| c.get_id() == arg.get_id())
                })
            };
            match files.iter_mut().find(|f| fits(f)) {
                Some(file) => file.push(arg),
                None => files.push(vec![arg]),
            }
        }
        let mut covered = 0;
        for (i, file) in files.iter().enumerate() {
            let mut table = toml::Table::new();
            for arg in file {
                table.insert(arg.get_long().unwrap().to_string(), sample_value(cmd, arg));
            }
            if name == "node" && !table.contains_key("chain") {
                table.insert("chain".into(), "chain.json".into());
            }
            let path = write(dir.path(), &format!("{name}-{i}.toml"), &table.to_string());
            let m = parse(&[name, "--config", path.to_str().unwrap()])
                .unwrap_or_else(|e| panic!("{name}: {}\n{e}", table));
            let sub = sub(&m, name);
            for arg in file {
                let id = arg.get_id().as_str();
                // A flag whose variable is set where the tests run takes it from there.
                if arg.get_env().is_some_and(|v| std::env::var_os(v).is_some()) {
                    assert_eq!(sub.value_source(id), Some(ValueSource::EnvVariable));
                    covered += 1;
                    continue;
                }
                assert_eq!(
                    sub.value_source(id),
                    Some(ValueSource::CommandLine),
                    "{name} --{}: not set from the file",
                    arg.get_long().unwrap()
                );
                if arg.get_action().takes_values() {
                    let want: Vec<String> = match &table[arg.get_long().unwrap()] {
                        toml::Value::Array(items) => items
                            .iter()
                            .map(|v| v.as_str().unwrap().to_string())
                            .collect(),
                        v => vec![v.as_str().unwrap().to_string()],
                    };
                    assert_eq!(raw(sub, id), want, "{name} --{}", arg.get_long().unwrap());
                }
                covered += 1;
            }
        }
        assert_eq!(covered, flags.len(), "{name}");
        println!("{name}: {covered} flags set from {} files", files.len());
    }
}
