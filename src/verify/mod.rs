//! Checks that a request really comes from the provider it claims to come from.

pub mod standard_webhooks;

use standard_webhooks::{KeyError, WebhookKeys};

use crate::clients::secrets::Secrets;

/// A provider's webhook signing keys, as read from its field of the secret.
#[derive(Debug)]
pub enum FieldKeys {
    Ready(WebhookKeys),
    /// The field is absent: the provider is not in use.
    Missing,
    /// The field is there but unusable; kept apart so that a bad provider secret does
    /// not take the Zuplo token (and every other provider) down with it.
    Malformed(KeyError),
}

/// Parses the Standard Webhooks secret(s) in `field`, and says in the log what a
/// missing or malformed field means for `routes`. Meant to run once per load of the
/// secret (see [`crate::clients::secrets::PerLoad`]), never per request.
pub fn webhook_keys(secrets: &Secrets, field: &str, routes: &str) -> FieldKeys {
    match secrets.field(field).map(|s| WebhookKeys::parse(s.expose())) {
        Some(Ok(keys)) => FieldKeys::Ready(keys),
        Some(Err(e)) => {
            tracing::error!(reason = %e, "{field} is malformed: {routes} will refuse every request until it is fixed");
            FieldKeys::Malformed(e)
        }
        None => {
            tracing::info!("the secret has no {field}: {routes} answer 404");
            FieldKeys::Missing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_is_read_apart_from_the_token() {
        let secrets = Secrets::parse(
            r#"{"zuplo_api_key":"zpka_x","supabase_hook_secret":"whsec_short","other_hook_secret":"v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#,
        )
        .unwrap();
        // A malformed field keeps the Zuplo token, and every other field, usable.
        assert_eq!(secrets.zuplo_api_key.expose(), "zpka_x");
        assert!(matches!(
            webhook_keys(&secrets, "supabase_hook_secret", "r"),
            FieldKeys::Malformed(KeyError::Base64(1) | KeyError::Length(1, _))
        ));
        assert!(matches!(
            webhook_keys(&secrets, "other_hook_secret", "r"),
            FieldKeys::Ready(_)
        ));
        assert!(matches!(
            webhook_keys(&secrets, "absent", "r"),
            FieldKeys::Missing
        ));
    }
}
