//! What a run shows while it works: a bar with rate and ETA on a terminal, a plain
//! line every few seconds otherwise (logs, CI), on stderr so that stdout stays the
//! summary (or its JSON).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Counter {
    pub done: AtomicU64,
}

/// Draws progress until the returned handle is stopped.
pub struct Progress {
    counter: Arc<Counter>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// `total`: the users (or consumers) to go through; `label`: what they are.
    pub fn start(total: u64, label: &'static str, quiet: bool) -> Self {
        let counter = Arc::new(Counter::default());
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let terminal = std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_some_and(|t| t != "dumb");
        let every = if terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        let c = counter.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
                if quiet {
                    continue;
                }
                let line = render(
                    c.done.load(Ordering::Relaxed),
                    total,
                    started.elapsed(),
                    label,
                    terminal,
                );
                let mut err = std::io::stderr().lock();
                let _ = if terminal {
                    write!(err, "\r\x1b[2K{line}")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
            }
            if terminal && !quiet {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
        });
        Progress {
            counter,
            stop,
            task,
        }
    }

    pub fn counter(&self) -> Arc<Counter> {
        self.counter.clone()
    }

    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn render(done: u64, total: u64, elapsed: Duration, label: &str, bar: bool) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let eta = if rate > 0.0 && total > done {
        format!("{:.0}s", (total - done) as f64 / rate)
    } else {
        "-".into()
    };
    let shown = if bar {
        let width = 30;
        let filled = (done.min(total) * width / total.max(1)) as usize;
        format!(
            "[{}{}] ",
            "#".repeat(filled),
            " ".repeat(width as usize - filled)
        )
    } else {
        String::new()
    };
    format!("{shown}{done}/{total} {label}, {rate:.1}/s, ETA {eta}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_count_rate_and_eta() {
        let line = render(500, 1000, Duration::from_secs(10), "users", false);
        assert_eq!(line, "500/1000 users, 50.0/s, ETA 10s");
        let bar = render(250, 1000, Duration::from_secs(5), "users", true);
        assert!(
            bar.starts_with("[#######                       ] 250/1000"),
            "{bar}"
        );
        assert!(render(0, 10, Duration::from_secs(1), "users", false).ends_with("ETA -"));
    }
}
