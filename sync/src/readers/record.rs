//! One user record as read from an export, reduced to the fields its provider's reader
//! asked for, and typed access to them with errors that name the field.
//!
//! Messages name a field and what is wrong with it, never its value: a record may hold
//! password hashes, and its other values are personal data.

use serde_json::{Map, Value};

/// A place in a file: line and column (both from 1), as serde_json counts them.
pub(crate) type Pos = (usize, usize);

/// Field names longer than this are cut in messages.
const MAX_NAME_CHARS: usize = 64;

/// A field kept from a record, with where its name ended in the file.
#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug)]
pub(crate) enum Body {
    Object(Vec<Field>),
    /// Not a JSON object: what it was instead (`a string`, `null`, …).
    Other(&'static str),
}

#[derive(Debug)]
pub(crate) struct Record {
    /// The array the record is in (`users`, `Users`, `data`, or empty for a bare array
    /// or a line of NDJSON).
    pub array: &'static str,
    /// Its index in that array; `None` for a line of NDJSON (the line number says where).
    pub index: Option<usize>,
    /// Where the record begins (its `{`).
    pub start: Pos,
    pub body: Body,
}

/// What is wrong with one record; the reading goes on with the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub pos: Pos,
    pub message: String,
}

impl Record {
    /// `users[3]`, `[3]`, or empty.
    pub fn path(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.array),
            None => String::new(),
        }
    }

    /// `users[3].email`, or `email` for a line of NDJSON.
    pub fn field_path(&self, field: &str) -> String {
        join(&self.path(), field)
    }

    /// An error about the record as a whole.
    pub fn error(&self, what: impl std::fmt::Display) -> FieldError {
        let path = self.path();
        FieldError {
            pos: self.start,
            message: if path.is_empty() {
                what.to_string()
            } else {
                format!("{path}: {what}")
            },
        }
    }

    /// An error about `field` (a path below the record, e.g. `providerUserInfo[0].providerId`),
    /// at the place of the record's field `at` if it was read, else at the record's start.
    pub fn field_error(&self, at: &str, field: &str, what: impl std::fmt::Display) -> FieldError {
        FieldError {
            pos: self.pos_of(at),
            message: format!("{}: {what}", self.field_path(field)),
        }
    }

    fn pos_of(&self, name: &str) -> Pos {
        match &self.body {
            Body::Object(fields) => fields
                .iter()
                .rev()
                .find(|f| f.name == name)
                .map_or(self.start, |f| f.pos),
            Body::Other(_) => self.start,
        }
    }

    /// The record's kept fields; an error if the record is not an object.
    pub fn expect_object(&self) -> Result<(), FieldError> {
        match self.body {
            Body::Object(_) => Ok(()),
            Body::Other(kind) => Err(self.error(format!("expected an object, found {kind}"))),
        }
    }

    /// The value of `name` (the last one, if the record repeats it), `None` when absent
    /// or `null`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        match &self.body {
            Body::Object(fields) => fields
                .iter()
                .rev()
                .find(|f| f.name == name)
                .map(|f| &f.value)
                .filter(|v| !v.is_null()),
            Body::Other(_) => None,
        }
    }

    /// Takes the value of `name` out of the record (see [`Record::value`]).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        match &mut self.body {
            Body::Object(fields) => {
                let i = fields.iter().rposition(|f| f.name == name)?;
                Some(std::mem::take(&mut fields[i].value)).filter(|v| !v.is_null())
            }
            Body::Other(_) => None,
        }
    }

    /// A string field that must be present and not empty (a user id).
    pub fn required_str(&self, name: &str) -> Result<&str, FieldError> {
        match self.optional_str(name)? {
            None => Err(self.field_error(name, name, "missing")),
            Some("") => Err(self.field_error(name, name, "empty")),
            Some(s) => Ok(s),
        }
    }

    /// A string field, `None` when absent or `null`.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, FieldError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(name, name, "a string", other)),
        }
    }

    /// A boolean field, `None` when absent or `null`.
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(name, name, "a boolean", other)),
        }
    }

    /// An array field, `None` when absent or `null`.
    pub fn optional_array(&self, name: &str) -> Result<Option<&Vec<Value>>, FieldError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(name, name, "an array", other)),
        }
    }

    /// An object field, `None` when absent or `null`.
    pub fn optional_object(&self, name: &str) -> Result<Option<&Map<String, Value>>, FieldError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(self.wrong_type(name, name, "an object", other)),
        }
    }

    /// "expected a string, found a number", about `field` below the record's field `at`.
    pub fn wrong_type(&self, at: &str, field: &str, expected: &str, found: &Value) -> FieldError {
        self.field_error(
            at,
            field,
            format!("expected {expected}, found {}", kind(found)),
        )
    }

    /// Checks that `items` (the record's array field `at`) holds objects, and that their
    /// fields listed in `strings` are strings (or absent/`null`, unless also `required`).
    /// Returns the objects.
    pub fn objects_in<'a>(
        &self,
        at: &str,
        items: &'a [Value],
        strings: &[&str],
        required: &[&str],
    ) -> Result<Vec<&'a Map<String, Value>>, FieldError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let here = format!("{at}[{i}]");
                let Value::Object(map) = item else {
                    return Err(self.wrong_type(at, &here, "an object", item));
                };
                for name in strings {
                    let field = || join(&here, name);
                    match map.get(*name) {
                        None | Some(Value::Null) if required.contains(name) => {
                            return Err(self.field_error(at, &field(), "missing"));
                        }
                        None | Some(Value::Null) | Some(Value::String(_)) => {}
                        Some(other) => {
                            return Err(self.wrong_type(at, &field(), "a string", other));
                        }
                    }
                }
                Ok(map)
            })
            .collect()
    }
}

/// `a.b`; `b` when `a` is empty, `a` when `b` is.
pub(crate) fn join(path: &str, field: &str) -> String {
    let field = shorten(field);
    if field.is_empty() {
        path.to_owned()
    } else if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// A field name as shown in messages: at most [`MAX_NAME_CHARS`] characters.
pub(crate) fn shorten(name: &str) -> &str {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => &name[..end],
        None => name,
    }
}

/// What a JSON value is, for messages (never the value itself).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string value that is present and not empty.
pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(fields: Vec<(&'static str, Value)>) -> Record {
        Record {
            array: "users",
            index: Some(3),
            start: (10, 1),
            body: Body::Object(
                fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, value))| Field {
                        name,
                        value,
                        pos: (11 + i, 4),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn errors_name_the_field_and_its_place() {
        let r = record(vec![("localId", json!(5)), ("email", json!(null))]);
        assert_eq!(
            r.required_str("localId").unwrap_err(),
            FieldError {
                pos: (11, 4),
                message: "users[3].localId: expected a string, found a number".into()
            }
        );
        assert_eq!(
            r.required_str("email").unwrap_err().message,
            "users[3].email: missing"
        );
        assert_eq!(
            r.required_str("uid").unwrap_err(),
            FieldError {
                pos: (10, 1),
                message: "users[3].uid: missing".into()
            }
        );
        assert_eq!(r.optional_str("email"), Ok(None));
    }

    #[test]
    fn objects_in_checks_each_item() {
        let r = record(vec![("p", json!([{"a": "x"}, {"a": 1}]))]);
        let items = r.optional_array("p").unwrap().unwrap();
        assert_eq!(
            r.objects_in("p", items, &["a"], &[]).unwrap_err().message,
            "users[3].p[1].a: expected a string, found a number"
        );
        let r = record(vec![("p", json!([{"b": "x"}]))]);
        let items = r.optional_array("p").unwrap().unwrap();
        assert_eq!(
            r.objects_in("p", items, &["a"], &["a"])
                .unwrap_err()
                .message,
            "users[3].p[0].a: missing"
        );
        let r = record(vec![("p", json!(["secret"]))]);
        let items = r.optional_array("p").unwrap().unwrap();
        let message = r.objects_in("p", items, &[], &[]).unwrap_err().message;
        assert_eq!(message, "users[3].p[0]: expected an object, found a string");
    }

    #[test]
    fn long_names_are_cut() {
        let long = "k".repeat(200);
        assert_eq!(join("", &long).len(), MAX_NAME_CHARS);
    }
}
