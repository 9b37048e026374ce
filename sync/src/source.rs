//! How each provider names its users' consumers, given the namespace flags: the very
//! key functions the hooks use, so that hooks and sync can never disagree.

use zuplo_auth_hooks::providers::{auth0, clerk, cognito, firebase, supabase};
use zuplo_auth_hooks::provision::{KeyError, Provider, UserKey};

use crate::readers::Source;

impl Source {
    pub fn provider(&self) -> Provider {
        match self {
            Source::Firebase { .. } => firebase::PROVIDER,
            Source::Supabase { .. } => supabase::PROVIDER,
            Source::Cognito { .. } => cognito::PROVIDER,
            Source::Clerk { .. } => clerk::PROVIDER,
            Source::Auth0 { .. } => auth0::PROVIDER,
        }
    }

    /// The key of user `user_id`; `tenant` is the consumer's recorded tenant (Firebase
    /// tenants; the other providers' namespace comes from the flags).
    pub fn key(&self, user_id: &str, tenant: Option<&str>) -> Result<UserKey, KeyError> {
        match self {
            Source::Firebase {
                project,
                tenant: default,
            } => firebase::user_key(project, tenant.or(default.as_deref()), user_id),
            Source::Supabase { issuer } => supabase::user_key(issuer, user_id),
            Source::Cognito { user_pool_id } => cognito::user_key(user_pool_id, user_id),
            Source::Clerk { namespace } => clerk::user_key(namespace, user_id),
            Source::Auth0 { tenant } => auth0::user_key(tenant, user_id),
        }
    }
}
