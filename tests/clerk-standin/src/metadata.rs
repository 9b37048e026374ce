//! The body of `PATCH /v1/users/{user_id}/metadata`: validation and the deep merge.
//!
//! Clerk's schema for the body is an object with `additionalProperties: false` and three
//! optional object-typed properties; its description of the merge is "Deep means that any
//! nested JSON objects will be merged as well. You can remove metadata keys at any level by
//! setting their value to `null`." That is JSON Merge Patch (RFC 7396) applied per field.

use serde_json::{Map, Value};

/// The three top-level fields Clerk accepts, in the order errors report them.
pub(crate) const FIELDS: [&str; 3] = ["public_metadata", "private_metadata", "unsafe_metadata"];

/// A validated body: the fields present, each an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MetadataPatch {
    pub(crate) public: Option<Map<String, Value>>,
    pub(crate) private: Option<Map<String, Value>>,
    pub(crate) unsafe_: Option<Map<String, Value>>,
}

/// One parameter error as Clerk reports it (`form_param_*`, with `meta.param_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamError {
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
    pub(crate) long_message: String,
    pub(crate) param_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// The body is not a JSON object at all: 400.
    Malformed(String),
    /// A JSON object with unknown or mistyped fields, every one listed: 422.
    Params(Vec<ParamError>),
}

/// Validates a request body. Unknown keys are reported before mistyped ones, like a form
/// parser that first matches names and then decodes values.
pub(crate) fn parse_patch(body: &[u8]) -> Result<MetadataPatch, BodyError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(BodyError::Malformed(
            "the request body must be a JSON object".to_owned(),
        ));
    };

    let unknown: Vec<ParamError> = object
        .keys()
        .filter(|key| !FIELDS.contains(&key.as_str()))
        .map(|key| ParamError {
            code: "form_param_unknown",
            message: "is unknown",
            long_message: format!("{key} is not a valid parameter for this request."),
            param_name: key.clone(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(BodyError::Params(unknown));
    }

    let mut mistyped = Vec::new();
    let mut take = |name: &str| match object.remove(name) {
        None => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            mistyped.push(ParamError {
                code: "form_param_format_invalid",
                message: "is invalid",
                long_message: format!("{name} must be a JSON object."),
                param_name: name.to_owned(),
            });
            None
        }
    };
    let patch = MetadataPatch {
        public: take(FIELDS[0]),
        private: take(FIELDS[1]),
        unsafe_: take(FIELDS[2]),
    };
    if mistyped.is_empty() {
        Ok(patch)
    } else {
        Err(BodyError::Params(mistyped))
    }
}

/// Merges `patch` into `target`: objects recursively, `null` deletes the key, anything else
/// (arrays included) replaces. A new nested object is stored without its `null` members.
pub(crate) fn deep_merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, change) in patch {
        match change {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(nested) => {
                if let Some(Value::Object(existing)) = target.get_mut(key) {
                    deep_merge(existing, nested);
                } else {
                    let mut fresh = Map::new();
                    deep_merge(&mut fresh, nested);
                    target.insert(key.clone(), Value::Object(fresh));
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn merged(target: Value, patch: Value) -> Value {
        let mut target = object(target);
        deep_merge(&mut target, &object(patch));
        Value::Object(target)
    }

    #[test]
    fn merges_nested_objects_and_deletes_nulls_at_any_level() {
        assert_eq!(
            merged(
                json!({"a": 1, "n": {"x": 1, "y": {"deep": true, "gone": 1}}, "drop": "me"}),
                json!({"b": 2, "n": {"z": 3, "y": {"gone": null}}, "drop": null}),
            ),
            json!({"a": 1, "b": 2, "n": {"x": 1, "z": 3, "y": {"deep": true}}}),
        );
    }

    #[test]
    fn arrays_and_scalars_replace_and_objects_replace_scalars() {
        assert_eq!(
            merged(
                json!({"list": [1, 2, 3], "s": {"k": 1}, "o": 5}),
                json!({"list": [4], "s": "flat", "o": {"k": null, "v": 1}}),
            ),
            json!({"list": [4], "s": "flat", "o": {"v": 1}}),
        );
        assert_eq!(
            merged(json!({}), json!({"keep_nulls_in_arrays": [null]})),
            json!({"keep_nulls_in_arrays": [null]}),
        );
        assert_eq!(
            merged(json!({}), json!({"absent": null})),
            json!({}),
            "deleting a missing key is a no-op"
        );
    }

    #[test]
    fn accepts_any_subset_of_the_three_fields() {
        let patch = parse_patch(br#"{"public_metadata":{"a":1},"unsafe_metadata":{}}"#).unwrap();
        assert_eq!(patch.public, Some(object(json!({"a": 1}))));
        assert_eq!(patch.private, None);
        assert_eq!(patch.unsafe_, Some(Map::new()));
        assert_eq!(parse_patch(b"{}").unwrap(), MetadataPatch::default());
    }

    #[test]
    fn rejects_what_the_schema_does_not_allow() {
        for body in [&b""[..], b"{", b"[]", b"\"x\"", b"null"] {
            assert!(
                matches!(parse_patch(body), Err(BodyError::Malformed(_))),
                "{body:?}"
            );
        }
        let Err(BodyError::Params(errors)) =
            parse_patch(br#"{"publicMetadata":{},"public_metadata":3,"x":1}"#)
        else {
            panic!("expected parameter errors");
        };
        let names: Vec<_> = errors.iter().map(|e| e.param_name.as_str()).collect();
        assert_eq!(names, ["publicMetadata", "x"], "unknown keys come first");
        assert!(errors.iter().all(|e| e.code == "form_param_unknown"));

        let Err(BodyError::Params(errors)) =
            parse_patch(br#"{"public_metadata":[1],"private_metadata":null}"#)
        else {
            panic!("expected parameter errors");
        };
        let names: Vec<_> = errors.iter().map(|e| e.param_name.as_str()).collect();
        assert_eq!(names, ["public_metadata", "private_metadata"]);
        assert!(errors.iter().all(|e| e.code == "form_param_format_invalid"));
    }
}
