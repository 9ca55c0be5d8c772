//! A service with an OpenTelemetry set-up of its own: an `SdkTracerProvider`
//! wired by hand (opentelemetry-otlp's exporter, as its users configure it)
//! and never installed globally. The crate's layers are given that provider
//! (`.tracer_provider(&provider)`), the `tracing` bridge too
//! (`otel_layer_for`): real axum, reqwest and tonic servers and clients on
//! 127.0.0.1, whose SERVER, CLIENT and bridged spans reach a real OTLP
//! receiver, and whose log lines carry the ids of the exported spans.
//! Nothing in this binary installs a global provider or subscriber.

#![cfg(all(feature = "http-server", feature = "reqwest", feature = "grpc"))]

mod common;

use std::time::Duration;

use axum::routing::get;
use common::otlp::{Protocol, Receiver, Store};
use common::Lines;
use distributed_tracing::bridge::{otel_layer_for, BridgeOptions};
use distributed_tracing::logging::{json_fmt_layer, JsonFormat};
use distributed_tracing::middleware::{
    ClientTraceMiddleware, GrpcClientLayer, GrpcServerLayer, ServerTraceLayer,
};
use grpc_demo::inventory_client::InventoryClient;
use grpc_demo::inventory_server::{Inventory, InventoryServer};
use grpc_demo::{CheckReply, CheckRequest, WatchRequest};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;

/// The JSON log line whose message is `message`.
fn with_message(lines: &Lines, message: &str) -> serde_json::Value {
    let text = lines.utf8();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| panic!("no line {message:?} in {text}"))
}

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckReply>, tonic::Status> {
        let item = request.into_inner().item;
        tracing::info!(item, "checking the stock");
        Ok(tonic::Response::new(CheckReply {
            item,
            in_stock: 1,
            trace_id: String::new(),
            price_cents: 0,
        }))
    }

    type WatchStream = tokio_stream::Empty<Result<CheckReply, tonic::Status>>;

    async fn watch(
        &self,
        _: tonic::Request<WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this test"))
    }

    type ChatStream = tokio_stream::Empty<Result<CheckReply, tonic::Status>>;

    async fn chat(
        &self,
        _: tonic::Request<tonic::Streaming<CheckRequest>>,
    ) -> Result<tonic::Response<Self::ChatStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this test"))
    }
}

#[tracing::instrument(skip_all)]
async fn order() -> String {
    tracing::info!("placing the order");
    "placed".to_owned()
}

#[tokio::test]
async fn a_hand_wired_provider_records_and_exports_every_span() {
    let store = Store::default();
    let receiver = Receiver::start(Protocol::Grpc, 0, store.clone());
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.endpoint(Protocol::Grpc))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let lines = Lines::default();
    // INFO and above, as a service's filter would: the exporter's own
    // transport (hyper, h2, tonic: TRACE and DEBUG spans) runs on this thread
    // too, and its spans would otherwise be exported in turn.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(json_fmt_layer(JsonFormat::new()).with_writer({
            let lines = lines.clone();
            move || lines.clone()
        }))
        .with(otel_layer_for(&provider, BridgeOptions::default()));
    let _default = tracing::subscriber::set_default(subscriber);

    // HTTP: axum behind the server layer, called through the reqwest middleware.
    let app = axum::Router::new()
        .route("/orders", get(order))
        .layer(ServerTraceLayer::new().tracer_provider(&provider));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientTraceMiddleware::new().tracer_provider(&provider))
        .build();
    let body = client
        .get(format!("http://{http_addr}/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "placed");

    // gRPC: a tonic server and channel behind the two layers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new().tracer_provider(&provider))
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}"))
        .unwrap()
        .connect_lazy();
    let mut inventory = InventoryClient::new(
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new().tracer_provider(&provider))
            .service(channel),
    );
    let reply = inventory
        .check(CheckRequest {
            item: "apples".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().in_stock, 1);

    // The batch processor's thread exports through the channel, whose tasks
    // run on this thread: shut down (flushed) from another one, so that no
    // later drop of the provider blocks this thread.
    let flushing = provider.clone();
    tokio::task::spawn_blocking(move || flushing.shutdown())
        .await
        .unwrap()
        .unwrap();
    let spans = store.wait_for(Duration::from_secs(10), |spans| spans.len() >= 5);
    // The receiver's shutdown waits for the exporter's connection to close,
    // which is served on this thread.
    tokio::task::spawn_blocking(move || drop(receiver))
        .await
        .unwrap();
    let of_kind = |kind: SpanKind| {
        spans
            .iter()
            .filter(|s| s.span.kind == kind as i32)
            .collect::<Vec<_>>()
    };
    let (servers, clients) = (of_kind(SpanKind::Server), of_kind(SpanKind::Client));
    assert_eq!((servers.len(), clients.len()), (2, 2), "{spans:#?}");
    let handler = spans
        .iter()
        .find(|s| s.span.name == "order")
        .expect("bridged");
    let http_server = servers.iter().find(|s| s.span.name == "GET").unwrap();
    let http_client = clients.iter().find(|s| s.span.name == "GET").unwrap();
    assert_eq!(http_server.trace_id(), http_client.trace_id());
    assert_eq!(http_server.parent_span_id(), http_client.span_id());
    assert_eq!(handler.parent_span_id(), http_server.span_id());
    let grpc_server = servers.iter().find(|s| s.span.name != "GET").unwrap();
    let grpc_client = clients.iter().find(|s| s.span.name != "GET").unwrap();
    assert_eq!(grpc_server.parent_span_id(), grpc_client.span_id());

    // The log lines carry the ids of the exported spans.
    let line = with_message(&lines, "placing the order");
    assert_eq!(line["trace_id"], handler.trace_id());
    assert_eq!(line["span_id"], handler.span_id());
    let line = with_message(&lines, "checking the stock");
    assert_eq!(line["trace_id"], grpc_server.trace_id());
    assert_eq!(line["span_id"], grpc_server.span_id());
}

/// With no provider given and none installed (this binary installs none), the
/// layer's spans go to OpenTelemetry's no-op provider: that is said once, as
/// a warning naming the ways out, however many requests come.
#[tokio::test]
async fn the_no_op_provider_is_reported_once() {
    let lines = Lines::default();
    let subscriber =
        tracing_subscriber::registry().with(json_fmt_layer(JsonFormat::new()).with_writer({
            let lines = lines.clone();
            move || lines.clone()
        }));
    let _default = tracing::subscriber::set_default(subscriber);
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ServerTraceLayer::new());
    for _ in 0..3 {
        let request = http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let text = lines.utf8();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("no tracer provider is installed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains(".tracer_provider(&provider)"),
        "{text}"
    );
    assert!(warnings[0].contains("\"level\":\"WARN\""), "{text}");
}
