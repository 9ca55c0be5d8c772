//! A second `init_observability` in the same process fails with a clear error
//! and leaves the first one's pipeline working: nothing global is replaced
//! before the new subscriber is in.

mod common;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::{Error, ObservabilityBuilder};

#[test]
fn a_second_init_fails_and_the_first_keeps_exporting() {
    let first = Receiver::start(Protocol::Http, 0, Store::default());
    let second = Receiver::start(Protocol::Http, 0, Store::default());
    let builder = |receiver: &Receiver, name: &str| {
        ObservabilityBuilder::default()
            .env_vars([("OTEL_SERVICE_NAME", name), ("RUST_LOG", "info")])
            .otlp_protocol(OtlpProtocol::HttpProtobuf)
            .otlp_endpoint(receiver.endpoint(Protocol::Http))
    };
    let guard = builder(&first, "first").init().expect("the first init");
    let err = builder(&second, "second")
        .init()
        .expect_err("a second init");
    assert!(matches!(err, Error::SubscriberAlreadySet(_)), "{err}");
    assert!(err.to_string().contains("already"), "{err}");

    let trace_id =
        tracing::info_span!("after_the_second_init").in_scope(|| get_trace_id().unwrap());
    drop(guard);
    let first = first.stop();
    let spans = first.of_trace(&trace_id);
    assert_eq!(spans.len(), 1, "exported by the first pipeline");
    assert_eq!(spans[0].service, "first");
    assert!(second.stop().spans().is_empty());
}
