//! What Auth0's two senders deliver: the Action's call (our own shape, written by
//! `integrations/auth0/post-login.js`) and an Event Stream's CloudEvent. Unknown fields
//! are ignored; Auth0 adds to its events over time.

use serde::Deserialize;

/// The body the post-login Action signs and sends.
#[derive(Debug, Clone, Deserialize)]
pub struct PostLogin {
    /// `event.user.user_id`: `<connection>|<id>`.
    pub user_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    /// `event.connection.name`: the consumer's `signupMethod` tag (the key does not
    /// use it, since `user_id` already names the connection).
    #[serde(default)]
    pub connection: Option<String>,
    /// `event.tenant.id`: where `user_id` is unique.
    pub tenant: String,
}

/// An Event Stream delivery: one CloudEvent (`type` is the bare `user.deleted`).
#[derive(Debug, Clone, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub a0tenant: Option<String>,
    /// `"test"` on the dashboard's test deliveries.
    #[serde(default)]
    pub a0purpose: Option<String>,
    #[serde(default)]
    pub data: Option<EventData>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    #[serde(default)]
    pub object: Option<EventUser>,
    #[serde(default)]
    pub context: Option<EventContext>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventUser {
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventContext {
    #[serde(default)]
    pub tenant: Option<EventTenant>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventTenant {
    #[serde(default)]
    pub id: Option<String>,
}

impl StreamEvent {
    pub fn user_id(&self) -> Option<&str> {
        self.data
            .as_ref()?
            .object
            .as_ref()?
            .user_id
            .as_deref()
            .filter(|id| !id.is_empty())
    }

    /// The tenant: `a0tenant`, or the event's context when a stream leaves it out.
    pub fn tenant(&self) -> Option<&str> {
        self.a0tenant
            .as_deref()
            .or_else(|| {
                self.data
                    .as_ref()?
                    .context
                    .as_ref()?
                    .tenant
                    .as_ref()?
                    .id
                    .as_deref()
            })
            .filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_user_deleted_event() {
        // Trimmed from Auth0's events schema example (components.schemas["user.deleted"]).
        let event: StreamEvent = serde_json::from_str(
            r#"{"specversion":"1.0","type":"user.deleted","source":"urn:auth0:example.auth0app.com",
            "id":"evt_vjFVP5pVdfvsfRKatshkVV","time":"2025-02-01T12:34:56Z",
            "data":{"object":{"user_id":"auth0|507f1f77bcf86cd799439020","email":"john.doe@gmail.com",
            "app_metadata":{"plan":"pro"},"deleted_at":"2025-02-01T12:34:56Z"},
            "context":{"tenant":{"id":"my-tenant"}}},"a0tenant":"my-tenant","a0stream":"est_vjFVP5pVdfvsfRKatshkVV"}"#,
        )
        .unwrap();
        assert_eq!(event.kind, "user.deleted");
        assert_eq!(event.user_id(), Some("auth0|507f1f77bcf86cd799439020"));
        assert_eq!(event.tenant(), Some("my-tenant"));

        let context_only: StreamEvent = serde_json::from_str(
            r#"{"type":"user.deleted","data":{"object":{"user_id":"u"},"context":{"tenant":{"id":"t"}}}}"#,
        )
        .unwrap();
        assert_eq!(context_only.tenant(), Some("t"));
        let bare: StreamEvent = serde_json::from_str(r#"{"type":"user.deleted"}"#).unwrap();
        assert_eq!((bare.user_id(), bare.tenant()), (None, None));
    }
}
