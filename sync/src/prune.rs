//! Prune: delete the consumers of users who are gone, computed from the provider's
//! own user list, with every safety a deletion of many things deserves:
//!
//! 1. list our consumers for the provider (`managedBy` and `provider` tags, paged);
//! 2. take away every user the export still holds (a soft-deleted Supabase user
//!    counts as gone);
//! 3. leave out consumers created after the export was taken (their users are simply
//!    not in it yet), and any whose name does not follow from its own metadata;
//! 4. refuse more than `--max-delete`, or more than a tenth of the listed consumers,
//!    without `--force` (exports are known to come out short);
//! 5. delete only with `--apply`, each through the same core operation the deletion
//!    routes use (owner check, tag guard, 404 counts as done).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::providers::deletion::Deletion;
use zuplo_auth_hooks::provision::{Identity, MANAGED_BY_TAG, PROVIDER_TAG, Removed};

pub use zuplo_auth_hooks::time::parse_rfc3339;

use crate::pacer::Pacer;
use crate::progress::Counter;
use crate::readers::{Source, Users};
use crate::zuplo::Zuplo;

const PAGE: u32 = 1000;
const PER_CALL: Duration = Duration::from_secs(30);

pub struct Options {
    pub apply: bool,
    pub max_delete: u64,
    pub force: bool,
    /// When the export was taken.
    pub as_of: SystemTime,
    /// Clocks differ between Zuplo and the export's source: a consumer created this
    /// close before the export is left alone too.
    pub clock_skew: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub name: String,
    pub user_id: String,
    pub tenant: Option<String>,
    pub created_on: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub users_read: u64,
    pub consumers_listed: u64,
    pub candidates: Vec<Candidate>,
    /// Not deleted: created after (or just before) the export was taken.
    pub left_young: u64,
    /// Not deleted: its name does not follow from its metadata (another namespace).
    pub left_mismatched: u64,
    /// Why the plan was not applied, when it was refused.
    pub refused: Option<String>,
    pub applied: bool,
    pub deleted: u64,
    pub absent: u64,
    pub not_ours: u64,
    pub failed: u64,
    pub failures: Vec<String>,
    pub seconds: f64,
}

struct Listed {
    user_id: String,
    tenant: Option<String>,
    created_on: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("listing consumers failed: {0}")]
    List(String),
    #[error("the export could not be read, so nothing is deleted: {0}")]
    Export(String),
}

pub async fn run(
    source: &Source,
    users: Users,
    zuplo: &Zuplo,
    pacer: Arc<Pacer>,
    options: Options,
    counter: Arc<Counter>,
) -> Result<Summary, PruneError> {
    let started = std::time::Instant::now();
    let mut summary = Summary::default();
    let provider = source.provider().name();

    // 1. Every consumer of ours for this provider, before anything is deleted (offset
    //    paging shifts under deletions).
    let mut listed: HashMap<String, Listed> = HashMap::new();
    let mut offset = 0u64;
    loop {
        pacer.acquire().await;
        let deadline = Deadline::after(PER_CALL);
        let lease = zuplo
            .secrets
            .current(deadline)
            .await
            .map_err(|e| PruneError::List(e.to_string()))?;
        let page = zuplo
            .client
            .list_consumers(
                &lease.secrets.zuplo_api_key,
                &[MANAGED_BY_TAG, (PROVIDER_TAG, provider)],
                PAGE,
                offset,
                deadline,
            )
            .await
            .map_err(|e| PruneError::List(e.to_string()))?;
        let n = page.data.len() as u64;
        for consumer in page.data {
            // How Zuplo combines tag filters is undocumented: check them here too.
            let tags = consumer.tags.unwrap_or_default();
            let ours = tags.get(MANAGED_BY_TAG.0).map(String::as_str) == Some(MANAGED_BY_TAG.1)
                && tags.get(PROVIDER_TAG).map(String::as_str) == Some(provider);
            let meta = consumer.metadata.unwrap_or_default();
            let Some(user_id) = meta.get("userId").and_then(|v| v.as_str()).filter(|_| ours) else {
                continue;
            };
            listed.insert(
                consumer.name,
                Listed {
                    user_id: user_id.to_owned(),
                    tenant: meta
                        .get("tenant")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                    created_on: consumer.created_on,
                },
            );
        }
        if n < u64::from(PAGE) {
            break;
        }
        offset += n;
    }
    summary.consumers_listed = listed.len() as u64;

    // 2. Take away every user who still exists (the map is what is left).
    let counted = counter.clone();
    let (listed, users_read) = tokio::task::spawn_blocking(move || {
        let mut listed = listed;
        let mut read = 0u64;
        for user in users {
            // A broken export must never drive deletions: stop at the first error.
            let user = user.map_err(|e| e.to_string())?;
            read += 1;
            counted.done.fetch_add(1, Ordering::Relaxed);
            if user.skip != Some("deleted") {
                listed.remove(user.identity.consumer_name().as_str());
            }
        }
        Ok::<_, String>((listed, read))
    })
    .await
    .map_err(|e| PruneError::Export(e.to_string()))?
    .map_err(PruneError::Export)?;
    summary.users_read = users_read;

    // 3. Leave out the young and the mismatched.
    let cutoff = options
        .as_of
        .checked_sub(options.clock_skew)
        .unwrap_or(UNIX_EPOCH);
    let mut candidates = Vec::new();
    for (name, consumer) in listed {
        let created = consumer.created_on.as_deref().and_then(parse_rfc3339);
        if created.is_none_or(|t| t >= cutoff) {
            summary.left_young += 1;
            continue;
        }
        let derived = source.identity(&consumer.user_id, consumer.tenant.as_deref());
        if derived.as_ref().map(|i| i.consumer_name().to_string()) != Some(name.clone()) {
            summary.left_mismatched += 1;
            continue;
        }
        candidates.push(Candidate {
            name,
            user_id: consumer.user_id,
            tenant: consumer.tenant,
            created_on: consumer.created_on.unwrap_or_default(),
        });
    }
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    summary.candidates = candidates;

    // 4. Guard rails.
    let n = summary.candidates.len() as u64;
    if !options.force {
        if n > options.max_delete {
            summary.refused = Some(format!(
                "{n} consumers would be deleted, more than --max-delete {}; check the export, then raise it or pass --force",
                options.max_delete
            ));
        } else if n * 10 > summary.consumers_listed {
            summary.refused = Some(format!(
                "{n} of {} consumers would be deleted, more than a tenth; check the export, then pass --force",
                summary.consumers_listed
            ));
        }
    }

    // 5. Apply.
    if options.apply && summary.refused.is_none() {
        summary.applied = true;
        for candidate in summary.candidates.clone() {
            let Some(identity) = source.identity(&candidate.user_id, candidate.tenant.as_deref())
            else {
                continue;
            };
            pacer.acquire().await;
            match Deletion::run(&zuplo.provisioner, &identity, Deadline::after(PER_CALL)).await {
                Deletion::Done(Removed::Deleted) => summary.deleted += 1,
                Deletion::Done(Removed::Absent) => summary.absent += 1,
                Deletion::NotOurs(_) => summary.not_ours += 1,
                Deletion::Failed(e) => {
                    summary.failed += 1;
                    summary.failures.push(format!("{}: {e}", candidate.name));
                }
            }
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// `identity` as the hooks would have built it for a consumer's metadata.
impl Source {
    pub fn identity(&self, user_id: &str, tenant: Option<&str>) -> Option<Identity> {
        self.key(user_id, tenant).ok().map(Identity::new)
    }
}
