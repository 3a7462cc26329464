//! Structured logs on standard error.
//!
//! The level comes from, in order of precedence: the `--log-level` flag, the `RUST_LOG`
//! environment variable (full filter syntax), then `general.log_level` of the configuration
//! (which `IRONPOST_GENERAL__LOG_LEVEL` overrides like any key).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
pub fn init(flag: Option<&str>, config_level: &str, format: &str) {
    let filter = match (
        flag,
        std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()),
    ) {
        (Some(level), _) => EnvFilter::new(level),
        (None, Some(rust_log)) => {
            EnvFilter::try_new(&rust_log).unwrap_or_else(|_| EnvFilter::new(config_level))
        }
        (None, None) => EnvFilter::new(config_level),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}
