//! The sampler: the builder's, else `OTEL_TRACES_SAMPLER` with
//! `OTEL_TRACES_SAMPLER_ARG`.

use std::time::Duration;

use super::env::{
    Env, Value, JAEGER_REMOTE_ENDPOINT_DEFAULT, JAEGER_REMOTE_INITIAL_SAMPLING_RATE_DEFAULT,
    JAEGER_REMOTE_POLLING_INTERVAL_DEFAULT, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
    OTEL_TRACES_SAMPLER_ARG_RATIO_DEFAULT,
};
use super::exporters::{check_endpoint, scheme};
use super::{redact_url, Disabled, Overrides, SamplerConfig};
use crate::error::Shown;

/// What an unusable Jaeger sampling endpoint leads to.
const REMOTE_SAMPLER_DISABLED: &str = "the Jaeger remote sampler is disabled (no request goes to a sampling endpoint you did not name): parentbased_always_on samples instead";

/// Validates a Jaeger sampling endpoint: an `http://` URL with a host. The
/// strategy is polled with `opentelemetry-http`'s reqwest client, which this
/// crate builds without TLS (its TLS is the OTLP exporters'): an `https://`
/// endpoint is refused rather than failing at every poll.
fn check_sampling_endpoint(url: &str) -> Result<(), String> {
    check_endpoint(url)?;
    match scheme(url) {
        Some("https") => Err("the sampling strategy is polled over plain http:// only: point it at the Jaeger agent or collector on the local network".into()),
        _ => Ok(()),
    }
}

/// The sampler: the builder's (a Jaeger endpoint that cannot be used is
/// reported, and disables the remote sampler), else the environment's.
pub(super) fn resolve(env: &mut Env<'_>, over: &Overrides) -> SamplerConfig {
    match &over.sampler {
        Some(SamplerConfig::JaegerRemote { endpoint, .. })
            if check_sampling_endpoint(endpoint).is_err() =>
        {
            let reason = check_sampling_endpoint(endpoint).unwrap_err();
            env.disabling(
                "ObservabilityBuilder::sampler",
                &redact_url(endpoint),
                format!("{reason}; {REMOTE_SAMPLER_DISABLED}"),
                Disabled::RemoteSampler,
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
        Some(sampler) => sampler.clone(),
        None => sampler_from_env(env),
    }
}

fn ratio_arg(env: &mut Env<'_>) -> f64 {
    let Some(value) = env.var_or(OTEL_TRACES_SAMPLER_ARG, "using 1.0") else {
        return OTEL_TRACES_SAMPLER_ARG_RATIO_DEFAULT;
    };
    match value.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => r,
        _ => {
            env.issue(
                OTEL_TRACES_SAMPLER_ARG,
                &value,
                "expected a ratio between 0 and 1; using 1.0",
            );
            OTEL_TRACES_SAMPLER_ARG_RATIO_DEFAULT
        }
    }
}

/// Reports `OTEL_TRACES_SAMPLER_ARG` set for a sampler that takes none (`why`).
fn unused_arg(env: &mut Env<'_>, why: &str) {
    match env.read(OTEL_TRACES_SAMPLER_ARG) {
        Value::Unset => {}
        Value::Text(value) => env.issue(
            OTEL_TRACES_SAMPLER_ARG,
            &redact_sampler_arg(&value),
            format!("{why}, which takes no argument; ignored"),
        ),
        Value::NotUtf8(lossy) => env.not_utf8(
            OTEL_TRACES_SAMPLER_ARG,
            &redact_sampler_arg(&lossy),
            &format!("ignored ({why}, which takes no argument)"),
            None,
        ),
    }
}

fn sampler_from_env(env: &mut Env<'_>) -> SamplerConfig {
    let value = match env.read(OTEL_TRACES_SAMPLER) {
        Value::Text(value) => value,
        Value::Unset => {
            unused_arg(
                env,
                &format!("{OTEL_TRACES_SAMPLER} is unset: the sampler is parentbased_always_on"),
            );
            return SamplerConfig::ParentBasedAlwaysOn;
        }
        Value::NotUtf8(lossy) => {
            env.not_utf8(
                OTEL_TRACES_SAMPLER,
                &lossy,
                "using parentbased_always_on",
                None,
            );
            unused_arg(
                env,
                &format!(
                    "{OTEL_TRACES_SAMPLER} cannot be used: the sampler is parentbased_always_on"
                ),
            );
            return SamplerConfig::ParentBasedAlwaysOn;
        }
    };
    // Enum values are case-insensitive (the configuration specification).
    let lower = value.trim().to_ascii_lowercase();
    let name = lower.as_str();
    let (sampler, takes_arg) = match name {
        "always_on" => (SamplerConfig::AlwaysOn, false),
        "always_off" => (SamplerConfig::AlwaysOff, false),
        "parentbased_always_on" => (SamplerConfig::ParentBasedAlwaysOn, false),
        "parentbased_always_off" => (SamplerConfig::ParentBasedAlwaysOff, false),
        _ => (SamplerConfig::ParentBasedAlwaysOn, true),
    };
    if !takes_arg {
        unused_arg(env, &format!("the sampler is {name}"));
        return sampler;
    }
    match name {
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio_arg(env)),
        "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio_arg(env)),
        name @ ("jaeger_remote" | "parentbased_jaeger_remote")
            if cfg!(feature = "jaeger-remote-sampler") =>
        {
            jaeger_remote_arg(env, name == "parentbased_jaeger_remote")
        }
        "jaeger_remote" | "parentbased_jaeger_remote" => {
            env.issue(
                OTEL_TRACES_SAMPLER,
                &value,
                "this build has no Jaeger remote sampler (crate feature jaeger-remote-sampler); using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
        "xray" => {
            env.issue(
                OTEL_TRACES_SAMPLER,
                &value,
                "the X-Ray sampler (AWS's centralized sampling rules) is not implemented for Rust; using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
        _ => {
            env.issue(
                OTEL_TRACES_SAMPLER,
                &value,
                "unknown sampler (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, jaeger_remote, parentbased_jaeger_remote); using parentbased_always_on",
            );
            SamplerConfig::ParentBasedAlwaysOn
        }
    }
}

/// Parses `jaeger_remote`'s `OTEL_TRACES_SAMPLER_ARG`. The entries that
/// cannot be used are reported once, with their count and the first one.
/// A value that is not UTF-8 may name the endpoint: it disables the remote
/// sampler, as an endpoint that cannot be used does (no poll of the default
/// endpoint instead).
fn jaeger_remote_arg(env: &mut Env<'_>, parent_based: bool) -> SamplerConfig {
    let mut endpoint = JAEGER_REMOTE_ENDPOINT_DEFAULT.to_string();
    let mut polling_interval = JAEGER_REMOTE_POLLING_INTERVAL_DEFAULT;
    let mut initial_sampling_rate = JAEGER_REMOTE_INITIAL_SAMPLING_RATE_DEFAULT;
    let mut unusable_endpoint = None;
    let mut shown = String::new();
    let value = match env.read(OTEL_TRACES_SAMPLER_ARG) {
        Value::Unset => None,
        Value::Text(value) => Some(value),
        Value::NotUtf8(lossy) => {
            env.not_utf8(
                OTEL_TRACES_SAMPLER_ARG,
                &redact_sampler_arg(&lossy),
                REMOTE_SAMPLER_DISABLED,
                Some(Disabled::RemoteSampler),
            );
            return SamplerConfig::ParentBasedAlwaysOn;
        }
    };
    if let Some(value) = value {
        shown = redact_sampler_arg(&value);
        // The first entry that cannot be used (why), and how many.
        let mut bad: Option<String> = None;
        let mut bad_count = 0usize;
        let mut note = |reason: String| {
            bad_count += 1;
            bad.get_or_insert(reason);
        };
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("endpoint", v)) => match check_sampling_endpoint(v) {
                    Ok(()) => endpoint = v.to_string(),
                    Err(reason) => unusable_endpoint = Some(reason),
                },
                Some(("pollingIntervalMs", v)) => match v.parse::<u64>() {
                    Ok(ms) if ms > 0 => polling_interval = Duration::from_millis(ms),
                    _ => note("pollingIntervalMs: expected a positive integer".into()),
                },
                Some(("initialSamplingRate", v)) => match v.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => initial_sampling_rate = r,
                    _ => note("initialSamplingRate: expected a ratio between 0 and 1".into()),
                },
                // Through `redact_url`: a misspelt `endpoint=` may hold a password.
                _ => note(format!(
                    "unknown entry {} (endpoint, pollingIntervalMs, initialSamplingRate)",
                    Shown::new(&redact_url(pair))
                )),
            }
        }
        if let Some(first) = bad {
            let reason = match bad_count {
                1 => format!("{first}; the defaults are used"),
                n => {
                    format!("{n} entries cannot be used, the first: {first}; the defaults are used")
                }
            };
            env.issue(OTEL_TRACES_SAMPLER_ARG, &shown, reason);
        }
    }
    if let Some(reason) = unusable_endpoint {
        env.disabling(
            OTEL_TRACES_SAMPLER_ARG,
            &shown,
            format!("endpoint: {reason}; {REMOTE_SAMPLER_DISABLED}"),
            Disabled::RemoteSampler,
        );
        return SamplerConfig::ParentBasedAlwaysOn;
    }
    SamplerConfig::JaegerRemote {
        parent_based,
        endpoint,
        polling_interval,
        initial_sampling_rate,
    }
}

/// `OTEL_TRACES_SAMPLER_ARG` as shown: each comma-separated entry through
/// [`redact_url`] (the `endpoint=` of `jaeger_remote` may hold credentials),
/// after its key when it has one (`endpoint=`).
pub(super) fn redact_sampler_arg(value: &str) -> String {
    value
        .split(',')
        .map(|entry| match entry.split_once('=') {
            // A key is a word: anything else may be a URL with `=` in it.
            Some((key, url)) if key.trim().chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("{key}={}", redact_url(url))
            }
            _ => redact_url(entry),
        })
        .collect::<Vec<_>>()
        .join(",")
}
