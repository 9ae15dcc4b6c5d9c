//! The Prometheus metrics as an operator sees them: `alys dev` scraped twice over HTTP a few
//! blocks apart (every metric of the catalog served, with its help and type, and the values
//! move: head, slots produced, import latency, RPC requests, aux work); the Grafana dashboard's
//! queries and the alert rules name only metrics of that catalog; the alert rules pass
//! `promtool check rules`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alys_metrics::catalog::{self, Kind};
use common::{require, JsonRpc, Tool};
use serde_json::{json, Value};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// One sample of a scrape: series name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A scrape: its samples and its `# HELP` / `# TYPE` lines.
struct Scrape {
    samples: Vec<Sample>,
    text: String,
}

impl Scrape {
    fn get(url: &str) -> Self {
        let response = reqwest::blocking::get(url).unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().unwrap();
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| parse_sample(l).unwrap_or_else(|| panic!("unparsable sample line {l:?}")))
            .collect();
        Self { samples, text }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

/// `name{k="v",…} value` or `name value`.
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect::<Option<Vec<_>>>()?;
            (name, labels)
        }
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The series names a series of `metric` shows up as in a scrape.
fn series_of(metric: &catalog::Metric) -> String {
    match metric.kind {
        Kind::Histogram => format!("{}_count", metric.name),
        _ => metric.name.to_string(),
    }
}

/// Every `alys_…` metric name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(at) = expr[i..].find("alys_") {
        let start = i + at;
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
        let end = start
            + bytes[start..]
                .iter()
                .position(|b| !ident(*b))
                .unwrap_or(bytes.len() - start);
        if start == 0 || !ident(bytes[start - 1]) {
            names.push(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

/// The names of `expr` that are not series of an exported metric.
fn unknown_metrics(expr: &str) -> Vec<String> {
    metric_names(expr)
        .into_iter()
        .filter(|n| catalog::metric_of_series(n).is_none())
        .collect()
}

#[test]
fn dev_chain_serves_every_metric_and_the_values_move() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = common::start_dev(dir.path(), &["--slot-ms", "1000", "--no-ui"]);
    let url = dev
        .metrics
        .clone()
        .expect("alys dev printed its metrics URL");
    let eth = JsonRpc::new(&dev.eth_rpc, None);
    dev.wait_for(Duration::from_secs(60), "block 1", |d| {
        let s = Scrape::get(d.metrics.as_deref().unwrap());
        (s.value(catalog::HEAD_HEIGHT, &[]) >= 1.0).then_some(())
    });
    let first = Scrape::get(&url);

    // Every metric of the catalog is served, described and typed.
    for metric in catalog::METRICS {
        assert!(
            first.has(&series_of(metric)),
            "{} missing from the scrape:\n{}",
            metric.name,
            first.text
        );
        assert!(
            first.text.contains(&format!("# HELP {} ", metric.name)),
            "no HELP for {}",
            metric.name
        );
        let kind = match metric.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        assert!(
            first
                .text
                .contains(&format!("# TYPE {} {kind}", metric.name)),
            "no TYPE {kind} for {}",
            metric.name
        );
    }
    // Nothing outside the catalog.
    for s in &first.samples {
        assert!(
            catalog::metric_of_series(&s.name).is_some(),
            "{} is served but not in the catalog",
            s.name
        );
    }
    assert_eq!(first.value(catalog::BUILD_INFO, &[]), 1.0);

    // RPC calls to count: node RPC (a known method, an unknown one) and eth RPC.
    dev.node("getheadblock", json!([])).unwrap();
    assert!(dev.node("nosuchmethod_x", json!([])).is_err());
    for _ in 0..3 {
        eth.call("eth_blockNumber", json!([])).unwrap();
    }
    assert!(eth.call("eth_nosuchmethod", json!([])).is_err());
    // Merged mining: work handed out, a proof for unknown work refused.
    let work = dev
        .node(
            "createauxblock",
            json!(["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]),
        )
        .unwrap();
    assert!(work["hash"].is_string(), "{work}");
    let unknown = "11".repeat(32);
    assert!(dev.node("submitauxblock", json!([unknown, "00"])).is_err());
    assert!(dev.node("submitauxblock", json!(["zz", "00"])).is_err());

    let head = first.value(catalog::HEAD_HEIGHT, &[]);
    dev.wait_for(Duration::from_secs(60), "3 more blocks", |d| {
        let s = Scrape::get(d.metrics.as_deref().unwrap());
        (s.value(catalog::HEAD_HEIGHT, &[]) >= head + 3.0).then_some(())
    });
    let second = Scrape::get(&url);
    let moved = |name: &str, labels: &[(&str, &str)]| {
        let (a, b) = (first.value(name, labels), second.value(name, labels));
        assert!(b > a, "{name}{labels:?} did not move: {a} then {b}");
    };
    moved(catalog::HEAD_HEIGHT, &[]);
    moved(catalog::HEAD_SLOT, &[]);
    moved(catalog::CURRENT_SLOT, &[]);
    moved(catalog::SLOTS_PRODUCED, &[(catalog::AUTHORITY, "0")]);
    moved(&format!("{}_count", catalog::BLOCK_IMPORT_DURATION), &[]);
    moved(catalog::APPROVALS, &[("result", "accepted")]);
    moved(catalog::AUX_WORK_SERVED, &[]);
    moved(
        catalog::NODE_RPC_REQUESTS,
        &[("method", "getheadblock"), ("status", "ok")],
    );
    moved(
        catalog::NODE_RPC_REQUESTS,
        &[("method", "other"), ("status", "error")],
    );
    moved(
        catalog::NODE_RPC_REQUESTS,
        &[("method", "createauxblock"), ("status", "ok")],
    );
    moved(catalog::AUX_WORK_REJECTED, &[("reason", "unknown_work")]);
    moved(catalog::AUX_WORK_REJECTED, &[("reason", "bad_hash")]);
    assert!(
        second.value(
            catalog::ETH_RPC_REQUESTS,
            &[("method", "eth_blockNumber"), ("status", "ok")]
        ) >= 3.0
    );
    assert!(
        second.value(
            catalog::ETH_RPC_REQUESTS,
            &[("method", "other"), ("status", "error")]
        ) >= 1.0
    );
    // The method label never carries a name the node does not serve.
    assert!(!second.text.contains("nosuchmethod"), "{}", second.text);
    // One authority: all approvals in the head, nothing missed while it runs.
    assert_eq!(second.value(catalog::HEAD_APPROVALS, &[]), 1.0);
    assert!(second.value(catalog::EXECUTION_CLIENT_UP, &[]) == 1.0);
    assert!(
        second.value(catalog::BITCOIN_NODE_HEIGHT, &[])
            >= second.value(catalog::BITCOIN_FOLLOWER_HEIGHT, &[])
    );
    assert!(second.value(catalog::POW_DIFFICULTY, &[]) > 0.0);
    assert!(
        second.value(catalog::FINALIZED_HEIGHT, &[]) <= second.value(catalog::HEAD_HEIGHT, &[])
    );
    dev.stop();
}

#[test]
fn every_dashboard_query_names_exported_metrics() {
    let path = repo_file("etc/grafana/dashboards/alys.json");
    let dashboard: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut panels: Vec<&Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    let mut queries = 0;
    let mut used = BTreeSet::new();
    while let Some(panel) = panels.pop() {
        if let Some(inner) = panel["panels"].as_array() {
            panels.extend(inner);
        }
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or("?");
        let targets = panel["targets"].as_array();
        assert!(
            targets.is_some_and(|t| !t.is_empty()),
            "panel {title:?} has no query"
        );
        for target in targets.unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names = metric_names(expr);
            assert!(
                !names.is_empty(),
                "panel {title:?}: {expr:?} names no metric"
            );
            assert_eq!(
                unknown_metrics(expr),
                Vec::<String>::new(),
                "panel {title:?}: {expr:?}"
            );
            used.extend(
                names
                    .iter()
                    .filter_map(|n| catalog::metric_of_series(n))
                    .map(|m| m.name),
            );
            queries += 1;
        }
    }
    assert!(queries >= 20, "only {queries} queries");
    // Every exported metric is on the dashboard.
    let missing: Vec<_> = catalog::METRICS
        .iter()
        .map(|m| m.name)
        .filter(|n| !used.contains(n))
        .collect();
    assert!(missing.is_empty(), "metrics on no panel: {missing:?}");
    // The panels use the provisioned datasource.
    let datasource = std::fs::read_to_string(repo_file(
        "etc/grafana/provisioning/datasources/prometheus.yml",
    ))
    .unwrap();
    assert!(datasource.contains("uid: alys-prometheus"));
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("\"uid\": \"alys-prometheus\""));
}

#[test]
fn the_query_check_finds_names_the_node_does_not_export() {
    assert_eq!(
        unknown_metrics("rate(alys_head_heigth[5m]) + alys_block_import_duration_seconds_bucket"),
        vec!["alys_head_heigth".to_string()]
    );
    assert_eq!(
        unknown_metrics("alys_head_height_count"),
        vec!["alys_head_height_count"]
    );
    assert_eq!(metric_names("x_alys_head_height"), Vec::<String>::new());
    assert_eq!(
        unknown_metrics("sum by (le) (alys_block_import_duration_seconds_sum)"),
        Vec::<String>::new()
    );
}

/// The `expr:` values of the alert rules file (each on one line).
fn alert_exprs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("expr:"))
        .map(|e| {
            let e = e.trim();
            assert!(
                !e.starts_with('|') && !e.starts_with('>') && !e.is_empty(),
                "keep each alert expr on one line: {e:?}"
            );
            e.to_string()
        })
        .collect()
}

#[test]
fn alert_rules_pass_promtool_and_name_exported_metrics() {
    let path = repo_file("etc/alerts.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let exprs = alert_exprs(&text);
    for expr in &exprs {
        assert!(!metric_names(expr).is_empty(), "{expr:?} names no metric");
        assert_eq!(unknown_metrics(expr), Vec::<String>::new(), "{expr:?}");
    }
    for alert in [
        "AlysProductionHalted",
        "AlysNoPowForManyBlocks",
        "AlysBitcoinFollowerLag",
        "AlysFewPeers",
        "AlysMissedSlots",
        "AlysPegInMintedWithoutConfirmation",
    ] {
        assert!(text.contains(&format!("alert: {alert}\n")), "no {alert}");
    }
    assert_eq!(exprs.len(), text.matches("- alert: ").count());
    let Some(promtool) = require(Tool::Promtool) else {
        return;
    };
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool check rules: {said}");
    assert!(
        said.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{said}"
    );
}

#[test]
fn promtool_refuses_a_broken_rule() {
    let Some(promtool) = require(Tool::Promtool) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: alys_head_height >\n",
    )
    .unwrap();
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn prometheus_config_scrapes_the_authorities_and_loads_the_alerts() {
    let text = std::fs::read_to_string(repo_file("etc/prometheus.yml")).unwrap();
    // Every authority service of the compose file is scraped on its metrics port.
    let compose = std::fs::read_to_string(repo_file("docker-compose.yml")).unwrap();
    let authorities: Vec<&str> = compose
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|name| name.starts_with("authority-") && !name.contains(' '))
        .collect();
    assert_eq!(authorities.len(), 3, "{authorities:?}");
    for name in authorities {
        let target = format!("{name}:9001");
        assert!(text.contains(&format!("- {target}")), "no {target}");
    }
    assert!(text.contains("#     - localhost:9001"));
    assert!(text.contains("/etc/prometheus/alerts.yml"));
    if let Some(promtool) = require(Tool::Promtool) {
        // promtool resolves rule_files relative to the config: check a copy next to the rules.
        let dir = tempfile::tempdir().unwrap();
        let config = text.replace("/etc/prometheus/alerts.yml", "alerts.yml");
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        std::fs::copy(repo_file("etc/alerts.yml"), dir.path().join("alerts.yml")).unwrap();
        let out = std::process::Command::new(promtool)
            .args(["check", "config"])
            .arg(dir.path().join("prometheus.yml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check config: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn no_metrics_serves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dev = common::start_dev(dir.path(), &["--no-metrics", "--no-ui", "--no-miner"]);
    assert_eq!(dev.metrics, None);
    assert!(!dev.log_text().contains("/metrics"), "{}", dev.log_text());
    dev.stop();
}

#[test]
fn node_refuses_to_start_when_its_metrics_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::alys())
        .arg("node")
        .arg("--chain")
        .arg(repo_file("etc/chain-dev.json"))
        .arg("--datadir")
        .arg(dir.path())
        .args(["--embedded-el", "--no-p2p", "--metrics-port", &port])
        .args(["--bitcoin-rpc-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!("binding the metrics server on 127.0.0.1:{port}")),
        "{said}"
    );
    assert!(said.contains("--metrics-port"), "{said}");
}
