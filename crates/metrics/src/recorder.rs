//! The process-wide Prometheus recorder: installed once by the binary, with every metric of
//! the catalog described and registered at zero.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::catalog::{self, Kind, Label, AUTHORITY};

/// Buckets of the import-duration histogram, in seconds (a slot is 1 s or more).
const IMPORT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often recorded histogram samples are folded into their buckets between scrapes (keeps
/// the samples buffered in memory bounded).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The exporter refused a setting.
    #[error("metrics exporter: {0}")]
    Build(#[from] metrics_exporter_prometheus::BuildError),
    /// Another recorder is already installed in this process.
    #[error("a metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

/// Renders the current values as Prometheus text.
#[derive(Clone, Debug)]
pub struct MetricsHandle {
    pub(crate) inner: PrometheusHandle,
}

impl MetricsHandle {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.inner.render()
    }
}

/// Installs the Prometheus recorder for this process and registers every metric of
/// [`catalog::METRICS`] at zero, the `authority` label with the values `0..authorities`.
/// Must run inside a Tokio runtime (it spawns the histogram upkeep task).
pub fn install(authorities: usize) -> Result<MetricsHandle, InstallError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(catalog::BLOCK_IMPORT_DURATION.to_string()),
            IMPORT_BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| InstallError::AlreadyInstalled)?;
    describe_and_register(authorities);
    metrics::gauge!(catalog::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP_INTERVAL).await;
            upkeep.run_upkeep();
        }
    });
    Ok(MetricsHandle { inner: handle })
}

fn describe_and_register(authorities: usize) {
    let authority_values: Vec<String> = (0..authorities).map(|i| i.to_string()).collect();
    for m in catalog::METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
        for labels in label_sets(m.labels, &authority_values) {
            match m.kind {
                Kind::Counter => drop(metrics::counter!(m.name, &labels)),
                Kind::Gauge => drop(metrics::gauge!(m.name, &labels)),
                Kind::Histogram => drop(metrics::histogram!(m.name, &labels)),
            }
        }
    }
}

/// Every combination of the labels' initial values.
fn label_sets(labels: &[Label], authorities: &[String]) -> Vec<Vec<(&'static str, String)>> {
    let mut sets = vec![Vec::new()];
    for label in labels {
        let values: Vec<String> = if label.name == AUTHORITY {
            authorities.to_vec()
        } else {
            label.initial.iter().map(|v| v.to_string()).collect()
        };
        sets = sets
            .into_iter()
            .flat_map(|set| {
                values.iter().map(move |v| {
                    let mut s = set.clone();
                    s.push((label.name, v.clone()));
                    s
                })
            })
            .collect();
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_are_the_cross_product() {
        let labels = [
            Label {
                name: "method",
                initial: &["a", "b"],
            },
            Label {
                name: AUTHORITY,
                initial: &[],
            },
        ];
        let sets = label_sets(&labels, &["0".into(), "1".into(), "2".into()]);
        assert_eq!(sets.len(), 6);
        assert_eq!(
            sets[5],
            vec![("method", "b".into()), (AUTHORITY, "2".into())]
        );
        assert_eq!(label_sets(&[], &[]), vec![Vec::new()]);
    }
}
