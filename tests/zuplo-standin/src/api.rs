//! The Developer API surface: consumers of one account/bucket and the key collection of each
//! consumer (`…/consumers/{name}/keys`, list and create), plus `who-am-i`.
//!
//! Routing is done by hand on path segments instead of with axum's router so that every
//! outcome, including unknown routes, wrong methods and unparsable queries, is a Zuplo-style
//! problem response (axum's own rejections are plain text), and so that `/consumers` and
//! `/consumers/` behave the same as Zuplo's docs assume (zuplo.md §2).
//!
//! Each request runs through the same pipeline: record the call, apply an injected fault,
//! the rate limit, bearer auth, the account/bucket scope, then the operation. Faults come
//! first so that "the next request fails" holds regardless of auth or rate-limit state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::mint;
use crate::problem::{problem, with_retry_after};
use crate::server::ConnectionKill;
use crate::state::{Consumer, Key, Manager, Shared};
use crate::{FaultAction, is_control_path};

/// Larger bodies are refused; real create bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Zuplo's documented limits (zuplo.md §5).
const MAX_TAGS: usize = 5;
const MAX_METADATA_BYTES: usize = 1024;
const MAX_LIST_LIMIT: u64 = 1000;
const NAME_RULE: &str = "^[a-z0-9-]{1,128}$";
const DATE_TIME_EXAMPLE: &str = "2026-12-16T00:00:00.000Z";

/// The fallback handler of the router: every request that is not a control endpoint.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if is_control_path(&path) {
        return problem(
            StatusCode::NOT_FOUND,
            "no such stand-in control endpoint",
            &path,
        );
    }
    let query = req.uri().query().unwrap_or_default().to_owned();
    let kill = req.extensions().get::<ConnectionKill>().cloned();
    let (call, fault) = shared.arrive(req.method().as_str(), &path, &query);

    let mut drop_after_write = false;
    if let Some(fault) = fault {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        match fault.action {
            FaultAction::Pass => {}
            FaultAction::DropAfterWrite => drop_after_write = true,
            FaultAction::DropConnection => {
                return drop_connection(&shared, call, kill, &path).await;
            }
            FaultAction::Status {
                status,
                retry_after,
            } => {
                let response = match StatusCode::from_u16(status) {
                    Ok(code) => {
                        let response = problem(code, "injected fault", &path);
                        match retry_after {
                            Some(seconds) => with_retry_after(response, seconds),
                            None => response,
                        }
                    }
                    Err(_) => problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("injected fault has an invalid status {status}"),
                        &path,
                    ),
                };
                shared.finish(call, response.status().as_u16());
                return response;
            }
            FaultAction::MalformedBody => {
                shared.finish(call, StatusCode::OK.as_u16());
                return (
                    StatusCode::OK,
                    [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    r#"{"id": "#,
                )
                    .into_response();
            }
        }
    }

    let response = serve(&shared, req).await;
    if drop_after_write {
        return drop_connection(&shared, call, kill, &path).await;
    }
    shared.finish(call, response.status().as_u16());
    response
}

/// Closes the client connection without a response. The recorded status stays 0.
async fn drop_connection(
    shared: &Shared,
    call: u64,
    kill: Option<ConnectionKill>,
    path: &str,
) -> Response {
    match kill {
        Some(kill) => {
            kill.fire();
            // Never answer: the connection task drops this future together with the socket.
            std::future::pending().await
        }
        None => {
            let response = problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot drop the connection: request did not come through the stand-in's listener",
                path,
            );
            shared.finish(call, response.status().as_u16());
            response
        }
    }
}

enum Route<'a> {
    WhoAmI,
    Consumers,
    Consumer(&'a str),
    /// `…/consumers/{name}/keys`: the key collection of one consumer.
    Keys(&'a str),
    /// A Developer API route the stand-in does not model (buckets, single keys, `keys/$bulk`,
    /// managers, roll-key).
    Unimplemented,
}

/// The normal (fault-free) behaviour of one API request.
async fn serve(shared: &Shared, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if !shared.admit() {
        return with_retry_after(
            problem(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded", &path),
            1,
        );
    }
    if !authorized(shared, req.headers()) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "missing or invalid bearer token",
            &path,
        );
    }
    let route = match route(shared, &path) {
        Ok(route) => route,
        Err((status, detail)) => return problem(status, detail, &path),
    };
    let params = match Params::parse(req.uri()) {
        Ok(params) => params,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, detail, &path),
    };
    let method = req.method().clone();
    let result = match (route, method) {
        (Route::WhoAmI, Method::GET) => Ok(who_am_i(shared)),
        (Route::Consumers, Method::GET) => list(shared, &params),
        (Route::Consumers, Method::POST) => match read_body(req).await {
            Ok(body) => create(shared, &params, &body),
            Err(e) => Err(e),
        },
        (Route::Consumer(name), Method::GET) => read(shared, &params, name),
        (Route::Consumer(name), Method::DELETE) => delete(shared, &params, name),
        (Route::Keys(name), Method::GET) => list_keys(shared, &params, name),
        (Route::Keys(name), Method::POST) => match read_body(req).await {
            Ok(body) => create_key(shared, &params, name, &body),
            Err(e) => Err(e),
        },
        (Route::Consumer(_), Method::PATCH) | (Route::Unimplemented, _) => Err((
            StatusCode::NOT_IMPLEMENTED,
            "this Developer API operation is not implemented by the stand-in".to_owned(),
        )),
        (route, _) => {
            let allow = match route {
                Route::WhoAmI => "GET",
                Route::Consumers | Route::Keys(_) => "GET, POST",
                _ => "GET, DELETE, PATCH",
            };
            let mut response = problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this resource",
                &path,
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            return response;
        }
    };
    match result {
        Ok(response) => response,
        Err((status, detail)) => problem(status, detail, &path),
    }
}

async fn read_body(req: Request) -> Result<axum::body::Bytes, (StatusCode, String)> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            bad_request(format!(
                "could not read the request body (limit {MAX_BODY_BYTES} bytes)"
            ))
        })
}

/// Bearer auth against the configured tokens. The scheme name is case-insensitive.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    let token = token.trim();
    scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && shared.lock().tokens.iter().any(|t| t == token)
}

/// Maps a path to a route, answering 404 for unknown paths and foreign accounts or buckets.
fn route<'a>(shared: &Shared, path: &'a str) -> Result<Route<'a>, (StatusCode, String)> {
    let not_found = |detail: String| (StatusCode::NOT_FOUND, detail);
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').collect();
    match segments.as_slice() {
        ["", "v1", "who-am-i"] => Ok(Route::WhoAmI),
        ["", "v1", "accounts", account, rest @ ..] => {
            if *account != shared.account {
                return Err(not_found(format!("account '{account}' not found")));
            }
            match rest {
                ["key-buckets"] => Ok(Route::Unimplemented),
                ["key-buckets", bucket, rest @ ..] => {
                    if *bucket != shared.bucket {
                        return Err(not_found(format!("bucket '{bucket}' not found")));
                    }
                    match rest {
                        ["consumers"] => Ok(Route::Consumers),
                        ["consumers", name] => Ok(Route::Consumer(name)),
                        ["consumers", name, "keys"] => Ok(Route::Keys(name)),
                        _ => Ok(Route::Unimplemented),
                    }
                }
                _ => Err(not_found("no such route".to_owned())),
            }
        }
        _ => Err(not_found("no such route".to_owned())),
    }
}

type ApiResult = Result<Response, (StatusCode, String)>;

fn bad_request(detail: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, detail.into())
}

fn consumer_not_found(shared: &Shared, name: &str) -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        format!("consumer '{name}' not found in bucket '{}'", shared.bucket),
    )
}

fn ok_json(value: &Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

fn who_am_i(shared: &Shared) -> Response {
    ok_json(&json!({ "sub": "zuplo-standin|api-key", "account": shared.account }))
}

/// How `key` values are rendered (`key-format`).
#[derive(Clone, Copy)]
enum KeyFormat {
    Visible,
    Masked,
    None,
}

/// The decoded query string.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(uri: &Uri) -> Result<Params, String> {
        Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|Query(pairs)| Params(pairs))
            .map_err(|e| format!("invalid query string: {e}"))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(format!("{name} must be true or false, got '{other}'")),
        }
    }

    /// The default is `masked`: Zuplo leaves it undocumented, and a client that forgets to
    /// ask for `visible` should notice in tests rather than in production.
    fn key_format(&self) -> Result<KeyFormat, String> {
        match self.get("key-format") {
            None | Some("masked") => Ok(KeyFormat::Masked),
            Some("visible") => Ok(KeyFormat::Visible),
            Some("none") => Ok(KeyFormat::None),
            Some(other) => Err(format!(
                "key-format must be visible, masked or none, got '{other}'"
            )),
        }
    }

    /// `tag.<k>=<v>` filters, combined with AND by the callers.
    fn tags(&self) -> Result<Vec<(String, String)>, String> {
        let mut tags = Vec::new();
        for (k, v) in &self.0 {
            if let Some(tag) = k.strip_prefix("tag.") {
                if tag.is_empty() {
                    return Err("tag filters need a name: tag.<name>=<value>".to_owned());
                }
                tags.push((tag.to_owned(), v.clone()));
            }
        }
        Ok(tags)
    }

    fn number(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{name} must be an integer, got '{v}'"))
            })
            .transpose()
    }
}

/// `limit` and `offset` of a list call, shared by the consumer and key lists.
#[derive(Clone, Copy)]
struct Page {
    limit: u64,
    offset: u64,
}

impl Page {
    /// The spec bounds `limit` to 1..=1000 and says "if the value exceeds the maximum, then
    /// the maximum value will be used"; a value below 1 is likewise raised to 1 rather than
    /// refused. Both parameters are optional (Zuplo's own examples omit them), a negative
    /// `offset` is 400, and a non-integer either is 400.
    fn from_params(params: &Params) -> Result<Page, String> {
        let limit = params.number("limit")?.map_or(MAX_LIST_LIMIT, |n| {
            u64::try_from(n.clamp(1, 1000)).unwrap_or(MAX_LIST_LIMIT)
        });
        let offset = match params.number("offset")? {
            None => 0,
            Some(n) => u64::try_from(n).map_err(|_| "offset must not be negative".to_owned())?,
        };
        Ok(Page { limit, offset })
    }

    /// The `{data, limit, offset, total}` envelope of this page of `items`.
    fn envelope<T>(self, items: Vec<T>, render: impl Fn(T) -> Value) -> Value {
        let total = items.len();
        let data: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .map(render)
            .collect();
        json!({
            "data": data,
            "limit": self.limit,
            "offset": self.offset,
            "total": total,
        })
    }
}

/// What a consumer response should include beyond the base fields.
#[derive(Clone, Copy)]
struct Render {
    keys: Option<KeyFormat>,
    managers: bool,
}

impl Render {
    fn from_params(params: &Params) -> Result<Render, String> {
        let format = params.key_format()?;
        Ok(Render {
            keys: params.flag("include-api-keys")?.then_some(format),
            managers: params.flag("include-managers")?,
        })
    }
}

fn render_key(key: &Key, format: KeyFormat) -> Value {
    let mut value = json!({
        "id": key.id,
        "createdOn": key.created_on,
        "updatedOn": key.updated_on,
        "expiresOn": key.expires_on,
        "description": key.description,
    });
    let shown = match format {
        KeyFormat::Visible => Some(key.key.clone()),
        KeyFormat::Masked => Some(mint::mask_key(&key.key)),
        KeyFormat::None => None,
    };
    if let (Some(shown), Some(object)) = (shown, value.as_object_mut()) {
        object.insert("key".to_owned(), Value::String(shown));
    }
    value
}

fn render_consumer(consumer: &Consumer, render: Render) -> Value {
    let mut value = json!({
        "id": consumer.id,
        "name": consumer.name,
        "description": consumer.description,
        "createdOn": consumer.created_on,
        "updatedOn": consumer.updated_on,
        "tags": consumer.tags,
        "metadata": consumer.metadata,
    });
    if let Some(object) = value.as_object_mut() {
        if let Some(format) = render.keys {
            let keys = consumer
                .keys
                .iter()
                .map(|k| render_key(k, format))
                .collect();
            object.insert("apiKeys".to_owned(), Value::Array(keys));
        }
        if render.managers {
            // Email-only invites are not managers yet; Zuplo reports them separately under
            // `include-manager-invites`, whose response shape is undocumented.
            let managers = consumer
                .managers
                .iter()
                .filter_map(|m| {
                    m.sub.as_ref().map(|sub| {
                        json!({ "id": m.id, "createdOn": m.created_on, "email": m.email, "sub": sub })
                    })
                })
                .collect();
            object.insert("managers".to_owned(), Value::Array(managers));
        }
    }
    value
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A validated create body.
struct NewConsumer {
    name: String,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    metadata: Value,
    /// (email, sub); `sub` is `None` for invites.
    managers: Vec<(String, Option<String>)>,
}

/// Absent and `null` are treated alike for optional fields.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn email(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| s.contains('@'))
        .map(str::to_owned)
}

fn parse_create(body: &[u8]) -> Result<NewConsumer, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let Value::Object(body) = value else {
        return Err("request body must be a JSON object".to_owned());
    };

    let name = match field(&body, "name") {
        None => return Err("name is required".to_owned()),
        Some(Value::String(name)) if valid_name(name) => name.clone(),
        Some(Value::String(_)) => return Err(format!("name must match {NAME_RULE}")),
        Some(_) => return Err("name must be a string".to_owned()),
    };

    let description = match field(&body, "description") {
        None => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err("description must be a string".to_owned()),
    };

    let tags = match field(&body, "tags") {
        None => BTreeMap::new(),
        Some(Value::Object(tags)) => {
            if tags.len() > MAX_TAGS {
                return Err(format!("a consumer can have at most {MAX_TAGS} tags"));
            }
            let mut out = BTreeMap::new();
            for (k, v) in tags {
                let Value::String(v) = v else {
                    return Err(format!("tag '{k}' must have a string value"));
                };
                if k.is_empty() {
                    return Err("tag names must not be empty".to_owned());
                }
                out.insert(k.clone(), v.clone());
            }
            out
        }
        Some(_) => return Err("tags must be an object of string values".to_owned()),
    };

    let metadata = match field(&body, "metadata") {
        None => Value::Object(Map::new()),
        Some(metadata @ Value::Object(_)) => {
            let size = metadata.to_string().len();
            if size > MAX_METADATA_BYTES {
                return Err(format!(
                    "metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}"
                ));
            }
            metadata.clone()
        }
        Some(_) => return Err("metadata must be a JSON object".to_owned()),
    };

    let managers = match field(&body, "managers") {
        None => Vec::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .map(|item| email(item).map(|e| (e, None)))
            .collect::<Option<Vec<_>>>()
            .ok_or("managers must be email addresses")?,
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => items
            .iter()
            .map(|item| {
                let email = item.get("email").and_then(email)?;
                let sub = item.get("sub").and_then(Value::as_str)?;
                (!sub.is_empty()).then(|| (email, Some(sub.to_owned())))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or("each manager object needs an email address and a non-empty sub")?,
        Some(_) => {
            return Err(
                "managers must be an array of email addresses or of {email, sub} objects"
                    .to_owned(),
            );
        }
    };

    if field(&body, "apiKeys").is_some_and(|keys| keys.as_array().is_none_or(|a| !a.is_empty())) {
        return Err(
            "apiKeys on create is not implemented by the stand-in; use with-api-key=true"
                .to_owned(),
        );
    }

    Ok(NewConsumer {
        name,
        description,
        tags,
        metadata,
        managers,
    })
}

fn create(shared: &Shared, params: &Params, body: &[u8]) -> ApiResult {
    let with_key = params.flag("with-api-key").map_err(bad_request)?;
    let new = parse_create(body).map_err(bad_request)?;

    let now = mint::now();
    let consumer = Consumer {
        id: mint::consumer_id(),
        name: new.name,
        description: new.description,
        created_on: now.clone(),
        updated_on: now.clone(),
        tags: new.tags,
        metadata: new.metadata,
        managers: new
            .managers
            .into_iter()
            .map(|(email, sub)| Manager {
                id: mint::manager_id(),
                created_on: now.clone(),
                email,
                sub,
            })
            .collect(),
        keys: if with_key {
            vec![Key {
                id: mint::key_id(),
                created_on: now.clone(),
                updated_on: now.clone(),
                expires_on: None,
                description: None,
                key: mint::mint_key(),
            }]
        } else {
            Vec::new()
        },
    };

    let mut state = shared.lock();
    if state.consumers.iter().any(|c| c.name == consumer.name) {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "a consumer named '{}' already exists in bucket '{}'",
                consumer.name, shared.bucket
            ),
        ));
    }
    let render = Render {
        keys: with_key.then_some(KeyFormat::Visible),
        managers: false,
    };
    let body = render_consumer(&consumer, render);
    state.consumers.push(consumer);
    Ok(ok_json(&body))
}

fn list(shared: &Shared, params: &Params) -> ApiResult {
    let render = Render::from_params(params).map_err(bad_request)?;
    let tags = params.tags().map_err(bad_request)?;
    let page = Page::from_params(params).map_err(bad_request)?;
    let manager_email = params.get("manager-email");

    let state = shared.lock();
    let matching: Vec<&Consumer> = state
        .consumers
        .iter()
        .filter(|c| c.matches_tags(&tags))
        .filter(|c| {
            manager_email.is_none_or(|e| c.managers.iter().any(|m| m.email.eq_ignore_ascii_case(e)))
        })
        .collect();
    Ok(ok_json(
        &page.envelope(matching, |c| render_consumer(c, render)),
    ))
}

fn read(shared: &Shared, params: &Params, name: &str) -> ApiResult {
    let render = Render::from_params(params).map_err(bad_request)?;
    let tags = params.tags().map_err(bad_request)?;
    let state = shared.lock();
    state
        .consumers
        .iter()
        .find(|c| c.name == name && c.matches_tags(&tags))
        .map(|c| ok_json(&render_consumer(c, render)))
        .ok_or_else(|| consumer_not_found(shared, name))
}

fn delete(shared: &Shared, params: &Params, name: &str) -> ApiResult {
    let tags = params.tags().map_err(bad_request)?;
    let mut state = shared.lock();
    let index = state
        .consumers
        .iter()
        .position(|c| c.name == name && c.matches_tags(&tags))
        .ok_or_else(|| consumer_not_found(shared, name))?;
    state.consumers.remove(index);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A validated `ApiKeyCreateOrUpdateBody`.
struct NewKey {
    /// Already normalised to Zuplo's timestamp form.
    expires_on: Option<String>,
    description: Option<String>,
    /// A caller-chosen key value; `None` mints one in Zuplo's default format.
    key: Option<String>,
}

/// The spec types every field as an optional string and `expiresOn` as `format: date-time`
/// (RFC 3339). Absent and `null` are alike, as on consumer create, so `null` means "no
/// expiry"; unknown fields are ignored, as Zuplo's schemas do not forbid them.
fn parse_key_body(body: &[u8]) -> Result<NewKey, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let Value::Object(body) = value else {
        return Err("request body must be a JSON object".to_owned());
    };
    let string = |name: &str| -> Result<Option<&str>, String> {
        match field(&body, name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let expires_on = match string("expiresOn")? {
        None => None,
        Some(text) => Some(mint::normalize_date_time(text).ok_or_else(|| {
            format!(
                "expiresOn must be an RFC 3339 date-time like {DATE_TIME_EXAMPLE}, got '{text}'"
            )
        })?),
    };
    let description = string("description")?.map(str::to_owned);
    let key = match string("key")? {
        Some("") => return Err("key must not be empty".to_owned()),
        key => key.map(str::to_owned),
    };
    Ok(NewKey {
        expires_on,
        description,
        key,
    })
}

/// `POST …/consumers/{name}/keys`: one more key for an existing consumer, answered in full
/// (`key` visible, as on every create). The body is validated before the consumer is looked
/// up, so a bad body is 400 even for a consumer that does not exist. The consumer's own
/// `updatedOn` is left alone: the key is a resource of its own with its own timestamps.
fn create_key(shared: &Shared, params: &Params, name: &str, body: &[u8]) -> ApiResult {
    let tags = params.tags().map_err(bad_request)?;
    let new = parse_key_body(body).map_err(bad_request)?;
    let now = mint::now();
    let key = Key {
        id: mint::key_id(),
        created_on: now.clone(),
        updated_on: now,
        expires_on: new.expires_on,
        description: new.description,
        key: new.key.unwrap_or_else(mint::mint_key),
    };

    let mut state = shared.lock();
    let index = state
        .consumers
        .iter()
        .position(|c| c.name == name && c.matches_tags(&tags))
        .ok_or_else(|| consumer_not_found(shared, name))?;
    // Keys are looked up by value at the gateway, so a caller-chosen value must be unique.
    if state
        .consumers
        .iter()
        .flat_map(|c| &c.keys)
        .any(|k| k.key == key.key)
    {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "an API key with this value already exists in bucket '{}'",
                shared.bucket
            ),
        ));
    }
    let body = render_key(&key, KeyFormat::Visible);
    state.consumers[index].keys.push(key);
    Ok(ok_json(&body))
}

/// `GET …/consumers/{name}/keys`: the consumer's keys in creation order, paged like the
/// consumer list. 404 when the consumer does not exist (zuplo.md §2, S4).
fn list_keys(shared: &Shared, params: &Params, name: &str) -> ApiResult {
    let format = params.key_format().map_err(bad_request)?;
    let tags = params.tags().map_err(bad_request)?;
    let page = Page::from_params(params).map_err(bad_request)?;
    let state = shared.lock();
    let consumer = state
        .consumers
        .iter()
        .find(|c| c.name == name && c.matches_tags(&tags))
        .ok_or_else(|| consumer_not_found(shared, name))?;
    let keys: Vec<&Key> = consumer.keys.iter().collect();
    Ok(ok_json(&page.envelope(keys, |k| render_key(k, format))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        assert!(valid_name("a"));
        assert!(valid_name("c-3f0c1c9e-6a4b-4d0e-9c53-0b8f3f2a9d11"));
        assert!(valid_name(&"x".repeat(128)));
        assert!(!valid_name(""));
        assert!(!valid_name(&"x".repeat(129)));
        assert!(!valid_name("Upper"));
        assert!(!valid_name("org_123"));
        assert!(!valid_name("with space"));
        assert!(!valid_name("é"));
    }

    #[test]
    fn metadata_limit_is_on_the_serialized_size() {
        // {"k":"<v>"} is 8 bytes of framing around the value.
        let body = |n: usize| format!(r#"{{"name":"a","metadata":{{"k":"{}"}}}}"#, "v".repeat(n));
        assert!(parse_create(body(1016).as_bytes()).is_ok());
        let err = parse_create(body(1017).as_bytes()).err().unwrap();
        assert!(err.contains("1025 bytes"), "{err}");
    }
}
