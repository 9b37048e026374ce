//! One reader per provider, each reading the file that provider's own tooling writes,
//! streamed: a user at a time, whatever the file's size.
//!
//! | source | files | shape |
//! |---|---|---|
//! | Firebase | `firebase auth:export out.json`; the emulator's `accounts.json` / `accounts-<tenant>.json` (raw `accounts:batchGet`) | `{"users":[…]}`, `{"kind":…,"users":[…]}` |
//! | Supabase | pages of `GET /auth/v1/admin/users` | `{"users":[…],"aud":"authenticated"}` |
//! | Cognito | pages of `aws cognito-idp list-users` | `{"Users":[…],"PaginationToken":…}` |
//! | Clerk | pages of `GET /v1/users` | `[…]` (or `{"data":[…]}`) |
//! | Auth0 | a user export job's JSON output (gunzipped) | NDJSON |
//!
//! Each user becomes the [`Identity`] the provider's hook would have built for it, with
//! the same key functions, so a backfilled consumer gets the name (and the metadata and
//! tags) that the hook gives it. Users the hook would never provision come with a
//! [`ExportUser::skip`] reason.
//!
//! Reading happens on a thread of its own that runs ahead of the consumer by at most
//! about a thousand users; the iterator's `next` blocks until the next one is parsed
//! (in async code, call it from a blocking context, e.g. `spawn_blocking`). Dropping
//! the iterator stops the thread soon after.

mod auth0;
mod clerk;
mod cognito;
mod firebase;
mod record;
mod stream;
mod supabase;

use std::fs::File;
use std::path::PathBuf;

use zuplo_auth_hooks::provision::{Identity, KeyError, UserKey};

/// [`ExportUser::skip`]: the user has no e-mail, no phone and no identity provider
/// (Firebase), or is marked anonymous (Supabase). No hook fires for them.
pub const SKIP_ANONYMOUS: &str = "anonymous";
/// [`ExportUser::skip`]: soft-deleted (Supabase `deleted_at`): the user cannot sign in
/// again, so their consumer should not exist.
pub const SKIP_DELETED: &str = "deleted";

/// One user of an export, as the hooks would have seen them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportUser {
    pub identity: Identity,
    /// Why the hooks would never provision this user ([`SKIP_ANONYMOUS`],
    /// [`SKIP_DELETED`]), if so.
    pub skip: Option<&'static str>,
}

/// Something in an export that could not be read. `line` and `column` count from 1;
/// both are 0 when the error is not about a place in the file (it cannot be opened),
/// and `file` is `<source>` or `<reader>` when it is not about a file at all.
///
/// `message` names the record and field (`users[3].localId: missing`), never a value:
/// records hold personal data and password hashes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ReadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The users of an export, in file order. An `Err` about one record (a missing id, a
/// wrong type, a line of NDJSON that is not JSON) is followed by the next records; an
/// `Err` about a JSON document that is not well-formed (truncated, say) is the last
/// item: nothing after it, in that file or the next ones, is read. Every user before an
/// error has been yielded before it.
pub type Users = Box<dyn Iterator<Item = Result<ExportUser, ReadError>> + Send>;

/// Which provider the export is from, with the scope its user ids are unique in: the
/// same values the hooks are configured with, so the keys (and names) are theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `tenant`: the tenant of records that carry no `tenantId` (`auth:export` files
    /// never do; the emulator's and REST files do). An emulator file named
    /// `accounts-<tenant>.json` names its tenant too; a record's `tenantId` wins over
    /// both, and the file name over this.
    Firebase {
        project: String,
        tenant: Option<String>,
    },
    /// `issuer`: the hook's namespace, i.e. `SUPABASE_NAMESPACE` if set, else the
    /// tokens' `iss` (`https://<ref>.supabase.co/auth/v1`), byte for byte.
    Supabase {
        issuer: String,
    },
    Cognito {
        user_pool_id: String,
    },
    /// `namespace`: `CLERK_NAMESPACE` if set, else the instance id (`ins_…`).
    Clerk {
        namespace: String,
    },
    /// `tenant`: `event.tenant.id` as the post-login Action sends it.
    Auth0 {
        tenant: String,
    },
}

/// Opens the export files (several pages for Supabase/Cognito/Clerk; one file for
/// Firebase/Auth0, but several are accepted), streamed one user at a time in file order.
///
/// Fails at once if no file is given, a file cannot be opened, or the source's scope
/// could not make a key (empty, or with a `:` where the key does not allow one).
pub fn open(source: &Source, paths: &[PathBuf]) -> Result<Users, ReadError> {
    if paths.is_empty() {
        return Err(setup_error("no export file given".into()));
    }
    let format = format_for(source)?;
    for path in paths {
        if let Err(e) = File::open(path) {
            return Err(ReadError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot open: {e}"),
            });
        }
    }
    stream::spawn(format, paths.to_vec())
}

fn format_for(source: &Source) -> Result<Box<dyn stream::Format>, ReadError> {
    use zuplo_auth_hooks::providers as p;
    Ok(match source {
        Source::Firebase { project, tenant } => {
            let tenant = tenant.clone().filter(|t| !t.is_empty());
            check("the Firebase project", project, |s| {
                p::firebase::user_key(s, None, "probe")
            })?;
            if let Some(tenant) = &tenant {
                check("the Firebase tenant", tenant, |s| {
                    p::firebase::user_key(project, Some(s), "probe")
                })?;
            }
            Box::new(firebase::Firebase {
                project: project.clone(),
                tenant,
            })
        }
        Source::Supabase { issuer } => {
            check("the Supabase issuer", issuer, |s| {
                p::supabase::user_key(s, "probe")
            })?;
            Box::new(supabase::Supabase {
                issuer: issuer.clone(),
            })
        }
        Source::Cognito { user_pool_id } => {
            check("the Cognito user pool id", user_pool_id, |s| {
                p::cognito::user_key(s, "probe")
            })?;
            Box::new(cognito::Cognito {
                user_pool_id: user_pool_id.clone(),
            })
        }
        Source::Clerk { namespace } => {
            check("the Clerk namespace", namespace, |s| {
                p::clerk::user_key(s, "probe")
            })?;
            Box::new(clerk::Clerk {
                namespace: namespace.clone(),
            })
        }
        Source::Auth0 { tenant } => {
            check("the Auth0 tenant", tenant, |s| {
                p::auth0::user_key(s, "probe")
            })?;
            Box::new(auth0::Auth0 {
                tenant: tenant.clone(),
            })
        }
    })
}

/// Whether `value` (what) can scope a key: not empty, and accepted by the key function.
fn check(
    what: &str,
    value: &str,
    key: impl FnOnce(&str) -> Result<UserKey, KeyError>,
) -> Result<(), ReadError> {
    if value.trim().is_empty() {
        return Err(setup_error(format!("{what} is empty")));
    }
    key(value).map(drop).map_err(|e| match e {
        KeyError::Colon(_) => setup_error(format!(
            "{what} contains ':', which would make the consumer names ambiguous"
        )),
        other => setup_error(format!("{what}: {other}")),
    })
}

fn setup_error(message: String) -> ReadError {
    ReadError {
        file: "<source>".into(),
        line: 0,
        column: 0,
        message,
    }
}
