//! Backfill: make sure every user of an export that the hooks would provision has
//! their consumer, under exactly the name the hooks derive.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::provision::{Expect, Outcome};

use crate::journal::Journal;
use crate::pacer::Pacer;
use crate::progress::Counter;
use crate::readers::{ExportUser, ReadError, Users};
use crate::zuplo::Zuplo;

/// Time one user's calls may take, retries included.
const PER_USER: Duration = Duration::from_secs(30);
/// At most this many failures are listed in the summary (all are counted).
const LISTED_FAILURES: usize = 20;

pub struct Options {
    pub dry_run: bool,
    pub concurrency: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub users_read: u64,
    pub created: u64,
    pub existed: u64,
    /// Dry run: consumers that a real run would create.
    pub would_create: u64,
    /// By reason: users the hooks would not provision either.
    pub skipped: BTreeMap<String, u64>,
    /// Finished by an earlier run (from the journal).
    pub already_done: u64,
    pub failed: u64,
    pub failures: Vec<String>,
    pub interrupted: bool,
    pub seconds: f64,
}

enum Done {
    Created,
    Existed,
    WouldCreate,
}

pub async fn run(
    users: Users,
    zuplo: &Zuplo,
    pacer: Arc<Pacer>,
    mut journal: Option<Journal>,
    options: Options,
    counter: Arc<Counter>,
    mut cancel: watch::Receiver<bool>,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, Result<ExportUser, ReadError>)>(256);
    // The readers block on file reads: they run on a thread of their own.
    let reader = tokio::task::spawn_blocking(move || {
        for (index, user) in (0u64..).zip(users) {
            if tx.blocking_send((index, user)).is_err() {
                break;
            }
        }
    });
    let mut running: JoinSet<(u64, String, Result<Done, String>)> = JoinSet::new();
    let mut last_checkpoint = Instant::now();
    loop {
        if *cancel.borrow() {
            summary.interrupted = true;
            break;
        }
        // Keep `concurrency` calls in flight; collect finished ones as they come.
        while running.len() >= options.concurrency.max(1) {
            if let Some(Ok(finished)) = running.join_next().await {
                settle(finished, &mut summary, journal.as_mut(), &counter);
            }
        }
        let next = tokio::select! {
            next = rx.recv() => next,
            _ = cancel.changed() => continue,
        };
        let Some((index, user)) = next else { break };
        summary.users_read += 1;
        let user = match user {
            Ok(user) => user,
            Err(e) => {
                // Reported with its place in the file; what was read before it stands.
                summary.failed += 1;
                if summary.failures.len() < LISTED_FAILURES {
                    summary.failures.push(e.to_string());
                }
                if let Some(j) = journal.as_mut() {
                    let _ = j.finish(index, false);
                }
                counter.done.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if let Some(reason) = user.skip {
            *summary.skipped.entry(reason.to_owned()).or_default() += 1;
            if let Some(j) = journal.as_mut() {
                j.skip(index);
            }
            counter.done.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if journal.as_ref().is_some_and(|j| j.already_done(index)) {
            summary.already_done += 1;
            if let Some(j) = journal.as_mut() {
                j.skip(index);
            }
            counter.done.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let provisioner = zuplo.provisioner.clone();
        let (client, secrets) = (zuplo.client.clone(), zuplo.secrets.clone());
        let pacer = pacer.clone();
        let dry_run = options.dry_run;
        running.spawn(async move {
            let identity = user.identity;
            let name = identity.consumer_name().to_string();
            pacer.acquire().await;
            let deadline = Deadline::after(PER_USER);
            let result = if dry_run {
                match secrets.current(deadline).await {
                    Ok(lease) => client
                        .get_consumer(&lease.secrets.zuplo_api_key, &name, false, deadline)
                        .await
                        .map(|found| {
                            if found.is_some() {
                                Done::Existed
                            } else {
                                Done::WouldCreate
                            }
                        })
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            } else {
                provisioner
                    .ensure_consumer(&identity, Expect::NewUser, deadline)
                    .await
                    .map(|p| match p.outcome {
                        Outcome::Created => Done::Created,
                        Outcome::Reused | Outcome::Cached => Done::Existed,
                    })
                    .map_err(|e| e.to_string())
            };
            (index, name, result)
        });
        if last_checkpoint.elapsed() > Duration::from_secs(1) {
            if let Some(j) = journal.as_mut() {
                let _ = j.checkpoint();
            }
            last_checkpoint = Instant::now();
        }
    }
    // Stopped (or done reading): the calls in flight finish, and are journaled.
    drop(rx);
    while let Some(joined) = running.join_next().await {
        if let Ok(finished) = joined {
            settle(finished, &mut summary, journal.as_mut(), &counter);
        }
    }
    let _ = reader.await;
    if let Some(j) = journal.as_mut()
        && let Err(e) = j.checkpoint()
    {
        summary.failures.push(format!(
            "the journal {} could not be written: {e}",
            j.path().display()
        ));
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

fn settle(
    (index, name, result): (u64, String, Result<Done, String>),
    summary: &mut Summary,
    journal: Option<&mut Journal>,
    counter: &Counter,
) {
    counter.done.fetch_add(1, Ordering::Relaxed);
    let ok = result.is_ok();
    match result {
        Ok(Done::Created) => summary.created += 1,
        Ok(Done::Existed) => summary.existed += 1,
        Ok(Done::WouldCreate) => summary.would_create += 1,
        Err(e) => {
            summary.failed += 1;
            if summary.failures.len() < LISTED_FAILURES {
                summary.failures.push(format!("{name}: {e}"));
            }
        }
    }
    if let Some(j) = journal {
        // A journal that cannot be written only costs a repeat on resume.
        let _ = j.finish(index, ok);
    }
}
