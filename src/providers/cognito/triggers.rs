//! The three user pool triggers, on the event as JSON: Cognito's events change over
//! time and differ between versions (and between Cognito and its emulators), so they
//! are read leniently and only `response` is ever written. The typed event structs of
//! `aws_lambda_events` are not used: they reject real events, and serialise an empty
//! `groupOverrideDetails`, which would strip the user's groups from the token.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::deadline::Deadline;
use crate::providers::{DirectAnswer, DirectError, Shared};
use crate::provision::{Decision, Expect, FailMode, Identity, Provisioner};
use crate::signup_policy::SignupPolicy;
use crate::telemetry::{Outcome, RejectReason, Report};

/// Shown to the user when `FAIL_MODE=closed` refuses (Cognito prefixes
/// "<trigger> failed with error "), so it says nothing internal.
const UNAVAILABLE_MESSAGE: &str = "Sign-in is temporarily unavailable. Please try again shortly.";

pub struct Triggers {
    provisioner: Arc<Provisioner>,
    claim: String,
    fail_mode: FailMode,
    policy: SignupPolicy,
}

/// The parts of a user pool event that the triggers read.
struct UserPoolEvent<'a> {
    trigger_source: &'a str,
    version: &'a str,
    user_pool_id: &'a str,
    attributes: Option<&'a Map<String, Value>>,
}

impl<'a> UserPoolEvent<'a> {
    fn read(event: &'a Value) -> Self {
        let text = |v: Option<&'a Value>| v.and_then(Value::as_str).unwrap_or("");
        UserPoolEvent {
            trigger_source: text(event.get("triggerSource")),
            version: text(event.get("version")),
            user_pool_id: text(event.get("userPoolId")),
            attributes: event
                .pointer("/request/userAttributes")
                .and_then(Value::as_object),
        }
    }

    fn attribute(&self, name: &str) -> Option<&'a str> {
        self.attributes
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }

    /// V2_0 and V3_0 pre token generation events say `"2"` / `"3"`; V1_0 says `"1"`
    /// (and cognito-local `"0"`). A later version is taken to answer like V2/V3, whose
    /// shape it would extend, rather than to fall back to the ID-token-only V1 shape.
    fn is_v2_or_later(&self) -> bool {
        self.version.parse::<u32>().is_ok_and(|v| v >= 2)
    }

    /// A federated user's identity provider (`Google`, a SAML provider's name, …), from
    /// the `identities` attribute (a JSON string); `None` for a user pool's own users.
    fn identity_provider(&self) -> Option<String> {
        let identities: Value = serde_json::from_str(self.attribute("identities")?).ok()?;
        identities
            .get(0)?
            .get("providerName")?
            .as_str()
            .map(str::to_owned)
    }

    fn identity(&self) -> Result<Identity, String> {
        let sub = self
            .attribute("sub")
            .ok_or("the event has no request.userAttributes.sub")?;
        let key = super::user_key(self.user_pool_id, sub).map_err(|e| e.to_string())?;
        let mut identity = Identity::new(key);
        identity.email = self.attribute("email").map(str::to_owned);
        // Attribute values are strings in real events.
        identity.email_verified = self.attribute("email_verified") == Some("true");
        identity.display_name = self.attribute("name").map(str::to_owned);
        identity.signup_method = self.identity_provider();
        Ok(identity)
    }
}

fn refusal(message: &str) -> DirectError {
    DirectError {
        error_type: "Refused",
        message: message.to_owned(),
    }
}

impl Triggers {
    pub fn new(shared: &Shared) -> Self {
        Triggers {
            provisioner: shared.provisioner.clone(),
            claim: shared.claim.clone(),
            fail_mode: shared.fail_mode,
            policy: shared.signup_policy.clone(),
        }
    }

    /// `PreSignUp_*`: the sign-up policy. Never provisions: there is no `sub` yet in
    /// real events, and the sign-up may still fail.
    pub fn pre_sign_up(&self, event: Value) -> (DirectAnswer, Report) {
        let parsed = UserPoolEvent::read(&event);
        let user = parsed
            .attribute("sub")
            .unwrap_or(parsed.trigger_source)
            .to_owned();
        match self.policy.check(parsed.attribute("email")) {
            Ok(()) => (Ok(event), Report::new(Outcome::Allowed).user(&user)),
            Err(message) => (
                Err(refusal(message)),
                Report::new(Outcome::Refused).reason(message).user(&user),
            ),
        }
    }

    /// `PostConfirmation_ConfirmSignUp`: provision at confirmation, so the consumer
    /// exists before the first token. A password reset confirms nobody new.
    pub async fn post_confirmation(
        &self,
        event: Value,
        deadline: Deadline,
    ) -> (DirectAnswer, Report) {
        let parsed = UserPoolEvent::read(&event);
        if parsed.trigger_source != "PostConfirmation_ConfirmSignUp" {
            let report = Report::new(Outcome::Skipped).reason("not a sign-up");
            return (Ok(event), report);
        }
        let identity = match parsed.identity() {
            Ok(identity) => identity,
            Err(reason) => return self.unusable(event, reason),
        };
        let user = identity.key.user_id().to_owned();
        let attempt = self
            .provisioner
            .attempt(&identity, Expect::NewUser, deadline)
            .await;
        let report = Report::attempt(&attempt, self.fail_mode).user(&user);
        let answer = match attempt.decide(self.fail_mode) {
            // Nothing to add to the answer: Post confirmation's response is empty.
            Decision::Claim(_) | Decision::WithoutClaim => Ok(event),
            Decision::Refuse => Err(refusal(UNAVAILABLE_MESSAGE)),
        };
        (answer, report)
    }

    /// `TokenGeneration_*`: the consumer ID as a claim, on every sign-in and refresh.
    pub async fn pre_token_generation(
        &self,
        mut event: Value,
        deadline: Deadline,
    ) -> (DirectAnswer, Report) {
        let parsed = UserPoolEvent::read(&event);
        // V3's machine-to-machine tokens have no user.
        if parsed.trigger_source == "TokenGeneration_ClientCredentials" {
            let report = Report::new(Outcome::Skipped).reason("client credentials");
            return (Ok(event), report);
        }
        let identity = match parsed.identity() {
            Ok(identity) => identity,
            Err(reason) => return self.unusable(event, reason),
        };
        // Only an administrator-created user's first sign-in comes before any other
        // trigger could have provisioned; every other issue (refreshes above all) is
        // for a user whose consumer most likely exists.
        let expect = if parsed.trigger_source == "TokenGeneration_NewPasswordChallenge" {
            Expect::NewUser
        } else {
            Expect::ExistingUser
        };
        let v2 = parsed.is_v2_or_later();
        let user = identity.key.user_id().to_owned();
        let attempt = self.provisioner.attempt(&identity, expect, deadline).await;
        let report = Report::attempt(&attempt, self.fail_mode).user(&user);
        let answer = match attempt.decide(self.fail_mode) {
            Decision::Claim(provisioned) => {
                add_claim(
                    &mut event,
                    v2,
                    &self.claim,
                    provisioned.consumer_id.as_str(),
                );
                Ok(event)
            }
            // Tokens without the claim; the next issue (a refresh at the latest) retries.
            Decision::WithoutClaim => Ok(event),
            Decision::Refuse => Err(refusal(UNAVAILABLE_MESSAGE)),
        };
        (answer, report)
    }

    /// An event without what the trigger needs (no `sub`, an odd pool id): Cognito's
    /// own, so never worth blocking the user for; left as it came.
    fn unusable(&self, event: Value, reason: String) -> (DirectAnswer, Report) {
        (Ok(event), Report::rejected(RejectReason::Payload, reason))
    }
}

/// Adds `claim` to the tokens the event's version can change: the ID token for V1
/// (string values only), the ID and access tokens for V2/V3. Writes nothing else: no
/// `groupOverrideDetails` (an empty one strips the user's groups), no suppressions.
fn add_claim(event: &mut Value, v2: bool, claim: &str, consumer_id: &str) {
    // Only an object carries a `triggerSource`, so only an object gets here.
    let Some(event) = event.as_object_mut() else {
        return;
    };
    let response = object_at(event, "response");
    if v2 {
        let details = object_at(response, "claimsAndScopeOverrideDetails");
        for token in ["idTokenGeneration", "accessTokenGeneration"] {
            let claims = object_at(object_at(details, token), "claimsToAddOrOverride");
            claims.insert(claim.to_owned(), json!(consumer_id));
        }
    } else {
        let details = object_at(response, "claimsOverrideDetails");
        let claims = object_at(details, "claimsToAddOrOverride");
        claims.insert(claim.to_owned(), json!(consumer_id));
    }
}

/// The object at `map[key]`, made one if the field is absent, null or not an object
/// (Cognito sends `null`, `{}` or even `[]` there).
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(inner) => inner,
        _ => unreachable!("the slot was made an object just above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_adds_the_claim_to_the_id_token_only() {
        let mut event = json!({"version": "1", "request": {"groupConfiguration": {"groupsToOverride": ["admins"]}},
                               "response": {"claimsOverrideDetails": null}});
        add_claim(&mut event, false, "zuplo_consumer_id", "csmr_1");
        assert_eq!(
            event["response"],
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"zuplo_consumer_id": "csmr_1"}}})
        );
        assert_eq!(
            event["request"]["groupConfiguration"]["groupsToOverride"],
            json!(["admins"])
        );
    }

    #[test]
    fn v2_adds_the_claim_to_both_tokens_and_keeps_what_is_there() {
        for incoming in [json!([]), json!(null), json!({})] {
            let mut event =
                json!({"version": "2", "response": {"claimsAndScopeOverrideDetails": incoming}});
            add_claim(&mut event, true, "c", "csmr_2");
            assert_eq!(
                event["response"],
                json!({"claimsAndScopeOverrideDetails": {
                    "idTokenGeneration": {"claimsToAddOrOverride": {"c": "csmr_2"}},
                    "accessTokenGeneration": {"claimsToAddOrOverride": {"c": "csmr_2"}}
                }})
            );
        }
        let mut event = json!({"version": "3", "response": {"claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {"scopesToAdd": ["a"], "claimsToAddOrOverride": {"x": 1}}}}});
        add_claim(&mut event, true, "c", "csmr_3");
        let access = &event["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"];
        assert_eq!(access["scopesToAdd"], json!(["a"]));
        assert_eq!(
            access["claimsToAddOrOverride"],
            json!({"x": 1, "c": "csmr_3"})
        );
        assert!(
            event["response"]["claimsAndScopeOverrideDetails"]
                .get("groupOverrideDetails")
                .is_none()
        );
    }

    #[test]
    fn versions_two_and_later_answer_in_the_v2_shape() {
        let version = |v: &str| {
            let event = json!({"version": v});
            UserPoolEvent::read(&event).is_v2_or_later()
        };
        assert!(version("2") && version("3") && version("4"));
        assert!(!version("1") && !version("0") && !version("") && !version("V2_0"));
    }

    #[test]
    fn an_event_without_a_response_object_gets_one() {
        let mut event = json!({"version": "1"});
        add_claim(&mut event, false, "c", "csmr_4");
        assert_eq!(
            event["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["c"],
            "csmr_4"
        );
    }
}
