//! Verification of the JWT that Identity Platform sends to a blocking function.
//!
//! Stricter than firebase-admin on purpose: `aud` must equal a configured URL (not
//! contain a substring), `sub` must equal `user_record.uid`, and `event_type` must match
//! the route. The algorithm is fixed to RS256 by us, never chosen by the token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::certs::{CertCache, CertError};
use crate::deadline::Deadline;

/// Tolerated clock difference between Google and us, for `exp` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(10);
const MAX_SUB_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    BeforeCreate,
    BeforeSignIn,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::BeforeCreate => "beforeCreate",
            EventType::BeforeSignIn => "beforeSignIn",
        }
    }
}

/// The claims we use. Unknown claims (OAuth tokens among them) are ignored and dropped.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockingClaims {
    pub iss: String,
    pub aud: Audience,
    pub iat: f64,
    pub exp: f64,
    pub sub: String,
    pub event_type: String,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `password`, `google.com`, `emailLink`, … (how the user signs in or up).
    #[serde(default)]
    pub sign_in_method: Option<String>,
    pub user_record: UserRecord,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserRecord {
    pub uid: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub custom_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a compact JWS")]
    Malformed,
    #[error("header is not valid base64url JSON")]
    BadHeader,
    #[error("alg {0:?} is not accepted")]
    WrongAlg(String),
    #[error("header has no kid")]
    MissingKid,
    #[error(transparent)]
    Certs(#[from] CertError),
    #[error("signature does not verify")]
    BadSignature,
    #[error("claims are missing or mistyped")]
    BadClaims,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("audience is not one of FIREBASE_AUDIENCE")]
    WrongAudience,
    #[error("token expired")]
    Expired,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("sub is empty or longer than 128 characters")]
    BadSubject,
    #[error("sub does not match user_record.uid")]
    SubjectMismatch,
    #[error("event_type {got:?} where {expected:?} was expected")]
    WrongEventType { expected: &'static str, got: String },
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

pub struct TokenVerifier {
    certs: CertCache,
    issuer: String,
    audiences: Vec<String>,
    emulator: bool,
}

impl TokenVerifier {
    pub fn new(certs: CertCache, project_id: &str, audiences: Vec<String>, emulator: bool) -> Self {
        TokenVerifier {
            certs,
            issuer: format!("https://securetoken.google.com/{project_id}"),
            audiences,
            emulator,
        }
    }

    pub fn emulator(&self) -> bool {
        self.emulator
    }

    pub fn certs(&self) -> &CertCache {
        &self.certs
    }

    pub async fn verify(
        &self,
        jwt: &str,
        expected: EventType,
        deadline: Deadline,
    ) -> Result<BlockingClaims, TokenError> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_segment(header).ok_or(TokenError::BadHeader)?;
        let claims = match header.alg.as_str() {
            "RS256" => {
                let kid = header
                    .kid
                    .filter(|k| !k.is_empty())
                    .ok_or(TokenError::MissingKid)?;
                let key = self.certs.key(&kid, deadline).await?;
                // Claims are checked below, the same way for both paths.
                let mut validation = Validation::new(Algorithm::RS256);
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<BlockingClaims>(jwt, &key, &validation)
                    .map_err(|e| match e.kind() {
                        jsonwebtoken::errors::ErrorKind::Json(_) => TokenError::BadClaims,
                        _ => TokenError::BadSignature,
                    })?
                    .claims
            }
            // The Auth emulator signs nothing; accepted only when configured, and only
            // with an empty signature segment.
            "none" if self.emulator && signature.is_empty() => {
                decode_segment(payload).ok_or(TokenError::BadClaims)?
            }
            // Attacker-chosen text: keep what reaches the log short.
            other => return Err(TokenError::WrongAlg(other.chars().take(16).collect())),
        };
        self.check_claims(&claims, expected, now_secs())?;
        Ok(claims)
    }

    fn check_claims(
        &self,
        c: &BlockingClaims,
        expected: EventType,
        now: f64,
    ) -> Result<(), TokenError> {
        if c.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        let addressed_to_us = match &c.aud {
            Audience::One(a) => self.audiences.contains(a),
            Audience::Many(list) => list.iter().any(|a| self.audiences.contains(a)),
        };
        if !addressed_to_us {
            return Err(TokenError::WrongAudience);
        }
        let skew = CLOCK_SKEW.as_secs_f64();
        if c.exp + skew <= now {
            return Err(TokenError::Expired);
        }
        if c.iat > now + skew {
            return Err(TokenError::IssuedInFuture);
        }
        if c.sub.is_empty() || c.sub.chars().count() > MAX_SUB_LEN {
            return Err(TokenError::BadSubject);
        }
        if c.sub != c.user_record.uid {
            return Err(TokenError::SubjectMismatch);
        }
        if c.event_type != expected.as_str() {
            return Err(TokenError::WrongEventType {
                expected: expected.as_str(),
                got: c.event_type.chars().take(64).collect(),
            });
        }
        Ok(())
    }
}

fn decode_segment<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
