//! The SAM template's key properties. `cfn-lint` and `sam validate --lint` accept a
//! template with a wrong runtime, an IAM-authenticated URL (which Identity Platform,
//! Supabase, Clerk and Auth0 cannot call), a timeout below the request budget, an
//! environment variable the function never reads or a default the function does not
//! have: these checks do not.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value, json};

fn template() -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/tests/support/template_json.py"))
        .arg(format!("{root}/template.yaml"))
        .output();
    // A plain `cargo test` has no .venv on PATH: one line, not a panic per test.
    let Some(out) = out.ok().filter(|o| o.status.code() != Some(3)) else {
        stop_test_binary(
            "python3 with PyYAML is not on PATH: run the tests with scripts/test.sh, which sets it up",
        );
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("template as JSON")
}

fn source(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every Rust source file under `dir` (relative to the crate), concatenated.
fn sources_under(dir: &str) -> String {
    let mut text = String::new();
    let mut pending = vec![std::path::PathBuf::from(format!(
        "{}/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

/// The reader's calls, as they appear in the compact source (`vars.number("NAME",…`).
const VAR_CALLS: [&str; 6] = [
    "vars.get(\"",
    "vars.required(\"",
    "vars.bool(\"",
    "vars.millis(\"",
    "vars.number(\"",
    "vars.optional_number(\"",
];

/// The variables the configuration reads (shared and every provider's), from the source.
fn variables_read_by_config() -> BTreeSet<String> {
    let config = sources_under("src/config") + &sources_under("src/providers");
    let mut vars = BTreeSet::new();
    // Compact, so that a call reads the same however rustfmt broke it (`vars\n.get(`,
    // or after the opening parenthesis).
    let compact = config_source_compact();
    for call in VAR_CALLS {
        for (i, _) in compact.match_indices(call) {
            let rest = &compact[i + call.len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            vars.insert(name);
        }
    }
    for (i, _) in config.match_indices("(\n") {
        let rest = config[i + 2..].trim_start();
        if let Some(rest) = rest.strip_prefix('"') {
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                vars.insert(name);
            }
        }
    }
    vars
}

/// The configuration's source with every whitespace removed, so that a call reads the
/// same however rustfmt broke it: `vars.number("NAME",300,1,86_400)`.
fn config_source_compact() -> String {
    (sources_under("src/config") + &sources_under("src/providers"))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The arguments after the name of every `<call>"NAME",…)` in the compact source.
fn calls_with_arguments(compact: &str, call: &str) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    for (i, _) in compact.match_indices(call) {
        let rest = &compact[i + call.len()..];
        let Some((name, rest)) = rest.split_once('"') else {
            continue;
        };
        let args: String = rest.chars().take_while(|c| *c != ')').collect();
        let args = args
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| a.replace('_', ""))
            .collect();
        found.insert(name.to_owned(), args);
    }
    found
}

#[test]
fn the_function_is_arm64_al2023_built_by_cargo_lambda() {
    let t = template();
    let f = &t["Resources"]["HookFunction"];
    assert_eq!(f["Type"], "AWS::Serverless::Function");
    // Both functions take runtime, architecture and handler from the globals.
    let p = &t["Globals"]["Function"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    // The binary SAM asks cargo-lambda for is the one Cargo.toml builds.
    let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
    assert!(
        source("Cargo.toml").contains(&format!("name = \"{binary}\"\npath = \"src/main.rs\"")),
        "{binary}"
    );
}

#[test]
fn the_url_is_public_because_callers_sign_their_requests_themselves() {
    let t = template();
    let url = &t["Resources"]["HookFunction"]["Properties"]["FunctionUrlConfig"];
    assert_eq!(url["AuthType"], "NONE");
}

#[test]
fn the_timeout_outlasts_every_request_budget() {
    let t = template();
    let timeout_s = t["Resources"]["HookFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    let params = &t["Parameters"];
    // Every route of this function (Cognito's triggers have their own function).
    let margin_ms = params["LambdaDeadlineMarginMs"]["Default"]
        .as_u64()
        .unwrap();
    for budget in [
        "FirebaseBudgetMs",
        "SupabaseBudgetMs",
        "ClerkBudgetMs",
        "Auth0BudgetMs",
    ] {
        let max_ms = params[budget]["MaxValue"].as_u64().unwrap();
        // With the default margin kept back, the largest budget still fits whole.
        assert!(
            timeout_s * 1000 >= max_ms + margin_ms,
            "{budget}: {max_ms} ms"
        );
    }
    // Svix gives a Clerk delivery 15 s, so Clerk's budget may reach 14 s.
    assert!(timeout_s >= 15, "{timeout_s} s");
}

#[test]
fn the_role_reads_only_its_secret() {
    let t = template();
    let policies = t["Resources"]["HookFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap();
    // The Cognito function's role grants exactly the same.
    assert_eq!(
        &t["Resources"]["CognitoFunction"]["Properties"]["Policies"],
        &t["Resources"]["HookFunction"]["Properties"]["Policies"]
    );
    assert_eq!(policies.len(), 1, "{policies:?}");
    let statements = policies[0]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    // The second is kms:Decrypt on the secret's own key, only when one is given.
    let kms = &statements[1]["Fn::If"];
    assert_eq!(kms[0], "HasKmsKey");
    assert_eq!(kms[1]["Action"], "kms:Decrypt");
    assert_eq!(kms[1]["Resource"], json!({"Ref": "SecretKmsKeyArn"}));
    assert_eq!(kms[2], json!({"Ref": "AWS::NoValue"}));
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Action"], "secretsmanager:GetSecretValue");
    let secret =
        json!({"Fn::If": ["CreateSecret", {"Ref": "ZuploSecret"}, {"Ref": "ExistingSecretArn"}]});
    assert_eq!(s["Resource"], secret);
    // The function is told to read that same secret.
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(env["ZUPLO_SECRET_ID"], secret);
    assert_eq!(t["Resources"]["ZuploSecret"]["Condition"], "CreateSecret");
}

#[test]
fn every_setting_is_a_parameter_the_function_reads() {
    let t = template();
    let env = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap();
    for function in ["HookFunction", "CognitoFunction"] {
        let own = &t["Resources"][function]["Properties"]["Environment"];
        assert!(
            own.is_null(),
            "{function} takes its settings from the globals"
        );
    }
    let in_template: BTreeSet<String> = env.keys().cloned().collect();
    let read = variables_read_by_config();
    // Emulator mode and the certificate URL exist for local runs and tests only.
    let local_only: BTreeSet<String> = ["FIREBASE_AUTH_EMULATOR", "FIREBASE_CERTS_URL"]
        .map(String::from)
        .into();
    let expected: BTreeSet<String> = read.difference(&local_only).cloned().collect();
    assert_eq!(in_template, expected);
    for (name, value) in env {
        if name != "ZUPLO_SECRET_ID" {
            let param = value["Ref"].as_str().unwrap_or_else(|| panic!("{name}"));
            assert!(t["Parameters"][param].is_object(), "{name} -> {param}");
        }
    }
}

#[test]
fn defaults_and_ranges_are_the_functions_own() {
    let t = template();
    let env = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap();
    let param = |name: &str| {
        let p = env[name]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}"));
        &t["Parameters"][p]
    };
    let compact = config_source_compact();
    // vars.millis / vars.number("NAME", default, min, max): the parameter's own.
    let mut numbers = calls_with_arguments(&compact, "vars.millis(\"");
    numbers.extend(calls_with_arguments(&compact, "vars.number(\""));
    for name in ["CLERK_BUDGET_MS", "AUTH0_BUDGET_MS"] {
        assert!(numbers.contains_key(name), "{name} is read as a number");
    }
    for (name, args) in &numbers {
        let [default, min, max] = args.as_slice() else {
            panic!("{name}: {args:?}")
        };
        let p = param(name);
        for (key, code) in [("Default", default), ("MinValue", min), ("MaxValue", max)] {
            assert_eq!(p[key].to_string(), *code, "{name} {key}");
        }
    }
    // vars.bool("NAME", default): "true" or "false".
    for (name, args) in calls_with_arguments(&compact, "vars.bool(\"") {
        if env.contains_key(&name) {
            assert_eq!(param(&name)["Default"], args[0], "{name}");
        }
    }
    // A parameter without a default is a variable the code requires; the others default
    // to empty (unset: the code's own default applies) or to a value the code spells as
    // a literal (a URL, a claim name, a namespace). FIREBASE_AUDIENCE is required only
    // with FIREBASE_PROJECT_ID, so it defaults to empty like its project.
    let required = calls_with_arguments(&compact, "vars.required(\"");
    for name in env.keys().filter(|n| *n != "ZUPLO_SECRET_ID") {
        let default = &param(name)["Default"];
        if default.is_null() {
            assert!(required.contains_key(name), "{name} has no default");
        } else if let Some(text) = default.as_str().filter(|d| !d.is_empty()) {
            if !numbers.contains_key(name) && !["true", "false"].contains(&text) {
                assert!(compact.contains(&format!("\"{text}\"")), "{name}: {text}");
            }
        } else {
            assert!(default.is_number() || default == "", "{name}: {default}");
        }
    }
    assert_eq!(param("CLERK_API_URL")["Default"], "https://api.clerk.com");
    assert!(compact.contains("pubconstDEFAULT_API_URL:&str=\"https://api.clerk.com\";"));
    assert_eq!(param("CLERK_NAMESPACE")["Default"], "");
}

/// vars.optional_number("NAME", min, max): no default, so the parameter is a string that
/// defaults to empty (unset), and its pattern admits exactly `min..=max`.
#[test]
fn optional_numbers_default_to_unset_and_keep_the_functions_range() {
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    let optional = calls_with_arguments(&config_source_compact(), "vars.optional_number(\"");
    assert!(
        optional.contains_key("KEY_EXPIRES_AFTER_DAYS"),
        "{optional:?}"
    );
    for (name, args) in &optional {
        let [min, max] = args.as_slice() else {
            panic!("{name}: {args:?}")
        };
        let (min, max): (u64, u64) = (min.parse().unwrap(), max.parse().unwrap());
        let p = &t["Parameters"][env[name]["Ref"].as_str().unwrap()];
        assert_eq!(p["Type"], "String", "{name}");
        assert_eq!(p["Default"], "", "{name}");
        let pattern = p["AllowedPattern"].as_str().unwrap();
        // Every value from 0 to max + 1, the empty value, and a few that are not numbers.
        let mut values: Vec<String> = (0..=max + 1).map(|n| n.to_string()).collect();
        values.extend(["", "01", " 1", "1.5", "-1", "x"].map(String::from));
        let admitted = admitted_by(pattern, &values);
        let expected: Vec<bool> = values
            .iter()
            .map(|v| {
                v.is_empty()
                    || v.parse::<u64>()
                        .is_ok_and(|n| (min..=max).contains(&n) && !v.starts_with('0'))
            })
            .collect();
        for ((value, got), want) in values.iter().zip(&admitted).zip(&expected) {
            assert_eq!(got, want, "{name}: {pattern} on {value:?}");
        }
    }
}

/// Which of `values` the CloudFormation `AllowedPattern` admits (matched whole, as
/// CloudFormation does), evaluated by Python's `re`, which reads these patterns alike.
fn admitted_by(pattern: &str, values: &[String]) -> Vec<bool> {
    let script = "import json, re, sys\n\
        p = re.compile(sys.argv[1])\n\
        print(json.dumps([p.fullmatch(v) is not None for v in json.load(sys.stdin)]))";
    let mut child = Command::new("python3")
        .args(["-c", script, pattern])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(values).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn outputs_give_the_url_of_every_route() {
    let t = template();
    let http = sources_under("src/providers");
    for (output, route) in [
        ("FirebaseBeforeCreateUrl", "firebase/before-create"),
        ("FirebaseBeforeSignInUrl", "firebase/before-sign-in"),
        (
            "SupabaseCustomAccessTokenUrl",
            "supabase/custom-access-token",
        ),
        (
            "SupabaseBeforeUserCreatedUrl",
            "supabase/before-user-created",
        ),
        ("SupabaseUserDeletedUrl", "supabase/user-deleted"),
        ("FirebaseUserDeletedUrl", "firebase/user-deleted"),
        ("ClerkWebhookUrl", "clerk/webhook"),
        ("Auth0PostLoginUrl", "auth0/post-login"),
        ("Auth0EventsUrl", "auth0/events"),
    ] {
        let value = t["Outputs"][output]["Value"]["Fn::Sub"].as_str().unwrap();
        assert_eq!(value, format!("${{HookFunctionUrl.FunctionUrl}}{route}"));
        assert!(http.contains(&format!("\"/{route}\"")), "{route} is routed");
    }
}

#[test]
fn alarms_watch_errors_and_failed_provisioning() {
    let t = template();
    let r = &t["Resources"];
    for (alarm, metric) in [
        ("FunctionErrorsAlarm", "Errors"),
        ("FunctionThrottlesAlarm", "Throttles"),
    ] {
        assert_eq!(r[alarm]["Properties"]["MetricName"], metric);
        assert_eq!(r[alarm]["Properties"]["Namespace"], "AWS/Lambda");
    }
    for (alarm, metric) in [
        ("ProvisionFailedOpenAlarm", "ProvisionFailedOpen"),
        ("ProvisionFailedClosedAlarm", "ProvisionFailedClosed"),
        // Clerk and Auth0 answer a failure with a 503 for the sender to retry.
        ("RequestDeferredAlarm", "RequestDeferred"),
    ] {
        let p = &r[alarm]["Properties"];
        assert_eq!(p["MetricName"], metric);
        assert_eq!(p["Namespace"], json!({"Ref": "MetricsNamespace"}));
        // The metric is emitted under the same name by the function.
        assert!(sources_under("src/telemetry").contains(&format!("\"{metric}\"")));
        // Published without dimensions, so the alarm needs none.
        assert!(p.get("Dimensions").is_none());
    }
    let logs = &r["HookLogGroup"]["Properties"];
    assert_eq!(logs["RetentionInDays"], json!({"Ref": "LogRetentionDays"}));
}

/// Prints one line and ends this test binary. The line is written to the real stderr:
/// the test harness captures `eprintln!` and would drop it with the process.
fn stop_test_binary(line: &str) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
    std::process::exit(2);
}

#[test]
fn the_cognito_function_is_only_for_the_given_pool() {
    let t = template();
    let r = &t["Resources"];
    let f = &r["CognitoFunction"];
    assert_eq!(f["Condition"], "HasCognito");
    assert_eq!(
        t["Conditions"]["HasCognito"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "CognitoUserPoolArn"}, ""]}]})
    );
    assert_eq!(t["Parameters"]["CognitoUserPoolArn"]["Default"], "");
    // The same binary, and no HTTP way in.
    assert_eq!(f["Metadata"], r["HookFunction"]["Metadata"]);
    assert!(f["Properties"].get("FunctionUrlConfig").is_none());
    // Cognito waits 5 s per attempt: the budget fits in the timeout, the timeout in 5 s.
    let timeout_s = f["Properties"]["Timeout"].as_u64().unwrap();
    let budget_max = t["Parameters"]["CognitoBudgetMs"]["MaxValue"]
        .as_u64()
        .unwrap();
    assert!(
        timeout_s * 1000 > budget_max && timeout_s <= 5,
        "{timeout_s} s"
    );
    let permission = &r["CognitoInvokePermission"];
    assert_eq!(permission["Condition"], "HasCognito");
    let p = &permission["Properties"];
    assert_eq!(p["Principal"], "cognito-idp.amazonaws.com");
    assert_eq!(p["Action"], "lambda:InvokeFunction");
    assert_eq!(p["SourceArn"], json!({"Ref": "CognitoUserPoolArn"}));
    assert_eq!(
        p["FunctionName"],
        json!({"Fn::GetAtt": ["CognitoFunction", "Arn"]})
    );
    // No other permission lets anything invoke either function but the deletion rule's
    // (below).
    let permissions: BTreeSet<&String> = r
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["Type"] == "AWS::Lambda::Permission")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        permissions,
        BTreeSet::from([
            &"CognitoInvokePermission".to_owned(),
            &"CognitoDeletionInvokePermission".to_owned()
        ])
    );
    // Its own logs and alarms, only when it exists.
    assert_eq!(
        f["Properties"]["LoggingConfig"]["LogGroup"],
        json!({"Ref": "CognitoLogGroup"})
    );
    for resource in [
        "CognitoLogGroup",
        "CognitoErrorsAlarm",
        "CognitoThrottlesAlarm",
    ] {
        assert_eq!(r[resource]["Condition"], "HasCognito", "{resource}");
    }
    for alarm in ["CognitoErrorsAlarm", "CognitoThrottlesAlarm"] {
        let dims = &r[alarm]["Properties"]["Dimensions"];
        assert_eq!(
            dims[0]["Value"],
            json!({"Ref": "CognitoFunction"}),
            "{alarm}"
        );
    }
    assert_eq!(
        t["Outputs"]["CognitoFunctionArn"]["Value"],
        json!({"Fn::GetAtt": ["CognitoFunction", "Arn"]})
    );
}

#[test]
fn cognito_deletions_come_from_an_optional_rule_for_the_given_pool() {
    let t = template();
    let r = &t["Resources"];
    let p = &t["Parameters"]["CognitoDeletionEvents"];
    assert_eq!(p["Default"], "false");
    assert_eq!(p["AllowedValues"], json!(["true", "false"]));
    // Only with a Cognito function, and only when asked for.
    assert_eq!(
        t["Conditions"]["HasCognitoDeletionRule"],
        json!({"Fn::And": [
            {"Condition": "HasCognito"},
            {"Fn::Equals": [{"Ref": "CognitoDeletionEvents"}, "true"]}
        ]})
    );
    let rule = &r["CognitoDeletionRule"];
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    assert_eq!(rule["Condition"], "HasCognitoDeletionRule");
    let rule = &rule["Properties"];
    // The default bus, where CloudTrail's records arrive.
    assert!(rule.get("EventBusName").is_none());
    assert_eq!(rule["State"], "ENABLED");
    // The envelope the function recognises, and the two deletions it handles.
    let code = sources_under("src/providers/cognito");
    let pattern = &rule["EventPattern"];
    assert_eq!(pattern["source"], json!(["aws.cognito-idp"]));
    assert!(code.contains("SOURCE: &str = \"aws.cognito-idp\""));
    assert_eq!(
        pattern["detail-type"],
        json!(["AWS API Call via CloudTrail"])
    );
    assert!(code.contains("DETAIL_TYPE: &str = \"AWS API Call via CloudTrail\""));
    let detail = &pattern["detail"];
    assert_eq!(detail["eventSource"], json!(["cognito-idp.amazonaws.com"]));
    assert_eq!(
        detail["eventName"],
        json!(["AdminDeleteUser", "DeleteUser"])
    );
    assert!(code.contains("[\"AdminDeleteUser\", \"DeleteUser\"]"));
    // Only the configured pool: its id is the last part of its ARN.
    assert_eq!(
        detail["requestParameters"]["userPoolId"],
        json!([{"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "CognitoUserPoolArn"}]}]}])
    );
    let pool_arn = t["Parameters"]["CognitoUserPoolArn"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert_eq!(pool_arn.matches('/').count(), 1, "{pool_arn}");
    assert!(pool_arn.contains(":userpool/"), "{pool_arn}");
    // It invokes the Cognito function directly, and nothing else.
    let targets = rule["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0]["Arn"],
        json!({"Fn::GetAtt": ["CognitoFunction", "Arn"]})
    );
    assert!(targets[0].get("Input").is_none() && targets[0].get("InputPath").is_none());
    // EventBridge may invoke it for this rule only.
    let permission = &r["CognitoDeletionInvokePermission"];
    assert_eq!(permission["Condition"], "HasCognitoDeletionRule");
    let p = &permission["Properties"];
    assert_eq!(p["Principal"], "events.amazonaws.com");
    assert_eq!(p["Action"], "lambda:InvokeFunction");
    assert_eq!(
        p["FunctionName"],
        json!({"Fn::GetAtt": ["CognitoFunction", "Arn"]})
    );
    assert_eq!(
        p["SourceArn"],
        json!({"Fn::GetAtt": ["CognitoDeletionRule", "Arn"]})
    );
}
