//! `zuplo-standin`: the stand-in as a process, for the quick start and script-driven tests.
//!
//! Arguments are parsed by hand to keep the dependency set small. The startup line is the
//! only stdout output so scripts can wait for it and read the URL (the port may be 0 =
//! "pick one"); tokens are never printed, since a real Developer API key may be passed.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use zuplo_standin::{Standin, StandinConfig};

const USAGE: &str = "\
usage: zuplo-standin [--host HOST] [--port PORT] [--account NAME] [--bucket NAME] [--token TOKEN]...
                     [--rate-limit N]

  --host        address to listen on (default 127.0.0.1)
  --port        port to listen on, 0 = any free port (default 8787; env ZUPLO_STANDIN_PORT)
  --account     the only account served (default demo-account)
  --bucket      the only key bucket served (default demo-bucket)
  --token       accepted bearer token, repeatable (default zpka_standin_local_token;
                env ZUPLO_STANDIN_TOKEN)
  --rate-limit  at most N API requests per fixed one-second window, then 429 with
                retry-after: 1 (default none; env ZUPLO_STANDIN_RATE_LIMIT);
                POST /__standin/reset lifts it

Control endpoints: GET /__standin/calls, GET /__standin/consumers,
POST /__standin/faults, POST /__standin/reset";

#[derive(Debug, PartialEq, Eq)]
struct Options {
    host: String,
    port: u16,
    account: String,
    bucket: String,
    tokens: Vec<String>,
    rate_limit: Option<u32>,
}

enum Parsed {
    Run(Options),
    Help,
}

/// Flags win over the environment, which wins over the defaults.
fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Parsed, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port = None;
    let mut account = "demo-account".to_owned();
    let mut bucket = "demo-bucket".to_owned();
    let mut tokens = Vec::new();
    let mut rate_limit = None;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if !matches!(
            flag.as_str(),
            "--host" | "--port" | "--account" | "--bucket" | "--token" | "--rate-limit"
        ) {
            return Err(format!("unknown argument '{flag}'"));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) if !value.is_empty() => value,
            _ => return Err(format!("{flag} needs a non-empty value")),
        };
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = Some(parse_port(&value, "--port")?),
            "--account" => account = value,
            "--bucket" => bucket = value,
            "--rate-limit" => rate_limit = Some(parse_rate_limit(&value, "--rate-limit")?),
            _ => tokens.push(value),
        }
    }

    let port = match port {
        Some(port) => port,
        None => match env("ZUPLO_STANDIN_PORT").filter(|v| !v.is_empty()) {
            Some(value) => parse_port(&value, "ZUPLO_STANDIN_PORT")?,
            None => 8787,
        },
    };
    if tokens.is_empty() {
        tokens.push(
            env("ZUPLO_STANDIN_TOKEN")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "zpka_standin_local_token".to_owned()),
        );
    }
    let rate_limit = match rate_limit {
        Some(limit) => Some(limit),
        None => env("ZUPLO_STANDIN_RATE_LIMIT")
            .filter(|v| !v.is_empty())
            .map(|value| parse_rate_limit(&value, "ZUPLO_STANDIN_RATE_LIMIT"))
            .transpose()?,
    };
    Ok(Parsed::Run(Options {
        host,
        port,
        account,
        bucket,
        tokens,
        rate_limit,
    }))
}

fn parse_port(value: &str, source: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("{source} must be a port number 0-65535, got '{value}'"))
}

/// Requests per second, 1 or more (0 would refuse every request, which a fault does
/// more plainly).
fn parse_rate_limit(value: &str, source: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{source} must be a number of requests per second, 1 or more, got '{value}'"
        )),
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    // Strip brackets so "[::1]" works as well as "::1".
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --host '{host}': {e}"))?
        .next()
        .ok_or_else(|| format!("--host '{host}' resolves to no address"))
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
    let options = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("zuplo-standin: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addr = match resolve(&options.host, options.port) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("zuplo-standin: {message}");
            return ExitCode::from(2);
        }
    };
    let config = StandinConfig {
        account: options.account.clone(),
        bucket: options.bucket.clone(),
        tokens: options.tokens,
    };
    let standin = match Standin::start(config, addr).await {
        Ok(standin) => standin,
        Err(e) => {
            eprintln!("zuplo-standin: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    standin.set_rate_limit(options.rate_limit);
    let port = standin
        .url()
        .rsplit_once(':')
        .map_or_else(|| options.port.to_string(), |(_, p)| p.to_owned());
    let host = if options.host.contains(':') && !options.host.starts_with('[') {
        format!("[{}]", options.host)
    } else {
        options.host
    };
    let mut stdout = std::io::stdout().lock();
    let limit = options
        .rate_limit
        .map(|n| format!(", rate-limit={n}/s"))
        .unwrap_or_default();
    let announced = writeln!(
        stdout,
        "zuplo-standin listening on http://{host}:{port} (account={}, bucket={}{limit})",
        options.account, options.bucket
    )
    .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(e) = announced {
        eprintln!("zuplo-standin: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }

    match shutdown_signal().await {
        Ok(()) => {
            eprintln!("zuplo-standin: shutting down");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zuplo-standin: cannot wait for shutdown signals: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        match parse_args(args.iter().map(|s| (*s).to_owned()), lookup)? {
            Parsed::Run(options) => Ok(options),
            Parsed::Help => Err("help".to_owned()),
        }
    }

    #[test]
    fn defaults() {
        let o = parse(&[], &[]).unwrap();
        assert_eq!(
            o,
            Options {
                host: "127.0.0.1".into(),
                port: 8787,
                account: "demo-account".into(),
                bucket: "demo-bucket".into(),
                tokens: vec!["zpka_standin_local_token".into()],
                rate_limit: None,
            }
        );
    }

    #[test]
    fn flags_in_both_forms_and_repeated_tokens() {
        let o = parse(
            &[
                "--host",
                "0.0.0.0",
                "--port=9000",
                "--account",
                "acme_1",
                "--bucket=b-1",
                "--token",
                "t1",
                "--token=t2",
                "--rate-limit",
                "100",
            ],
            &[
                ("ZUPLO_STANDIN_PORT", "1"),
                ("ZUPLO_STANDIN_TOKEN", "envtok"),
                ("ZUPLO_STANDIN_RATE_LIMIT", "5"),
            ],
        )
        .unwrap();
        assert_eq!(o.host, "0.0.0.0");
        assert_eq!(o.port, 9000, "flag beats env");
        assert_eq!(o.account, "acme_1");
        assert_eq!(o.bucket, "b-1");
        assert_eq!(o.tokens, ["t1", "t2"], "flags beat env");
        assert_eq!(o.rate_limit, Some(100), "flag beats env");
    }

    #[test]
    fn environment_fills_port_and_token() {
        let o = parse(
            &[],
            &[
                ("ZUPLO_STANDIN_PORT", "0"),
                ("ZUPLO_STANDIN_TOKEN", "envtok"),
                ("ZUPLO_STANDIN_RATE_LIMIT", "100"),
            ],
        )
        .unwrap();
        assert_eq!(o.port, 0);
        assert_eq!(o.tokens, ["envtok"]);
        assert_eq!(o.rate_limit, Some(100));
        let o = parse(&[], &[("ZUPLO_STANDIN_RATE_LIMIT", "")]).unwrap();
        assert_eq!(o.rate_limit, None, "empty means unset");
    }

    #[test]
    fn bad_input_is_an_error() {
        for (args, env) in [
            (&["--port", "70000"][..], &[][..]),
            (&["--port", "x"][..], &[][..]),
            (&["--port"][..], &[][..]),
            (&["--token="][..], &[][..]),
            (&["--nope"][..], &[][..]),
            (&["stray"][..], &[][..]),
            (&[][..], &[("ZUPLO_STANDIN_PORT", "eighty")][..]),
            (&["--rate-limit", "0"][..], &[][..]),
            (&["--rate-limit=-5"][..], &[][..]),
            (&["--rate-limit", "1.5"][..], &[][..]),
            (&["--rate-limit"][..], &[][..]),
            (&[][..], &[("ZUPLO_STANDIN_RATE_LIMIT", "fast")][..]),
        ] {
            let result = parse(args, env);
            assert!(result.is_err(), "{args:?} {env:?} gave {result:?}");
            assert_ne!(result.unwrap_err(), "help");
        }
        assert_eq!(parse(&["--help"], &[]).unwrap_err(), "help");
    }

    #[test]
    fn resolves_literal_addresses() {
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(resolve("[::1]", 81).unwrap(), "[::1]:81".parse().unwrap());
    }
}
