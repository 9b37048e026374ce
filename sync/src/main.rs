//! `zuplo-auth-sync`: gives every existing user of an identity provider their Zuplo
//! consumer (backfill), and deletes the consumers of users who are gone (prune), from
//! the user export that provider's own tooling writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use zuplo_auth_sync::journal::Journal;
use zuplo_auth_sync::pacer::Pacer;
use zuplo_auth_sync::progress::Progress;
use zuplo_auth_sync::readers::{self, Source};
use zuplo_auth_sync::zuplo::Zuplo;
use zuplo_auth_sync::{backfill, prune};

/// Backfill and prune Zuplo API-key consumers for the users of an identity provider.
///
/// Reads the provider's own user export, names each consumer exactly as the
/// zuplo-auth-hooks function does, and talks to the Zuplo Developer API with the
/// function's settings: ZUPLO_ACCOUNT, ZUPLO_BUCKET, ZUPLO_API_URL (default
/// https://dev.zuplo.com), KEY_EXPIRES_AFTER_DAYS, REQUIRE_VERIFIED_EMAIL, and the token
/// from ZUPLO_API_KEY or, with AWS credentials, from the secret ZUPLO_SECRET_ID.
///
/// Exit status: 0 when everything succeeded, 1 when any user or deletion failed, 2 for
/// a usage or configuration error, 3 when prune refused its plan, 130 when interrupted.
#[derive(Parser)]
#[command(name = "zuplo-auth-sync", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make sure every user the hooks would provision has their consumer.
    Backfill {
        #[command(subcommand)]
        provider: ProviderArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Report what would be created, writing nothing (reads only).
        #[arg(long, global = true)]
        dry_run: bool,
        /// Progress journal, to resume an interrupted run [default: a file under
        /// .zuplo-auth-sync/ named after the command, provider and export files].
        #[arg(long, global = true)]
        journal: Option<PathBuf>,
    },
    /// Delete the consumers of users who are no longer in the export (plan only,
    /// unless --apply).
    Prune {
        #[command(subcommand)]
        provider: ProviderArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Delete the planned consumers; without it, only print the plan.
        #[arg(long, global = true)]
        apply: bool,
        /// Refuse a plan with more deletions than this, unless --force.
        #[arg(long, default_value_t = 50, global = true)]
        max_delete: u64,
        /// Apply a plan above --max-delete or above a tenth of the listed consumers.
        #[arg(long, global = true)]
        force: bool,
        /// When the export was taken (RFC 3339); consumers created after it (less
        /// --clock-skew) are left alone [default: the export files' latest modification
        /// time].
        #[arg(long, global = true)]
        as_of: Option<String>,
        /// Seconds before --as-of within which a consumer is also left alone, for clocks
        /// that differ between Zuplo and the provider.
        #[arg(long, default_value_t = 300, global = true)]
        clock_skew: u64,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Zuplo calls per second; Zuplo allows 100 per account, shared with the live
    /// function.
    #[arg(long, default_value_t = 50.0, global = true)]
    rate: f64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 8, global = true)]
    concurrency: usize,
    /// Print the summary as JSON on stdout (progress stays on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// No progress output.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum ProviderArgs {
    /// Firebase / Identity Platform: `firebase auth:export users.json` (JSON), or the
    /// emulator's accounts.json.
    Firebase {
        #[command(flatten)]
        export: ExportArgs,
        /// The project ID (FIREBASE_PROJECT_ID of the function).
        #[arg(long)]
        project_id: String,
        /// The tenant of users whose records name none (auth:export writes no tenant).
        #[arg(long)]
        tenant_id: Option<String>,
    },
    /// Supabase: saved pages of `GET /auth/v1/admin/users`.
    Supabase {
        #[command(flatten)]
        export: ExportArgs,
        /// The issuer the hooks name consumers by (the tokens' `iss`, or the function's
        /// SUPABASE_NAMESPACE), e.g. https://<ref>.supabase.co/auth/v1.
        #[arg(long)]
        issuer: String,
    },
    /// Amazon Cognito: saved pages of `aws cognito-idp list-users`.
    Cognito {
        #[command(flatten)]
        export: ExportArgs,
        /// The user pool ID, e.g. us-east-1_AbC123.
        #[arg(long)]
        user_pool_id: String,
    },
    /// Clerk: saved pages of `GET /v1/users`.
    Clerk {
        #[command(flatten)]
        export: ExportArgs,
        /// The instance ID (ins_…), or the function's CLERK_NAMESPACE when set.
        #[arg(long)]
        namespace: String,
    },
    /// Auth0: a user export job's NDJSON file.
    Auth0 {
        #[command(flatten)]
        export: ExportArgs,
        /// The tenant name (event.tenant.id in Actions).
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Args)]
struct ExportArgs {
    /// The export file; repeat for several pages.
    #[arg(long = "export", required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

impl ProviderArgs {
    /// The source, checked for the form its namespace must have, and the files.
    fn source(&self) -> Result<(Source, &[PathBuf]), String> {
        let plain = |flag: &str, v: &str, allowed: &dyn Fn(char) -> bool| {
            if v.is_empty() || !v.chars().all(allowed) {
                Err(format!("{flag} {v:?} is not of the expected form"))
            } else {
                Ok(v.to_owned())
            }
        };
        let id_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        Ok(match self {
            ProviderArgs::Firebase {
                export,
                project_id,
                tenant_id,
            } => (
                Source::Firebase {
                    project: plain("--project-id", project_id, &id_char)?,
                    tenant: tenant_id
                        .as_deref()
                        .map(|t| plain("--tenant-id", t, &id_char))
                        .transpose()?,
                },
                &export.files,
            ),
            ProviderArgs::Supabase { export, issuer } => {
                if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                    return Err(format!(
                        "--issuer {issuer:?} is not a URL (e.g. https://<ref>.supabase.co/auth/v1)"
                    ));
                }
                (
                    Source::Supabase {
                        issuer: issuer.clone(),
                    },
                    &export.files,
                )
            }
            ProviderArgs::Cognito {
                export,
                user_pool_id,
            } => {
                let ok = user_pool_id.split_once('_').is_some_and(|(region, id)| {
                    !region.is_empty()
                        && !id.is_empty()
                        && region
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && id.chars().all(|c| c.is_ascii_alphanumeric())
                });
                if !ok {
                    return Err(format!(
                        "--user-pool-id {user_pool_id:?} is not a user pool ID (<region>_<id>)"
                    ));
                }
                (
                    Source::Cognito {
                        user_pool_id: user_pool_id.clone(),
                    },
                    &export.files,
                )
            }
            ProviderArgs::Clerk { export, namespace } => (
                Source::Clerk {
                    namespace: plain("--namespace", namespace, &|c: char| {
                        c != ':' && !c.is_control()
                    })?,
                },
                &export.files,
            ),
            ProviderArgs::Auth0 { export, tenant } => (
                Source::Auth0 {
                    tenant: plain("--tenant", tenant, &id_char)?,
                },
                &export.files,
            ),
        })
    }
}

/// A journal path of its own for each command, source and export.
fn default_journal(command: &str, source: &Source, files: &[PathBuf]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{source:?}").hash(&mut hasher);
    for file in files {
        file.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(file) {
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
        }
    }
    PathBuf::from(".zuplo-auth-sync").join(format!(
        "{command}-{}-{:016x}.journal",
        source.provider().name(),
        hasher.finish()
    ))
}

fn exported_at(files: &[PathBuf]) -> Option<SystemTime> {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
        .max()
}

fn count_users(source: &Source, files: &[PathBuf]) -> Result<u64, String> {
    let users = readers::open(source, files).map_err(|e| e.to_string())?;
    Ok(users.count() as u64)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("zuplo-auth-sync: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let pacer_slot: Arc<std::sync::OnceLock<Arc<Pacer>>> = Arc::default();
    let observer_slot = pacer_slot.clone();
    let on_throttle = Arc::new(move |wait: Option<Duration>| {
        if let Some(pacer) = observer_slot.get() {
            pacer.pause(wait);
        }
    });
    let zuplo = Zuplo::from_env(|k| std::env::var(k).ok(), on_throttle)
        .await
        .map_err(|e| e.to_string())?;

    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nzuplo-auth-sync: stopping after the calls in flight (Ctrl-C again to abort)"
            );
            let _ = cancel_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });

    match cli.command {
        Command::Backfill {
            provider,
            run,
            dry_run,
            journal,
        } => {
            let (source, files) = provider.source()?;
            let pacer = Arc::new(Pacer::new(run.rate, burst(run.rate)));
            let _ = pacer_slot.set(pacer.clone());
            let total = count_users(&source, files)?;
            let journal = if dry_run {
                None
            } else {
                let path = journal.unwrap_or_else(|| default_journal("backfill", &source, files));
                let j =
                    Journal::open(&path).map_err(|e| format!("journal {}: {e}", path.display()))?;
                if j.resumed_below() > 0 && !run.quiet {
                    eprintln!(
                        "zuplo-auth-sync: resuming from {} ({} users done)",
                        path.display(),
                        j.resumed_below()
                    );
                }
                Some(j)
            };
            let users = readers::open(&source, files).map_err(|e| e.to_string())?;
            let progress = Progress::start(total, "users", run.quiet);
            let summary = backfill::run(
                users,
                &zuplo,
                pacer,
                journal,
                backfill::Options {
                    dry_run,
                    concurrency: run.concurrency,
                },
                progress.counter(),
                cancel,
            )
            .await;
            progress.finish().await;
            print_backfill(&summary, run.json, dry_run);
            Ok(if summary.interrupted {
                ExitCode::from(130)
            } else if summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Prune {
            provider,
            run,
            apply,
            max_delete,
            force,
            as_of,
            clock_skew,
        } => {
            let (source, files) = provider.source()?;
            let as_of = match as_of {
                Some(text) => prune::parse_rfc3339(&text)
                    .ok_or(format!("--as-of {text:?} is not an RFC 3339 time"))?,
                None => exported_at(files)
                    .ok_or("cannot tell when the export was taken: pass --as-of")?,
            };
            let pacer = Arc::new(Pacer::new(run.rate, burst(run.rate)));
            let _ = pacer_slot.set(pacer.clone());
            let total = count_users(&source, files)?;
            let users = readers::open(&source, files).map_err(|e| e.to_string())?;
            let progress = Progress::start(total, "users", run.quiet);
            let result = prune::run(
                &source,
                users,
                &zuplo,
                pacer,
                prune::Options {
                    apply,
                    max_delete,
                    force,
                    as_of,
                    clock_skew: Duration::from_secs(clock_skew),
                },
                progress.counter(),
            )
            .await;
            progress.finish().await;
            let summary = result.map_err(|e| e.to_string())?;
            print_prune(&summary, run.json);
            Ok(if summary.failed > 0 {
                ExitCode::from(1)
            } else if summary.refused.is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// A small burst: a full second's worth at once would trip Zuplo's own limit.
fn burst(rate: f64) -> u32 {
    (rate / 10.0).clamp(1.0, 10.0) as u32
}

fn print_backfill(s: &backfill::Summary, json: bool, dry_run: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
        return;
    }
    println!("users read:   {}", s.users_read);
    if dry_run {
        println!("would create: {}", s.would_create);
    } else {
        println!("created:      {}", s.created);
    }
    println!("existed:      {}", s.existed);
    println!("already done: {} (an earlier run)", s.already_done);
    let skipped: u64 = s.skipped.values().sum();
    let reasons: Vec<String> = s.skipped.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "skipped:      {skipped}{}",
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    );
    println!("failed:       {}", s.failed);
    for f in &s.failures {
        println!("  {f}");
    }
    println!(
        "took:         {:.1} s ({:.1} users/s)",
        s.seconds,
        s.users_read as f64 / s.seconds.max(0.001)
    );
    if s.interrupted {
        println!("interrupted: run the same command again to resume");
    }
}

fn print_prune(s: &prune::Summary, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
        return;
    }
    println!("users read:        {}", s.users_read);
    println!("consumers listed:  {}", s.consumers_listed);
    println!(
        "left alone:        {} created after the export, {} not matching their metadata",
        s.left_young, s.left_mismatched
    );
    println!("to delete:         {}", s.candidates.len());
    for c in &s.candidates {
        println!(
            "  {}  user {}{}  created {}",
            c.name,
            c.user_id,
            c.tenant
                .as_deref()
                .map(|t| format!(" (tenant {t})"))
                .unwrap_or_default(),
            c.created_on
        );
    }
    if let Some(why) = &s.refused {
        println!("refused:           {why}");
    } else if s.applied {
        println!(
            "deleted:           {} ({} already gone, {} not ours, {} failed)",
            s.deleted, s.absent, s.not_ours, s.failed
        );
        for f in &s.failures {
            println!("  {f}");
        }
    } else {
        println!("plan only:         run again with --apply to delete");
    }
}
