//! Feature `jaeger-remote-sampler`: `OTEL_TRACES_SAMPLER=jaeger_remote` polls
//! the sampling strategy from a Jaeger sampling endpoint (here a server on
//! 127.0.0.1 speaking Jaeger's HTTP sampling protocol), and new traces follow
//! the strategy it serves, changing when it changes.
#![cfg(feature = "jaeger-remote-sampler")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use distributed_tracing::config::{Disabled, SamplerConfig};
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;

#[derive(Clone, Default)]
struct Strategy {
    rate: Arc<Mutex<f64>>,
    services: Arc<Mutex<Vec<String>>>,
}

async fn sampling(
    State(s): State<Strategy>,
    uri: axum::http::Uri,
) -> axum::Json<serde_json::Value> {
    let service = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("service="))
        .unwrap_or("")
        .to_string();
    s.services.lock().unwrap().push(service);
    let rate = *s.rate.lock().unwrap();
    axum::Json(serde_json::json!({
        "strategyType": "PROBABILISTIC",
        "probabilisticSampling": { "samplingRate": rate }
    }))
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn new_traces_follow_the_remote_strategy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let strategy = Strategy::default();
    *strategy.rate.lock().unwrap() = 0.0;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/sampling", get(sampling))
        .with_state(strategy.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let arg =
        format!("endpoint=http://{addr}/sampling,pollingIntervalMs=100,initialSamplingRate=1");
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", arg.as_str()),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])
        .build()
        .unwrap();
    assert!(matches!(
        guard.config().sampler,
        SamplerConfig::JaegerRemote {
            parent_based: false,
            ..
        }
    ));
    assert!(
        guard.config().issues.is_empty(),
        "{:?}",
        guard.config().issues
    );
    let tracer = guard.tracer_provider().unwrap().tracer("t");
    let sampled = || {
        let mut span = tracer.start("probe");
        let sampled = span.span_context().is_sampled();
        span.end();
        sampled
    };
    // The served strategy (rate 0) replaces the initial rate of 1.
    eventually("the remote rate 0 to apply", || !sampled());
    assert!(
        strategy
            .services
            .lock()
            .unwrap()
            .iter()
            .all(|s| s == "checkout"),
        "the endpoint is asked for this service's strategy"
    );
    // And when the remote strategy changes, so does sampling.
    *strategy.rate.lock().unwrap() = 1.0;
    eventually("the remote rate 1 to apply", sampled);
    drop(guard);
}

#[test]
fn a_bad_sampler_argument_is_reported() {
    let config = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "pollingIntervalMs=soon"),
        ])
        .config()
        .unwrap();
    assert_eq!(config.issues.len(), 1, "{:?}", config.issues);
    assert_eq!(config.issues[0].variable, "OTEL_TRACES_SAMPLER_ARG");
    assert_eq!(config.issues[0].disables, None);
    match config.sampler {
        SamplerConfig::JaegerRemote {
            parent_based,
            endpoint,
            polling_interval,
            ..
        } => {
            assert!(parent_based);
            assert_eq!(endpoint, "http://localhost:5778/sampling", "the default");
            assert_eq!(polling_interval, Duration::from_secs(60), "the default");
        }
        other => panic!("{other:?}"),
    }
}

/// An `endpoint=` that cannot be used is not replaced by the default one (a
/// request to a host nobody named): the remote sampler is disabled, and the
/// default sampler used, with an error at start-up (`Error::Config` if strict).
#[test]
fn an_unusable_sampling_endpoint_disables_the_remote_sampler() {
    let env = [
        ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            "endpoint=ftp://user:secret@nowhere,pollingIntervalMs=soon",
        ),
    ];
    let config = ObservabilityBuilder::default()
        .env_vars(env)
        .config()
        .unwrap();
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(config.issues.len(), 2, "{:?}", config.issues);
    assert!(config
        .issues
        .iter()
        .all(|i| i.variable == "OTEL_TRACES_SAMPLER_ARG"));
    let disabling: Vec<_> = config
        .issues
        .iter()
        .filter(|i| i.disables.is_some())
        .collect();
    assert_eq!(disabling.len(), 1);
    assert_eq!(disabling[0].disables, Some(Disabled::RemoteSampler));
    assert!(disabling[0].reason.contains("parentbased_always_on"));
    assert!(!format!("{config:?}").contains("secret"), "{config:?}");
    let err = ObservabilityBuilder::default()
        .env_vars(env)
        .strict(true)
        .config()
        .unwrap_err();
    assert!(err.to_string().contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}
