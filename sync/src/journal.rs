//! Progress that survives an interruption: which users of an export are done.
//!
//! Users are numbered in export order. The journal keeps a watermark (every user
//! below it is done) and the failures below it; both take constant memory whatever the
//! export's size, unlike a set of names. A resumed run skips what is below the
//! watermark except the failures, which it tries again. Names are deterministic, so a
//! lost journal only costs a second pass of 409s.

use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    /// Every user with a lower index is done (or failed, and listed as such).
    DoneBelow(u64),
    Failed(u64),
    /// A failure of an earlier run that this run completed.
    Recovered(u64),
}

pub struct Journal {
    path: PathBuf,
    file: File,
    /// From earlier runs.
    resumed_below: u64,
    retry: HashSet<u64>,
    /// This run's watermark and the indices finished above it.
    done_below: u64,
    finished_above: BTreeSet<u64>,
}

impl Journal {
    /// Opens (or starts) the journal at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let (mut below, mut failed) = (0, HashSet::new());
        if let Ok(existing) = File::open(path) {
            for line in BufReader::new(existing).lines() {
                // A torn last line (the run was killed mid-write) is just skipped.
                match serde_json::from_str::<Line>(&line?) {
                    Ok(Line::DoneBelow(n)) => below = below.max(n),
                    Ok(Line::Failed(i)) => {
                        failed.insert(i);
                    }
                    Ok(Line::Recovered(i)) => {
                        failed.remove(&i);
                    }
                    Err(_) => {}
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            path: path.to_owned(),
            file,
            resumed_below: below,
            retry: failed,
            done_below: 0,
            finished_above: BTreeSet::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Users an earlier run finished: below its watermark and not failed.
    pub fn already_done(&self, index: u64) -> bool {
        index < self.resumed_below && !self.retry.contains(&index)
    }

    pub fn resumed_below(&self) -> u64 {
        self.resumed_below
    }

    /// Records that user `index` is finished (`ok` or failed); advances the watermark.
    pub fn finish(&mut self, index: u64, ok: bool) -> std::io::Result<()> {
        if !ok {
            self.write(&Line::Failed(index))?;
        } else if self.retry.remove(&index) {
            self.write(&Line::Recovered(index))?;
        }
        self.finished_above.insert(index);
        while self.finished_above.remove(&self.done_below) {
            self.done_below += 1;
        }
        Ok(())
    }

    /// Skipping a user an earlier run finished also moves the watermark.
    pub fn skip(&mut self, index: u64) {
        self.finished_above.insert(index);
        while self.finished_above.remove(&self.done_below) {
            self.done_below += 1;
        }
    }

    /// Writes the watermark (called periodically and at the end).
    pub fn checkpoint(&mut self) -> std::io::Result<()> {
        // A run stopped before it caught up with an earlier one writes a lower mark;
        // reading keeps the highest.
        self.write(&Line::DoneBelow(self.done_below))?;
        self.file.sync_data()
    }

    fn write(&mut self, line: &Line) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_run_skips_what_is_done_and_retries_failures() {
        let dir = std::env::temp_dir().join(format!("zas-journal-{}", std::process::id()));
        let path = dir.join("j.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut j = Journal::open(&path).unwrap();
        // Finished out of order, one failure, and user 5 still in flight when stopped.
        for (i, ok) in [
            (1, true),
            (0, true),
            (3, false),
            (2, true),
            (4, true),
            (6, true),
        ] {
            j.finish(i, ok).unwrap();
        }
        j.checkpoint().unwrap();
        drop(j);

        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.resumed_below(), 5);
        let done: Vec<u64> = (0..7).filter(|i| j.already_done(*i)).collect();
        assert_eq!(
            done,
            [0, 1, 2, 4],
            "3 failed, 5 was in flight, 6 is above the watermark"
        );
        for i in [0, 1, 2, 4] {
            j.skip(i);
        }
        for i in [3, 5, 6] {
            j.finish(i, true).unwrap();
        }
        j.checkpoint().unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.resumed_below(), 7);
        assert!(
            (0..7).all(|i| j.already_done(i)),
            "the failure was recovered"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
