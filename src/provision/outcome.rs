//! One vocabulary for what provisioning did: adapters turn it into their provider's
//! answer, telemetry into a log line and metrics. The fail-open / fail-closed policy
//! is applied here, once, for every provider.

use std::time::Duration;

use super::identity::{ConsumerId, ConsumerName};
use crate::clients::secrets::SecretError;
use crate::clients::zuplo::ZuploError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This call created the consumer.
    Created,
    /// The consumer existed already in Zuplo (a retry, a race, or a reconcile).
    Reused,
    /// Answered from this container's memory, with no Zuplo call.
    Cached,
}

/// What removing an identity's consumer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The consumer (and its keys) is gone.
    Deleted,
    /// There was no consumer under the identity's name: nothing to delete.
    Absent,
}

impl Removed {
    /// For answers and logs: `deleted` or `absent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Removed::Deleted => "deleted",
            Removed::Absent => "absent",
        }
    }
}

/// What the caller knows about the user, which decides the first Zuplo call on a
/// cache miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A sign-up: the consumer almost never exists, so create (one call).
    NewUser,
    /// A refresh of an existing session: it almost always exists, so look it up (one call).
    ExistingUser,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub consumer_id: ConsumerId,
    pub consumer_name: ConsumerName,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("secret unavailable: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Zuplo(#[from] ZuploError),
    #[error("consumer {name} exists but belongs to another user")]
    NameTaken { name: ConsumerName },
    #[error("consumer {name} vanished between a 409 and the lookup")]
    Vanished { name: ConsumerName },
    #[error("another request for the same user did not finish before the deadline")]
    Busy,
    #[error("provisioning did not finish before the request deadline")]
    Deadline,
    /// The consumer is ready but its ID cannot be handed to the provider.
    #[error("the consumer ID cannot be delivered: {0}")]
    Undeliverable(String),
}

/// What to answer when provisioning fails: let the user in without the claim (the
/// next sign-in or token retries), or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Open,
    Closed,
}

/// One provisioning attempt under a request's deadline.
#[derive(Debug)]
pub struct Attempt {
    pub consumer_name: ConsumerName,
    pub result: Result<Provisioned, ProvisionError>,
    /// Time the core spent, Zuplo calls included.
    pub took: Duration,
}

/// What an adapter answers after an [`Attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Hand this consumer's ID to the provider.
    Claim(&'a Provisioned),
    /// Provisioning failed and `FAIL_MODE=open`: let the user in without the claim.
    WithoutClaim,
    /// Provisioning failed and `FAIL_MODE=closed`: refuse, saying nothing internal.
    Refuse,
}

impl Attempt {
    pub fn decide(&self, mode: FailMode) -> Decision<'_> {
        match (&self.result, mode) {
            (Ok(provisioned), _) => Decision::Claim(provisioned),
            (Err(_), FailMode::Open) => Decision::WithoutClaim,
            (Err(_), FailMode::Closed) => Decision::Refuse,
        }
    }

    /// Turns a ready consumer into a failure, when its ID cannot be delivered.
    pub fn undeliverable(self, reason: String) -> Self {
        Attempt {
            result: Err(ProvisionError::Undeliverable(reason)),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::identity::{ColonIn, Provider, UserKey};

    fn attempt(ok: bool) -> Attempt {
        let name = UserKey::new(Provider::new("p", 0, ColonIn::Nowhere), &[], "u")
            .unwrap()
            .consumer_name();
        Attempt {
            result: if ok {
                Ok(Provisioned {
                    consumer_id: ConsumerId::new("csmr_1"),
                    consumer_name: name.clone(),
                    outcome: Outcome::Created,
                })
            } else {
                Err(ProvisionError::Busy)
            },
            consumer_name: name,
            took: Duration::ZERO,
        }
    }

    #[test]
    fn the_fail_mode_applies_only_to_failures() {
        for mode in [FailMode::Open, FailMode::Closed] {
            let ok = attempt(true);
            assert!(
                matches!(ok.decide(mode), Decision::Claim(p) if p.consumer_id.as_str() == "csmr_1")
            );
        }
        assert_eq!(
            attempt(false).decide(FailMode::Open),
            Decision::WithoutClaim
        );
        assert_eq!(attempt(false).decide(FailMode::Closed), Decision::Refuse);
        let late = attempt(true).undeliverable("too large".into());
        assert_eq!(late.decide(FailMode::Closed), Decision::Refuse);
    }
}
