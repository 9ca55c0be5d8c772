//! gRPC through real tonic servers and clients on 127.0.0.1, with
//! `GrpcServerLayer` on the server and `GrpcClientLayer` on the channel, the
//! spans read back from the in-process OTLP receiver: unary and streaming
//! calls, OK and error statuses (trailers-only and after a body), a cancelled
//! call, SERVER/CLIENT parent links and attributes, and metadata with an
//! invalid trace context starting a new trace.
#![cfg(feature = "grpc")]

mod common;

use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use common::otlp::{Protocol, Received, Receiver, Store};
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::middleware::{GrpcClientLayer, GrpcClientService, GrpcServerLayer};
use distributed_tracing::{ObservabilityBuilder, ObservabilityGuard};
use grpc_demo::inventory_client::InventoryClient;
use grpc_demo::inventory_server::{Inventory, InventoryServer};
use grpc_demo::{CheckReply, CheckRequest, WatchRequest};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio_stream::{Stream, StreamExt as _};
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status, Streaming};

/// The test service: its answer depends on the item.
struct Test;

fn reply(item: &str) -> CheckReply {
    CheckReply {
        item: item.to_owned(),
        in_stock: 1,
        trace_id: get_trace_id().unwrap_or_default(),
        price_cents: 0,
    }
}

type Replies = Pin<Box<dyn Stream<Item = Result<CheckReply, Status>> + Send>>;

#[tonic::async_trait]
impl Inventory for Test {
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckReply>, Status> {
        let item = request.into_inner().item;
        match item.as_str() {
            "missing" => Err(Status::not_found("no such item")),
            "boom" => Err(Status::internal("the stock database is down")),
            // A status message far over the attribute bound, not all ASCII.
            "long" => Err(Status::internal("é".repeat(1_500))),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Response::new(reply(&item)))
            }
            // An error without a message: the span has no description.
            "bare" => Err(Status::unavailable("")),
            _ => Ok(Response::new(reply(&item))),
        }
    }

    type WatchStream = Replies;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<Replies>, Status> {
        let WatchRequest { item, count } = request.into_inner();
        let fail = item == "fail-after";
        let replies = tokio_stream::iter(0..count).map(move |i| match (fail, i) {
            // Two messages, then an error in the trailers.
            (true, 2..) => Err(Status::data_loss("the stock feed broke")),
            _ => Ok(reply(&item)),
        });
        Ok(Response::new(Box::pin(replies)))
    }

    type ChatStream = Replies;

    async fn chat(
        &self,
        request: Request<Streaming<CheckRequest>>,
    ) -> Result<Response<Replies>, Status> {
        let replies = request
            .into_inner()
            .map(|question| Ok(reply(&question?.item)));
        Ok(Response::new(Box::pin(replies)))
    }
}

struct Setup {
    receiver: Receiver,
    _guard: ObservabilityGuard,
    server: std::net::SocketAddr,
    runtime: tokio::runtime::Runtime,
}

/// The receiver, the pipeline exporting to it (installed once per test
/// binary) and the traced server.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
        let guard = ObservabilityBuilder::default()
            .env_vars([
                ("OTEL_BSP_SCHEDULE_DELAY", "50"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ])
            .service_name("grpc-test")
            .otlp_endpoint(receiver.endpoint(Protocol::Grpc))
            .otlp_protocol(OtlpProtocol::Grpc)
            .init()
            .expect("observability");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let server = listener.local_addr().unwrap();
        runtime.spawn(
            tonic::transport::Server::builder()
                .layer(
                    GrpcServerLayer::new()
                        .services(&[<InventoryServer<Test> as NamedService>::NAME])
                        .peer_fn(|ext| {
                            ext.get::<tonic::transport::server::TcpConnectInfo>()
                                .and_then(|i| i.remote_addr())
                        }),
                )
                .add_service(InventoryServer::new(Test))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Setup {
            receiver,
            _guard: guard,
            server,
            runtime,
        }
    })
}

fn traced_client(setup: &Setup) -> InventoryClient<GrpcClientService<Channel>> {
    let _entered = setup.runtime.enter();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", setup.server))
        .unwrap()
        .connect_lazy();
    InventoryClient::new(
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new().server("127.0.0.1", Some(setup.server.port())))
            .service(channel),
    )
}

/// Runs `f` in a root span of its own (so the client span has a parent in
/// this process) and returns its result with the trace id.
fn in_trace<T>(setup: &Setup, f: impl std::future::Future<Output = T>) -> (T, String) {
    use tracing::Instrument as _;
    let span = tracing::info_span!("test");
    let trace_id = span.in_scope(|| get_trace_id().unwrap());
    let out = setup.runtime.block_on(f.instrument(span));
    (out, trace_id)
}

/// The CLIENT and SERVER spans of `trace_id`, once both arrived.
fn client_and_server(setup: &Setup, trace_id: &str) -> (Received, Received) {
    let spans = setup
        .receiver
        .store
        .wait_for(Duration::from_secs(10), |spans| {
            let of = |kind: SpanKind| {
                spans
                    .iter()
                    .any(|s| s.trace_id() == trace_id && s.span.kind == kind as i32)
            };
            of(SpanKind::Client) && of(SpanKind::Server)
        });
    let find = |kind: SpanKind| {
        spans
            .iter()
            .find(|s| s.trace_id() == trace_id && s.span.kind == kind as i32)
            .cloned()
            .unwrap_or_else(|| panic!("a {kind:?} span in trace {trace_id}: {spans:#?}"))
    };
    (find(SpanKind::Client), find(SpanKind::Server))
}

fn is_error(span: &Received) -> bool {
    span.span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
}

/// The attributes both sides record for `method` ended with `code`.
fn assert_call(span: &Received, method: &str, code: &str, error: bool, port: u16) {
    let label = format!("{:?} {method} {code}", span.span.kind);
    assert_eq!(span.span.name, method, "{label}");
    assert_eq!(
        span.attribute("rpc.system.name").as_deref(),
        Some("grpc"),
        "{label}"
    );
    assert_eq!(
        span.attribute("rpc.method").as_deref(),
        Some(method),
        "{label}"
    );
    assert_eq!(
        span.attribute("rpc.response.status_code").as_deref(),
        Some(code),
        "{label}"
    );
    assert_eq!(
        span.attribute("server.address").as_deref(),
        Some("127.0.0.1"),
        "{label}"
    );
    assert_eq!(
        span.attribute("server.port"),
        Some(port.to_string()),
        "{label}"
    );
    assert_eq!(is_error(span), error, "{label}: {:?}", span.span.status);
    assert_eq!(
        span.attribute("error.type").as_deref(),
        error.then_some(code),
        "{label}"
    );
    // The description is the status message, never the code's name.
    let description = span.span.status.as_ref().map_or("", |s| s.message.as_str());
    assert_ne!(description, code, "{label}");
    if span.span.kind == SpanKind::Server as i32 {
        assert_eq!(
            span.attribute("network.peer.address").as_deref(),
            Some("127.0.0.1"),
            "{label}"
        );
        assert!(span.attribute("network.peer.port").is_some(), "{label}");
        assert_eq!(
            span.attribute("client.address").as_deref(),
            Some("127.0.0.1"),
            "{label}"
        );
    }
}

#[test]
fn a_unary_call_is_one_trace_with_linked_client_and_server_spans() {
    let setup = setup();
    let mut client = traced_client(setup);
    let (reply, trace_id) = in_trace(setup, async {
        client
            .check(CheckRequest {
                item: "widget".into(),
            })
            .await
    });
    let reply = reply.expect("OK").into_inner();
    assert_eq!(
        reply.trace_id, trace_id,
        "the handler runs in the caller's trace"
    );
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    assert_eq!(server_span.parent_span_id(), client_span.span_id());
    assert!(!server_span.span.parent_span_id.is_empty());
    let port = setup.server.port();
    assert_call(&client_span, "demo.Inventory/Check", "OK", false, port);
    assert_call(&server_span, "demo.Inventory/Check", "OK", false, port);
}

#[test]
fn statuses_are_recorded_per_side() {
    let setup = setup();
    let port = setup.server.port();
    // (item, status, an error on the client, an error on the server)
    let cases = [
        ("missing", "NOT_FOUND", true, false),
        ("boom", "INTERNAL", true, true),
        ("bare", "UNAVAILABLE", true, true),
    ];
    for (item, code, client_error, server_error) in cases {
        let mut client = traced_client(setup);
        let (result, trace_id) = in_trace(setup, async {
            client.check(CheckRequest { item: item.into() }).await
        });
        let status = result.expect_err(item);
        assert_eq!(
            format!("{:?}", status.code())
                .to_uppercase()
                .replace('_', ""),
            code.replace('_', "")
        );
        let (client_span, server_span) = client_and_server(setup, &trace_id);
        assert_call(
            &client_span,
            "demo.Inventory/Check",
            code,
            client_error,
            port,
        );
        assert_call(
            &server_span,
            "demo.Inventory/Check",
            code,
            server_error,
            port,
        );
        // The status message is the span's description; none without one.
        let message = match item {
            "missing" => "no such item",
            "boom" => "the stock database is down",
            _ => "",
        };
        assert_eq!(
            client_span.span.status.as_ref().unwrap().message,
            message,
            "{item}"
        );
        if server_error {
            assert_eq!(
                server_span.span.status.as_ref().unwrap().message,
                message,
                "{item}"
            );
        }
    }
}

#[test]
fn streams_end_their_spans_with_the_trailers() {
    let setup = setup();
    let port = setup.server.port();

    // Server streaming, OK after five messages, each made in the call's trace.
    let mut client = traced_client(setup);
    let (replies, trace_id) = in_trace(setup, async {
        let mut stream = client
            .watch(WatchRequest {
                item: "widget".into(),
                count: 5,
            })
            .await
            .unwrap()
            .into_inner();
        let mut replies = Vec::new();
        while let Some(reply) = stream.message().await.unwrap() {
            replies.push(reply);
        }
        replies
    });
    assert_eq!(replies.len(), 5);
    assert!(replies.iter().all(|r| r.trace_id == trace_id));
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    assert_call(&client_span, "demo.Inventory/Watch", "OK", false, port);
    assert_call(&server_span, "demo.Inventory/Watch", "OK", false, port);
    assert_eq!(server_span.parent_span_id(), client_span.span_id());

    // An error after two messages: DATA_LOSS in the trailers, an error on both sides.
    let mut client = traced_client(setup);
    let (outcome, trace_id) = in_trace(setup, async {
        let mut stream = client
            .watch(WatchRequest {
                item: "fail-after".into(),
                count: 5,
            })
            .await
            .unwrap()
            .into_inner();
        let mut received = 0;
        loop {
            match stream.message().await {
                Ok(Some(_)) => received += 1,
                Ok(None) => break (received, None),
                Err(status) => break (received, Some(status.code())),
            }
        }
    });
    assert_eq!(outcome, (2, Some(Code::DataLoss)));
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    assert_call(
        &client_span,
        "demo.Inventory/Watch",
        "DATA_LOSS",
        true,
        port,
    );
    assert_call(
        &server_span,
        "demo.Inventory/Watch",
        "DATA_LOSS",
        true,
        port,
    );

    // Bidirectional: three questions, three answers, OK.
    let mut client = traced_client(setup);
    let (answers, trace_id) = in_trace(setup, async {
        let questions =
            tokio_stream::iter(["a", "b", "c"].map(|item| CheckRequest { item: item.into() }));
        let mut stream = client.chat(questions).await.unwrap().into_inner();
        let mut answers = Vec::new();
        while let Some(answer) = stream.message().await.unwrap() {
            answers.push(answer.item);
        }
        answers
    });
    assert_eq!(answers, ["a", "b", "c"]);
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    assert_call(&client_span, "demo.Inventory/Chat", "OK", false, port);
    assert_call(&server_span, "demo.Inventory/Chat", "OK", false, port);
}

#[test]
fn a_cancelled_call_ends_both_spans() {
    let setup = setup();
    let mut client = traced_client(setup);
    let (outcome, trace_id) = in_trace(setup, async {
        tokio::time::timeout(
            Duration::from_millis(300),
            client.check(CheckRequest {
                item: "slow".into(),
            }),
        )
        .await
    });
    assert!(outcome.is_err(), "the caller gave up");
    // The server notices the reset stream and drops the handler.
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    let port = setup.server.port();
    assert_call(
        &client_span,
        "demo.Inventory/Check",
        "CANCELLED",
        true,
        port,
    );
    assert_eq!(
        server_span.attribute("rpc.response.status_code").as_deref(),
        Some("CANCELLED")
    );
    assert!(
        !is_error(&server_span),
        "a caller's cancel is not the server's error"
    );
}

/// Metadata with an invalid `traceparent` (all-zero trace id) starts a new
/// trace; a valid one is continued.
#[test]
fn invalid_trace_context_in_metadata_starts_a_new_trace() {
    let setup = setup();
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let cases = [
        (format!("00-{caller}-00f067aa0ba902b7-01"), true),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
            false,
        ),
        (format!("00-{caller}-0000000000000000-01"), false),
        (format!("zz-{caller}-00f067aa0ba902b7-01"), false),
    ];
    for (traceparent, continued) in cases {
        // A client without the layer: the metadata is exactly what we send.
        let reply = setup.runtime.block_on(async {
            let channel =
                tonic::transport::Endpoint::from_shared(format!("http://{}", setup.server))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
            let mut request = Request::new(CheckRequest {
                item: "widget".into(),
            });
            request
                .metadata_mut()
                .insert("traceparent", traceparent.parse().unwrap());
            InventoryClient::new(channel)
                .check(request)
                .await
                .unwrap()
                .into_inner()
        });
        assert_eq!(reply.trace_id == caller, continued, "{traceparent}");
        let spans = setup
            .receiver
            .store
            .wait_for(Duration::from_secs(10), |spans| {
                spans.iter().any(|s| s.trace_id() == reply.trace_id)
            });
        let server = spans
            .iter()
            .find(|s| s.trace_id() == reply.trace_id)
            .expect("the server span");
        assert_eq!(server.span.kind, SpanKind::Server as i32);
        match continued {
            true => assert_eq!(server.parent_span_id(), "00f067aa0ba902b7"),
            false => assert!(
                server.span.parent_span_id.is_empty(),
                "{traceparent}: a root"
            ),
        }
    }
}

/// Calls a method by its path with a `traceparent` of `trace` and no
/// client layer; returns the status.
fn call_path(setup: &Setup, path: &str, trace: &str) -> Status {
    setup.runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", setup.server))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let mut request = Request::new(CheckRequest {
            item: "widget".into(),
        });
        request.metadata_mut().insert(
            "traceparent",
            format!("00-{trace}-00f067aa0ba902b7-01").parse().unwrap(),
        );
        grpc.unary::<_, CheckReply, _>(
            request,
            http::uri::PathAndQuery::try_from(path).unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("not served")
    })
}

/// The server span of `trace`, once it arrived.
fn server_of(setup: &Setup, trace: &str) -> Received {
    let spans = setup
        .receiver
        .store
        .wait_for(Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.trace_id() == trace)
        });
    spans
        .iter()
        .find(|s| s.trace_id() == trace)
        .unwrap()
        .clone()
}

/// A method the server does not serve: the caller cannot mint span names.
/// A service the layer was not given is `_OTHER` from the start; a method
/// of a given service is recorded as it came (samplers see it at the start)
/// and its span renamed when the server answers UNIMPLEMENTED.
#[test]
fn an_unknown_method_is_recorded_as_other() {
    let setup = setup();
    // (path, trace, rpc.method, rpc.method_original)
    let cases = [
        (
            "/demo.Invented/Check",
            "5bf92f3577b34da6a3ce929d0e0e4736",
            "_OTHER",
            Some("demo.Invented/Check"),
        ),
        (
            "/demo.Inventory/Invented-1234",
            "5bf92f3577b34da6a3ce929d0e0e4737",
            "demo.Inventory/Invented-1234",
            None,
        ),
    ];
    for (path, trace, method, original) in cases {
        let status = call_path(setup, path, trace);
        assert_eq!(status.code(), Code::Unimplemented, "{path}");
        let server = server_of(setup, trace);
        assert_eq!(server.span.name, "grpc", "{path}");
        assert_eq!(
            server.attribute("rpc.method").as_deref(),
            Some(method),
            "{path}"
        );
        assert_eq!(
            server.attribute("rpc.method_original").as_deref(),
            original,
            "{path}"
        );
        assert_eq!(
            server.attribute("rpc.response.status_code").as_deref(),
            Some("UNIMPLEMENTED")
        );
        assert_eq!(
            server.attribute("error.type").as_deref(),
            Some("UNIMPLEMENTED")
        );
        // tonic's answer has a message of its own: it is the description.
        assert!(is_error(&server), "{path}");
        let keys: Vec<&str> = server
            .span
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "no key twice: {keys:?}");
    }
}

/// A channel to a port nothing listens on: the CLIENT span is UNAVAILABLE,
/// with the transport's words as its description.
#[test]
fn a_transport_failure_is_unavailable_with_its_words() {
    let setup = setup();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut client = {
        let _entered = setup.runtime.enter();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{closed}"))
            .unwrap()
            .connect_lazy();
        InventoryClient::new(
            tower::ServiceBuilder::new()
                .layer(GrpcClientLayer::new().server("127.0.0.1", Some(closed.port())))
                .service(channel),
        )
    };
    let (result, trace_id) = in_trace(setup, async {
        client
            .check(CheckRequest {
                item: "widget".into(),
            })
            .await
    });
    assert_eq!(result.expect_err("no server").code(), Code::Unavailable);
    let spans = setup
        .receiver
        .store
        .wait_for(Duration::from_secs(10), |spans| {
            spans
                .iter()
                .any(|s| s.trace_id() == trace_id && s.span.kind == SpanKind::Client as i32)
        });
    let client_span = spans
        .iter()
        .find(|s| s.trace_id() == trace_id && s.span.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(client_span.span.name, "demo.Inventory/Check");
    assert_eq!(
        client_span.attribute("rpc.response.status_code").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(
        client_span.attribute("error.type").as_deref(),
        Some("UNAVAILABLE")
    );
    let description = &client_span.span.status.as_ref().unwrap().message;
    assert!(
        !description.is_empty() && description != "UNAVAILABLE",
        "the transport's words: {description}"
    );
}

/// What a peer can put into a span is bounded by `max_attribute_len` (1024
/// bytes by default): a 3,000-byte status message (9 KB percent-encoded,
/// near what HTTP/2 admits in trailers) on both sides, and a method
/// name of 5,000 characters on the server.
#[test]
fn values_from_the_peer_are_cut_to_the_attribute_bound() {
    let setup = setup();
    let mut client = traced_client(setup);
    let (result, trace_id) = in_trace(setup, async {
        client
            .check(CheckRequest {
                item: "long".into(),
            })
            .await
    });
    assert_eq!(result.expect_err("INTERNAL").code(), Code::Internal);
    let (client_span, server_span) = client_and_server(setup, &trace_id);
    for span in [&client_span, &server_span] {
        let message = &span.span.status.as_ref().unwrap().message;
        assert!(
            message.len() <= 1024 && message.len() >= 1000,
            "{:?}: {} bytes",
            span.span.kind,
            message.len()
        );
        assert!(
            message.chars().all(|c| c == 'é'),
            "cut at a character boundary"
        );
    }

    // (a method of the served service, of another: the key that holds it)
    for (service, trace, key) in [
        (
            "demo.Inventory",
            "6bf92f3577b34da6a3ce929d0e0e4736",
            "rpc.method",
        ),
        (
            "demo.Other",
            "6bf92f3577b34da6a3ce929d0e0e4737",
            "rpc.method_original",
        ),
    ] {
        let name = format!("/{service}/{}", "m".repeat(5_000));
        call_path(setup, &name, trace);
        let server = server_of(setup, trace);
        assert_eq!(server.span.name, "grpc");
        let method = server.attribute(key).unwrap();
        assert_eq!(method.len(), 1024, "{key}");
        assert!(name[1..].starts_with(&method), "{key}");
    }
}

/// Both layers measure their calls (`rpc.server.call.duration`,
/// `rpc.client.call.duration`) into stores of their own: the conventions'
/// attributes, errors per side, unknown methods folded to `_OTHER`, and the
/// client's exemplar the CLIENT span's ids.
#[test]
fn calls_are_measured_on_both_sides() {
    use distributed_tracing::metrics::{HistogramPoint, Instrument, RequestMetrics, Temporality};
    let setup = setup();
    let server_metrics = RequestMetrics::new();
    let client_metrics = RequestMetrics::new();
    let server = {
        let _entered = setup.runtime.enter();
        let listener = setup
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        setup.runtime.spawn(
            tonic::transport::Server::builder()
                .layer(
                    GrpcServerLayer::new()
                        .services(&[<InventoryServer<Test> as NamedService>::NAME])
                        .request_metrics(&server_metrics),
                )
                .add_service(InventoryServer::new(Test))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        addr
    };
    let mut client = {
        let _entered = setup.runtime.enter();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
            .unwrap()
            .connect_lazy();
        InventoryClient::new(
            tower::ServiceBuilder::new()
                .layer(
                    GrpcClientLayer::new()
                        .server("127.0.0.1", Some(server.port()))
                        .request_metrics(&client_metrics),
                )
                .service(channel),
        )
    };
    let (_, trace_id) = in_trace(setup, async {
        for item in ["widget", "gadget", "missing", "boom"] {
            let _ = client.check(CheckRequest { item: item.into() }).await;
        }
    });
    // Methods the server does not implement, from a caller of its own.
    for path in ["/demo.Inventory/Invented-1", "/demo.Inventory/Invented-2"] {
        let status = setup.runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            grpc.unary::<_, CheckReply, _>(
                Request::new(CheckRequest { item: "x".into() }),
                http::uri::PathAndQuery::try_from(path).unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .expect_err("not served")
        });
        assert_eq!(status.code(), Code::Unimplemented);
    }
    let points = |metrics: &RequestMetrics, instrument: Instrument, n: u64| {
        for _ in 0..200 {
            let points: Vec<HistogramPoint> = metrics
                .collect(Temporality::Cumulative)
                .into_iter()
                .filter(|h| h.instrument == instrument)
                .flat_map(|h| h.points)
                .collect();
            if points.iter().map(|p| p.count).sum::<u64>() >= n {
                return points;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} measurements of {}", instrument.name());
    };
    let text = |p: &HistogramPoint, k: &str| p.attribute(k).map(|v| v.to_string());
    let find = |points: &[HistogramPoint], method: &str, status: &str| -> HistogramPoint {
        points
            .iter()
            .find(|p| {
                text(p, "rpc.method").as_deref() == Some(method)
                    && text(p, "rpc.response.status_code").as_deref() == Some(status)
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {method} {status}: {points:#?}"))
    };
    let served = points(&server_metrics, Instrument::RpcServer, 6);
    let ok = find(&served, "demo.Inventory/Check", "OK");
    assert_eq!(ok.count, 2);
    let keys: Vec<&str> = ok.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rpc.system.name", "rpc.method", "rpc.response.status_code"],
        "a server's server.address is opt-in"
    );
    assert_eq!(text(&ok, "rpc.system.name").as_deref(), Some("grpc"));
    let not_found = find(&served, "demo.Inventory/Check", "NOT_FOUND");
    assert_eq!(text(&not_found, "error.type"), None, "the caller's error");
    let internal = find(&served, "demo.Inventory/Check", "INTERNAL");
    assert_eq!(text(&internal, "error.type").as_deref(), Some("INTERNAL"));
    let unimplemented = find(&served, "_OTHER", "UNIMPLEMENTED");
    assert_eq!(
        unimplemented.count, 2,
        "methods the server does not implement fold into one series"
    );

    let called = points(&client_metrics, Instrument::RpcClient, 4);
    let ok = find(&called, "demo.Inventory/Check", "OK");
    assert_eq!(ok.count, 2);
    assert_eq!(text(&ok, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        text(&ok, "server.port").as_deref(),
        Some(server.port().to_string().as_str())
    );
    let not_found = find(&called, "demo.Inventory/Check", "NOT_FOUND");
    assert_eq!(
        text(&not_found, "error.type").as_deref(),
        Some("NOT_FOUND"),
        "every status but OK is a client's error"
    );
    // The client's exemplars are CLIENT spans of the test's trace, exported.
    let exemplar = ok.exemplars.first().expect("an exemplar of a sampled call");
    assert_eq!(exemplar.trace_id.to_string(), trace_id);
    let spans = setup
        .receiver
        .store
        .wait_for(Duration::from_secs(10), |spans| {
            spans
                .iter()
                .any(|s| s.span_id() == exemplar.span_id.to_string())
        });
    let span = spans
        .iter()
        .find(|s| s.span_id() == exemplar.span_id.to_string())
        .unwrap();
    assert_eq!(span.span.kind, SpanKind::Client as i32);
}
