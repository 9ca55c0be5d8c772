//! Where spans and log records go: the exporter, the OTLP settings, and the
//! default spans file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env::{
    mask_pairs, Env, Value, DISTRIBUTED_TRACING_SPANS_FILE, HOME, NOT_UTF8,
    OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_GRPC_ENDPOINT_DEFAULT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_HTTP_TRACES_ENDPOINT_DEFAULT, OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_LOGS_EXPORTER,
    OTEL_TRACES_EXPORTER, TMPDIR, XDG_STATE_HOME,
};
use super::env::{
    DISTRIBUTED_TRACING_METRICS_FILE, OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_INSECURE, OTEL_METRICS_EXPORTER,
};
use super::env::{
    OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE, OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY, OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_TRACES_INSECURE,
};
use super::user::{current_uid, Uid};
use super::{
    redact_url, Disabled, MetricsExporter, OtlpCompression, OtlpConfig, OtlpProtocol, OtlpTls,
    Overrides, TracesExporter,
};
use crate::error::Shown;

/// What [`resolve`] decides.
pub(super) struct Export {
    pub(super) traces_exporter: TracesExporter,
    pub(super) also_console: bool,
    pub(super) logs_otlp: bool,
    pub(super) metrics_exporter: MetricsExporter,
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
    // with their API keys, to an address the user did not name. A value
    // that is not UTF-8 is one that cannot be used: it decides too.
    let given = match &over.otlp_endpoint {
        Some(url) => Some(("ObservabilityBuilder::otlp_endpoint", Ok(url.clone()), true)),
        None => [
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, true),
            (OTEL_EXPORTER_OTLP_ENDPOINT, false),
        ]
        .into_iter()
        .find_map(|(name, per_signal)| Some((name, endpoint_value(env, name)?, per_signal))),
    };
    let endpoint_set = given.is_some();
    let generic_insecure = env.opt_bool(OTEL_EXPORTER_OTLP_INSECURE);
    let insecure = insecure_of(
        env,
        over,
        (OTEL_EXPORTER_OTLP_TRACES_INSECURE, generic_insecure),
        given.as_ref().and_then(|(_, url, _)| url.as_deref().ok()),
        protocol,
    );
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
            let value = match value {
                Ok(value) => {
                    let value = with_scheme(value.trim(), protocol, insecure);
                    if let Err(reason) = check_endpoint(&value) {
                        unusable = Some((name, value.clone(), reason));
                    }
                    value
                }
                Err(lossy) => {
                    unusable = Some((name, lossy.clone(), NOT_UTF8.to_string()));
                    lossy
                }
            };
            match (per_signal, protocol) {
                (false, OtlpProtocol::HttpProtobuf) => {
                    format!("{}/v1/traces", value.trim_end_matches('/'))
                }
                _ => value,
            }
        }
    };
    // Logs and metrics: their own URL, else the traces endpoint with their
    // path (so an unusable traces endpoint leaves them without one too).
    let traces = (endpoint.as_str(), &unusable);
    let (logs_endpoint, logs_unusable, logs_derived) = signal_endpoint(
        env,
        over,
        over.otlp_logs_endpoint
            .as_ref()
            .map(|url| ("ObservabilityBuilder::otlp_logs_endpoint", url.clone())),
        Signal::LOGS,
        generic_insecure,
        traces,
        protocol,
    );
    let (metrics_endpoint, metrics_unusable, metrics_derived) = signal_endpoint(
        env,
        over,
        None,
        Signal::METRICS,
        generic_insecure,
        traces,
        protocol,
    );

    let headers = headers(env, over);
    let timeout = timeout(env, over);
    // Per-signal over generic; the builder's over both.
    let generic = compression_of(env, OTEL_EXPORTER_OTLP_COMPRESSION);
    let traces_own = compression_of(env, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION);
    let logs_own = compression_of(env, OTEL_EXPORTER_OTLP_LOGS_COMPRESSION);
    let metrics_own = compression_of(env, OTEL_EXPORTER_OTLP_METRICS_COMPRESSION);
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
    let metrics_compression = over
        .otlp_compression
        .or(metrics_own)
        .or(generic)
        .unwrap_or_default();

    let (tls, tls_names, tls_not_utf8) = tls_files(
        env,
        over,
        [
            OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
            OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
            OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
        ],
    );
    let (logs_tls, logs_tls_names, logs_tls_not_utf8) = tls_files(
        env,
        over,
        [
            OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
            OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
            OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
        ],
    );

    let (metrics_tls, metrics_tls_names, metrics_tls_not_utf8) = tls_files(
        env,
        over,
        [
            OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
            OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
            OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
        ],
    );

    let (mut traces_exporter, spans_dir_is_default, also_console) =
        traces_exporter(env, over, endpoint_set, service_name);
    let mut metrics_exporter = metrics_exporter(env, over, &traces_exporter);

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
    if let Some((name, value, reason)) = metrics_unusable {
        match (metrics_exporter == MetricsExporter::Otlp, metrics_derived) {
            // Derived from the traces endpoint: its line says it, once.
            (true, true)
                if env.amend(
                    name,
                    "; metric export is disabled too (metrics would go there)",
                ) => {}
            (true, _) => env.disabling(
                name,
                &redact_url(&value),
                format!("{reason}; metric export is disabled: no metric is sent, to this or any other endpoint"),
                Disabled::MetricExport,
            ),
            (false, true) => {}
            (false, false) => env.issue(
                name,
                &redact_url(&value),
                format!("{reason}; ignored (metrics do not go over OTLP)"),
            ),
        }
        if metrics_exporter == MetricsExporter::Otlp {
            metrics_exporter = MetricsExporter::None;
        }
    }
    // TLS files that cannot be used disable their export (never a fallback
    // to fewer checks); files given for a plain-text endpoint are reported.
    let mut reported = Vec::new();
    if traces_exporter == TracesExporter::Otlp
        && !check_tls(
            env,
            (&endpoint, &tls, tls_names, &tls_not_utf8),
            Disabled::SpanExport,
            &mut reported,
        )
    {
        traces_exporter = TracesExporter::None;
    }
    if logs_otlp
        && cfg!(feature = "logs")
        && !check_tls(
            env,
            (
                &logs_endpoint,
                &logs_tls,
                logs_tls_names,
                &logs_tls_not_utf8,
            ),
            Disabled::LogExport,
            &mut reported,
        )
    {
        logs_otlp = false;
    }
    if metrics_exporter == MetricsExporter::Otlp
        && !check_tls(
            env,
            (
                &metrics_endpoint,
                &metrics_tls,
                metrics_tls_names,
                &metrics_tls_not_utf8,
            ),
            Disabled::MetricExport,
            &mut reported,
        )
    {
        metrics_exporter = MetricsExporter::None;
    }
    // A TLS path that is not UTF-8 is reported even where no export reads it.
    for (setting, lossy) in tls_not_utf8
        .iter()
        .chain(&logs_tls_not_utf8)
        .chain(&metrics_tls_not_utf8)
    {
        if !reported.contains(setting) {
            reported.push(setting);
            env.issue(
                setting,
                lossy,
                format!("{NOT_UTF8}; ignored (no OTLP export uses it)"),
            );
        }
    }
    Export {
        // A copy on standard output goes with the OTLP export, even when that
        // export is disabled (the copy is what is left to see).
        also_console,
        traces_exporter,
        logs_otlp,
        metrics_exporter,
        otlp: OtlpConfig {
            protocol,
            endpoint,
            logs_endpoint,
            metrics_endpoint,
            headers,
            timeout,
            compression,
            logs_compression,
            metrics_compression,
            tls,
            logs_tls,
            metrics_tls,
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
            let value = env.var_or(name, "using http/protobuf")?;
            let parsed = OtlpProtocol::parse(&value.trim().to_ascii_lowercase());
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
///
/// The headers that HTTP refuses are reported once per source, with their
/// count and the first one (its name only), in time linear in the value's
/// length whatever their number.
fn headers(env: &mut Env<'_>, over: &Overrides) -> Vec<(String, String)> {
    const BUILDER: &str = "ObservabilityBuilder::otlp_header";
    // Each header's slot: `None` once a later one of the same name replaced it.
    let mut slots: Vec<Option<(String, String)>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let sources = [
        (
            OTEL_EXPORTER_OTLP_HEADERS,
            env.pairs(OTEL_EXPORTER_OTLP_HEADERS, true),
        ),
        (
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            env.pairs(OTEL_EXPORTER_OTLP_TRACES_HEADERS, true),
        ),
        (BUILDER, over.otlp_headers.clone()),
    ];
    for (source, pairs) in sources {
        // The first refused header (its name, what is wrong), and how many.
        let mut refused: Option<(String, &str)> = None;
        let mut count = 0usize;
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
                count += 1;
                refused.get_or_insert((k, what));
                continue;
            }
            if let Some(old) = index.insert(k.clone(), slots.len()) {
                slots[old] = None;
            }
            slots.push(Some((k, v)));
        }
        if let Some((name, what)) = refused {
            // The value as set (masked), or, for the builder's, the first one.
            let shown = match source {
                BUILDER => format!("{name}=***"),
                _ => match env.read(source) {
                    Value::Text(value) => mask_pairs(&value),
                    _ => format!("{name}=***"),
                },
            };
            let first = Shown::new(&name);
            let reason = match count {
                1 => format!("header {first}: its {what} is not valid in HTTP; that header is not sent"),
                n => format!("{n} headers are not valid in HTTP, the first {first} (its {what}); those headers are not sent"),
            };
            env.issue(source, &shown, reason);
        }
    }
    slots.into_iter().flatten().collect()
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

/// `OTEL_EXPORTER_OTLP_INSECURE` for one signal: the builder's, else the
/// per-signal variable `own`, else the generic one (read once, by the
/// caller, so that a bad value is reported once). It only decides for a
/// gRPC endpoint without a scheme (the specification); one that contradicts
/// the endpoint's `https://` is reported (TLS is used).
fn insecure_of(
    env: &mut Env<'_>,
    over: &Overrides,
    (own, generic): (&'static str, Option<bool>),
    url: Option<&str>,
    protocol: OtlpProtocol,
) -> Option<bool> {
    let (source, insecure) = match over.otlp_insecure {
        Some(insecure) => ("ObservabilityBuilder::otlp_insecure", insecure),
        None => match env.opt_bool(own) {
            Some(insecure) => (own, insecure),
            None => (OTEL_EXPORTER_OTLP_INSECURE, generic?),
        },
    };
    let https = url.is_some_and(|url| scheme(url.trim()) == Some("https"));
    if insecure && https {
        env.issue(
            source,
            "true",
            format!(
                "ignored: the endpoint asks for TLS (https://), which is used{}",
                match protocol {
                    OtlpProtocol::Grpc => "",
                    OtlpProtocol::HttpProtobuf => " (the variable only applies to gRPC)",
                }
            ),
        );
    }
    Some(insecure)
}

/// A gRPC endpoint without a scheme (`collector:4317`) with the one
/// `OTEL_EXPORTER_OTLP_INSECURE` chooses: `https` unless it is `true`.
/// Anything else as given.
fn with_scheme(url: &str, protocol: OtlpProtocol, insecure: Option<bool>) -> String {
    match protocol == OtlpProtocol::Grpc && !url.is_empty() && !url.contains("://") {
        true => match insecure.unwrap_or(false) {
            true => format!("http://{url}"),
            false => format!("https://{url}"),
        },
        false => url.to_string(),
    }
}

/// The lowercase scheme of a URL (`None`: none, or not a URL).
pub(super) fn scheme(url: &str) -> Option<&'static str> {
    let (scheme, _) = url.split_once("://")?;
    ["http", "https"]
        .into_iter()
        .find(|known| scheme.eq_ignore_ascii_case(known))
}

/// One signal's TLS files, each the builder's, else the per-signal variable,
/// else the generic one; where each came from; and the settings whose path
/// is not UTF-8 (each with its lossy form): such a path decides, as any
/// other (the generic variable is not used instead), and is refused by
/// [`check_tls`].
fn tls_files(
    env: &mut Env<'_>,
    over: &Overrides,
    [certificate, client_certificate, client_key]: [&'static str; 3],
) -> (OtlpTls, TlsNames, Vec<(&'static str, String)>) {
    let mut not_utf8 = Vec::new();
    let mut pick = |given: &Option<PathBuf>,
                    method: &'static str,
                    own: &'static str,
                    generic: &'static str| {
        if let Some(path) = given {
            return (Some(path.clone()), method);
        }
        for name in [own, generic] {
            match env.read(name) {
                Value::Unset => continue,
                Value::Text(path) => return (Some(PathBuf::from(path.trim())), name),
                // Not a path to read: `check_tls` refuses it.
                Value::NotUtf8(lossy) => {
                    not_utf8.push((name, lossy));
                    return (None, name);
                }
            }
        }
        (None, generic)
    };
    let (certificate, certificate_name) = pick(
        &over.otlp_tls.certificate,
        "ObservabilityBuilder::otlp_certificate",
        certificate,
        OTEL_EXPORTER_OTLP_CERTIFICATE,
    );
    let (client_certificate, client_certificate_name) = pick(
        &over.otlp_tls.client_certificate,
        "ObservabilityBuilder::otlp_client_certificate",
        client_certificate,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    );
    let (client_key, client_key_name) = pick(
        &over.otlp_tls.client_key,
        "ObservabilityBuilder::otlp_client_key",
        client_key,
        OTEL_EXPORTER_OTLP_CLIENT_KEY,
    );
    (
        OtlpTls {
            certificate,
            client_certificate,
            client_key,
        },
        TlsNames {
            certificate: certificate_name,
            client_certificate: client_certificate_name,
            client_key: client_key_name,
        },
        not_utf8,
    )
}

/// The builder method that takes the path `setting` names, as a `PathBuf`.
fn tls_method(setting: &str) -> &'static str {
    match setting {
        s if s.ends_with("CLIENT_CERTIFICATE") => "ObservabilityBuilder::otlp_client_certificate",
        s if s.ends_with("CLIENT_KEY") => "ObservabilityBuilder::otlp_client_key",
        _ => "ObservabilityBuilder::otlp_certificate",
    }
}

/// Where each TLS file came from (a variable, or a builder method).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlsNames {
    pub(crate) certificate: &'static str,
    pub(crate) client_certificate: &'static str,
    pub(crate) client_key: &'static str,
}

/// Whether the export to `endpoint` that `disabled` names may go on with `tls`: for an
/// `https://` endpoint, its files must be readable certificates and a key
/// that matches (else the export is disabled, and the issue names the
/// setting and the path, never the content); for an `http://` one, files
/// given are reported as unused (once per setting, in `reported`).
///
/// A path that is not UTF-8 (`not_utf8`, from [`tls_files`]) is refused
/// like a file that cannot be read: the export is disabled, never run with
/// the system's roots or without the client certificate instead.
fn check_tls(
    env: &mut Env<'_>,
    (endpoint, tls, names, not_utf8): (&str, &OtlpTls, TlsNames, &[(&'static str, String)]),
    disabled: Disabled,
    reported: &mut Vec<&'static str>,
) -> bool {
    let kind = match disabled {
        Disabled::SpanExport => "span",
        Disabled::MetricExport => "metric",
        _ => "log record",
    };
    let https = super::is_https(endpoint);
    for (setting, lossy) in not_utf8 {
        match https {
            // One issue per export it disables, as for a file that cannot
            // be read (the generic variable may disable both).
            true => {
                if !reported.contains(setting) {
                    reported.push(setting);
                }
                env.disabling(
                    setting,
                    lossy,
                    format!(
                        "{NOT_UTF8}: this crate reads the variable as text; give such a path in code ({}, which takes a PathBuf); {kind} export is disabled: no {kind} is sent without the TLS settings given",
                        tls_method(setting)
                    ),
                    disabled,
                );
                return false;
            }
            false if reported.contains(setting) => {}
            false => {
                reported.push(setting);
                env.issue(
                    setting,
                    lossy,
                    format!(
                        "{NOT_UTF8}; not used anyway: the {kind} endpoint {} is plain text (http://)",
                        Shown::new(&redact_url(endpoint))
                    ),
                );
            }
        }
    }
    if !https {
        let given = [
            (names.certificate, &tls.certificate),
            (names.client_certificate, &tls.client_certificate),
            (names.client_key, &tls.client_key),
        ];
        for (setting, path) in given {
            if let Some(path) = path {
                if !reported.contains(&setting) {
                    reported.push(setting);
                    env.issue(
                        setting,
                        &path.display().to_string(),
                        format!(
                            "not used: the {kind} endpoint {} is plain text (http://); TLS needs https://",
                            Shown::new(&redact_url(endpoint))
                        ),
                    );
                }
            }
        }
        return true;
    }
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    {
        if let Err(e) = super::tls::check(tls, names) {
            env.disabling(
                e.setting,
                &e.path.display().to_string(),
                format!(
                    "{}; {kind} export is disabled: no {kind} is sent without the TLS settings given",
                    e.reason
                ),
                disabled,
            );
            return false;
        }
        let roots = super::tls::system_roots();
        if tls.certificate.is_none() && roots.store.is_empty() && !reported.contains(&"roots") {
            reported.push("roots");
            env.issue(
                names.certificate,
                "",
                format!(
                    "not set, and this system has no trusted CA certificate{}: every TLS handshake with {} will fail; install the ca-certificates package, or set it to the CA that signed the collector's certificate",
                    match roots.problems.first() {
                        Some(problem) => format!(" ({problem})"),
                        None => String::new(),
                    },
                    Shown::new(&redact_url(endpoint))
                ),
            );
        }
    }
    true
}

/// The compression `name` sets, if it is set to a known one.
fn compression_of(env: &mut Env<'_>, name: &'static str) -> Option<OtlpCompression> {
    let value = env.var_or(name, "it is skipped")?;
    let parsed = OtlpCompression::parse(&value.trim().to_ascii_lowercase());
    if parsed.is_none() {
        env.issue(name, &value, "expected gzip or none; it is skipped");
    }
    parsed
}

/// The span exporter: the builder's, else `OTEL_TRACES_EXPORTER`, else OTLP
/// when an endpoint is set, else the embedded default (a local file); whether
/// that file's folder is the crate's default; and whether spans also go to
/// standard output (`OTEL_TRACES_EXPORTER=otlp,console`).
fn traces_exporter(
    env: &mut Env<'_>,
    over: &Overrides,
    endpoint_set: bool,
    service_name: &str,
) -> (TracesExporter, bool, bool) {
    let mut spans_dir_is_default = false;
    let mut also_console = false;
    let traces_exporter = match &over.traces_exporter {
        Some(e) => e.clone(),
        None => {
            let chosen = env.var(OTEL_TRACES_EXPORTER).and_then(|value| {
                // A list (the specification: "otlp,console" sends to both).
                // Enum values are case-insensitive (the configuration
                // specification); an unknown one is reported and skipped.
                let mut names: Vec<String> = Vec::new();
                for name in value.split(',').map(|n| n.trim().to_ascii_lowercase()) {
                    if matches!(name.as_str(), "otlp" | "console" | "none") {
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    } else {
                        env.issue(
                            OTEL_TRACES_EXPORTER,
                            &value,
                            format!(
                                "{} is not an exporter (expected otlp, console or none); it is skipped",
                                Shown::new(&name)
                            ),
                        );
                    }
                }
                if names.len() > 1 && names.iter().any(|n| n == "none") {
                    env.issue(
                        OTEL_TRACES_EXPORTER,
                        &value,
                        "none with other exporters: the others are used",
                    );
                    names.retain(|n| n != "none");
                }
                let has = |n: &str| names.iter().any(|x| x == n);
                match (has("otlp"), has("console"), has("none")) {
                    (true, console, _) => {
                        also_console = console;
                        Some(TracesExporter::Otlp)
                    }
                    (false, true, _) => Some(TracesExporter::Console),
                    (false, false, true) => Some(TracesExporter::None),
                    // Nothing usable: the default, as for an unset variable.
                    (false, false, false) => None,
                }
            });
            chosen.unwrap_or_else(|| match endpoint_set {
                true => TracesExporter::Otlp,
                false => TracesExporter::File(match &over.default_spans_file {
                    Some(path) => path.clone(),
                    None => match spans_file_variable(env) {
                        Some(path) => path,
                        None => {
                            spans_dir_is_default = true;
                            default_spans_file(env, service_name)
                        }
                    },
                }),
            })
        }
    };
    (traces_exporter, spans_dir_is_default, also_console)
}

/// `DISTRIBUTED_TRACING_SPANS_FILE`: the spans file's path, as
/// `ObservabilityBuilder::spans_file` gives it (its folder is the user's to
/// secure; it is created private when missing). Empty: unset.
fn spans_file_variable(env: &mut Env<'_>) -> Option<PathBuf> {
    env.var_or(
        DISTRIBUTED_TRACING_SPANS_FILE,
        "ignored: the spans file is the default one",
    )
    .filter(|p| !p.trim().is_empty())
    .map(PathBuf::from)
}

/// What tells the other signals' endpoints apart: their variables, their
/// path under a base URL, their name in reports.
struct Signal {
    endpoint: &'static str,
    insecure: &'static str,
    path: &'static str,
    words: &'static str,
}

impl Signal {
    const LOGS: Signal = Signal {
        endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
        insecure: OTEL_EXPORTER_OTLP_LOGS_INSECURE,
        path: "/v1/logs",
        words: "log records",
    };
    const METRICS: Signal = Signal {
        endpoint: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
        insecure: OTEL_EXPORTER_OTLP_METRICS_INSECURE,
        path: "/v1/metrics",
        words: "metrics",
    };
}

/// The endpoint of log records or metrics: the builder's or the signal's
/// own variable, used as is; else the traces endpoint (`traces`: its URL
/// and why it cannot be used, if so) with the signal's path for OTLP/HTTP.
/// Returns the URL, why it cannot be used (variable, value, reason), and
/// whether it was derived from the traces endpoint.
fn signal_endpoint(
    env: &mut Env<'_>,
    over: &Overrides,
    in_code: Option<(&'static str, String)>,
    signal: Signal,
    generic_insecure: Option<bool>,
    (traces, traces_unusable): (&str, &Option<(&'static str, String, String)>),
    protocol: OtlpProtocol,
) -> (String, Option<(&'static str, String, String)>, bool) {
    let given = match in_code {
        Some((name, url)) => Some((name, Ok(url.trim().to_string()))),
        None => endpoint_value(env, signal.endpoint)
            .map(|v| (signal.endpoint, v.map(|v| v.trim().to_string()))),
    };
    let insecure = insecure_of(
        env,
        over,
        (signal.insecure, generic_insecure),
        given.as_ref().and_then(|(_, url)| url.as_deref().ok()),
        protocol,
    );
    match given {
        Some((name, Ok(value))) => {
            let value = with_scheme(&value, protocol, insecure);
            let bad = check_endpoint(&value)
                .err()
                .map(|reason| (name, value.clone(), reason));
            (value, bad, false)
        }
        // Not the traces' endpoint instead: the signal goes nowhere.
        Some((name, Err(lossy))) => (
            lossy.clone(),
            Some((name, lossy, NOT_UTF8.to_string())),
            false,
        ),
        None => {
            let derived = match protocol {
                OtlpProtocol::Grpc => traces.to_owned(),
                OtlpProtocol::HttpProtobuf => match traces.strip_suffix("/v1/traces") {
                    Some(base) => format!("{base}{}", signal.path),
                    None => traces.to_owned(),
                },
            };
            let bad = traces_unusable.clone().map(|(name, value, reason)| {
                (
                    name,
                    value,
                    format!(
                        "{reason}; {} would go there too (no {})",
                        signal.words, signal.endpoint
                    ),
                )
            });
            (derived, bad, true)
        }
    }
}

/// Where metrics go: the builder's, else `OTEL_METRICS_EXPORTER` (a list, as
/// for spans: `otlp`, `console`, `none`), else as spans go: over OTLP when
/// they do, to the metrics file beside the spans file when they go to theirs,
/// to standard output when they do; nowhere otherwise.
fn metrics_exporter(
    env: &mut Env<'_>,
    over: &Overrides,
    traces_exporter: &TracesExporter,
) -> MetricsExporter {
    if let Some(chosen) = &over.metrics_exporter {
        return chosen.clone();
    }
    let beside_spans = |env: &mut Env<'_>| match traces_exporter {
        TracesExporter::Otlp => MetricsExporter::Otlp,
        TracesExporter::Console => MetricsExporter::Console,
        TracesExporter::File(spans) => MetricsExporter::File(
            env.var_or(
                DISTRIBUTED_TRACING_METRICS_FILE,
                "ignored: the metrics file is beside the spans file",
            )
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| metrics_file_beside(spans)),
        ),
        TracesExporter::None | TracesExporter::Custom(_) => MetricsExporter::None,
    };
    let Some(value) = env.var_or(OTEL_METRICS_EXPORTER, "metrics go where spans go") else {
        return beside_spans(env);
    };
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !matches!(*n, "otlp" | "console" | "none"))
        .collect();
    if !unknown.is_empty() {
        env.issue(
            OTEL_METRICS_EXPORTER,
            &value,
            format!(
                "{} is not an exporter of this crate (otlp, console, none); skipped",
                Shown::new(unknown[0])
            ),
        );
    }
    let has = |n: &str| names.iter().any(|x| x == n);
    match (has("otlp"), has("console"), has("none")) {
        (true, _, _) => MetricsExporter::Otlp,
        (false, true, _) => MetricsExporter::Console,
        (false, false, true) => MetricsExporter::None,
        (false, false, false) => beside_spans(env),
    }
}

/// `<folder>/<name>.metrics.jsonl` beside a spans file `<folder>/<name>.spans.jsonl`
/// (any other spans file name gets `.metrics.jsonl` after its stem).
fn metrics_file_beside(spans: &Path) -> PathBuf {
    let name = spans
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".spans.jsonl")
        .or_else(|| name.rsplit_once('.').map(|(stem, _)| stem))
        .filter(|stem| !stem.is_empty())
        .unwrap_or(&name);
    spans.with_file_name(format!("{stem}.metrics.jsonl"))
}

/// Whether log records go over OTLP: `OTEL_LOGS_EXPORTER`, else when spans do.
fn logs_exporter(env: &mut Env<'_>, traces_exporter: &TracesExporter) -> bool {
    match env.var_or(OTEL_LOGS_EXPORTER, "log lines go to standard output only") {
        None => *traces_exporter == TracesExporter::Otlp,
        Some(value) => match value
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
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

/// An endpoint variable as set: `Err` with its lossy form when it is not
/// UTF-8, which the caller reports as an endpoint that cannot be used (it
/// must not fall back to another one). `None`: unset or empty.
fn endpoint_value(env: &Env<'_>, name: &'static str) -> Option<Result<String, String>> {
    match env.read(name) {
        Value::Unset => None,
        Value::Text(value) => Some(Ok(value)),
        Value::NotUtf8(lossy) => Some(Err(lossy)),
    }
}

/// Validates an OTLP endpoint URL: `http` or `https` with a host.
pub(super) fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    if scheme(url).is_none() || uri.scheme().is_none() {
        return Err("the URL must start with http:// or https://".into());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// `<folder>/<service>.spans.jsonl`, the folder chosen by [`spans_dir`] from
/// the configuration's environment (so `env_vars` can move it).
///
/// A folder variable (`XDG_STATE_HOME`, `HOME`, `TMPDIR`) that is not UTF-8
/// is reported, and the next candidate folder is used, as for a relative
/// one: each candidate is a folder of the user's own, checked when the file
/// is opened, so nothing goes where nobody pointed it.
fn default_spans_file(env: &mut Env<'_>, service: &str) -> PathBuf {
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
        .var_or(
            TMPDIR,
            "ignored: the spans file's folder, when it is the temporary one, is under /tmp",
        )
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| match cfg!(unix) {
            true => PathBuf::from("/tmp"),
            false => std::env::temp_dir(),
        });
    let xdg_state_home = env.var_or(
        XDG_STATE_HOME,
        "ignored: the spans file's folder is the next candidate ($HOME/.local/state/distributed-tracing, else the temporary folder)",
    );
    let home = env.var_or(
        HOME,
        "ignored: the spans file's folder is the next candidate (the temporary folder)",
    );
    let dir = spans_dir(
        xdg_state_home.as_deref(),
        home.as_deref(),
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
/// Its checks (owner, mode) happen when the file is opened (`export/spans_file.rs`).
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
