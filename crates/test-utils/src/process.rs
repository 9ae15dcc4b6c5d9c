//! A child process whose output is kept: stdout and stderr are appended to a log file (across
//! restarts) and each line is handed to the test as it is printed, so a test waits for the
//! line that announces a bound address instead of guessing a port.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child with its output captured.
pub struct LoggedProcess {
    /// What it is, for messages (e.g. `alys dev`).
    pub name: String,
    /// The process.
    pub child: Child,
    /// Its output (this and earlier runs appending to the same file).
    pub log: PathBuf,
    lines: Receiver<String>,
    /// The lines this run printed and [`LoggedProcess::wait_for_line`] has read.
    printed: Vec<String>,
}

impl LoggedProcess {
    /// Spawns `program args` (with `NO_COLOR=1` and `RUST_LOG=info` unless set), appending its
    /// output to `log`.
    pub fn spawn<S: AsRef<OsStr>>(
        name: &str,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = S>,
        log: &Path,
    ) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let mut command = Command::new(program);
        command
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let file = Arc::new(Mutex::new(file));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        copy_lines(stdout, file.clone(), tx.clone());
        copy_lines(stderr, file, tx);
        Self {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            lines,
            printed: Vec::new(),
        }
    }

    /// Waits until this run prints a line for which `matches` gives `Some`; panics with the log
    /// tail when `timeout` passes or the process exits first.
    pub fn wait_for_line<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut matches: impl FnMut(&str) -> Option<T>,
    ) -> T {
        if let Some(v) = self.printed.iter().find_map(|l| matches(l.as_str())) {
            return v;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = matches(&line);
                    self.printed.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} printed no {what} within {timeout:?}:\n{}",
                    self.name,
                    self.log_tail(40)
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{} exited ({status:?}) before printing {what}:\n{}",
                        self.name,
                        self.log_tail(40)
                    )
                }
            }
        }
    }

    /// Waits for the first line of this run that starts with `label` (after indentation) and
    /// holds an `http://` URL; returns the URL.
    pub fn wait_for_url(&mut self, label: &str, timeout: Duration) -> String {
        self.wait_for_line(timeout, &format!("`{label}` URL"), |l| url_after(l, label))
    }

    /// The URL of a line starting with `label` among the lines read so far.
    pub fn printed_url(&self, label: &str) -> Option<String> {
        self.printed.iter().find_map(|l| url_after(l, label))
    }

    /// The process's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The whole log (this and earlier runs on the same file).
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).to_string()
    }

    /// The last `n` lines of the log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Stops the process with SIGINT, as Ctrl-C; panics if it does not exit within `timeout`.
    pub fn interrupt(&mut self, timeout: Duration) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGINT within {timeout:?}:\n{}",
                self.name,
                self.log_tail(40)
            );
            std::thread::sleep(crate::wait::POLL);
        }
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LoggedProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `http://` URL of `line` when it starts with `label` (after indentation).
pub fn url_after(line: &str, label: &str) -> Option<String> {
    line.trim_start()
        .starts_with(label)
        .then(|| line.split_whitespace().find(|w| w.starts_with("http://")))
        .flatten()
        .map(|w| w.trim_end_matches([',', ')', ';']).to_string())
}

/// Copies `from` line by line into `log` and `tx`, on a thread of its own.
fn copy_lines(from: impl Read + Send + 'static, log: Arc<Mutex<File>>, tx: Sender<String>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            if let Ok(mut f) = log.lock() {
                let _ = f.write_all(&buf);
                if !buf.ends_with(b"\n") {
                    let _ = f.write_all(b"\n");
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).trim_end().to_string());
            buf.clear();
        }
    });
}
