//! The export readers on the providers' own file formats: the Firebase captures from
//! lifecycle.md §2.2/§2.3 verbatim, the others shaped like the documented answers, and
//! broken variants of each.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use zuplo_auth_hooks::providers;
use zuplo_auth_hooks::provision::{ConsumerName, Identity};
use zuplo_auth_sync::readers::{ExportUser, ReadError, SKIP_ANONYMOUS, SKIP_DELETED, Source, open};

const PROJECT: &str = "demo-x";
const TENANT: &str = "h21ikviEHN1WzsxXWIyHnUdDDEig";
const ISSUER: &str = "https://abcdefghijklmnop.supabase.co/auth/v1";
const POOL: &str = "us-east-1_EXAMPLE";
const CLERK_NS: &str = "ins_123";
const AUTH0_TENANT: &str = "dev-abc123";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn firebase(tenant: Option<&str>) -> Source {
    Source::Firebase {
        project: PROJECT.into(),
        tenant: tenant.map(str::to_owned),
    }
}

fn supabase() -> Source {
    Source::Supabase {
        issuer: ISSUER.into(),
    }
}

fn cognito() -> Source {
    Source::Cognito {
        user_pool_id: POOL.into(),
    }
}

fn clerk() -> Source {
    Source::Clerk {
        namespace: CLERK_NS.into(),
    }
}

fn auth0() -> Source {
    Source::Auth0 {
        tenant: AUTH0_TENANT.into(),
    }
}

fn read(source: &Source, files: &[PathBuf]) -> Vec<Result<ExportUser, ReadError>> {
    open(source, files).expect("the files open").collect()
}

fn read_fixtures(source: &Source, names: &[&str]) -> Vec<Result<ExportUser, ReadError>> {
    let files: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    read(source, &files)
}

/// All users, failing on any error.
fn users(source: &Source, names: &[&str]) -> Vec<ExportUser> {
    read_fixtures(source, names)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("unexpected error: {e}")))
        .collect()
}

fn ok(item: &Result<ExportUser, ReadError>) -> &ExportUser {
    match item {
        Ok(user) => user,
        Err(e) => panic!("expected a user, got {e}"),
    }
}

fn err(item: &Result<ExportUser, ReadError>) -> &ReadError {
    match item {
        Ok(user) => panic!("expected an error, got {:?}", user.identity.key.as_str()),
        Err(e) => e,
    }
}

/// Line and column (from 1) of the first character of `needle` in `file`.
fn place(file: &Path, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {}", file.display()));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |nl| nl + 1) + 1;
    (line, column)
}

/// The place of the last byte of `file`, as serde_json reports an unexpected end.
fn end_of(file: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text.matches('\n').count() + 1;
    let column = text.len() - text.rfind('\n').map_or(0, |nl| nl + 1);
    (line, column)
}

fn at(e: &ReadError) -> (usize, usize) {
    (e.line, e.column)
}

fn name(key: Result<zuplo_auth_hooks::provision::UserKey, impl std::fmt::Debug>) -> ConsumerName {
    key.unwrap().consumer_name()
}

/// The fields of an identity besides its key, for compact assertions.
fn profile(identity: &Identity) -> (Option<&str>, bool, Option<&str>, Option<&str>) {
    (
        identity.email.as_deref(),
        identity.email_verified,
        identity.display_name.as_deref(),
        identity.signup_method.as_deref(),
    )
}

// ---------------------------------------------------------------- Firebase

#[test]
fn firebase_auth_export_capture() {
    let users = users(&firebase(None), &["firebase/out.json"]);
    let uids: Vec<&str> = users.iter().map(|u| u.identity.key.user_id()).collect();
    assert_eq!(
        uids,
        [
            "bj5vGnDaiUj5HWMXCEo8k1XZm3Gb",
            "e415h9XTzWzwNs80dbxeWMlUZTLR",
            "pJRQrAJxrmakk76EKwF3eIwBypDS",
            "tTZW3QvSAYbOpwo9OQ2FHRyixLTP"
        ]
    );
    assert_eq!(
        users[0].identity.key.as_str(),
        "firebase:demo-x::bj5vGnDaiUj5HWMXCEo8k1XZm3Gb"
    );
    let profiles: Vec<_> = users.iter().map(|u| profile(&u.identity)).collect();
    assert_eq!(
        profiles,
        [
            (
                Some("dave@example.com"),
                true,
                Some("Dave G"),
                Some("google.com")
            ),
            // carol is disabled: provisioned all the same.
            (
                Some("carol@example.com"),
                false,
                Some("carol"),
                Some("password")
            ),
            (
                Some("alice@example.com"),
                true,
                Some("alice"),
                Some("password")
            ),
            (
                Some("bob@example.com"),
                false,
                Some("bob"),
                Some("password")
            ),
        ]
    );
    assert!(
        users
            .iter()
            .all(|u| u.skip.is_none() && u.identity.tenant.is_none())
    );
}

#[test]
fn firebase_emulator_files_read_like_the_export() {
    // The same four users: the emulator's raw file lists the password provider that
    // auth:export drops, and both give the same identities.
    let exported = users(&firebase(None), &["firebase/out.json"]);
    let emulated = users(&firebase(None), &["firebase/accounts.json"]);
    assert_eq!(exported, emulated);
}

#[test]
fn firebase_tenant_file_uses_the_records_tenant() {
    for flag in [None, Some("other-tenant")] {
        let users = users(
            &firebase(flag),
            &["firebase/accounts-h21ikviEHN1WzsxXWIyHnUdDDEig.json"],
        );
        assert_eq!(users.len(), 1);
        let erin = &users[0].identity;
        assert_eq!(erin.tenant.as_deref(), Some(TENANT));
        assert_eq!(
            erin.key.as_str(),
            "firebase:demo-x:h21ikviEHN1WzsxXWIyHnUdDDEig:kNE3CUvGCU7jReaGO6pOsSLyR0BY"
        );
        assert_eq!(
            profile(erin),
            (Some("erin@acme.test"), false, None, Some("password"))
        );
    }
}

#[test]
fn firebase_tenant_flag_applies_to_records_without_one() {
    let users = users(&firebase(Some("t-flag")), &["firebase/out.json"]);
    for user in &users {
        assert_eq!(user.identity.tenant.as_deref(), Some("t-flag"));
        assert_eq!(
            user.identity.consumer_name(),
            name(providers::firebase::user_key(
                PROJECT,
                Some("t-flag"),
                user.identity.key.user_id()
            ))
        );
    }
}

#[test]
fn firebase_emulator_file_name_names_the_tenant_when_records_do_not() {
    let dir = scratch("file-tenant");
    // An emulator (kind-marked) file named for its tenant, records without tenantId.
    let text = std::fs::read_to_string(fixture(
        "firebase/accounts-h21ikviEHN1WzsxXWIyHnUdDDEig.json",
    ))
    .unwrap()
    .replace(",\"tenantId\":\"h21ikviEHN1WzsxXWIyHnUdDDEig\"", "");
    let named = dir.join("accounts-t-from-name.json");
    std::fs::write(&named, text).unwrap();
    // An auth:export file of the same kind of name is not taken to name a tenant.
    let export = dir.join("accounts-2026-12-02.json");
    std::fs::copy(fixture("firebase/out.json"), &export).unwrap();

    let items = read(&firebase(Some("t-flag")), &[named, export]);
    let tenants: Vec<Option<&str>> = items
        .iter()
        .map(|r| ok(r).identity.tenant.as_deref())
        .collect();
    assert_eq!(
        tenants,
        [
            Some("t-from-name"),
            Some("t-flag"),
            Some("t-flag"),
            Some("t-flag"),
            Some("t-flag")
        ]
    );
}

#[test]
fn firebase_skips_anonymous_users_only() {
    let users = users(&firebase(None), &["firebase/more-users.json"]);
    let summary: Vec<_> = users
        .iter()
        .map(|u| {
            (
                u.identity.key.user_id(),
                u.skip,
                u.identity.signup_method.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("anon0000000000000000000000a1", Some(SKIP_ANONYMOUS), None),
            ("phone000000000000000000000b2", None, Some("phone")),
            ("gh00000000000000000000000c3", None, Some("github.com")),
            ("legacy:uid:with:colons", None, Some("password")),
        ]
    );
    // A uid may hold ':' (only the uid may): the key is still the hook's.
    assert_eq!(
        users[3].identity.consumer_name(),
        name(providers::firebase::user_key(
            PROJECT,
            None,
            "legacy:uid:with:colons"
        ))
    );
}

#[test]
fn firebase_several_files_in_order() {
    let users = users(
        &firebase(None),
        &[
            "firebase/out.json",
            "firebase/accounts-h21ikviEHN1WzsxXWIyHnUdDDEig.json",
        ],
    );
    assert_eq!(users.len(), 5);
    assert_eq!(
        users[4].identity.key.user_id(),
        "kNE3CUvGCU7jReaGO6pOsSLyR0BY"
    );
    assert_eq!(users[4].identity.tenant.as_deref(), Some(TENANT));
    assert!(users[..4].iter().all(|u| u.identity.tenant.is_none()));
}

#[test]
fn firebase_truncated_file_ends_with_an_error_after_the_users_before_it() {
    let file = fixture("firebase/truncated.json");
    let items = read(
        &firebase(None),
        &[file.clone(), fixture("firebase/out.json")],
    );
    // dave and carol, then the error; out.json after it is not read.
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        ok(&items[1]).identity.key.user_id(),
        "e415h9XTzWzwNs80dbxeWMlUZTLR"
    );
    let e = err(&items[2]);
    assert_eq!(e.file, file.display().to_string());
    assert_eq!(at(e), end_of(&file));
    assert_eq!(e.message, "users[2]: EOF while parsing a value");
}

#[test]
fn firebase_record_without_local_id_is_an_error_and_reading_goes_on() {
    let file = fixture("firebase/missing-localid.json");
    let items = read_fixtures(&firebase(None), &["firebase/missing-localid.json"]);
    assert_eq!(items.len(), 4);
    let e = err(&items[1]);
    assert_eq!(e.message, "users[1].localId: missing");
    // At carol's opening brace: the line before her e-mail.
    let (line, _) = place(&file, "\"email\": \"carol@example.com\"");
    assert_eq!(at(e), (line - 1, 1));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:{}:1: users[1].localId: missing",
            file.display(),
            line - 1
        )
    );
    assert_eq!(
        ok(&items[0]).identity.key.user_id(),
        "bj5vGnDaiUj5HWMXCEo8k1XZm3Gb"
    );
    assert_eq!(
        ok(&items[3]).identity.key.user_id(),
        "tTZW3QvSAYbOpwo9OQ2FHRyixLTP"
    );
}

#[test]
fn firebase_wrong_type_names_the_field_not_the_value() {
    let file = fixture("firebase/wrong-type.json");
    let items = read_fixtures(&firebase(None), &["firebase/wrong-type.json"]);
    assert_eq!(items.len(), 4);
    assert!(items[..3].iter().all(Result::is_ok));
    let e = err(&items[3]);
    assert_eq!(
        e.message,
        "users[3].emailVerified: expected a boolean, found a string"
    );
    let (line, column) = place(&file, "\"emailVerified\": \"false\"");
    // Where the field's name ends.
    assert_eq!(at(e), (line, column + "\"emailVerified\"".len() - 1));
}

// ---------------------------------------------------------------- Supabase

#[test]
fn supabase_pages() {
    let users = users(
        &supabase(),
        &["supabase/users-page-1.json", "supabase/users-page-2.json"],
    );
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.identity.key.user_id(), u.skip, profile(&u.identity)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71",
                None,
                // Never verified, as in the hook.
                (Some("ann@example.com"), false, None, None)
            ),
            (
                "1f0e2d3c-4b5a-4697-8877-665544332211",
                None,
                (
                    Some("gus@example.com"),
                    false,
                    Some("Gus Grant"),
                    Some("oauth")
                )
            ),
            (
                "a7e3c1d2-9b8f-4e6d-8c5b-4a3f2e1d0c9b",
                None,
                // A phone user's e-mail is "": none.
                (None, false, None, None)
            ),
            (
                "0d9c8b7a-6f5e-4d3c-8b2a-19f8e7d6c5b4",
                Some(SKIP_ANONYMOUS),
                (None, false, None, None)
            ),
            (
                "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716",
                Some(SKIP_DELETED),
                (None, false, None, None)
            ),
            (
                "c3b2a190-8f7e-4d6c-9b5a-4f3e2d1c0b9a",
                None,
                (
                    Some("nia@example.com"),
                    false,
                    Some("nia-codes"),
                    Some("oauth")
                )
            ),
        ]
    );
    assert_eq!(
        users[0].identity.key.as_str(),
        "supabase:https://abcdefghijklmnop.supabase.co/auth/v1:8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71"
    );
    assert!(users.iter().all(|u| u.identity.tenant.is_none()));
}

#[test]
fn supabase_record_without_id() {
    let file = fixture("supabase/missing-id.json");
    let items = read(&supabase(), std::slice::from_ref(&file));
    assert_eq!(items.len(), 3);
    let e = err(&items[1]);
    assert_eq!(e.message, "users[1].id: missing");
    // Gus's record, the second `{"aud"` of the single-line page.
    let text = std::fs::read_to_string(&file).unwrap();
    let gus = text.find("\"email\":\"gus@example.com\"").unwrap();
    let brace = text[..gus].rfind('{').unwrap();
    assert_eq!(at(e), (1, brace + 1));
    assert!(items[0].is_ok() && items[2].is_ok());
}

#[test]
fn supabase_wrong_type_and_truncated_page() {
    let items = read_fixtures(&supabase(), &["supabase/wrong-type.json"]);
    assert_eq!(items.len(), 3);
    assert_eq!(
        err(&items[2]).message,
        "users[2].is_anonymous: expected a boolean, found a string"
    );

    let file = fixture("supabase/truncated.json");
    let items = read(
        &supabase(),
        &[file.clone(), fixture("supabase/users-page-2.json")],
    );
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        ok(&items[0]).identity.key.user_id(),
        "8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71"
    );
    let e = err(&items[1]);
    assert_eq!(e.message, "users[1].email: EOF while parsing a string");
    assert_eq!(at(e), end_of(&file));
}

// ---------------------------------------------------------------- Cognito

#[test]
fn cognito_list_users_pages() {
    let users = users(
        &cognito(),
        &[
            "cognito/list-users-page-1.json",
            "cognito/list-users-page-2.json",
        ],
    );
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.identity.key.user_id(), profile(&u.identity)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "f6e0cf3a-fde2-4a0d-822c-37b61b98d184",
                (Some("alice@example.com"), true, Some("Alice"), None)
            ),
            // Federated (EXTERNAL_PROVIDER): the provider from `identities`.
            (
                "0b3c5d7e-9f1a-4b2c-8d3e-4f5a6b7c8d9e",
                (Some("gina@example.com"), false, None, Some("Google"))
            ),
            // Disabled: provisioned all the same.
            (
                "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                (Some("hal@example.com"), true, None, None)
            ),
            // FORCE_CHANGE_PASSWORD, no email_verified attribute.
            (
                "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                (Some("ivy@example.com"), false, None, None)
            ),
        ]
    );
    assert_eq!(
        users[0].identity.key.as_str(),
        "cognito:us-east-1_EXAMPLE:f6e0cf3a-fde2-4a0d-822c-37b61b98d184"
    );
    assert!(
        users
            .iter()
            .all(|u| u.skip.is_none() && u.identity.tenant.is_none())
    );
}

#[test]
fn cognito_user_without_sub_wrong_type_and_truncated_page() {
    let file = fixture("cognito/missing-sub.json");
    let items = read(&cognito(), std::slice::from_ref(&file));
    assert_eq!(items.len(), 2);
    let e = err(&items[0]);
    assert!(
        e.message
            .starts_with("Users[0].Attributes: no sub attribute"),
        "{e}"
    );
    let (line, column) = place(&file, "\"Attributes\"");
    assert_eq!(at(e), (line, column + "\"Attributes\"".len() - 1));
    assert!(items[1].is_ok());

    let items = read_fixtures(&cognito(), &["cognito/wrong-type.json"]);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(
        err(&items[1]).message,
        "Users[1].Attributes[0].Value: expected a string, found a number"
    );

    let file = fixture("cognito/truncated.json");
    let items = read(&cognito(), std::slice::from_ref(&file));
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let e = err(&items[1]);
    assert_eq!(e.message, "Users[1]: EOF while parsing a string");
    assert_eq!(at(e), end_of(&file));
}

// ---------------------------------------------------------------- Clerk

#[test]
fn clerk_pages() {
    let users = users(
        &clerk(),
        &["clerk/users-page-1.json", "clerk/users-page-2.json"],
    );
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.identity.key.user_id(), profile(&u.identity)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "user_29w83sxmDNGwOuEthce5gg56FcC",
                (
                    Some("example@example.org"),
                    true,
                    Some("Example Example"),
                    None
                )
            ),
            (
                "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
                (Some("jd@example.com"), false, Some("jd"), None)
            ),
            (
                "user_2hQx9RbW4yZ8mN1pK3sT5vU7wX0",
                (
                    Some("olga@example.com"),
                    true,
                    Some("Olga"),
                    Some("oauth_google")
                )
            ),
            (
                "user_2hQyPhoneOnly0000000000000a",
                (None, false, None, None)
            ),
        ]
    );
    assert!(
        users
            .iter()
            .all(|u| u.skip.is_none() && u.identity.tenant.as_deref() == Some(CLERK_NS))
    );
}

#[test]
fn clerk_identities_match_the_webhooks_own_reading() {
    use providers::clerk::payload::User;
    for page in ["clerk/users-page-1.json", "clerk/users-page-2.json"] {
        let text = std::fs::read_to_string(fixture(page)).unwrap();
        let expected: Vec<User> = serde_json::from_str(&text).unwrap();
        let read = users(&clerk(), &[page]);
        assert_eq!(read.len(), expected.len());
        for (user, hook) in read.iter().zip(&expected) {
            let identity = &user.identity;
            assert_eq!(identity.key.user_id(), hook.id);
            assert_eq!(
                identity
                    .email
                    .as_deref()
                    .map(|e| (e, identity.email_verified)),
                hook.primary_email()
            );
            assert_eq!(identity.display_name, hook.display_name());
            assert_eq!(identity.signup_method.as_deref(), hook.oauth_provider());
        }
    }
}

#[test]
fn clerk_data_envelope_is_read_too() {
    let dir = scratch("clerk-data");
    let text = std::fs::read_to_string(fixture("clerk/users-page-1.json")).unwrap();
    let file = dir.join("users.json");
    std::fs::write(
        &file,
        format!("{{\"data\":{},\"total_count\":2}}", text.trim_end()),
    )
    .unwrap();
    let items = read(&clerk(), &[file]);
    assert_eq!(items.len(), 2);
    assert_eq!(
        ok(&items[1]).identity.key.user_id(),
        "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    );
}

#[test]
fn clerk_broken_pages() {
    let items = read_fixtures(&clerk(), &["clerk/missing-id.json"]);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(err(&items[1]).message, "[1].id: missing");

    let items = read_fixtures(&clerk(), &["clerk/wrong-type.json"]);
    assert_eq!(items.len(), 2);
    let e = err(&items[0]);
    assert_eq!(
        e.message,
        "[0].email_addresses[0].verification: expected an object, found a string"
    );
    assert!(!e.message.contains("\"verified\""));
    assert!(items[1].is_ok());

    let file = fixture("clerk/truncated.json");
    let items = read(&clerk(), std::slice::from_ref(&file));
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let e = err(&items[1]);
    assert_eq!(e.message, "[1].id: EOF while parsing a string");
    assert_eq!(at(e), end_of(&file));
}

// ---------------------------------------------------------------- Auth0

#[test]
fn auth0_export_lines() {
    let users = users(
        &auth0(),
        &["auth0/users.ndjson", "auth0/users-fields.ndjson"],
    );
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.identity.key.user_id(), profile(&u.identity)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "auth0|5f7c8ec7c33c6c004bbafe82",
                (
                    Some("j+smith@example.com"),
                    true,
                    Some("j+smith@example.com"),
                    Some("Username-Password-Authentication")
                )
            ),
            (
                "google-oauth2|104857600000000000002",
                (
                    Some("kim@example.com"),
                    true,
                    Some("Kim Lee"),
                    Some("google-oauth2")
                )
            ),
            (
                "sms|6570a1b2c3d4e5f6a7b8c9d0",
                (None, false, Some("+15550100124"), Some("sms"))
            ),
            // A job that exported `identities[0].connection` as `connection`.
            (
                "auth0|65a1b2c3d4e5f6a7b8c9d0e1",
                (
                    Some("lou@example.com"),
                    false,
                    None,
                    Some("Username-Password-Authentication")
                )
            ),
        ]
    );
    assert_eq!(
        users[0].identity.key.as_str(),
        "auth0:dev-abc123:auth0|5f7c8ec7c33c6c004bbafe82"
    );
    assert!(
        users
            .iter()
            .all(|u| u.skip.is_none() && u.identity.tenant.as_deref() == Some(AUTH0_TENANT))
    );
}

#[test]
fn auth0_bad_lines_are_errors_and_reading_goes_on() {
    let file = fixture("auth0/bad-lines.ndjson");
    let items = read(&auth0(), std::slice::from_ref(&file));
    let shape: Vec<Result<&str, (usize, usize, &str)>> = items
        .iter()
        .map(|r| match r {
            Ok(u) => Ok(u.identity.key.user_id()),
            Err(e) => Err((e.line, e.column, e.message.as_str())),
        })
        .collect();
    assert_eq!(
        shape,
        [
            Ok("auth0|5f7c8ec7c33c6c004bbafe82"),
            Err((2, 2, "expected ident")),
            // Line 3 is blank.
            Err((4, 1, "user_id: missing")),
            Err((5, 60, "email_verified: expected a boolean, found a string")),
            Ok("google-oauth2|104857600000000000002"),
            Err((7, 52, "email: EOF while parsing a value")),
        ]
    );
    assert!(
        err(&items[1])
            .to_string()
            .starts_with(&format!("{}:2:2: ", file.display()))
    );
}

// ---------------------------------------------------------------- every provider

/// The consumer name a reader derives is the one the hook's own key function gives,
/// for every provider (a difference would give every backfilled user a second consumer).
#[test]
fn consumer_names_are_the_hooks() {
    use providers::{auth0 as a0, clerk as ck, cognito as cg, firebase as fb, supabase as sb};
    let cases: Vec<(Source, &str, ConsumerName)> = vec![
        (
            firebase(None),
            "firebase/out.json",
            name(fb::user_key(PROJECT, None, "bj5vGnDaiUj5HWMXCEo8k1XZm3Gb")),
        ),
        (
            firebase(None),
            "firebase/accounts-h21ikviEHN1WzsxXWIyHnUdDDEig.json",
            name(fb::user_key(
                PROJECT,
                Some(TENANT),
                "kNE3CUvGCU7jReaGO6pOsSLyR0BY",
            )),
        ),
        (
            supabase(),
            "supabase/users-page-1.json",
            name(sb::user_key(ISSUER, "8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71")),
        ),
        (
            cognito(),
            "cognito/list-users-page-1.json",
            name(cg::user_key(POOL, "f6e0cf3a-fde2-4a0d-822c-37b61b98d184")),
        ),
        (
            clerk(),
            "clerk/users-page-1.json",
            name(ck::user_key(CLERK_NS, "user_29w83sxmDNGwOuEthce5gg56FcC")),
        ),
        (
            auth0(),
            "auth0/users.ndjson",
            name(a0::user_key(AUTH0_TENANT, "auth0|5f7c8ec7c33c6c004bbafe82")),
        ),
    ];
    for (source, file, expected) in cases {
        let first = users(&source, &[file]).remove(0);
        assert_eq!(first.identity.consumer_name(), expected, "{file}");
        assert!(first.identity.consumer_name().as_str().starts_with("c-"));
    }
}

#[test]
fn open_refuses_what_cannot_be_read() {
    let e = open(&firebase(None), &[]).err().unwrap();
    assert_eq!(e.message, "no export file given");

    let missing = fixture("firebase/no-such-file.json");
    let e = open(&firebase(None), std::slice::from_ref(&missing))
        .err()
        .unwrap();
    assert_eq!(e.file, missing.display().to_string());
    assert_eq!((e.line, e.column), (0, 0));
    assert!(e.message.starts_with("cannot open: "), "{e}");

    let out = [fixture("firebase/out.json")];
    let empty_project = Source::Firebase {
        project: String::new(),
        tenant: None,
    };
    assert_eq!(
        open(&empty_project, &out).err().unwrap().message,
        "the Firebase project is empty"
    );
    let colon_tenant = firebase(Some("a:b"));
    assert!(
        open(&colon_tenant, &out)
            .err()
            .unwrap()
            .message
            .starts_with("the Firebase tenant contains ':'")
    );
    let colon_pool = Source::Cognito {
        user_pool_id: "us-east-1:x".into(),
    };
    assert!(open(&colon_pool, &out).is_err());
    // An issuer is a URL: its ':' is allowed, as in the hook's keys.
    assert!(open(&supabase(), &[fixture("supabase/users-page-1.json")]).is_ok());
}

#[test]
fn wrong_layout_and_compressed_files_are_errors() {
    // A Clerk page given as a Supabase page: no "users" field.
    let items = read_fixtures(&supabase(), &["clerk/users-page-1.json"]);
    assert_eq!(items.len(), 1);
    assert!(
        err(&items[0])
            .message
            .starts_with("invalid type: sequence, expected an object with a \"users\" array"),
        "{:?}",
        items[0]
    );
    let items = read_fixtures(&cognito(), &["supabase/users-page-1.json"]);
    assert_eq!(
        err(&items[0]).message,
        "no \"Users\" field (expected {\"Users\": [...]})"
    );

    let dir = scratch("gzip");
    let gz = dir.join("users.json.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 0x08, 0x00, 0x00]).unwrap();
    let items = read(&auth0(), &[gz]);
    assert_eq!(items.len(), 1);
    assert!(err(&items[0]).message.contains("gzip"));

    // A page past the last one of a Go server may say `null`: no users.
    let null = dir.join("null.json");
    std::fs::write(&null, r#"{"users":null,"aud":"authenticated"}"#).unwrap();
    assert!(read(&supabase(), &[null]).is_empty());
}

#[test]
fn non_object_elements_are_errors_for_that_element() {
    let dir = scratch("elements");
    let file = dir.join("page.json");
    std::fs::write(
        &file,
        r#"[{"id":"user_1"}, "user_2", null, [1, {"a": 2}], {"id":"user_3"}]"#,
    )
    .unwrap();
    let items = read(&clerk(), &[file]);
    let shape: Vec<Result<&str, &str>> = items
        .iter()
        .map(|r| match r {
            Ok(u) => Ok(u.identity.key.user_id()),
            Err(e) => Err(e.message.as_str()),
        })
        .collect();
    assert_eq!(
        shape,
        [
            Ok("user_1"),
            Err("[1]: expected an object, found a string"),
            Err("[2]: expected an object, found null"),
            Err("[3]: expected an object, found an array"),
            Ok("user_3"),
        ]
    );
}

// ---------------------------------------------------------------- streaming

/// A directory for generated files, under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("readers")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An `auth:export`-shaped file of `n` password users, written a user at a time.
fn generate_firebase_export(path: &Path, n: usize) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::new(file);
    w.write_all(b"{\"users\": [\n").unwrap();
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n").unwrap();
        }
        write!(
            w,
            "{{\n  \"localId\": \"uid{i:024}\",\n  \"email\": \"user{i}@example.com\",\n  \
             \"emailVerified\": {},\n  \"passwordHash\": \"c2NyeXB0LWhhc2gtZm9yLXVzZXI{i:08}=\",\n  \
             \"salt\": \"c2FsdC1mb3ItdXNlcg{i:06}==\",\n  \"displayName\": \"User {i}\",\n  \
             \"lastSignedInAt\": \"1796208442221\",\n  \"createdAt\": \"1796208442221\",\n  \
             \"customAttributes\": \"{{\\\"plan\\\":\\\"free\\\"}}\",\n  \"providerUserInfo\": []\n}}",
            i % 2 == 0
        )
        .unwrap();
    }
    w.write_all(b"]}").unwrap();
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Peak and current resident memory of this process, in KiB (Linux).
fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse::<u64>()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// 20,000 users by default: 100,000 take about 5 s in a debug build (see the report
/// line this prints). `READERS_STREAM_USERS=100000 cargo test -p zuplo-auth-sync --test
/// readers streams_a_large_export -- --nocapture` reads that many.
#[test]
fn streams_a_large_export() {
    let users: usize = std::env::var("READERS_STREAM_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let dir = scratch("large");
    let path = dir.join("out.json");
    let bytes = generate_firebase_export(&path, users);

    // Reset the peak to the current size, so the peak below is this read's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = memory_kib();
    let started = Instant::now();
    let mut count = 0;
    let mut last = None;
    for item in open(&firebase(None), std::slice::from_ref(&path)).unwrap() {
        let user = item.unwrap();
        count += 1;
        last = Some(user);
    }
    let elapsed = started.elapsed();
    let after = memory_kib();
    assert_eq!(count, users);
    let last = last.unwrap();
    assert_eq!(last.identity.key.user_id(), format!("uid{:024}", users - 1));
    assert_eq!(last.identity.signup_method.as_deref(), Some("password"));
    eprintln!(
        "read {users} users ({:.1} MiB) in {elapsed:.2?}; memory before {before:?}, after {after:?} (peak, current KiB)",
        bytes as f64 / (1 << 20) as f64
    );
    if let (true, Some((_, rss_before)), Some((peak, _))) = (reset, before, after) {
        // Flat memory: the peak grew by far less than the file (other tests of this
        // binary run alongside, hence the margin).
        let grown = peak.saturating_sub(rss_before) * 1024;
        assert!(
            grown < bytes / 2,
            "peak memory grew by {grown} bytes reading a {bytes}-byte file"
        );
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn dropping_the_users_stops_the_reader() {
    let dir = scratch("drop");
    let path = dir.join("out.json");
    generate_firebase_export(&path, 5_000);
    let mut users = open(&firebase(None), std::slice::from_ref(&path)).unwrap();
    let first: Vec<_> = users.by_ref().take(3).collect();
    assert_eq!(first.len(), 3);
    drop(users);
    // Nothing to wait for: the thread ends at its next send. Reading again works.
    assert_eq!(
        open(&firebase(None), std::slice::from_ref(&path))
            .unwrap()
            .count(),
        5_000
    );
}
