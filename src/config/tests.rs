//! The resolution's tests: every variable, good and bad values, and what
//! is never shown.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::env::DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES_DEFAULT as DEFAULT_MAX_BYTES;
use super::env::{map_env, mask_pairs, parse_pairs};
use super::exporters::spans_dir;
use super::sampler::redact_sampler_arg;
use super::user::Uid;
use super::*;
use crate::error::Error;

fn resolve(vars: &[(&str, &str)]) -> EffectiveConfig {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    EffectiveConfig::resolve(&map_env(map), &Overrides::default())
}

#[test]
fn pairs_are_percent_decoded() {
    assert_eq!(
        parse_pairs("a=1, b = x%20y ,,c=%3D", false).unwrap(),
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "x y".into()),
            ("c".into(), "=".into())
        ]
    );
    assert!(parse_pairs("a", false).is_err());
    assert!(parse_pairs("=1", false).is_err());
    assert!(parse_pairs("a=%zz", false).is_err());
    assert!(parse_pairs("a=%e9", false).is_err(), "not UTF-8");
    for (secret, message) in [
        ("Authorization: Bearer abc", "a member has no '='"),
        ("=abc", "member \"=***\" has an empty key"),
    ] {
        let err = parse_pairs(secret, true).unwrap_err();
        assert!(err.starts_with(message) && !err.contains("abc"), "{err}");
    }
}

#[test]
fn urls_are_shown_without_credentials() {
    for (url, shown) in [
        ("http://collector:4318", "http://collector:4318"),
        (
            "http://user:pass@collector:4318/v1/traces",
            "http://REDACTED:REDACTED@collector:4318/v1/traces",
        ),
        ("http://user@host", "http://REDACTED:REDACTED@host"),
        ("https://u:p@h?q=1", "https://REDACTED:REDACTED@h?q=1"),
        // Not a valid URL: still hidden, however it is written.
        ("user:pass@host:4317", "REDACTED:REDACTED@host:4317"),
        ("http://u:p/ss#w@host/", "http://REDACTED:REDACTED@host/"),
        ("http://u:p@ss@host", "http://REDACTED:REDACTED@host"),
        ("", ""),
        ("http://", "http://"),
        ("http://h/path@x", "http://REDACTED:REDACTED@x"),
        // A `://` after the credentials of a URL without a scheme.
        (
            "u:pw@collector:4317/?next=http://x",
            "REDACTED:REDACTED@collector:4317/?next=http://x",
        ),
        (":pw@://", "REDACTED:REDACTED@://"),
    ] {
        assert_eq!(redact_url(url), shown, "{url}");
    }
    assert_eq!(
        redact_sampler_arg("pollingIntervalMs=5,endpoint=http://a:b@h:5778/sampling"),
        "pollingIntervalMs=5,endpoint=http://REDACTED:REDACTED@h:5778/sampling"
    );
    assert_eq!(
        redact_sampler_arg("endpoint=a:b@h:5778,http://c:d@h/?x=y,e f=u:p@h"),
        "endpoint=REDACTED:REDACTED@h:5778,http://REDACTED:REDACTED@h/?x=y,REDACTED:REDACTED@h"
    );
    assert_eq!(
        mask_pairs("api-key=abc, x-tenant = t1,,Authorization: Bearer x"),
        "api-key=***,x-tenant=***,,***"
    );
}

/// A password in a URL never appears in `Debug` (the configuration dump at
/// start-up) nor in a reported value.
#[test]
fn credentials_are_never_shown() {
    let c = resolve(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://user:s3cret@collector:4318",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret"),
        ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            "endpoint=http://user:s3cret@jaeger:5778/sampling,pollingIntervalMs=soon",
        ),
    ]);
    assert_eq!(
        c.otlp.endpoint, "http://user:s3cret@collector:4318/v1/traces",
        "used as given"
    );
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(
        debug.contains("REDACTED:REDACTED@collector:4318"),
        "{debug}"
    );
    for (name, value) in [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "htps://user:s3cret@collector:4318",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://user:s3cret@collector",
        ),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "user:s3cret@collector"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret,bad"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization: Bearer s3cret"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=s3cret%"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "bad key=s3cret"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "k=s3cret\u{1}x"),
    ] {
        let c = resolve(&[(name, value), ("OTEL_LOGS_EXPORTER", "otlp")]);
        assert!(!c.issues.is_empty(), "{name}={value}");
        for issue in &c.issues {
            let text = Error::from(issue.clone()).to_string();
            assert!(!text.contains("s3cret"), "{text}");
            assert!(!format!("{issue:?}").contains("s3cret"), "{issue:?}");
        }
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }
}

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The start-up lines of `issues` in `format`.
fn log_lines(format: crate::logging::LogFormat, issues: &[ConfigIssue]) -> Vec<String> {
    use tracing_subscriber::layer::SubscriberExt as _;
    let out = Capture::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::registry()
        .with(crate::logging::fmt_layer(format, move || writer.clone()));
    tracing::subscriber::with_default(subscriber, || issues.iter().for_each(|i| i.log()));
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Start-up lines for issues, JSON and text: the value quoted once, at
/// WARN for an ignored value and ERROR for one that disables an export.
#[test]
fn issues_are_logged_once_quoted() {
    use crate::logging::{JsonFormat, LogFormat, TraceContextFormat};
    let lines = log_lines;
    let c = resolve(&[
        ("OTEL_TRACES_SAMPLER", "bogus"),
        ("OTEL_PROPAGATORS", "tracecontext,w3c\nforged line"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://u:pw@collector:4318"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]);
    let issues = c.issues;
    assert_eq!(
        issues.iter().map(|i| i.variable).collect::<Vec<_>>(),
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_TRACES_SAMPLER",
            "OTEL_PROPAGATORS"
        ]
    );

    let json = lines(LogFormat::Json(JsonFormat::new()), &issues);
    assert_eq!(json.len(), 3, "{json:#?}");
    let json: Vec<serde_json::Value> = json
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // (level, value, in the message)
    for (line, (level, value, message)) in json.iter().zip([
        (
            "ERROR",
            "ftp://REDACTED:REDACTED@collector:4318",
            "unusable configuration OTEL_EXPORTER_OTLP_ENDPOINT=\"ftp://REDACTED:REDACTED@collector:4318\": the URL must start with http:// or https://",
        ),
        (
            "WARN",
            "bogus",
            "ignored configuration OTEL_TRACES_SAMPLER=\"bogus\": unknown sampler",
        ),
        (
            "WARN",
            "tracecontext,w3c\\nforged line",
            "ignored configuration OTEL_PROPAGATORS=\"tracecontext,w3c\\nforged line\"",
        ),
    ]) {
        assert_eq!(line["level"], level, "{line}");
        assert_eq!(line["fields"]["value"], value, "{line}");
        let text = line["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{text}");
    }
    assert_eq!(json[0]["fields"]["disables"], "span export");
    assert!(json[0]["message"].as_str().unwrap().contains("disabled"));

    let pattern = TraceContextFormat::new("[{level}] {message}{fields}").unwrap();
    let text = lines(LogFormat::Text(pattern), &issues);
    assert_eq!(text.len(), 3, "one line each, none forged: {text:#?}");
    assert!(
        text[0].starts_with("[ERROR] unusable configuration OTEL_EXPORTER_OTLP_ENDPOINT=\"ftp://REDACTED:REDACTED@collector:4318\": "),
        "{}",
        text[0]
    );
    assert!(
        text[1].starts_with("[WARN] ignored configuration OTEL_TRACES_SAMPLER=\"bogus\": ")
            && text[1].ends_with(" variable=OTEL_TRACES_SAMPLER value=bogus"),
        "{}",
        text[1]
    );
    assert!(text.iter().all(|l| !l.contains("pw")), "{text:#?}");
}

#[test]
fn defaults_with_nothing_set() {
    let c = resolve(&[]);
    assert!(!c.sdk_disabled);
    assert!(c.service_name.starts_with("unknown_service"));
    assert!(matches!(c.traces_exporter, TracesExporter::File(_)));
    assert_eq!(c.otlp.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(c.otlp.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(c.otlp.timeout, Duration::from_secs(10));
    assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(
        c.propagators,
        vec![PropagatorName::TraceContext, PropagatorName::Baggage]
    );
    assert_eq!(c.batch, BatchConfig::default());
    assert!(c.issues.is_empty());
}

#[test]
fn empty_values_are_unset() {
    let c = resolve(&[
        ("OTEL_SERVICE_NAME", ""),
        ("OTEL_TRACES_SAMPLER", " "),
        ("OTEL_SDK_DISABLED", ""),
    ]);
    assert!(c.service_name.starts_with("unknown_service"));
    assert!(c.issues.is_empty());
}

/// Every variable with a good value: what it changes.
#[test]
fn good_values() {
    let c = resolve(&[("OTEL_SDK_DISABLED", "TRUE")]);
    assert!(c.sdk_disabled);
    assert!(!resolve(&[("OTEL_SDK_DISABLED", "false")]).sdk_disabled);

    let c = resolve(&[("OTEL_SERVICE_NAME", "checkout")]);
    assert_eq!(c.service_name, "checkout");
    let c = resolve(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=cart,deployment.environment=prod,team=a%2Cb",
    )]);
    assert_eq!(c.service_name, "cart", "service.name from the attributes");
    assert_eq!(
        c.resource_attributes,
        vec![
            ("deployment.environment".into(), "prod".into()),
            ("team".into(), "a,b".into())
        ]
    );
    let c = resolve(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=cart"),
        ("OTEL_SERVICE_NAME", "checkout"),
    ]);
    assert_eq!(c.service_name, "checkout", "OTEL_SERVICE_NAME wins");

    // (value, the exporter, also to standard output, issues reported, why)
    #[rustfmt::skip]
    let cases: &[(&str, TracesExporter, bool, usize, &str)] = &[
        ("otlp", TracesExporter::Otlp, false, 0, "one name"),
        ("console", TracesExporter::Console, false, 0, "one name"),
        ("none", TracesExporter::None, false, 0, "one name"),
        (" OTLP ", TracesExporter::Otlp, false, 0, "case and spaces do not matter"),
        ("otlp,console", TracesExporter::Otlp, true, 0, "a list: both"),
        ("console, otlp", TracesExporter::Otlp, true, 0, "a list in any order"),
        ("console,console", TracesExporter::Console, false, 0, "a name twice is once"),
        ("otlp,zipkin", TracesExporter::Otlp, false, 1, "an unknown name is reported and skipped"),
        ("none,console", TracesExporter::Console, false, 1, "none with others: reported, the others used"),
    ];
    for (value, expected, also_console, issues, why) in cases {
        let c = resolve(&[("OTEL_TRACES_EXPORTER", value)]);
        assert_eq!(
            (&c.traces_exporter, c.also_console, c.issues.len()),
            (expected, *also_console, *issues),
            "{value}: {why} ({:?})",
            c.issues
        );
    }
    let c = resolve(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
    assert!(
        matches!(c.traces_exporter, TracesExporter::File(_)) && c.issues.len() == 1,
        "nothing usable: the default, reported"
    );

    let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::Otlp,
        "an endpoint means OTLP"
    );
    assert_eq!(
        c.otlp.endpoint, "http://collector:4318/v1/traces",
        "HTTP appends the signal path"
    );
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(
        (c.otlp.protocol, c.otlp.endpoint.as_str()),
        (OtlpProtocol::Grpc, "http://collector:4317")
    );
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://traces:9999/custom/path",
        ),
    ]);
    assert_eq!(
        c.otlp.endpoint, "http://traces:9999/custom/path",
        "per-signal, used as is"
    );
    let c = resolve(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(c.otlp.endpoint, "http://localhost:4317", "the gRPC default");
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert_eq!(
        c.otlp.protocol,
        OtlpProtocol::HttpProtobuf,
        "per-signal wins"
    );

    let c = resolve(&[
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "dd-api-key=abc%3D%3D,x-tenant=t1",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2"),
    ]);
    assert_eq!(
        c.otlp.headers,
        vec![
            ("dd-api-key".into(), "abc==".into()),
            ("x-tenant".into(), "t2".into())
        ]
    );
    assert!(
        !format!("{c:?}").contains("abc=="),
        "secrets are masked in Debug"
    );

    assert_eq!(
        resolve(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")])
            .otlp
            .timeout,
        Duration::from_millis(2500)
    );
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100"),
    ]);
    assert_eq!(c.otlp.timeout, Duration::from_millis(100));

    // Compression: per-signal over generic; the builder over both.
    use OtlpCompression::{Gzip, None as Plain};
    type Vars<'a> = &'a [(&'a str, &'a str)];
    // (variables, builder, traces, logs, label)
    let cases: [(
        Vars,
        Option<OtlpCompression>,
        OtlpCompression,
        OtlpCompression,
        &str,
    ); 6] = [
        (&[], None, Plain, Plain, "nothing set: none"),
        (
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
            None,
            Gzip,
            Gzip,
            "generic",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
            ],
            None,
            Plain,
            Gzip,
            "traces' own over generic",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip")],
            None,
            Plain,
            Gzip,
            "logs' own",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")],
            Some(Gzip),
            Gzip,
            Gzip,
            "builder over the environment",
        ),
        (
            &[(" OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
            None,
            Plain,
            Plain,
            "another variable",
        ),
    ];
    for (vars, builder, traces, logs, label) in cases {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let over = Overrides {
            otlp_compression: builder,
            ..Overrides::default()
        };
        let c = EffectiveConfig::resolve(&map_env(map), &over);
        assert_eq!(
            (c.otlp.compression, c.otlp.logs_compression),
            (traces, logs),
            "{label}"
        );
        assert!(c.issues.is_empty(), "{label}: {:?}", c.issues);
    }

    for (name, arg, expected) in [
        ("always_on", None, SamplerConfig::AlwaysOn),
        ("always_off", None, SamplerConfig::AlwaysOff),
        (
            "traceidratio",
            Some("0.25"),
            SamplerConfig::TraceIdRatio(0.25),
        ),
        ("traceidratio", None, SamplerConfig::TraceIdRatio(1.0)),
        (
            "parentbased_always_on",
            None,
            SamplerConfig::ParentBasedAlwaysOn,
        ),
        (
            "parentbased_always_off",
            None,
            SamplerConfig::ParentBasedAlwaysOff,
        ),
        (
            "parentbased_traceidratio",
            Some("0"),
            SamplerConfig::ParentBasedTraceIdRatio(0.0),
        ),
    ] {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
        if let Some(arg) = arg {
            vars.push(("OTEL_TRACES_SAMPLER_ARG", arg));
        }
        let c = resolve(&vars);
        assert_eq!(c.sampler, expected, "{name}");
        assert!(c.issues.is_empty(), "{name}");
    }

    use PropagatorName as P;
    let c = resolve(&[(
        "OTEL_PROPAGATORS",
        "b3, tracecontext,baggage,jaeger,b3multi,tracecontext,xray,datadog",
    )]);
    assert_eq!(
        c.propagators,
        vec![
            P::B3,
            P::TraceContext,
            P::Baggage,
            P::Jaeger,
            P::B3Multi,
            P::Xray,
            P::Datadog
        ],
        "in order, once each"
    );
    assert!(resolve(&[("OTEL_PROPAGATORS", "none")])
        .propagators
        .is_empty());

    let c = resolve(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
    ]);
    assert_eq!(
        c.batch,
        BatchConfig {
            max_queue_size: 100,
            scheduled_delay: Duration::from_millis(250),
            max_export_batch_size: 50,
            export_timeout: Duration::from_millis(1000),
            ..BatchConfig::default()
        },
    );
    assert!(c.issues.is_empty());
    let c = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]);
    assert_eq!(
        c.batch.max_export_batch_size, 100,
        "the default batch size is capped by the queue size"
    );
    assert!(c.issues.is_empty(), "the default is not reported");

    // Limits: the span's own variable wins over the generic one.
    assert_eq!(resolve(&[]).span_limits, SpanLimitsConfig::default());
    let c = resolve(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
    ]);
    assert_eq!(
        c.span_limits,
        SpanLimitsConfig {
            attribute_value_length: Some(100),
            attribute_count: 10,
            event_count: 128,
            link_count: 128,
            event_attribute_count: 10,
            link_attribute_count: 10,
        },
        "the generic limits apply to the span, its events and links"
    );
    let c = resolve(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "0"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "4"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "5"),
    ]);
    assert_eq!(
        c.span_limits,
        SpanLimitsConfig {
            attribute_value_length: Some(20),
            attribute_count: 2,
            event_count: 3,
            link_count: 0,
            event_attribute_count: 4,
            link_attribute_count: 5,
        }
    );
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    let over = Overrides {
        limits: LimitOverrides {
            attribute_value_length: Some(7),
            attribute_count: Some(1),
            event_count: Some(2),
            link_count: Some(3),
            event_attribute_count: Some(4),
            link_attribute_count: Some(5),
        },
        ..Overrides::default()
    };
    let vars = [
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "50"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "50"),
    ];
    let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into());
    let c = EffectiveConfig::resolve(&get, &over);
    assert_eq!(
        c.span_limits,
        SpanLimitsConfig {
            attribute_value_length: Some(7),
            attribute_count: 1,
            event_count: 2,
            link_count: 3,
            event_attribute_count: 4,
            link_attribute_count: 5,
        },
        "the builder wins"
    );

    assert_eq!(resolve(&[]).log_filter, "info");
    assert_eq!(
        resolve(&[("RUST_LOG", "warn,my_crate=debug")]).log_filter,
        "warn,my_crate=debug"
    );

    for (value, expected) in [
        ("text", LogFormatName::Text),
        ("JSON", LogFormatName::Json),
        ("datadog", LogFormatName::Datadog),
    ] {
        let c = resolve(&[("DISTRIBUTED_TRACING_LOG_FORMAT", value)]);
        assert_eq!(
            format!("{:?}", c.log_format),
            format!("{:?}", Some(expected.format(&c.datadog))),
            "{value}"
        );
    }
    let c = resolve(&[
        ("OTEL_SERVICE_NAME", "shop"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=prod,service.version=2",
        ),
    ]);
    assert_eq!(
        c.datadog,
        DatadogConfig {
            service: "shop".into(),
            env: Some("prod".into()),
            version: Some("2".into())
        }
    );
    let c = resolve(&[
        ("OTEL_SERVICE_NAME", "shop"),
        ("DD_SERVICE", "dd-shop"),
        ("DD_ENV", "qa"),
    ]);
    assert_eq!(
        c.datadog,
        DatadogConfig {
            service: "dd-shop".into(),
            env: Some("qa".into()),
            version: None
        }
    );

    assert_eq!(resolve(&[]).spans_file_max_bytes, 16 * 1024 * 1024);
    let c = resolve(&[("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", " 4096 ")]);
    assert_eq!((c.spans_file_max_bytes, c.issues.len()), (4096, 0));
    let over = Overrides {
        spans_file_max_bytes: Some(100),
        ..Overrides::default()
    };
    let env = map_env(HashMap::from([(
        "DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES".to_string(),
        "4096".into(),
    )]));
    assert_eq!(
        EffectiveConfig::resolve(&env, &over).spans_file_max_bytes,
        100,
        "the builder wins"
    );
}

/// The folder of the default spans file, for each environment.
#[test]
fn the_spans_folder_is_per_user() {
    let existing = |p: &Path| p == Path::new("/home/ana") || p == Path::new("/");
    let tmp = Path::new("/var/tmp");
    let per_user_tmp = match cfg!(unix) {
        true => "/var/tmp/distributed-tracing-1000",
        false => "/var/tmp/distributed-tracing",
    };
    let cases: &[(Option<&str>, Option<&str>, &str, &str)] = &[
        (
            Some("/state"),
            Some("/home/ana"),
            "/state/distributed-tracing",
            "XDG_STATE_HOME first",
        ),
        (
            Some("state"),
            Some("/home/ana"),
            "/home/ana/.local/state/distributed-tracing",
            "a relative XDG_STATE_HOME is ignored (XDG spec)",
        ),
        (
            None,
            Some("/home/ana"),
            "/home/ana/.local/state/distributed-tracing",
            "HOME only",
        ),
        (
            None,
            Some("/nonexistent"),
            per_user_tmp,
            "HOME is not a folder",
        ),
        (None, Some("/"), per_user_tmp, "HOME is the root folder"),
        (None, Some("home/ana"), per_user_tmp, "HOME is relative"),
        (None, None, per_user_tmp, "neither"),
    ];
    #[cfg(unix)]
    let uid: Uid = 1000;
    #[cfg(not(unix))]
    let uid: Uid = ();
    for (xdg, home, expected, why) in cases {
        let dir = spans_dir(*xdg, *home, &existing, tmp, &|| Some(uid));
        assert_eq!(dir, Path::new(expected), "{why}");
    }
}

/// The default file's path comes from the configuration's environment.
#[test]
fn the_default_spans_file_follows_the_given_environment() {
    let dir = std::env::temp_dir();
    let state = dir.to_str().unwrap();
    let c = resolve(&[("XDG_STATE_HOME", state), ("OTEL_SERVICE_NAME", "a/b c")]);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File(dir.join("distributed-tracing").join("a_b_c.spans.jsonl"))
    );
    assert!(c.spans_dir_is_default);
    let c = resolve(&[("HOME", state), ("OTEL_SERVICE_NAME", "s")]);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File(dir.join(".local/state/distributed-tracing/s.spans.jsonl"))
    );
    let c = resolve(&[("TMPDIR", state), ("OTEL_SERVICE_NAME", "s")]);
    let TracesExporter::File(path) = c.traces_exporter else {
        panic!("{:?}", c.traces_exporter)
    };
    assert!(path.starts_with(state), "{path:?}");
    let over = Overrides {
        default_spans_file: Some("/elsewhere/s.jsonl".into()),
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&map_env(HashMap::new()), &over);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File("/elsewhere/s.jsonl".into())
    );
    assert!(
        !c.spans_dir_is_default,
        "a path given in code is the caller's"
    );
    // The variable sets it as the builder does; the builder wins.
    let c = resolve(&[
        ("DISTRIBUTED_TRACING_SPANS_FILE", "/srv/shop/spans.jsonl"),
        ("XDG_STATE_HOME", state),
    ]);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File("/srv/shop/spans.jsonl".into())
    );
    assert!(!c.spans_dir_is_default, "a path given is the caller's");
    let c = EffectiveConfig::resolve(
        &map_env(HashMap::from([(
            "DISTRIBUTED_TRACING_SPANS_FILE".to_string(),
            "/srv/x.jsonl".into(),
        )])),
        &over,
    );
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File("/elsewhere/s.jsonl".into())
    );
    let c = resolve(&[
        ("DISTRIBUTED_TRACING_SPANS_FILE", " "),
        ("XDG_STATE_HOME", state),
        ("OTEL_SERVICE_NAME", "s"),
    ]);
    assert_eq!(
        c.traces_exporter,
        TracesExporter::File(dir.join("distributed-tracing").join("s.spans.jsonl")),
        "empty: the default"
    );
}

/// An OTLP endpoint that cannot be used as given disables the export that
/// would use it, with an error naming the variable and the value: never
/// the default endpoint or another variable's instead (which would send the
/// spans and the API keys of the headers to an address nobody named).
#[test]
fn unusable_endpoints_disable_their_export() {
    let with_logs = cfg!(feature = "logs");
    // (variables, the variable reported, why, the spans exported, the log records exported)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, bool, bool);
    let cases: &[Case] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://",
            false,
            false,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://",
            false,
            false,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://",
            false,
            false,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "not a URL",
            false,
            false,
        ),
        (
            &[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://:4318/v1/traces",
            )],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "host",
            false,
            false,
        ),
        // A bad per-signal endpoint does not fall back to the generic one.
        (
            &[
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "ftp://traces:4318/v1/traces",
                ),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://",
            false,
            false,
        ),
        // With OTEL_TRACES_EXPORTER=otlp and an endpoint of its own, the logs stay.
        (
            &[
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://traces"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "http://logs:4318/v1/logs",
                ),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://",
            false,
            true,
        ),
        // The logs' own endpoint: the logs go nowhere, the spans on.
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "ftp://logs:4318/v1/logs",
                ),
            ],
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://",
            true,
            false,
        ),
    ];
    for (vars, variable, why, spans, logs) in cases {
        // Metrics alone: `unusable_metrics_endpoints_disable_their_export`.
        let mut vars = vars.to_vec();
        vars.push(("OTEL_METRICS_EXPORTER", "none"));
        let vars = &vars;
        let c = resolve(vars);
        let exported = c.traces_exporter == TracesExporter::Otlp;
        assert_eq!(exported, *spans, "{vars:?}: {c:?}");
        assert_eq!(c.logs_otlp, *logs, "{vars:?}");
        if *spans && !with_logs {
            continue; // nothing to disable: this build exports no log records
        }
        let issue = &c.issues[0];
        assert_eq!(issue.variable, *variable, "{vars:?}");
        assert!(issue.reason.contains(why), "{vars:?}: {issue}");
        assert!(issue.disables.is_some(), "{vars:?}: {issue}");
        assert!(issue.reason.contains("disabled"), "{issue}");
        let disabled: Vec<_> = c.issues.iter().filter_map(|i| i.disables).collect();
        let mut expected = Vec::new();
        if !spans {
            expected.push(Disabled::SpanExport);
        }
        if !logs && with_logs {
            expected.push(Disabled::LogExport);
        }
        assert_eq!(disabled, expected, "{vars:?}: {:?}", c.issues);
        assert_eq!(c.issues.len(), expected.len(), "{vars:?}: {:?}", c.issues);
        let text = Error::from(issue.clone()).to_string();
        assert!(
            text.contains(variable) && text.contains("disabled"),
            "{text}"
        );
    }

    // An endpoint that no export uses is only ignored.
    let c = resolve(&[
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
    ]);
    assert_eq!(c.traces_exporter, TracesExporter::Console);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert_eq!(c.issues[0].disables, None);

    // The builder's URLs are checked the same way.
    let over = Overrides {
        otlp_endpoint: Some("htps://user:pw@collector:4318/v1/traces".into()),
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&|_| None, &over);
    assert_eq!(c.traces_exporter, TracesExporter::None);
    assert_eq!(c.issues[0].variable, "ObservabilityBuilder::otlp_endpoint");
    assert_eq!(c.issues[0].disables, Some(Disabled::SpanExport));
    assert!(!format!("{:?}", c.issues).contains("pw"));
    let over = Overrides {
        otlp_endpoint: Some("http://collector:4318/v1/traces".into()),
        otlp_logs_endpoint: Some("collector".into()),
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&|_| None, &over);
    assert_eq!(c.traces_exporter, TracesExporter::Otlp);
    assert!(!c.logs_otlp);
    assert_eq!(
        c.issues[0].variable,
        "ObservabilityBuilder::otlp_logs_endpoint"
    );
    assert_eq!(
        c.issues[0].disables,
        Some(Disabled::LogExport).filter(|_| with_logs)
    );

    // The Jaeger sampling endpoint: the default sampler, no request to a
    // host nobody named.
    if cfg!(feature = "jaeger-remote-sampler") {
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "endpoint=https://jaeger:5778/sampling",
            ),
        ]);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert_eq!(c.issues[0].disables, Some(Disabled::RemoteSampler));
        assert!(c.issues[0].reason.contains("parentbased_always_on"));
    }
    let over = Overrides {
        sampler: Some(SamplerConfig::JaegerRemote {
            parent_based: true,
            endpoint: "jaeger:5778".into(),
            polling_interval: Duration::from_secs(1),
            initial_sampling_rate: 1.0,
        }),
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&|_| None, &over);
    assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(c.issues[0].variable, "ObservabilityBuilder::sampler");
}

/// Every variable with a bad value: reported, naming the variable and the
/// value, and the default used.
#[test]
fn bad_values_are_reported_and_ignored() {
    let defaults = resolve(&[]);
    let cases: &[(&str, &str)] = &[
        ("OTEL_SDK_DISABLED", "yes"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team"),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc/json"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "bad header=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=%"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "brotli"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "deflate"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER", "xray"),
        ("OTEL_PROPAGATORS", "tracecontext,w3c"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-5"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1.5"),
        // Values that parse but would harm: reported and ignored the same way.
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
        // Set, but no sampler uses it.
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ("DISTRIBUTED_TRACING_LOG_FORMAT", "xml"),
        ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "0"),
        ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "16MiB"),
        ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "-4096"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "many"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1e3"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4294967296"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1.5"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "-3"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "x"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "+-1"),
        ("RUST_LOG", "info,[=bad"),
    ];
    for (name, value) in cases {
        let c = resolve(&[(name, value)]);
        assert_eq!(c.issues.len(), 1, "{name}={value}: {:?}", c.issues);
        let issue = &c.issues[0];
        assert_eq!(issue.variable, *name);
        let text = Error::from(issue.clone()).to_string();
        // Shown as given, but for the secrets (header values, credentials).
        let shown = match name.contains("HEADERS") {
            true => mask_pairs(value),
            false => redact_url(value),
        };
        assert!(
            text.contains(name) && text.contains(&shown[..shown.len().min(8)]),
            "{text}"
        );
        // The default is used instead.
        assert_eq!(c.spans_file_max_bytes, DEFAULT_MAX_BYTES, "{name}");
        assert_eq!(c.sampler, defaults.sampler, "{name}");
        assert_eq!(c.otlp.protocol, defaults.otlp.protocol, "{name}");
        assert_eq!(c.batch, defaults.batch, "{name}");
        assert_eq!(c.otlp.timeout, defaults.otlp.timeout, "{name}");
        assert_eq!(c.span_limits, defaults.span_limits, "{name}");
    }
    // A sampler argument no sampler takes.
    for name in [
        "always_on",
        "always_off",
        "parentbased_always_on",
        "parentbased_always_off",
    ] {
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", name),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ]);
        assert_eq!(c.issues.len(), 1, "{name}: {:?}", c.issues);
        assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
        assert!(c.issues[0].reason.contains(name), "{}", c.issues[0]);
    }
    // A batch size over the queue size: capped, and now said.
    let c = resolve(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
    ]);
    assert_eq!(c.batch.max_export_batch_size, 100);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert_eq!(c.issues[0].variable, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
    // A zero duration from the builder, like the variable's.
    let over = Overrides {
        scheduled_delay: Some(Duration::ZERO),
        otlp_timeout: Some(Duration::ZERO),
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&|_| None, &over);
    assert_eq!(c.batch, defaults.batch);
    assert_eq!(c.otlp.timeout, defaults.otlp.timeout);
    let reported: Vec<_> = c.issues.iter().map(|i| i.variable).collect();
    assert_eq!(
        reported,
        [
            "ObservabilityBuilder::otlp_timeout",
            "ObservabilityBuilder::scheduled_delay"
        ]
    );
    let c = resolve(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ]);
    assert_eq!(c.sampler, SamplerConfig::TraceIdRatio(1.0));
    assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
    let c = resolve(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
    ]);
    assert_eq!(c.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
}

/// Files for the TLS tables: a CA, a client certificate and its key, another
/// key, garbage holding a secret, in a folder of their own.
struct TlsFiles {
    dir: std::path::PathBuf,
}

impl TlsFiles {
    fn new(label: &str) -> TlsFiles {
        let dir =
            std::env::temp_dir().join(format!("dt-tls-config-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .signed_by(&client_key, &issuer)
            .unwrap();
        let files = [
            ("ca.pem", ca_pem),
            ("client.pem", client.pem()),
            ("client-key.pem", client_key.serialize_pem()),
            (
                "other-key.pem",
                rcgen::KeyPair::generate().unwrap().serialize_pem(),
            ),
            ("garbage.pem", "SECRET-MATERIAL-0123456789\n".to_string()),
            (
                "broken-key.pem",
                "-----BEGIN PRIVATE KEY-----\nSECRET!!MATERIAL\n-----END PRIVATE KEY-----\n"
                    .to_string(),
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        std::fs::write(dir.join("huge.pem"), vec![b'A'; 5 * 1024 * 1024]).unwrap();
        TlsFiles { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// TLS files that cannot be used disable the export that would use them,
/// naming the setting and the path, never the content; the per-signal
/// forms win over the generic ones.
#[test]
fn unusable_tls_files_disable_their_export() {
    let files = TlsFiles::new("unusable");
    let f = |name: &str| files.path(name);
    let endpoint = (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://collector:4318".to_string(),
    );
    // (variables, the setting reported, the path, in the reason)
    type Case<'a> = (Vec<(&'a str, String)>, &'a str, String, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", f("missing.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            f("missing.pem"),
            "cannot read it",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", f("garbage.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            f("garbage.pem"),
            "no certificate in it",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/zero".into())],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/dev/zero".into(),
            "not a regular file",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", f("huge.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            f("huge.pem"),
            "larger than 4 MiB",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", f("client-key.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            f("client-key.pem"),
            "no certificate in it",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", f("client.pem"))],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            f("client.pem"),
            "needs its key: OTEL_EXPORTER_OTLP_CLIENT_KEY is not set",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CLIENT_KEY", f("client-key.pem"))],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            f("client-key.pem"),
            "needs its certificate",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", f("client.pem")),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", f("garbage.pem")),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            f("garbage.pem"),
            "no private key in it",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", f("client.pem")),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", f("broken-key.pem")),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            f("broken-key.pem"),
            "not valid base64",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", f("client.pem")),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", f("other-key.pem")),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            f("other-key.pem"),
            "does not belong to the certificate",
        ),
        // The per-signal form wins, and is the one named.
        (
            vec![
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", f("ca.pem")),
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", f("garbage.pem")),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            f("garbage.pem"),
            "no certificate in it",
        ),
    ];
    for (vars, setting, path, why) in cases {
        let mut all = vars.clone();
        all.push(endpoint.clone());
        all.push(("OTEL_LOGS_EXPORTER", "none".into()));
        all.push(("OTEL_METRICS_EXPORTER", "none".into()));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = resolve(&all);
        assert_eq!(
            c.traces_exporter,
            TracesExporter::None,
            "{vars:?}: {:?}",
            c.issues
        );
        assert_eq!(c.issues.len(), 1, "{vars:?}: {:?}", c.issues);
        let issue = &c.issues[0];
        assert_eq!(issue.variable, setting, "{vars:?}");
        assert_eq!(issue.disables, Some(Disabled::SpanExport), "{issue}");
        let text = Error::from(issue.clone()).to_string();
        assert!(
            text.contains(&path) && text.contains(why),
            "{why:?} in {text}"
        );
        assert!(
            !text.contains("SECRET") && !text.contains("MATERIAL"),
            "{text}"
        );
    }

    // Usable files: nothing reported, the files in the configuration.
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &f("ca.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &f("client.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &f("client-key.pem")),
    ]);
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    assert_eq!(c.traces_exporter, TracesExporter::Otlp);
    assert_eq!(c.otlp.tls.client_key, Some(f("client-key.pem").into()));
    assert_eq!(
        c.otlp.logs_tls, c.otlp.tls,
        "the generic files serve the logs too"
    );

    // The logs' own files: only log export is disabled.
    if cfg!(feature = "logs") {
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", &f("missing.pem")),
        ]);
        assert_eq!(c.traces_exporter, TracesExporter::Otlp);
        assert!(!c.logs_otlp);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert_eq!(c.issues[0].variable, "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE");
        assert_eq!(c.issues[0].disables, Some(Disabled::LogExport));
    }

    // The builder's files win over the variables, and are named as such.
    let over = Overrides {
        otlp_endpoint: Some("https://collector:4318/v1/traces".into()),
        otlp_tls: OtlpTls {
            certificate: Some(f("missing.pem").into()),
            ..OtlpTls::default()
        },
        ..Overrides::default()
    };
    let c = EffectiveConfig::resolve(&|_| None, &over);
    assert_eq!(c.traces_exporter, TracesExporter::None);
    assert_eq!(
        c.issues[0].variable,
        "ObservabilityBuilder::otlp_certificate"
    );
}

/// TLS settings that cannot apply are reported, not silently ignored, and
/// change nothing else; `OTEL_EXPORTER_OTLP_INSECURE` gives a gRPC endpoint
/// without a scheme its scheme.
#[test]
fn tls_settings_that_do_not_apply_are_reported() {
    let files = TlsFiles::new("inapplicable");
    let client = files.path("client.pem");
    let key = files.path("client-key.pem");
    // A plain-text endpoint with a client certificate: reported once per
    // setting, spans still sent to the endpoint named.
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key),
    ]);
    assert_eq!(c.traces_exporter, TracesExporter::Otlp);
    let reported: Vec<&str> = c.issues.iter().map(|i| i.variable).collect();
    assert_eq!(
        reported,
        [
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY"
        ],
        "{:?}",
        c.issues
    );
    assert!(c.issues.iter().all(|i| i.disables.is_none()
        && i.reason.contains("plain text (http://)")
        && i.reason.contains("http://collector:4318")));

    // (protocol, endpoint, insecure variables, the endpoint used, reported)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        ("grpc", "collector:4317", &[], "https://collector:4317", &[]),
        (
            "grpc",
            "collector:4317",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
            "http://collector:4317",
            &[],
        ),
        (
            "grpc",
            "collector:4317",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "false")],
            "https://collector:4317",
            &[],
        ),
        // Per-signal over generic.
        (
            "grpc",
            "collector:4317",
            &[
                ("OTEL_EXPORTER_OTLP_INSECURE", "false"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true"),
            ],
            "http://collector:4317",
            &[],
        ),
        // The scheme decides; a contradicting value is reported.
        (
            "grpc",
            "https://collector:4317",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
            "https://collector:4317",
            &["OTEL_EXPORTER_OTLP_INSECURE"],
        ),
        (
            "grpc",
            "http://collector:4317",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
            "http://collector:4317",
            &[],
        ),
        (
            "http/protobuf",
            "https://collector:4318",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
            "https://collector:4318/v1/traces",
            &["OTEL_EXPORTER_OTLP_INSECURE"],
        ),
        (
            "grpc",
            "collector:4317",
            &[("OTEL_EXPORTER_OTLP_INSECURE", "yes")],
            "https://collector:4317",
            &["OTEL_EXPORTER_OTLP_INSECURE"],
        ),
    ];
    for (protocol, endpoint, insecure, used, reported) in cases {
        let mut vars = vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", *protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", *endpoint),
            ("OTEL_LOGS_EXPORTER", "none"),
        ];
        vars.extend_from_slice(insecure);
        let c = resolve(&vars);
        assert_eq!(c.otlp.endpoint, *used, "{vars:?}");
        assert_eq!(c.traces_exporter, TracesExporter::Otlp, "{vars:?}");
        let got: Vec<&str> = c.issues.iter().map(|i| i.variable).collect();
        assert_eq!(got, *reported, "{vars:?}: {:?}", c.issues);
    }
}

/// The variables `env.rs` names (each constant whose value is its own
/// name): the table below must cover every one of them.
fn every_variable() -> Vec<&'static str> {
    include_str!("env.rs")
        .split("pub(crate) const ")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once(':')?;
            let value = rest.split_once('"')?.1.split_once('"')?.0;
            (name == value).then_some(value)
        })
        .collect()
}

/// A value that is not UTF-8, in every variable the crate reads: reported
/// (an issue naming the variable, "not valid UTF-8"), never taken as unset,
/// the default used as for any bad value; an endpoint or a TLS path
/// disables its export and never falls back to another endpoint or to the
/// system's roots. Through the builder's `env_vars`, strict or not.
#[cfg(unix)]
#[test]
fn values_that_are_not_utf8_are_bad_values() {
    use std::os::unix::ffi::OsStringExt as _;
    use Disabled::{LogExport, MetricExport, RemoteSampler, SpanExport};
    use TracesExporter::{None as NoExport, Otlp};
    const LOGS: bool = cfg!(feature = "logs");
    let files = TlsFiles::new("not-utf8");
    let defaults = resolve(&[]);
    type Check = fn(&EffectiveConfig, &EffectiveConfig) -> bool;
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [Disabled],
        Check,
        &'a str,
    );
    // (variable, its value but for a last byte 0xff, the other variables, what it disables, what is used instead, why)
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("OTEL_SDK_DISABLED", "true", &[], &[], |c, _| !c.sdk_disabled, "the default: enabled"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=a", &[], &[], |c, _| c.resource_attributes.is_empty(), "an invalid list is ignored whole"),
        ("OTEL_SERVICE_NAME", "checkout", &[("OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs")], &[], |c, _| c.service_name == "attrs", "the next source of service.name"),
        ("OTEL_TRACES_EXPORTER", "console", &[], &[], |c, _| matches!(c.traces_exporter, TracesExporter::File(_)), "the default exporter"),
        ("DISTRIBUTED_TRACING_SPANS_FILE", "/srv/spans.jsonl", &[], &[], |c, _| matches!(&c.traces_exporter, TracesExporter::File(p) if p.to_string_lossy().ends_with(".spans.jsonl") && c.spans_dir_is_default), "the default file"),
        ("OTEL_LOGS_EXPORTER", "otlp", &[("OTEL_TRACES_EXPORTER", "console")], &[], |c, _| !c.logs_otlp, "log lines on standard output only"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")], &[], |c, _| c.otlp.protocol == OtlpProtocol::Grpc, "the next variable, as for a bad value"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", &[], &[], |c, _| c.otlp.protocol == OtlpProtocol::HttpProtobuf, "the default protocol"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/v1/traces", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318")], &[SpanExport, LogExport], |c, _| c.traces_exporter == NoExport && !c.otlp.endpoint.contains("generic") && !c.logs_otlp, "never the generic endpoint"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", &[], &[SpanExport, LogExport], |c, _| c.traces_exporter == NoExport && !c.otlp.endpoint.contains("localhost") && !c.logs_otlp, "never the default endpoint"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4318/v1/logs", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], &[LogExport], |c, _| c.traces_exporter == Otlp && !c.otlp.logs_endpoint.contains("collector") && (!c.logs_otlp || !LOGS), "never the traces' endpoint"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], &[], |c, _| c.otlp.headers.is_empty() && c.traces_exporter == Otlp, "an invalid list is ignored whole"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s3cret", &[("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=t1")], &[], |c, _| c.otlp.headers == [("x-tenant".to_string(), "t1".to_string())], "the other source's headers stay"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", &[], &[], |c, _| c.otlp.compression == OtlpCompression::None, "the default compression"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none", &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], &[], |c, _| c.otlp.compression == OtlpCompression::Gzip, "skipped, as a bad value"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none", &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], &[], |c, _| c.otlp.logs_compression == OtlpCompression::Gzip, "skipped, as a bad value"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "{ca}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never the system's roots"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "{ca}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CERTIFICATE", "{ca}"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never the generic CA"),
        ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "{ca}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CERTIFICATE", "{ca}")], &[LogExport], |c, _| c.traces_exporter == Otlp && (!c.logs_otlp || !LOGS), "never the generic CA"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never without the client certificate"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "{client}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never the generic certificate"),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE", "{client}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}")], &[LogExport], |c, _| c.traces_exporter == Otlp && (!c.logs_otlp || !LOGS), "never the generic certificate"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never without the key"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "{key}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}"), ("OTEL_LOGS_EXPORTER", "none")], &[SpanExport], |c, _| c.traces_exporter == NoExport, "never the generic key"),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "{key}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}")], &[LogExport], |c, _| c.traces_exporter == Otlp && (!c.logs_otlp || !LOGS), "never the generic key"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")], &[], |c, _| c.otlp.endpoint == "https://collector:4317", "the default: TLS"),
        ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")], &[], |c, _| c.otlp.endpoint == "https://collector:4317", "the default: TLS"),
        ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "true", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "logs:4317")], &[], |c, _| c.otlp.logs_endpoint == "https://logs:4317", "the default: TLS"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5000", &[], &[], |c, d| c.otlp.timeout == d.otlp.timeout, "the default deadline"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000", &[], &[], |c, d| c.otlp.timeout == d.otlp.timeout, "the default deadline"),
        ("OTEL_TRACES_SAMPLER", "always_off", &[], &[], |c, _| c.sampler == SamplerConfig::ParentBasedAlwaysOn, "the default sampler"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5", &[("OTEL_TRACES_SAMPLER", "traceidratio")], &[], |c, _| c.sampler == SamplerConfig::TraceIdRatio(1.0), "the default ratio"),
        ("OTEL_PROPAGATORS", "b3", &[], &[], |c, d| c.propagators == d.propagators, "the default propagators"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("DISTRIBUTED_TRACING_MAX_QUEUE_BYTES", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("DISTRIBUTED_TRACING_MAX_EXPORT_BYTES", "100", &[], &[], |c, d| c.batch == d.batch, "the default"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "8", &[], &[], |c, d| c.span_limits == d.span_limits, "the default"),
        ("RUST_LOG", "debug", &[], &[], |c, _| c.log_filter == "info", "the default filter"),
        ("DISTRIBUTED_TRACING_LOG_FORMAT", "json", &[], &[], |c, _| c.log_format.is_none(), "the default format"),
        ("DD_SERVICE", "dd", &[("OTEL_SERVICE_NAME", "svc")], &[], |c, _| c.datadog.service == "svc", "service.name"),
        ("DD_ENV", "prod", &[("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")], &[], |c, _| c.datadog.env.as_deref() == Some("staging"), "the resource's environment"),
        ("DD_VERSION", "1.0", &[("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.0")], &[], |c, _| c.datadog.version.as_deref() == Some("2.0"), "the resource's version"),
        ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "4096", &[], &[], |c, _| c.spans_file_max_bytes == DEFAULT_MAX_BYTES, "the default size"),
        ("XDG_STATE_HOME", "/state", &[("HOME", "/tmp")], &[], |c, _| matches!(&c.traces_exporter, TracesExporter::File(p) if p.starts_with("/tmp/.local/state/distributed-tracing")), "the next folder: $HOME's"),
        ("HOME", "/tmp", &[], &[], |c, _| matches!(&c.traces_exporter, TracesExporter::File(p) if p.to_string_lossy().starts_with("/tmp/distributed-tracing-")), "the next folder: the temporary one"),
        ("TMPDIR", "/var/tmp", &[], &[], |c, _| matches!(&c.traces_exporter, TracesExporter::File(p) if p.to_string_lossy().starts_with("/tmp/distributed-tracing-")), "/tmp"),
        ("OTEL_METRICS_EXPORTER", "none", &[], &[], |c, _| matches!(c.metrics.exporter, MetricsExporter::File(_)), "where spans go"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000", &[], &[], |c, d| c.metrics.interval == d.metrics.interval, "the default interval"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "1000", &[], &[], |c, d| c.metrics.timeout == d.metrics.timeout, "the default deadline"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "1000", &[], &[], |c, d| c.metrics.request_timeout == d.metrics.request_timeout, "the default deadline"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta", &[], &[], |c, _| c.metrics.temporality == crate::metrics::Temporality::Cumulative, "cumulative"),
        ("DISTRIBUTED_TRACING_METRICS_FILE", "/srv/m.jsonl", &[], &[], |c, _| matches!(&c.metrics.exporter, MetricsExporter::File(p) if p.to_string_lossy().ends_with(".metrics.jsonl") && !p.starts_with("/srv")), "beside the spans file"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:4318/v1/metrics", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], &[MetricExport], |c, _| c.traces_exporter == Otlp && c.metrics.exporter == MetricsExporter::None && !c.otlp.metrics_endpoint.contains("collector"), "never the traces' endpoint"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none", &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], &[], |c, _| c.otlp.metrics_compression == OtlpCompression::Gzip, "skipped, as a bad value"),
        ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "{ca}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CERTIFICATE", "{ca}"), ("OTEL_LOGS_EXPORTER", "none")], &[MetricExport], |c, _| c.traces_exporter == Otlp && c.metrics.exporter == MetricsExporter::None, "never the generic CA"),
        ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "{client}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}"), ("OTEL_LOGS_EXPORTER", "none")], &[MetricExport], |c, _| c.traces_exporter == Otlp && c.metrics.exporter == MetricsExporter::None, "never the generic certificate"),
        ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "{key}", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"), ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "{client}"), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "{key}"), ("OTEL_LOGS_EXPORTER", "none")], &[MetricExport], |c, _| c.traces_exporter == Otlp && c.metrics.exporter == MetricsExporter::None, "never the generic key"),
        ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "true", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics:4317")], &[], |c, _| c.otlp.metrics_endpoint == "https://metrics:4317", "the default: TLS"),
    ];
    let covered: Vec<&str> = cases.iter().map(|case| case.0).collect();
    for name in every_variable() {
        assert!(
            covered.contains(&name),
            "{name} is read, but not in the table"
        );
    }
    let path = |value: &str| match value {
        "{ca}" => files.path("ca.pem"),
        "{client}" => files.path("client.pem"),
        "{key}" => files.path("client-key.pem"),
        other => other.to_string(),
    };
    for (name, value, others, disables, used, why) in cases {
        let mut bad = path(value).into_bytes();
        bad.push(0xff);
        let mut vars: Vec<(String, OsString)> = others
            .iter()
            .map(|(k, v)| (k.to_string(), path(v).into()))
            .collect();
        vars.push((name.to_string(), OsString::from_vec(bad)));
        // Metrics off unless the row is about them (each row names all it disables).
        if !name.contains("METRIC") {
            vars.push(("OTEL_METRICS_EXPORTER".into(), "none".into()));
        }
        let builder = crate::ObservabilityBuilder::default().env_vars(vars);
        let c = builder.config().unwrap();
        let ours: Vec<&ConfigIssue> = c.issues.iter().filter(|i| i.variable == *name).collect();
        assert!(!ours.is_empty(), "{name}: reported ({why}): {:?}", c.issues);
        assert_eq!(
            c.issues.len(),
            ours.len(),
            "{name}: nothing else reported: {:?}",
            c.issues
        );
        for issue in &ours {
            assert!(
                issue.reason.starts_with("not valid UTF-8"),
                "{name}: {issue}"
            );
            assert!(!issue.reason.ends_with('…'), "{name}: whole: {issue}");
            let text = Error::from((*issue).clone()).to_string();
            assert!(!text.contains("s3cret") && text.contains(name), "{text}");
            if !name.contains("HEADERS") {
                assert!(
                    issue.value.as_str().contains('\u{fffd}'),
                    "{name}: shown lossily: {issue}"
                );
            }
        }
        let expected: Vec<Disabled> = disables
            .iter()
            .copied()
            .filter(|d| LOGS || *d != LogExport)
            .collect();
        let disabled: Vec<Disabled> = ours.iter().filter_map(|i| i.disables).collect();
        assert_eq!(
            disabled, expected,
            "{name}: what it disables: {:?}",
            c.issues
        );
        assert!(used(&c, &defaults), "{name}: {why}: {c:?}");
        if disabled.iter().any(|d| *d != RemoteSampler) {
            assert!(
                ours.iter().any(|i| i.reason.contains("disabled")),
                "{name}: {:?}",
                ours
            );
        }
        if name.contains("CERTIFICATE") || name.contains("KEY") {
            assert!(
                ours[0].reason.contains("ObservabilityBuilder::otlp_"),
                "{name}: the builder suggested: {}",
                ours[0]
            );
        }
        // Strict: an error naming the variable.
        match builder.strict(true).config() {
            Err(Error::Config {
                variable, reason, ..
            }) => {
                assert_eq!(variable, *name);
                assert!(reason.starts_with("not valid UTF-8"), "{reason}");
            }
            other => panic!("{name}: strict: {other:?}"),
        }
    }

    // The Jaeger sampler's argument may name its endpoint: the remote
    // sampler is disabled, the default endpoint is not polled instead.
    if cfg!(feature = "jaeger-remote-sampler") {
        let c = crate::ObservabilityBuilder::default()
            .env_vars([
                ("OTEL_TRACES_SAMPLER", OsString::from("jaeger_remote")),
                (
                    "OTEL_TRACES_SAMPLER_ARG",
                    OsString::from_vec(b"endpoint=http://jaeger:5778/sampling\xff".to_vec()),
                ),
            ])
            .config()
            .unwrap();
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert_eq!(c.issues[0].disables, Some(RemoteSampler));
    }
    // Set but not used by any export: still reported, once.
    let c = crate::ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_TRACES_EXPORTER", OsString::from("console")),
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                OsString::from_vec(b"/ca\xff".to_vec()),
            ),
        ])
        .config()
        .unwrap();
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert_eq!(c.issues[0].variable, "OTEL_EXPORTER_OTLP_CERTIFICATE");
    assert_eq!(c.issues[0].disables, None);
}

/// The longest line an issue may give, whatever its input: its `Display`
/// (variable, value shown, reason), as a strict start-up's error says it.
const MAX_ISSUE_LINE: usize = 600;

/// Whether `text` holds a character that must not be shown raw.
fn has_untrusted(text: &str) -> bool {
    text.chars().any(crate::untrusted::is_untrusted)
}

/// Asserts what every issue must be: one bounded line, nothing raw.
fn assert_shown_safely(issues: &[ConfigIssue]) {
    for issue in issues {
        let text = Error::from(issue.clone()).to_string();
        assert!(
            text.chars().count() <= MAX_ISSUE_LINE,
            "{} characters: {text}",
            text.chars().count()
        );
        assert!(!has_untrusted(&text), "{text:?}");
        assert!(!has_untrusted(issue.value.as_str()), "{issue:?}");
    }
}

/// Thousands of bad members give one issue per source, naming their count
/// and the first one, in time linear in the value's length (10,000 bad
/// header names took 29 s before, one issue each, re-reading the variable
/// for every one).
#[test]
fn many_bad_members_are_reported_once_per_source() {
    const N: usize = 10_000;
    let headers: String = (0..N)
        .map(|i| format!("bad name{i}=s3cret{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut builder = crate::ObservabilityBuilder::default();
    for i in 0..N {
        builder = builder.otlp_header(format!("bad name{i}"), format!("s3cret{i}"));
    }
    let builder = builder.env_vars([
        ("OTEL_EXPORTER_OTLP_HEADERS", headers.clone()),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", headers),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318".into(),
        ),
        ("OTEL_LOGS_EXPORTER", "none".into()),
    ]);
    let started = std::time::Instant::now();
    let c = builder.config().unwrap();
    let config_took = started.elapsed();
    let reported: Vec<&str> = c.issues.iter().map(|i| i.variable).collect();
    assert_eq!(
        reported,
        [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "ObservabilityBuilder::otlp_header"
        ],
        "{:?}",
        c.issues
    );
    for issue in &c.issues {
        assert!(
            issue.reason.starts_with(
                "10000 headers are not valid in HTTP, the first \"bad name0\" (its name)"
            ),
            "{issue}"
        );
        assert!(!format!("{issue:?}").contains("s3cret"), "{issue:?}");
    }
    assert_shown_safely(&c.issues);
    assert!(c.otlp.headers.is_empty());
    // The build path resolves the same, once.
    let started = std::time::Instant::now();
    let guard = builder.build().unwrap();
    let build_took = started.elapsed();
    assert_eq!(guard.config().issues, c.issues);
    drop(guard);
    // Not asserted (timings are not): shown with --nocapture.
    println!("{N} bad header names in each of 3 sources: config() {config_took:?}, build() {build_took:?}");

    // One bad header: named as before.
    let c = resolve(&[("OTEL_EXPORTER_OTLP_HEADERS", "ok=1,bad name=s3cret,x=2")]);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert!(
        c.issues[0]
            .reason
            .starts_with("header \"bad name\": its name is not valid"),
        "{}",
        c.issues[0]
    );
    assert_eq!(c.otlp.headers.len(), 2);
    // A later header of the same name replaces an earlier one, at the end.
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=3"),
    ]);
    assert_eq!(
        c.otlp.headers,
        [("b".into(), "2".into()), ("a".into(), "3".into())]
    );

    // Unknown propagators: one issue, the known ones kept.
    let propagators: String = (0..N).map(|i| format!("x{i},")).collect::<String>() + "b3";
    let c = resolve(&[("OTEL_PROPAGATORS", &propagators)]);
    assert_eq!(c.propagators, [PropagatorName::B3]);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert!(
        c.issues[0]
            .reason
            .starts_with("10000 unknown propagators, the first unknown propagator \"x0\""),
        "{}",
        c.issues[0]
    );
    assert_shown_safely(&c.issues);

    // The Jaeger sampler's entries.
    if cfg!(feature = "jaeger-remote-sampler") {
        let arg: String = (0..N).map(|i| format!("bogus{i}=1,")).collect();
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", &arg),
        ]);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        assert!(
            c.issues[0]
                .reason
                .starts_with("10000 entries cannot be used, the first: unknown entry \"bogus0=1\""),
            "{}",
            c.issues[0]
        );
        assert_shown_safely(&c.issues);
    }
}

/// Long members and characters that reorder or break a line: every issue
/// stays one short line, and so does its log line, JSON or text.
#[test]
fn quoted_input_is_shortened_and_escaped() {
    use crate::logging::{JsonFormat, LogFormat, TraceContextFormat};
    let long = "a".repeat(131_000);
    let rlo = "user\u{202e}txt.exe\u{2028}\u{85}\u{1b}[2J";
    // (variable, value, why)
    #[rustfmt::skip]
    let cases: &[(&str, String, &str)] = &[
        ("OTEL_RESOURCE_ATTRIBUTES", long.clone(), "a member without '=' (was 131,293 characters)"),
        ("OTEL_RESOURCE_ATTRIBUTES", format!("={long}"), "a member with an empty key"),
        ("OTEL_PROPAGATORS", "b".repeat(120_000), "an unknown propagator (was 120,337 characters)"),
        ("OTEL_PROPAGATORS", rlo.to_string(), "an unknown propagator, bidirectional controls"),
        ("OTEL_RESOURCE_ATTRIBUTES", rlo.to_string(), "a member without '='"),
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("{rlo}{long}=v"), "a header name"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{rlo}{long}"), "an endpoint"),
        ("OTEL_TRACES_SAMPLER", format!("{rlo}{long}"), "a sampler"),
        ("OTEL_TRACES_SAMPLER_ARG", format!("{rlo}{long}"), "a sampler argument"),
        ("RUST_LOG", format!("{rlo}[{long}"), "a filter, EnvFilter's message"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", format!("{rlo}{long}"), "a number"),
        ("DISTRIBUTED_TRACING_LOG_FORMAT", rlo.to_string(), "a format"),
    ];
    for (name, value, why) in cases {
        let c = resolve(&[(name, value.as_str()), ("OTEL_LOGS_EXPORTER", "none")]);
        assert!(
            c.issues.iter().any(|i| i.variable == *name),
            "{why}: {:?}",
            c.issues
        );
        assert_shown_safely(&c.issues);
        let pattern = TraceContextFormat::new("[{level}] {message}{fields}").unwrap();
        for format in [LogFormat::Json(JsonFormat::new()), LogFormat::Text(pattern)] {
            let lines = log_lines(format, &c.issues);
            assert_eq!(
                lines.len(),
                c.issues.len(),
                "{why}: one line each: {lines:#?}"
            );
            for line in lines {
                assert!(line.chars().count() <= 2 * MAX_ISSUE_LINE, "{why}: {line}");
                assert!(!has_untrusted(&line), "{why}: {line:?}");
            }
        }
    }
    // The URL shown by every export warning, too.
    let url = redact_url(&format!("http://u:p@{rlo}{long}"));
    assert!(
        url.chars().count() <= MAX_URL_SHOWN + 1 && !has_untrusted(&url),
        "{url}"
    );
    assert!(
        url.starts_with("http://REDACTED:REDACTED@user\\u{202e}txt.exe\\u{2028}"),
        "{url}"
    );
}

proptest::proptest! {
    /// Whatever the URL, what `redact_url` shows is bounded, holds no raw
    /// control or bidirectional character, and no password.
    #[test]
    fn redact_url_is_bounded_and_escaped(
        scheme in "(https?://)?",
        user in "[a-z\u{202e}\n]{0,8}",
        rest in proptest::string::string_regex("(.|[\u{61c}\u{200e}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{2028}\u{2029}\u{80}-\u{9f}]){0,400}").unwrap(),
    ) {
        let url = format!("{scheme}{user}:pa55word@{rest}");
        let shown = redact_url(&url);
        proptest::prop_assert!(shown.chars().count() <= MAX_URL_SHOWN + 1, "{}", shown);
        proptest::prop_assert!(!has_untrusted(&shown), "{:?}", shown);
        proptest::prop_assert!(!shown.contains("pa55word"), "{}", shown);
    }
}

/// `RUST_LOG` is compiled in bounded time: a field value is text, not a
/// regular expression (this one took `EnvFilter` about two minutes to
/// compile with regular expressions), and a filter longer than
/// `MAX_FILTER_LEN` is reported and replaced by `info`.
#[test]
fn a_log_filter_compiles_in_bounded_time() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pathological = "a[{y=.*a................}]=info";
        let c = resolve(&[("RUST_LOG", pathological)]);
        let _ = tx.send((c.log_filter, c.issues.len()));
    });
    // A hang detector far above the expected milliseconds, not a timing.
    let (filter, issues) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the filter compiled");
    assert_eq!(
        (filter.as_str(), issues),
        ("a[{y=.*a................}]=info", 0)
    );
    let long = "a=info,".repeat(1000);
    let c = resolve(&[("RUST_LOG", &long)]);
    assert_eq!(c.log_filter, "info");
    assert_eq!(c.issues.len(), 1);
    assert!(
        c.issues[0].reason.contains("over the 4096"),
        "{}",
        c.issues[0]
    );
}

/// Enum values of the `OTEL_*` variables are matched case-insensitively, as
/// the OpenTelemetry configuration specification asks.
#[test]
fn enum_values_are_case_insensitive() {
    use crate::propagation::PropagatorName;
    type Holds = fn(&EffectiveConfig) -> bool;
    #[rustfmt::skip]
    let cases: &[(&str, &str, Holds, &str)] = &[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC", |c| c.otlp.protocol == OtlpProtocol::Grpc, "protocol upper case"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "HTTP/Protobuf", |c| c.otlp.protocol == OtlpProtocol::HttpProtobuf, "per-signal protocol, mixed"),
        ("OTEL_TRACES_SAMPLER", "TraceIdRatio", |c| c.sampler == SamplerConfig::TraceIdRatio(1.0), "sampler, mixed"),
        ("OTEL_TRACES_SAMPLER", "ALWAYS_OFF", |c| c.sampler == SamplerConfig::AlwaysOff, "sampler, upper"),
        ("OTEL_TRACES_EXPORTER", "OTLP", |c| c.traces_exporter == TracesExporter::Otlp, "traces exporter, upper"),
        ("OTEL_TRACES_EXPORTER", "None", |c| c.traces_exporter == TracesExporter::None, "traces exporter none, mixed"),
        ("OTEL_LOGS_EXPORTER", "OTLP", |c| c.logs_otlp, "logs exporter, upper"),
        ("OTEL_PROPAGATORS", "TraceContext,Baggage", |c| c.propagators == PropagatorName::DEFAULT.to_vec(), "propagators, mixed"),
        ("OTEL_PROPAGATORS", "NONE", |c| c.propagators.is_empty(), "propagators none, upper"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZip", |c| c.otlp.compression == OtlpCompression::Gzip, "compression, mixed"),
        ("OTEL_SDK_DISABLED", "TRUE", |c| c.sdk_disabled, "boolean, upper"),
        ("DISTRIBUTED_TRACING_LOG_FORMAT", "JSON", |c| matches!(c.log_format, Some(LogFormat::Json(_))), "log format, upper"),
    ];
    for (variable, value, holds, why) in cases {
        let c = resolve(&[(variable, value)]);
        assert!(c.issues.is_empty(), "{why}: {:?}", c.issues);
        assert!(holds(&c), "{why}");
    }
}

/// The request metrics' settings: where they go (the list of
/// `OTEL_METRICS_EXPORTER`, else where spans go), their interval, deadline
/// and temporality, and a bad value reported with the default used.
#[test]
fn metrics_follow_the_specification_s_variables() {
    use crate::metrics::Temporality::{Cumulative, Delta};
    type Check = fn(&EffectiveConfig) -> bool;
    type Case<'a> = (&'a [(&'a str, &'a str)], Check, usize, &'a str);
    // (variables, expected, issues reported, why)
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (&[], |c| matches!(&c.metrics.exporter, MetricsExporter::File(p) if p.to_string_lossy().ends_with(".metrics.jsonl")) && c.metrics.interval == Duration::from_secs(60) && c.metrics.timeout == Duration::from_secs(30) && c.metrics.temporality == Cumulative, 0, "the embedded default: a file beside the spans file, every minute, cumulative"),
        (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], |c| c.metrics.exporter == MetricsExporter::Otlp && c.otlp.metrics_endpoint == "http://collector:4318/v1/metrics", 0, "where spans go, with its path"),
        (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")], |c| c.otlp.metrics_endpoint == "http://collector:4317", 0, "gRPC: the same endpoint"),
        (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:9090/otlp/v1/metrics")], |c| c.otlp.metrics_endpoint == "http://metrics:9090/otlp/v1/metrics" && c.otlp.endpoint == "http://collector:4318/v1/traces", 0, "its own, used as is"),
        (&[("OTEL_METRICS_EXPORTER", "console")], |c| c.metrics.exporter == MetricsExporter::Console, 0, "console"),
        (&[("OTEL_METRICS_EXPORTER", "none"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], |c| c.metrics.exporter == MetricsExporter::None, 0, "none"),
        (&[("OTEL_METRICS_EXPORTER", "prometheus,otlp")], |c| c.metrics.exporter == MetricsExporter::Otlp, 1, "an unknown name is reported and skipped, the rest used"),
        (&[("OTEL_METRICS_EXPORTER", "prometheus")], |c| matches!(c.metrics.exporter, MetricsExporter::File(_)), 1, "nothing usable: the default"),
        (&[("OTEL_TRACES_EXPORTER", "none")], |c| c.metrics.exporter == MetricsExporter::None, 0, "spans nowhere: metrics nowhere"),
        (&[("OTEL_SDK_DISABLED", "true"), ("OTEL_METRICS_EXPORTER", "otlp")], |c| c.metrics.exporter == MetricsExporter::None, 0, "the SDK disabled: no metrics"),
        (&[("DISTRIBUTED_TRACING_SPANS_FILE", "/srv/a/checkout.jsonl")], |c| c.metrics.exporter == MetricsExporter::File("/srv/a/checkout.metrics.jsonl".into()), 0, "beside a spans file of the user's"),
        (&[("DISTRIBUTED_TRACING_METRICS_FILE", "/srv/m.jsonl")], |c| c.metrics.exporter == MetricsExporter::File("/srv/m.jsonl".into()), 0, "a path of its own"),
        (&[("OTEL_METRIC_EXPORT_INTERVAL", "500"), ("OTEL_METRIC_EXPORT_TIMEOUT", "2000")], |c| c.metrics.interval == Duration::from_millis(500) && c.metrics.timeout == Duration::from_secs(2), 0, "interval and deadline"),
        (&[("OTEL_METRIC_EXPORT_INTERVAL", "0")], |c| c.metrics.interval == Duration::from_secs(60), 1, "0 is refused"),
        (&[("OTEL_METRIC_EXPORT_INTERVAL", "soon")], |c| c.metrics.interval == Duration::from_secs(60), 1, "not a number"),
        (&[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "DELTA")], |c| c.metrics.temporality == Delta, 0, "delta, any case"),
        (&[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "lowmemory")], |c| c.metrics.temporality == Delta, 0, "lowmemory: histograms are delta"),
        (&[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "monthly")], |c| c.metrics.temporality == Cumulative, 1, "unknown: cumulative"),
        (&[("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"), ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "7000")], |c| c.metrics.request_timeout == Duration::from_secs(7) && c.otlp.timeout == Duration::from_secs(3), 0, "the metrics' request deadline"),
        (&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"), ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none")], |c| c.otlp.metrics_compression == OtlpCompression::None && c.otlp.compression == OtlpCompression::Gzip, 0, "per signal"),
    ];
    for (vars, check, issues, why) in cases {
        let c = resolve(vars);
        assert!(check(&c), "{why}: {:?}", c.metrics);
        assert_eq!(c.issues.len(), *issues, "{why}: {:?}", c.issues);
    }
    let c = crate::ObservabilityBuilder::default()
        .env_vars([("OTEL_METRIC_EXPORT_INTERVAL", "500")])
        .metrics_exporter(MetricsExporter::Console)
        .metrics_interval(Duration::from_secs(5))
        .metrics_cardinality_limit(1)
        .config()
        .unwrap();
    assert_eq!(
        c.metrics.exporter,
        MetricsExporter::Console,
        "the builder's"
    );
    assert_eq!(c.metrics.interval, Duration::from_secs(5), "the builder's");
    assert_eq!(
        c.metrics.cardinality_limit, 2,
        "at least one series and the overflow"
    );
}

/// An unusable metrics endpoint disables metric export only, never sending
/// them to the traces' endpoint; one derived from an unusable traces
/// endpoint disables it too, said so.
#[test]
fn unusable_metrics_endpoints_disable_their_export() {
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://metrics"),
    ]);
    assert_eq!(c.traces_exporter, TracesExporter::Otlp);
    assert_eq!(c.metrics.exporter, MetricsExporter::None);
    let disabled: Vec<_> = c.issues.iter().filter_map(|i| i.disables).collect();
    assert_eq!(disabled, [Disabled::MetricExport], "{:?}", c.issues);
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    assert_eq!(c.metrics.exporter, MetricsExporter::None);
    assert_eq!(
        c.issues.len(),
        1,
        "one line for the variable: {:?}",
        c.issues
    );
    assert!(
        c.issues[0].reason.contains("span export is disabled")
            && c.issues[0]
                .reason
                .contains("metric export is disabled too (metrics would go there)"),
        "{}",
        c.issues[0]
    );
}
