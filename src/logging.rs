//! The log subscriber, following Lambda's logging controls like the runtime's default
//! one (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON; level from `AWS_LAMBDA_LOG_LEVEL`, else
//! `RUST_LOG`, else `info`), with one difference: levels below `info` apply to this
//! crate only. The Lambda runtime logs whole events at `trace`, and the HTTP and AWS
//! layers log requests at `debug`/`trace`: those carry JWTs, webhook signatures and the
//! secret's value, which must never reach the logs, whatever the level.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The filter for a requested level: e.g. `debug` → `info,zuplo_auth_hooks=debug`.
pub fn directives(requested: Option<&str>) -> String {
    let level = requested
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .and_then(|l| LevelFilter::from_str(l).ok())
        .unwrap_or(LevelFilter::INFO);
    let others = level.min(LevelFilter::INFO);
    format!("{others},zuplo_auth_hooks={level}")
}

pub fn init() {
    let env = |k| std::env::var(k).ok();
    let requested = env("AWS_LAMBDA_LOG_LEVEL").or_else(|| env("RUST_LOG"));
    let filter = EnvFilter::new(directives(requested.as_deref()));
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        // CloudWatch stamps every line already.
        .without_time()
        .with_env_filter(filter);
    let json = env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_never_log_below_info() {
        assert_eq!(directives(None), "info,zuplo_auth_hooks=info");
        assert_eq!(directives(Some("DEBUG")), "info,zuplo_auth_hooks=debug");
        assert_eq!(directives(Some("trace")), "info,zuplo_auth_hooks=trace");
        assert_eq!(directives(Some("warn")), "warn,zuplo_auth_hooks=warn");
        assert_eq!(directives(Some("error")), "error,zuplo_auth_hooks=error");
    }

    #[test]
    fn per_target_directives_are_not_honoured() {
        // RUST_LOG=aws_smithy_runtime=trace must not switch the AWS layer to trace.
        assert_eq!(
            directives(Some("aws_smithy_runtime=trace")),
            "info,zuplo_auth_hooks=info"
        );
        assert_eq!(directives(Some("")), "info,zuplo_auth_hooks=info");
    }
}
