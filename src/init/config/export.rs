//! Where spans and log records go: the exporter, the OTLP settings, and the
//! default spans file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env::{
    mask_pairs, Env, HOME, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_GRPC_ENDPOINT_DEFAULT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_HTTP_TRACES_ENDPOINT_DEFAULT, OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_LOGS_EXPORTER,
    OTEL_TRACES_EXPORTER, TMPDIR, XDG_STATE_HOME,
};
use super::{
    redact_url, Disabled, OtlpCompression, OtlpConfig, OtlpProtocol, Overrides, TracesExporter,
};
use crate::init::sink::{current_uid, Uid};

/// What [`resolve`] decides.
pub(super) struct Export {
    pub(super) traces_exporter: TracesExporter,
    pub(super) logs_otlp: bool,
    pub(super) otlp: OtlpConfig,
    pub(super) spans_dir_is_default: bool,
}

/// The exporter and the OTLP settings; `service_name` names the default
/// spans file.
pub(super) fn resolve(env: &mut Env<'_>, over: &Overrides, service_name: &str) -> Export {
    let protocol = protocol(env, over);

    // Endpoint: the builder's or the per-signal URL is used as is; the
    // generic one is a base URL to which HTTP appends `v1/traces`. The first
    // one set decides: an unusable one is never replaced by another (the
    // next one, or the default), which would send the spans, and the headers
    // with their API keys, to an address the user did not name.
    let given = match &over.otlp_endpoint {
        Some(url) => Some(("ObservabilityBuilder::otlp_endpoint", url.clone(), true)),
        None => [
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, true),
            (OTEL_EXPORTER_OTLP_ENDPOINT, false),
        ]
        .into_iter()
        .find_map(|(name, per_signal)| Some((name, env.var(name)?, per_signal))),
    };
    let endpoint_set = given.is_some();
    // (variable, value, why) of an endpoint that cannot be used.
    let mut unusable: Option<(&'static str, String, String)> = None;
    let endpoint = match given {
        None => match protocol {
            OtlpProtocol::Grpc => OTEL_EXPORTER_OTLP_GRPC_ENDPOINT_DEFAULT.to_string(),
            OtlpProtocol::HttpProtobuf => {
                OTEL_EXPORTER_OTLP_HTTP_TRACES_ENDPOINT_DEFAULT.to_string()
            }
        },
        Some((name, value, per_signal)) => {
            let value = value.trim().to_string();
            if let Err(reason) = check_endpoint(&value) {
                unusable = Some((name, value.clone(), reason));
            }
            match (per_signal, protocol) {
                (false, OtlpProtocol::HttpProtobuf) => {
                    format!("{}/v1/traces", value.trim_end_matches('/'))
                }
                _ => value,
            }
        }
    };
    // Logs: their own URL, else the traces endpoint with the logs path (so
    // an unusable traces endpoint leaves the logs without one too).
    let logs_given = match &over.otlp_logs_endpoint {
        Some(url) => Some((
            "ObservabilityBuilder::otlp_logs_endpoint",
            url.trim().to_string(),
        )),
        None => env
            .var(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)
            .map(|v| (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, v.trim().to_string())),
    };
    let (logs_endpoint, logs_unusable, logs_derived) = match logs_given {
        Some((name, value)) => {
            let bad = check_endpoint(&value)
                .err()
                .map(|reason| (name, value.clone(), reason));
            (value, bad, false)
        }
        None => {
            let derived = match protocol {
                OtlpProtocol::Grpc => endpoint.clone(),
                OtlpProtocol::HttpProtobuf => match endpoint.strip_suffix("/v1/traces") {
                    Some(base) => format!("{base}/v1/logs"),
                    None => endpoint.clone(),
                },
            };
            let bad = unusable.clone().map(|(name, value, reason)| {
                (
                    name,
                    value,
                    format!("{reason}; log records would go there too (no {OTEL_EXPORTER_OTLP_LOGS_ENDPOINT})"),
                )
            });
            (derived, bad, true)
        }
    };

    let headers = headers(env, over);
    let timeout = timeout(env, over);
    // Per-signal over generic; the builder's over both.
    let generic = compression_of(env, OTEL_EXPORTER_OTLP_COMPRESSION);
    let traces_own = compression_of(env, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION);
    let logs_own = compression_of(env, OTEL_EXPORTER_OTLP_LOGS_COMPRESSION);
    let compression = over
        .otlp_compression
        .or(traces_own)
        .or(generic)
        .unwrap_or_default();
    let logs_compression = over
        .otlp_compression
        .or(logs_own)
        .or(generic)
        .unwrap_or_default();

    let (mut traces_exporter, spans_dir_is_default) =
        traces_exporter(env, over, endpoint_set, service_name);

    let mut logs_otlp = logs_exporter(env, &traces_exporter);
    // An unusable endpoint disables the export that would use it (no
    // fallback: see above), and is only ignored when nothing would.
    if let Some((name, value, reason)) = unusable {
        match traces_exporter {
            TracesExporter::Otlp => {
                env.disabling(
                    name,
                    &redact_url(&value),
                    format!("{reason}; span export is disabled: no span is sent, to this or any other endpoint"),
                    Disabled::SpanExport,
                );
                traces_exporter = TracesExporter::None;
            }
            _ => env.issue(
                name,
                &redact_url(&value),
                format!("{reason}; ignored (spans do not go over OTLP)"),
            ),
        }
    }
    if let Some((name, value, reason)) = logs_unusable {
        match (logs_otlp && cfg!(feature = "logs"), logs_derived) {
            (true, _) => env.disabling(
                name,
                &redact_url(&value),
                format!("{reason}; log record export is disabled: no log record is sent, to this or any other endpoint"),
                Disabled::LogExport,
            ),
            // Already reported with the traces endpoint.
            (false, true) => {}
            (false, false) => env.issue(
                name,
                &redact_url(&value),
                format!("{reason}; ignored (log records do not go over OTLP)"),
            ),
        }
        logs_otlp = false;
    }
    Export {
        traces_exporter,
        logs_otlp,
        otlp: OtlpConfig {
            protocol,
            endpoint,
            logs_endpoint,
            headers,
            timeout,
            compression,
            logs_compression,
        },
        spans_dir_is_default,
    }
}

/// The protocol: the builder's, else per-signal, then generic, then the
/// specification's default.
fn protocol(env: &mut Env<'_>, over: &Overrides) -> OtlpProtocol {
    let protocol = over.otlp_protocol.or_else(|| {
        [
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            OTEL_EXPORTER_OTLP_PROTOCOL,
        ]
        .into_iter()
        .find_map(|name| {
            let value = env.var(name)?;
            let parsed = OtlpProtocol::parse(value.trim());
            if parsed.is_none() {
                env.issue(
                    name,
                    &value,
                    "expected grpc or http/protobuf; using http/protobuf",
                );
            }
            parsed
        })
    });
    protocol.unwrap_or(OtlpProtocol::HttpProtobuf)
}

/// Headers: generic, then per-signal, then the builder's, a later one
/// replacing an earlier one of the same name. Their values are secrets:
/// masked wherever they are shown.
fn headers(env: &mut Env<'_>, over: &Overrides) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let sources = [
        (
            OTEL_EXPORTER_OTLP_HEADERS,
            env.pairs(OTEL_EXPORTER_OTLP_HEADERS, true),
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            env.pairs(OTEL_EXPORTER_OTLP_TRACES_HEADERS, true),
        ),
        (
            "ObservabilityBuilder::otlp_header",
            over.otlp_headers.clone(),
        ),
    ];
    for (source, pairs) in sources {
        for (k, v) in pairs {
            let what = match (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(&v),
            ) {
                (Ok(_), Ok(_)) => None,
                (Err(_), _) => Some("name"),
                (_, Err(_)) => Some("value"),
            };
            if let Some(what) = what {
                let shown = match env.var(source) {
                    Some(value) => mask_pairs(&value),
                    None => format!("{k}=***"),
                };
                env.issue(
                    source,
                    &shown,
                    format!(
                        "header {k:?}: its {what} is not valid in HTTP; that header is not sent"
                    ),
                );
                continue;
            }
            headers.retain(|(key, _)| *key != k);
            headers.push((k, v));
        }
    }
    headers
}

/// The request deadline: the builder's, else per-signal, then generic, then
/// the default (0 is reported and ignored).
fn timeout(env: &mut Env<'_>, over: &Overrides) -> Duration {
    const INSTANT_TIMEOUT: &str = "0 would make every export request time out at once";
    env.nonzero_override(
        "ObservabilityBuilder::otlp_timeout",
        over.otlp_timeout,
        INSTANT_TIMEOUT,
    )
    .or_else(|| env.nonzero_millis(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, INSTANT_TIMEOUT))
    .or_else(|| env.nonzero_millis(OTEL_EXPORTER_OTLP_TIMEOUT, INSTANT_TIMEOUT))
    .unwrap_or(OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT)
}

/// The compression `name` sets, if it is set to a known one.
fn compression_of(env: &mut Env<'_>, name: &'static str) -> Option<OtlpCompression> {
    let value = env.var(name)?;
    let parsed = OtlpCompression::parse(value.trim());
    if parsed.is_none() {
        env.issue(name, &value, "expected gzip or none; it is skipped");
    }
    parsed
}

/// The span exporter: the builder's, else `OTEL_TRACES_EXPORTER`, else OTLP
/// when an endpoint is set, else the embedded default (a local file); and
/// whether that file's folder is the crate's default.
fn traces_exporter(
    env: &mut Env<'_>,
    over: &Overrides,
    endpoint_set: bool,
    service_name: &str,
) -> (TracesExporter, bool) {
    let mut spans_dir_is_default = false;
    let traces_exporter = match &over.traces_exporter {
        Some(e) => e.clone(),
        None => {
            let chosen = env.var(OTEL_TRACES_EXPORTER).and_then(|value| {
                let first = value.split(',').next().unwrap_or("").trim().to_string();
                match first.as_str() {
                    "otlp" => Some(TracesExporter::Otlp),
                    "console" => Some(TracesExporter::Console),
                    "none" => Some(TracesExporter::None),
                    _ => {
                        env.issue(
                            OTEL_TRACES_EXPORTER,
                            &value,
                            "expected otlp, console or none; using the default",
                        );
                        None
                    }
                }
            });
            chosen.unwrap_or_else(|| match endpoint_set {
                true => TracesExporter::Otlp,
                false => TracesExporter::File(match &over.default_spans_file {
                    Some(path) => path.clone(),
                    None => {
                        spans_dir_is_default = true;
                        default_spans_file(env, service_name)
                    }
                }),
            })
        }
    };
    (traces_exporter, spans_dir_is_default)
}

/// Whether log records go over OTLP: `OTEL_LOGS_EXPORTER`, else when spans do.
fn logs_exporter(env: &mut Env<'_>, traces_exporter: &TracesExporter) -> bool {
    match env.var(OTEL_LOGS_EXPORTER) {
        None => *traces_exporter == TracesExporter::Otlp,
        Some(value) => match value.split(',').next().unwrap_or("").trim() {
            "otlp" => true,
            "none" | "console" => false,
            _ => {
                env.issue(
                    OTEL_LOGS_EXPORTER,
                    &value,
                    "expected otlp, console or none; log lines go to standard output only",
                );
                false
            }
        },
    }
}

/// Validates an endpoint URL: `http` or `https` with a host. TLS is not built
/// in: an `https` endpoint is refused rather than failing at every export.
pub(super) fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err("https needs TLS, which this build does not include yet: send to a collector on the local network over http://, and let it speak TLS".into())
        }
        _ => return Err("the URL must start with http://".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// `<folder>/<service>.spans.jsonl`, the folder chosen by [`spans_dir`] from
/// the configuration's environment (so `env_vars` can move it).
fn default_spans_file(env: &Env<'_>, service: &str) -> PathBuf {
    let safe: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // `TMPDIR` as `std::env::temp_dir` reads it on Unix, but from this environment.
    let tmp = env
        .var(TMPDIR)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| match cfg!(unix) {
            true => PathBuf::from("/tmp"),
            false => std::env::temp_dir(),
        });
    let dir = spans_dir(
        env.var(XDG_STATE_HOME).as_deref(),
        env.var(HOME).as_deref(),
        &|p| p.is_dir(),
        &tmp,
        &|| current_uid().ok(),
    );
    dir.join(format!("{safe}.spans.jsonl"))
}

/// The per-user folder of the default spans file, first that applies:
/// * `$XDG_STATE_HOME/distributed-tracing` (absolute, as the XDG Base
///   Directory specification requires; a relative one is ignored);
/// * `$HOME/.local/state/distributed-tracing` (the specification's default),
///   when `HOME` is an absolute path to an existing folder other than `/`
///   (daemons often run with `HOME=/` or `/nonexistent`);
/// * `<tmp>/distributed-tracing-<uid>` (Unix; `<tmp>/distributed-tracing`
///   elsewhere, where the temporary folder is the user's own).
///
/// Its checks (owner, mode) happen when the file is opened (`sink.rs`).
pub(super) fn spans_dir(
    xdg_state_home: Option<&str>,
    home: Option<&str>,
    is_dir: &dyn Fn(&Path) -> bool,
    tmp: &Path,
    uid: &dyn Fn() -> Option<Uid>,
) -> PathBuf {
    const NAME: &str = "distributed-tracing";
    if let Some(state) = xdg_state_home.map(Path::new).filter(|p| p.is_absolute()) {
        return state.join(NAME);
    }
    if let Some(home) = home
        .map(Path::new)
        // `parent()`: not the root folder.
        .filter(|p| p.is_absolute() && p.parent().is_some() && is_dir(p))
    {
        return home.join(".local").join("state").join(NAME);
    }
    #[cfg(unix)]
    if let Some(uid) = uid() {
        return tmp.join(format!("{NAME}-{uid}"));
    }
    #[cfg(not(unix))]
    let _ = uid;
    // Unix without a user id: opening asks for it again and fails with the
    // reason, or checks this shared folder's owner like any other.
    tmp.join(NAME)
}
