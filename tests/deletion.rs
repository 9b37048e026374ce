//! The core operation that deletes a user's consumer (for providers' deletion events and
//! a later prune): it deletes only a consumer we created for that very user, makes no
//! delete call when there is nothing to delete, and is safe to repeat.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use zuplo_auth_hooks::clients::secrets::SecretStore;
use zuplo_auth_hooks::clients::zuplo::ZuploClient;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::provision::cache::ConsumerCache;
use zuplo_auth_hooks::provision::{
    ColonIn, Expect, Identity, Outcome, Provider, ProvisionError, Provisioner, Removed, UserKey,
};
use zuplo_standin::{Fault, FaultAction};

const PROVIDER: Provider = Provider::new("cognito", 1, ColonIn::Nowhere);

async fn provisioner(h: &Harness) -> Provisioner {
    let secrets = SecretStore::new(
        aws_sdk_secretsmanager::Client::new(&sdk_config(&h.secrets.url).await),
        h.secret_id.clone(),
        Duration::from_secs(300),
        Duration::from_secs(3600),
    );
    Provisioner::new(
        ZuploClient::new(http(), &h.zuplo.url(), ACCOUNT, BUCKET),
        Arc::new(secrets),
        ConsumerCache::new(Duration::from_secs(3600), 100),
        false,
    )
}

fn identity(user: &str) -> Identity {
    let mut identity = Identity::new(UserKey::new(PROVIDER, &["us-east-1_Pool"], user).unwrap());
    identity.email = Some(format!("{user}@example.com"));
    identity
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(5))
}

/// The methods of the Zuplo calls made since `before`.
fn methods_since(h: &Harness, before: usize) -> Vec<String> {
    h.zuplo.calls()[before..]
        .iter()
        .map(|c| c.method.clone())
        .collect()
}

#[tokio::test]
async fn a_users_consumer_is_deleted_once_and_a_repeat_finds_nothing() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    p.ensure_consumer(&ada, Expect::NewUser, deadline())
        .await
        .unwrap();
    p.ensure_consumer(&identity("grace"), Expect::NewUser, deadline())
        .await
        .unwrap();
    assert_eq!(h.zuplo.consumers().len(), 2);

    let before = h.zuplo.calls().len();
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Deleted);
    assert_eq!(methods_since(&h, before), ["GET", "DELETE"]);
    let left = h.zuplo.consumers();
    assert_eq!(left.len(), 1, "only Ada's consumer is gone");
    assert_eq!(left[0].metadata["userId"], "grace");

    let before = h.zuplo.calls().len();
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Absent);
    assert_eq!(
        methods_since(&h, before),
        ["GET"],
        "no delete call for nothing"
    );

    // The container forgot her consumer: provisioning her again creates a new one.
    let again = p
        .ensure_consumer(&ada, Expect::ExistingUser, deadline())
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Created);
}

#[tokio::test]
async fn a_consumer_we_did_not_create_is_never_deleted() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    // Somebody else's consumer under the name our function derives for Ada.
    let name = ada.consumer_name();
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers",
            h.zuplo.url()
        ))
        .bearer_auth(ZUPLO_TOKEN)
        .json(&serde_json::json!({"name": name.as_str(), "metadata": {"userId": "someone-else"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    let before = h.zuplo.calls().len();
    let refused = p.remove(&ada, deadline()).await;
    assert!(
        matches!(refused, Err(ProvisionError::NameTaken { .. })),
        "{refused:?}"
    );
    assert_eq!(methods_since(&h, before), ["GET"]);
    assert_eq!(h.zuplo.consumers().len(), 1, "still there");
}

#[tokio::test]
async fn a_failing_delete_is_retried_within_the_deadline() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    p.ensure_consumer(&ada, Expect::NewUser, deadline())
        .await
        .unwrap();
    h.zuplo.push_fault(Fault {
        method: Some("DELETE".into()),
        delay_ms: 0,
        action: FaultAction::Status {
            status: 503,
            retry_after: None,
        },
    });
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Deleted);
    assert!(h.zuplo.consumers().is_empty());
    let deletes = h
        .zuplo
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.status)
        .collect::<Vec<_>>();
    assert_eq!(deletes, [503, 204]);
}

// ---- The deletion routes, through the handler the binary runs. ----

mod routes {
    use super::*;
    use serde_json::{Value, json};

    const SUPABASE_DELETION_SECRET: &str = "whsec_c3VwYWJhc2UtZGVsZXRpb24tc2VjcmV0LTMyYnl0ZXMhIQ==";
    const FIREBASE_DELETION_SECRET: &str = "whsec_ZmlyZWJhc2UtZGVsZXRpb24tc2VjcmV0LTMyYnl0ZXMhIQ==";
    const NAMESPACE: &str = "https://demo-ref.supabase.co/auth/v1";

    async fn harness(env: Vec<(&'static str, String)>) -> Harness {
        Harness::with(Options {
            secret: Some(
                json!({"zuplo_api_key": ZUPLO_TOKEN, "supabase_hook_secret": HOOK_SECRET,
                       "supabase_deletion_secret": SUPABASE_DELETION_SECRET,
                       "firebase_deletion_secret": FIREBASE_DELETION_SECRET})
                .to_string(),
            ),
            env,
            ..Options::default()
        })
        .await
    }

    fn user_ids(h: &Harness) -> Vec<String> {
        let mut ids: Vec<String> = h
            .zuplo
            .consumers()
            .iter()
            .map(|c| c.metadata["userId"].as_str().unwrap_or("").to_owned())
            .collect();
        ids.sort();
        ids
    }

    async fn supabase_token(h: &Harness, user_id: &str) {
        let body = access_token_body(user_id, &supabase_claims(user_id), "password");
        let answer = h.supabase(CAT, &body).await;
        assert!(
            answer.json["claims"]["zuplo_consumer_id"].is_string(),
            "{}",
            answer.text
        );
    }

    fn supabase_deleted(user_id: &str, event: &str) -> String {
        // jsonb's text form, as the trigger signs and pg_net sends it.
        format!(
            r#"{{"email": "{user_id}@example.com", "event": "{event}", "user_id": "{user_id}"}}"#
        )
    }

    #[tokio::test]
    async fn supabase_deletions_remove_the_users_consumer_and_only_signed_ones_count() {
        let h = harness(vec![("SUPABASE_NAMESPACE", NAMESPACE.into())]).await;
        let (ada, bob) = (
            "0b7e1c3e-2f4a-4c55-9a0e-6f1d2c3b4a59",
            "5d2f8a10-7c3b-4e2d-8f6a-1b2c3d4e5f60",
        );
        supabase_token(&h, ada).await;
        supabase_token(&h, bob).await;

        // Signed with the hook secret instead of the deletion secret: refused.
        let body = supabase_deleted(ada, "user.deleted");
        let forged = h
            .send(signed_request(
                "/supabase/user-deleted",
                &body,
                HOOK_SECRET,
                now(),
            ))
            .await;
        assert_eq!(forged.status, 401);
        assert_eq!(user_ids(&h).len(), 2);

        let deleted = h
            .send(signed_request(
                "/supabase/user-deleted",
                &body,
                SUPABASE_DELETION_SECRET,
                now(),
            ))
            .await;
        assert_eq!(deleted.status, 200, "{}", deleted.text);
        assert_eq!(deleted.json["status"], "deleted");
        assert_eq!(user_ids(&h), [bob]);
        let again = h
            .send(signed_request(
                "/supabase/user-deleted",
                &body,
                SUPABASE_DELETION_SECRET,
                now(),
            ))
            .await;
        assert_eq!(again.json["status"], "absent");

        let soft = supabase_deleted(bob, "user.soft_deleted");
        let answer = h
            .send(signed_request(
                "/supabase/user-deleted",
                &soft,
                SUPABASE_DELETION_SECRET,
                now(),
            ))
            .await;
        assert_eq!(answer.json["status"], "deleted");
        assert!(user_ids(&h).is_empty());
    }

    #[tokio::test]
    async fn supabase_deletions_need_the_namespace_and_their_own_secret() {
        let h = harness(Vec::new()).await;
        let body = supabase_deleted("0b7e1c3e-2f4a-4c55-9a0e-6f1d2c3b4a59", "user.deleted");
        let answer = h
            .send(signed_request(
                "/supabase/user-deleted",
                &body,
                SUPABASE_DELETION_SECRET,
                now(),
            ))
            .await;
        assert_eq!(answer.status, 500);
        assert!(
            answer.text.contains("SUPABASE_NAMESPACE"),
            "{}",
            answer.text
        );

        let h = Harness::with(Options {
            env: vec![("SUPABASE_NAMESPACE", NAMESPACE.into())],
            ..Options::default()
        })
        .await;
        let answer = h
            .send(signed_request(
                "/supabase/user-deleted",
                &body,
                SUPABASE_DELETION_SECRET,
                now(),
            ))
            .await;
        assert_eq!(
            answer.status, 404,
            "no supabase_deletion_secret: {}",
            answer.text
        );
        for bad in [
            r#"{"event": "user.updated", "user_id": "u"}"#,
            r#"{"event": "user.deleted"}"#,
        ] {
            let h = harness(vec![("SUPABASE_NAMESPACE", NAMESPACE.into())]).await;
            let answer = h
                .send(signed_request(
                    "/supabase/user-deleted",
                    bad,
                    SUPABASE_DELETION_SECRET,
                    now(),
                ))
                .await;
            assert_eq!(answer.status, 400, "{bad}");
            assert_eq!(h.zuplo_calls(), 0);
        }
    }

    fn firebase_deleted(project: &str, tenant: Option<&str>, uid: &str) -> String {
        json!({"project": project, "tenant": tenant, "uid": uid, "email": format!("{uid}@example.com")})
            .to_string()
    }

    #[tokio::test]
    async fn firebase_deletions_remove_the_consumer_the_blocking_function_made() {
        let h = harness(Vec::new()).await;
        assert_eq!(
            h.before_create(&sign(&claims("fb-ada", "beforeCreate")))
                .await
                .0,
            200
        );
        let mut tenant_claims = claims("fb-tia", "beforeCreate");
        tenant_claims["tenant_id"] = "tenant-a1b2".into();
        tenant_claims["user_record"]["tenant_id"] = "tenant-a1b2".into();
        assert_eq!(h.before_create(&sign(&tenant_claims)).await.0, 200);
        assert_eq!(user_ids(&h), ["fb-ada", "fb-tia"]);

        let send = async |body: &str, secret: &str| {
            h.send(signed_request(
                "/firebase/user-deleted",
                body,
                secret,
                now(),
            ))
            .await
        };
        // The tenant matters: the same uid outside the tenant is another user.
        let outside = send(
            &firebase_deleted(PROJECT, None, "fb-tia"),
            FIREBASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(outside.json["status"], "absent");
        let wrong_project = send(
            &firebase_deleted("other-project", None, "fb-ada"),
            FIREBASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(wrong_project.status, 400);
        let forged = send(
            &firebase_deleted(PROJECT, None, "fb-ada"),
            SUPABASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(forged.status, 401);
        assert_eq!(user_ids(&h).len(), 2);

        let ada = send(
            &firebase_deleted(PROJECT, None, "fb-ada"),
            FIREBASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(ada.json["status"], "deleted", "{}", ada.text);
        let tia = send(
            &firebase_deleted(PROJECT, Some("tenant-a1b2"), "fb-tia"),
            FIREBASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(tia.json["status"], "deleted");
        assert!(user_ids(&h).is_empty());
        let again = send(
            &firebase_deleted(PROJECT, None, "fb-ada"),
            FIREBASE_DELETION_SECRET,
        )
        .await;
        assert_eq!(again.json["status"], "absent");
    }

    fn eventbridge_event() -> Value {
        let path = format!(
            "{}/events/cognito-user-deleted-eventbridge.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    async fn provision_cognito(h: &Harness, pool: &str, sub: &str) {
        let event = json!({
            "version": "1", "triggerSource": "TokenGeneration_Authentication", "region": "us-east-1",
            "userPoolId": pool, "userName": sub,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
            "request": {"userAttributes": {"sub": sub, "email": "c@example.com"}, "groupConfiguration": {}},
            "response": {"claimsOverrideDetails": null}
        });
        let answer = invoke(&h.app, event).await.unwrap();
        assert!(answer.to_string().contains("csmr_"), "{answer}");
    }

    #[tokio::test]
    async fn a_cognito_deletion_from_eventbridge_removes_the_consumer() {
        let h = harness(Vec::new()).await;
        let event = eventbridge_event();
        let pool = event["detail"]["requestParameters"]["userPoolId"]
            .as_str()
            .unwrap();
        let sub = event["detail"]["additionalEventData"]["sub"]
            .as_str()
            .unwrap();
        provision_cognito(&h, pool, sub).await;
        provision_cognito(&h, pool, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d").await;

        // A failed call deleted nobody.
        let mut failed = event.clone();
        failed["detail"]["errorCode"] = "UserNotFoundException".into();
        assert_eq!(invoke(&h.app, failed).await.unwrap()["status"], "ignored");
        assert_eq!(h.zuplo.consumers().len(), 2);

        assert_eq!(
            invoke(&h.app, event.clone()).await.unwrap()["status"],
            "deleted"
        );
        assert_eq!(user_ids(&h), ["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]);
        assert_eq!(
            invoke(&h.app, event.clone()).await.unwrap()["status"],
            "absent"
        );

        // A record that names no sub (an alias username, no additionalEventData).
        let mut alias = event.clone();
        alias["detail"]["requestParameters"]["username"] = "ada@example.com".into();
        alias["detail"]
            .as_object_mut()
            .unwrap()
            .remove("additionalEventData");
        let before = h.zuplo_calls();
        assert_eq!(invoke(&h.app, alias).await.unwrap()["status"], "unresolved");
        assert_eq!(h.zuplo_calls(), before);
    }

    #[tokio::test]
    async fn a_cognito_deletion_that_fails_is_a_lambda_error_so_it_is_retried() {
        let h = harness(Vec::new()).await;
        for _ in 0..20 {
            h.zuplo.push_fault(Fault {
                method: None,
                delay_ms: 0,
                action: FaultAction::Status {
                    status: 503,
                    retry_after: None,
                },
            });
        }
        let error = invoke(&h.app, eventbridge_event()).await.unwrap_err();
        assert_eq!(error.error_type, "Unavailable");
        assert!(
            !error.error_message.contains("c-"),
            "{}",
            error.error_message
        );
    }
}
