//! The deployment files and the docs against the binaries: `docker-compose config` accepts
//! `docker-compose.yml`; its execution clients name each other by the enode URLs of their
//! committed node keys; every `alys` / `alys-miner` command written in the compose file, the
//! Dockerfile, `etc/`, `scripts/`, `README.md` and `docs/` names subcommands and flags the
//! binaries' clap definitions accept; the example configs load.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::CommandFactory;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn docker_compose_config_accepts_the_compose_file() {
    let out = Process::new("docker-compose")
        .args(["-f", "docker-compose.yml", "config", "--quiet"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "docker-compose not found ({e}): scripts/setup.sh installs Debian's docker-compose"
            )
        });
    assert!(
        out.status.success(),
        "docker-compose config refused docker-compose.yml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Geth variant is a profile of the same file.
    let out = Process::new("docker-compose")
        .args([
            "-f",
            "docker-compose.yml",
            "--profile",
            "geth",
            "config",
            "--services",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let services = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && services.contains("geth-0"),
        "{services}"
    );
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// A YAML string or list of strings as a list.
fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => s.split_whitespace().map(str::to_string).collect(),
        Yaml::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_compose_file_runs_three_authorities_each_with_its_own_reth() {
    let doc = compose();
    let services = doc["services"].as_hash().unwrap();
    let service = |name: &str| &doc["services"][name];
    let volume_sources = |name: &str| -> Vec<String> {
        strings(&service(name)["volumes"])
            .iter()
            .map(|v| v.split(':').next().unwrap().to_string())
            .collect()
    };
    for i in 0..3 {
        let authority = format!("authority-{i}");
        let command = strings(&service(&authority)["command"]);
        assert_eq!(strings(&service(&authority)["entrypoint"]), ["alys"]);
        assert_eq!(command[0], "node", "{authority}");
        let el = if i == 0 {
            "${ALYS_EL0:-reth-0}".to_string()
        } else {
            format!("reth-{i}")
        };
        assert!(
            command.contains(&format!("--engine-url=http://{el}:8551")),
            "{command:?}"
        );
        assert!(command.contains(&format!("--signer-key=/federation/authority-{i}.key")));
        assert!(command.contains(&"--jwt-secret=/federation/jwt.hex".to_string()));
        assert!(strings(&service(&authority)["expose"]).contains(&"9001".to_string()));
        let reth = strings(&service(&format!("reth-{i}"))["command"]);
        assert!(reth.contains(&"--authrpc.jwtsecret=/federation/jwt.hex".to_string()));
        assert!(reth.contains(&"--chain=/federation/genesis.json".to_string()));
    }
    for name in [
        "bitcoind",
        "miner",
        "prometheus",
        "grafana",
        "init",
        "geth-0",
    ] {
        assert!(
            services.contains_key(&Yaml::String(name.into())),
            "no service {name}"
        );
    }
    assert_eq!(strings(&service("miner")["entrypoint"]), ["alys-miner"]);
    // The monitoring files, mounted where Prometheus and Grafana read them.
    let prometheus = volume_sources("prometheus");
    assert!(
        prometheus.contains(&"./etc/prometheus.yml".to_string()),
        "{prometheus:?}"
    );
    assert!(
        prometheus.contains(&"./etc/alerts.yml".to_string()),
        "{prometheus:?}"
    );
    let grafana = volume_sources("grafana");
    assert!(
        grafana.contains(&"./etc/grafana/provisioning".to_string()),
        "{grafana:?}"
    );
    assert!(
        grafana.contains(&"./etc/grafana/dashboards".to_string()),
        "{grafana:?}"
    );
}

/// A service's command as shell words: list items and multi-line scripts alike.
fn command_words(service: &Yaml) -> Vec<String> {
    strings(&service["command"])
        .join(" ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The value of `--flag=value` or `--flag value` in a command.
fn flag_value<'a>(command: &'a [String], flag: &str) -> Option<&'a str> {
    command.iter().enumerate().find_map(|(i, word)| {
        if word == flag {
            command.get(i + 1).map(String::as_str)
        } else {
            word.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// The checkout's file behind a path inside a service's container (its `./…` bind mounts).
fn host_path(service: &Yaml, container_path: &str) -> PathBuf {
    for volume in strings(&service["volumes"]) {
        let mut parts = volume.split(':');
        let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(rest) = container_path.strip_prefix(target) else {
            continue;
        };
        if source.starts_with("./") && (rest.is_empty() || rest.starts_with('/')) {
            return root().join(source).join(rest.trim_start_matches('/'));
        }
    }
    panic!("{container_path} is not mounted from the checkout")
}

/// The devp2p node id of a secret key file: the secp256k1 public key, uncompressed, without
/// its 0x04 prefix, in hex.
fn enode_id(key_file: &Path) -> String {
    let text = std::fs::read_to_string(key_file).unwrap();
    // Reth parses the file as it is: 64 hex digits, no 0x, no newline.
    assert!(
        text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: not 64 hex digits",
        key_file.display()
    );
    let key =
        alloy::signers::k256::ecdsa::SigningKey::from_slice(&hex::decode(&text).unwrap()).unwrap();
    let public = key.verifying_key().to_encoded_point(false);
    hex::encode(&public.as_bytes()[1..])
}

#[test]
fn the_execution_clients_peer_by_the_enode_urls_of_their_committed_keys() {
    let doc = compose();
    let service = |name: &str| &doc["services"][name];
    // The enode URL of an EL: the id of the key file its command names, its fixed address on
    // the compose network, its devp2p port.
    let enode = |name: &str, key_flag: &str| -> String {
        let command = command_words(service(name));
        let key = flag_value(&command, key_flag).unwrap_or_else(|| panic!("{name}: no {key_flag}"));
        let address = service(name)["networks"]["alys"]["ipv4_address"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no fixed address"));
        let port = flag_value(&command, "--port").unwrap_or_else(|| panic!("{name}: no --port"));
        format!(
            "enode://{}@{address}:{port}",
            enode_id(&host_path(service(name), key))
        )
    };
    let reth: Vec<String> = (0..3)
        .map(|i| enode(&format!("reth-{i}"), "--p2p-secret-key"))
        .collect();
    let geth = enode("geth-0", "--nodekey");
    let mut ids: Vec<&str> = reth
        .iter()
        .chain([&geth])
        .filter_map(|url| url.split('@').next())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "two ELs share a node key: {reth:?} {geth}");
    let sorted = |mut urls: Vec<String>| {
        urls.sort();
        urls
    };
    // Each Reth: discovery off, exactly the other two as trusted peers.
    for (i, own) in reth.iter().enumerate() {
        let name = format!("reth-{i}");
        let command = command_words(service(&name));
        assert!(
            command.contains(&"--disable-discovery".to_string()),
            "{name}"
        );
        let peers = flag_value(&command, "--trusted-peers")
            .unwrap_or_else(|| panic!("{name}: no --trusted-peers"))
            .split(',')
            .map(str::to_string)
            .collect();
        let others = reth.iter().filter(|url| *url != own).cloned().collect();
        assert_eq!(sorted(peers), sorted(others), "{name}");
    }
    // Geth (profile `geth`, authority 0): discovery off, reth-1 and reth-2 as static peers of
    // its config file, enough peer slots to dial them, the chain id as network id.
    let command = command_words(service("geth-0"));
    assert!(command.contains(&"--nodiscover".to_string()));
    let config = host_path(service("geth-0"), flag_value(&command, "--config").unwrap());
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let static_nodes: Vec<String> = config["Node"]["P2P"]["StaticNodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap().to_string())
        .collect();
    assert_eq!(sorted(static_nodes.clone()), sorted(reth[1..].to_vec()));
    // Geth dials at most a third of --maxpeers, static peers included.
    let max_peers: usize = flag_value(&command, "--maxpeers").unwrap().parse().unwrap();
    assert!(
        max_peers >= 3 * static_nodes.len(),
        "--maxpeers {max_peers}"
    );
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("etc/chain-3-authorities.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        flag_value(&command, "--networkid").unwrap(),
        spec["chainId"].to_string()
    );
}

/// The clap definition of a binary by name.
fn definition(binary: &str) -> clap::Command {
    match binary {
        "alys" => alys::command(),
        _ => alys_miner::cli::MinerArgs::command(),
    }
}

/// The binary a shell word runs, if any: `alys`, `./target/release/alys`, `"$ALYS_BIN"`.
fn binary_of(word: &str) -> Option<&'static str> {
    let name = word.rsplit('/').next().unwrap_or(word);
    match name {
        "alys" | "$ALYS_BIN" | "${ALYS_BIN}" => Some("alys"),
        "alys-miner" | "$ALYS_MINER_BIN" | "${ALYS_MINER_BIN}" => Some("alys-miner"),
        _ => None,
    }
}

/// Words that end a command in shell text.
fn ends_command(word: &str) -> bool {
    const ENDS: &[&str] = &[
        "|", "||", "&&", ";", "&", "#", ">", "2>&1", "<", "$(", ")", "`",
    ];
    ENDS.contains(&word) || word.starts_with('>') || word.starts_with('#') || word.starts_with("2>")
}

/// Whether a word after `previous` is in command position (what a shell or a reader runs).
fn starts_command(previous: Option<&str>) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    [
        "|",
        "||",
        "&&",
        ";",
        "$(",
        "`",
        "(",
        "#",
        "$",
        "exec",
        "sudo",
        "time",
        "nohup",
        "then",
        "do",
        "else",
        "RUN",
        "ENTRYPOINT",
        "CMD",
    ]
    .contains(&previous)
        || previous.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
}

/// The commands (binary and its words) found in shell-like `text`: lines joined at trailing
/// backslashes; a command starts at a binary's name in command position (first word, after
/// `|`, `&&`, `;`, `$(`, a backquote, `#`, `exec`, an environment assignment…), so prose and
/// `cargo build -p alys` are not commands.
fn commands_in(text: &str) -> Vec<(&'static str, Vec<String>)> {
    let joined = text.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let spaced = line
            .replace("$(", " $( ")
            .replace('`', " ` ")
            .replace(';', " ; ");
        let raw: Vec<&str> = spaced.split_whitespace().collect();
        let words: Vec<String> = raw
            .iter()
            .map(|w| w.trim_matches(|c| "[]\"',(){}".contains(c)).to_string())
            .collect();
        for (i, word) in words.iter().enumerate() {
            let Some(binary) = binary_of(word) else {
                continue;
            };
            if !starts_command(i.checked_sub(1).map(|p| raw[p])) {
                continue;
            }
            let rest: Vec<String> = words[i + 1..]
                .iter()
                .take_while(|w| !ends_command(w))
                .cloned()
                .collect();
            found.push((binary, rest));
        }
    }
    found
}

/// Checks one command line against the binary's clap definition: each leading word that
/// names a subcommand descends into it, and every `--flag` must be a long flag of the
/// (sub)command reached. Values are not checked (docs write placeholders such as `<file>`).
fn check_command(binary: &str, words: &[String]) -> Result<(), String> {
    let mut cmd = definition(binary);
    let mut path = vec![binary.to_string()];
    let mut words = words.iter().peekable();
    while let Some(word) = words.peek() {
        match cmd.find_subcommand(word.as_str()) {
            Some(sub) if !word.starts_with('-') => {
                path.push(word.to_string());
                cmd = sub.clone();
                words.next();
            }
            _ => break,
        }
    }
    if path.len() == 1 && binary == "alys" {
        if let Some(word) = words.peek() {
            if !word.starts_with('-') && !word.starts_with('<') && !word.starts_with('$') {
                return Err(format!("`alys {word}`: no such subcommand"));
            }
        }
    }
    for word in words {
        let Some(flag) = word.strip_prefix("--") else {
            continue;
        };
        let flag = flag.split('=').next().unwrap_or_default();
        if flag.is_empty() || flag.contains('…') || flag.contains('<') {
            continue;
        }
        let known = flag == "help"
            || flag == "version"
            || cmd.get_arguments().any(|a| a.get_long() == Some(flag));
        if !known {
            return Err(format!("`{}`: no flag --{flag}", path.join(" ")));
        }
    }
    Ok(())
}

/// Shell-like text of a Markdown file: its fenced code blocks (but data formats) and its
/// inline code spans that start with a binary's name.
fn markdown_commands(text: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<bool> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(
                    ![
                        "json", "rust", "mermaid", "yaml", "ts", "js", "solidity", "python",
                    ]
                    .contains(&lang.trim()),
                ),
            };
            continue;
        }
        match fence {
            Some(true) => {
                out.push_str(line);
                out.push('\n');
            }
            Some(false) => {}
            None => {
                for (i, span) in line.split('`').enumerate() {
                    let first = span.split_whitespace().next().unwrap_or_default();
                    if i % 2 == 1 && binary_of(first).is_some() {
                        out.push_str(span);
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

/// Every place that writes an `alys`/`alys-miner` command, with the commands in it.
fn command_sources() -> Vec<(PathBuf, String)> {
    let root = root();
    let mut sources = Vec::new();
    let listing = |dir: &Path, ext: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        files
    };
    let mut markdown = listing(&root.join("docs"), "md");
    markdown.push(root.join("README.md"));
    markdown.push(root.join("etc/README.md"));
    for path in markdown {
        let text = std::fs::read_to_string(&path).unwrap();
        sources.push((path, markdown_commands(&text)));
    }
    let mut shell = listing(&root.join("scripts"), "sh");
    shell.extend(listing(&root.join("etc"), "toml"));
    shell.push(root.join("etc/Dockerfile"));
    for path in shell {
        let text = std::fs::read_to_string(&path).unwrap();
        sources.push((path, text));
    }
    // The compose file: each service's entrypoint and command as one command line.
    let doc = compose();
    for (name, service) in doc["services"].as_hash().unwrap() {
        let mut words = strings(&service["entrypoint"]);
        words.extend(strings(&service["command"]));
        // Compose writes `$$` for a literal `$`.
        let text = words.join(" ").replace("$$", "$");
        let label = root.join(format!(
            "docker-compose.yml#{}",
            name.as_str().unwrap_or("")
        ));
        sources.push((label, text));
    }
    sources
}

#[test]
fn every_alys_command_in_the_deployment_files_and_docs_is_accepted() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for (path, text) in command_sources() {
        for (binary, words) in commands_in(&text) {
            checked += 1;
            if let Err(e) = check_command(binary, &words) {
                errors.push(format!(
                    "{}: {e}\n    {binary} {}",
                    path.display(),
                    words.join(" ")
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} refused:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(checked > 40, "only {checked} commands found");
    println!("{checked} alys/alys-miner command lines checked");
}

#[test]
fn the_checker_refuses_unknown_flags_and_subcommands() {
    let bad = [
        (
            "alys node --chain c.json --no-such-flag",
            "no flag --no-such-flag",
        ),
        ("alys nod --chain c.json", "no such subcommand"),
        (
            "alys chain export-genesis --chain c.json --formt geth",
            "no flag --formt",
        ),
        ("alys-miner --url http://x --adress 0x0", "no flag --adress"),
        ("alys dev --signer-key k", "no flag --signer-key"),
        // A value that looks like the binary does not end the command.
        ("alys node --datadir /var/lib/alys --bad", "no flag --bad"),
    ];
    for (line, says) in bad {
        let commands = commands_in(line);
        assert_eq!(commands.len(), 1, "{line}");
        let (binary, words) = &commands[0];
        let err = check_command(binary, words).unwrap_err();
        assert!(err.contains(says), "{line}: {err}");
    }
    // Flag values naming the binary, and the binary's own flags, are not commands.
    assert!(commands_in("cargo build -p alys --bin alys").is_empty());
    let ok = commands_in("ALYS=1 \"$ALYS_BIN\" keys dev --index 0 --out k > /dev/null");
    assert_eq!(ok.len(), 1);
    check_command(ok[0].0, &ok[0].1).unwrap();
}

#[test]
fn the_example_configs_load_into_the_binary() {
    for file in ["etc/alys.toml", "etc/full-node.toml"] {
        let path = root().join(file);
        let cli = alys::Cli::try_parse_args([
            "alys".as_ref(),
            "node".as_ref(),
            "--config".as_ref(),
            path.as_os_str(),
        ]);
        assert!(cli.is_ok(), "{file}: {}", cli.unwrap_err());
        // Every key of the file really is a flag (nothing silently ignored).
        let table = alys::config_file::read_table(&path).unwrap();
        let node = alys::command();
        let node = node.find_subcommand("node").unwrap();
        for key in table.keys() {
            assert!(
                alys::config_file::settable_arg(node, key).is_some(),
                "{file}: {key}"
            );
        }
    }
}

#[test]
fn the_binary_runs_a_full_node_from_the_example_config() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain.json");
    let spec = alys_primitives::ChainSpec::dev(1).unwrap();
    std::fs::write(&chain, spec.to_json_pretty()).unwrap();
    // The example as shipped, with only the host-specific paths and ports overridden.
    let mut node = alys_test_utils::process::LoggedProcess::spawn(
        "alys node",
        env!("CARGO_BIN_EXE_alys"),
        [
            "node".as_ref(),
            "--config".as_ref(),
            root().join("etc/full-node.toml").as_os_str(),
            "--chain".as_ref(),
            chain.as_os_str(),
            "--datadir".as_ref(),
            dir.path().join("data").as_os_str(),
            "--http-port".as_ref(),
            "0".as_ref(),
            "--authrpc-port".as_ref(),
            "0".as_ref(),
            "--p2p-port".as_ref(),
            "0".as_ref(),
            "--metrics-port".as_ref(),
            "0".as_ref(),
        ],
        &dir.path().join("node.log"),
    );
    node.wait_for_line(std::time::Duration::from_secs(60), "full node", |line| {
        line.contains("full node (no signer key)").then_some(())
    });
    let log = node.log_text();
    assert!(log.contains("config file"), "{log}");
    assert!(
        log.contains("peg-ins trusted on threshold approvals"),
        "{log}"
    );
    // What the dashboard shows is there for `curl <metrics URL>`.
    let metrics = node
        .printed_url("metrics")
        .unwrap_or_else(|| node.wait_for_url("metrics", std::time::Duration::from_secs(30)));
    let text = reqwest::blocking::get(&metrics).unwrap().text().unwrap();
    for name in [
        "alys_head_height",
        "alys_finalized_height",
        "alys_build_info",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    node.kill();
}
