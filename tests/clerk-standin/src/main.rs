//! `clerk-standin`: the stand-in as a process, for the quick start and script-driven tests.
//!
//! Arguments are parsed by hand to keep the dependency set small. Accepted secret keys come
//! only from the environment, never from flags, so they do not show in process listings; they
//! are never printed. stdout carries the startup line (scripts wait for it and read the URL;
//! the port may be 0 = "pick one") and then one line per API call.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clerk_standin::{Call, ClerkStandin, StandinConfig};

const SECRET_KEY_ENV: &str = "CLERK_STANDIN_SECRET_KEY";
const DEFAULT_PORT: u16 = 8788;

const USAGE: &str = "\
usage: CLERK_STANDIN_SECRET_KEY=sk_test_… clerk-standin [--port PORT] [--auto-users]

  --port        port to listen on at 127.0.0.1, 0 = any free port (default 8788)
  --auto-users  a request for an unknown user_… id creates that user first (a quick-start
                convenience real Clerk does not have)

  CLERK_STANDIN_SECRET_KEY  accepted secret keys, comma-separated (required)

Models GET /v1/users/{user_id} and PATCH /v1/users/{user_id}/metadata of Clerk's Backend API,
with a limit of 10 metadata writes per 10 s per user.
Control endpoints: GET /__standin/calls, GET /__standin/writes, GET|POST /__standin/users,
DELETE /__standin/users/{id}, POST /__standin/faults, POST /__standin/reset";

#[derive(Debug, PartialEq, Eq)]
struct Options {
    port: u16,
    auto_users: bool,
    secret_keys: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Run(Options),
    Help,
}

/// Errors are messages for stderr; `usage` says whether the usage text should follow.
#[derive(Debug, PartialEq, Eq)]
struct ArgError {
    message: String,
    usage: bool,
}

fn parse_args(
    args: impl IntoIterator<Item = String>,
    secret_keys: Option<String>,
) -> Result<Parsed, ArgError> {
    let usage_error = |message: String| ArgError {
        message,
        usage: true,
    };
    let mut port = DEFAULT_PORT;
    let mut auto_users = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--auto-users" => auto_users = true,
            "--port" => {
                let value = args
                    .next()
                    .ok_or_else(|| usage_error("--port needs a value".to_owned()))?;
                port = parse_port(&value).map_err(usage_error)?;
            }
            _ => match arg.strip_prefix("--port=") {
                Some(value) => port = parse_port(value).map_err(usage_error)?,
                None => return Err(usage_error(format!("unknown argument '{arg}'"))),
            },
        }
    }
    let secret_keys: Vec<String> = secret_keys
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect();
    if secret_keys.is_empty() {
        return Err(ArgError {
            message: format!(
                "{SECRET_KEY_ENV} is not set: set it to the secret key(s) the stand-in should \
                 accept, comma-separated (e.g. {SECRET_KEY_ENV}=sk_test_local)"
            ),
            usage: false,
        });
    }
    Ok(Parsed::Run(Options {
        port,
        auto_users,
        secret_keys,
    }))
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("--port must be a port number 0-65535, got '{value}'"))
}

/// One log line per answered call. The Authorization header is not part of a [`Call`], so no
/// key can end up here.
fn log_line(call: &Call) -> String {
    let version = call.api_version.as_deref().unwrap_or("none");
    format!(
        "{} {} -> {} (Clerk-API-Version: {version})",
        call.method, call.path, call.status
    )
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1), std::env::var(SECRET_KEY_ENV).ok()) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(ArgError { message, usage }) => {
            if usage {
                eprintln!("clerk-standin: {message}\n\n{USAGE}");
            } else {
                eprintln!("clerk-standin: {message}");
            }
            return ExitCode::from(2);
        }
    };
    let config = StandinConfig {
        secret_keys: options.secret_keys,
        ..StandinConfig::default()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let standin = match ClerkStandin::bind(config, addr).await {
        Ok(standin) => standin,
        Err(e) => {
            eprintln!("clerk-standin: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    standin.set_auto_users(options.auto_users);
    // Subscribed before the startup line, so no call a script makes after reading it is missed.
    let mut calls = standin.subscribe_calls();

    let mut stdout = std::io::stdout().lock();
    let announced = writeln!(stdout, "clerk-standin listening on {}", standin.url())
        .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(e) = announced {
        eprintln!("clerk-standin: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    tokio::spawn(async move {
        while let Some(call) = calls.recv().await {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout must not take the server down; the calls stay queryable.
            let _ = writeln!(stdout, "{}", log_line(&call)).and_then(|()| stdout.flush());
        }
    });

    match shutdown_signal().await {
        Ok(()) => {
            eprintln!("clerk-standin: shutting down");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("clerk-standin: cannot wait for shutdown signals: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], keys: Option<&str>) -> Result<Parsed, ArgError> {
        parse_args(
            args.iter().map(|s| (*s).to_owned()),
            keys.map(str::to_owned),
        )
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(
            parse(&[], Some("sk_test_a")),
            Ok(Parsed::Run(Options {
                port: DEFAULT_PORT,
                auto_users: false,
                secret_keys: vec!["sk_test_a".into()],
            }))
        );
        assert_eq!(
            parse(&["--port", "0", "--auto-users"], Some(" sk_a , sk_b,,")),
            Ok(Parsed::Run(Options {
                port: 0,
                auto_users: true,
                secret_keys: vec!["sk_a".into(), "sk_b".into()],
            }))
        );
        let Ok(Parsed::Run(options)) = parse(&["--port=9001"], Some("k")) else {
            panic!("--port=N form");
        };
        assert_eq!(options.port, 9001);
        assert_eq!(parse(&["--help"], None), Ok(Parsed::Help));
    }

    #[test]
    fn refuses_to_run_without_a_secret_key() {
        for keys in [None, Some(""), Some(" , ")] {
            let error = parse(&["--port", "0"], keys).unwrap_err();
            assert!(!error.usage);
            assert!(error.message.contains(SECRET_KEY_ENV), "{}", error.message);
        }
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            &["--port"][..],
            &["--port", "x"][..],
            &["--port=70000"][..],
            &["--nope"][..],
            &["stray"][..],
        ] {
            let error = parse(args, Some("k")).unwrap_err();
            assert!(error.usage, "{args:?}");
        }
    }

    #[test]
    fn log_line_names_the_call_and_its_outcome() {
        let call = Call {
            method: "PATCH".into(),
            path: "/v1/users/user_1/metadata".into(),
            status: 200,
            api_version: Some("2026-05-12".into()),
        };
        assert_eq!(
            log_line(&call),
            "PATCH /v1/users/user_1/metadata -> 200 (Clerk-API-Version: 2026-05-12)"
        );
    }
}
