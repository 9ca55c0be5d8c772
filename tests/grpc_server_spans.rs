//! `GrpcServerLayer` on a real tonic server on 127.0.0.1: the SERVER span of
//! each kind of call, continuing the caller's `traceparent`, with its
//! attributes and status: OK, a status the server does not count as an error
//! (`NOT_FOUND`, a trailers-only answer), one it does (`INTERNAL`), a method
//! the server does not serve (`UNIMPLEMENTED`: `_OTHER`, named `grpc`), and a
//! server stream (the span ends with the stream).
#![cfg(feature = "grpc")]

mod common;

use std::net::SocketAddr;
use std::pin::Pin;

use common::{sdk, span_of, spans_of, trace_of};
use distributed_tracing::middleware::GrpcServerLayer;
use distributed_tracing::opentelemetry::trace::{SpanKind, Status as SpanStatus};
use distributed_tracing::opentelemetry::Value;
use distributed_tracing::opentelemetry_sdk::trace::SpanData;
use grpc_demo::inventory_client::InventoryClient;
use grpc_demo::inventory_server::{Inventory, InventoryServer};
use grpc_demo::pricing_client::PricingClient;
use grpc_demo::{CheckReply, CheckRequest, QuoteRequest, WatchRequest};
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status, Streaming};

const SID: &str = "00f067aa0ba902b7";

struct Stock;

type Replies = Pin<Box<dyn tokio_stream::Stream<Item = Result<CheckReply, Status>> + Send>>;

fn reply(item: String) -> CheckReply {
    CheckReply {
        item,
        in_stock: 7,
        trace_id: String::new(),
        price_cents: 0,
    }
}

#[tonic::async_trait]
impl Inventory for Stock {
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckReply>, Status> {
        let item = request.into_inner().item;
        match item.as_str() {
            "widget" => Ok(Response::new(reply(item))),
            "broken" => Err(Status::internal("the stock is broken")),
            _ => Err(Status::not_found(format!("no item {item:?}"))),
        }
    }

    type WatchStream = Replies;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<Replies>, Status> {
        let WatchRequest { item, count } = request.into_inner();
        let replies = (0..count).map(move |_| Ok(reply(item.clone())));
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }

    type ChatStream = Replies;

    async fn chat(&self, _: Request<Streaming<CheckRequest>>) -> Result<Response<Replies>, Status> {
        Err(Status::unimplemented("not in the test"))
    }
}

/// A tonic server with the layer, serving `demo.Inventory` only.
async fn serve() -> SocketAddr {
    sdk();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new())
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A request carrying the caller's `traceparent` in trace `tid`.
fn with_parent<T>(message: T, tid: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("traceparent", format!("00-{tid}-{SID}-01").parse().unwrap());
    request
}

/// The one span of trace `tid`, a SERVER child of the caller's span.
async fn server_span(tid: &str) -> SpanData {
    // The server ends the span as its answer ends, which the client may see
    // first: wait a little for it.
    for _ in 0..100 {
        let spans = spans_of(trace_of(tid));
        if !spans.is_empty() {
            assert_eq!(spans.len(), 1, "{spans:?}");
            let span = spans.into_iter().next().unwrap();
            assert_eq!(span.span_kind, SpanKind::Server);
            assert_eq!(span.parent_span_id, span_of(SID));
            return span;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no span in trace {tid}");
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    let mut values = span.attributes.iter().filter(|kv| kv.key.as_str() == key);
    let value = values.next().map(|kv| kv.value.clone());
    assert!(values.next().is_none(), "{key} set twice: {span:?}");
    value
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attribute(span, key).map(|v| v.as_str().into_owned())
}

#[tokio::test]
async fn ok_call() {
    let addr = serve().await;
    let tid = "4bf92f3577b34da6a3ce929d0e0e4701";
    let mut client = InventoryClient::new(channel(addr).await);
    let item = "widget".to_owned();
    client
        .check(with_parent(CheckRequest { item }, tid))
        .await
        .unwrap();
    let span = server_span(tid).await;
    assert_eq!(span.name, "demo.Inventory/Check");
    assert_eq!(text(&span, "rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(
        text(&span, "rpc.method").as_deref(),
        Some("demo.Inventory/Check")
    );
    assert_eq!(
        text(&span, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    assert_eq!(text(&span, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        attribute(&span, "server.port"),
        Some(Value::I64(i64::from(addr.port())))
    );
    assert_eq!(attribute(&span, "error.type"), None);
    assert_eq!(attribute(&span, "rpc.method_original"), None);
    assert_eq!(span.status, SpanStatus::Unset);
}

#[tokio::test]
async fn not_found_is_not_a_server_error() {
    let addr = serve().await;
    let tid = "4bf92f3577b34da6a3ce929d0e0e4702";
    let mut client = InventoryClient::new(channel(addr).await);
    let item = "nothing".to_owned();
    let status = client
        .check(with_parent(CheckRequest { item }, tid))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let span = server_span(tid).await;
    assert_eq!(span.name, "demo.Inventory/Check");
    assert_eq!(
        text(&span, "rpc.response.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(attribute(&span, "error.type"), None);
    assert_eq!(span.status, SpanStatus::Unset);
}

#[tokio::test]
async fn internal_is_an_error_with_the_message() {
    let addr = serve().await;
    let tid = "4bf92f3577b34da6a3ce929d0e0e4703";
    let mut client = InventoryClient::new(channel(addr).await);
    let item = "broken".to_owned();
    let status = client
        .check(with_parent(CheckRequest { item }, tid))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let span = server_span(tid).await;
    assert_eq!(
        text(&span, "rpc.response.status_code").as_deref(),
        Some("INTERNAL")
    );
    assert_eq!(text(&span, "error.type").as_deref(), Some("INTERNAL"));
    assert_eq!(span.status, SpanStatus::error("the stock is broken"));
}

#[tokio::test]
async fn unknown_method_is_other() {
    let addr = serve().await;
    let tid = "4bf92f3577b34da6a3ce929d0e0e4704";
    // `demo.Pricing` is not served here.
    let mut client = PricingClient::new(channel(addr).await);
    let item = "widget".to_owned();
    let status = client
        .quote(with_parent(QuoteRequest { item }, tid))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let span = server_span(tid).await;
    assert_eq!(span.name, "grpc");
    assert_eq!(text(&span, "rpc.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        text(&span, "rpc.method_original").as_deref(),
        Some("demo.Pricing/Quote")
    );
    assert_eq!(
        text(&span, "rpc.response.status_code").as_deref(),
        Some("UNIMPLEMENTED")
    );
    assert_eq!(text(&span, "error.type").as_deref(), Some("UNIMPLEMENTED"));
    assert!(matches!(span.status, SpanStatus::Error { .. }));
}

#[tokio::test]
async fn server_stream_ends_the_span_with_it() {
    let addr = serve().await;
    let tid = "4bf92f3577b34da6a3ce929d0e0e4705";
    let mut client = InventoryClient::new(channel(addr).await);
    let request = WatchRequest {
        item: "widget".into(),
        count: 3,
    };
    let mut stream = client
        .watch(with_parent(request, tid))
        .await
        .unwrap()
        .into_inner();
    let mut replies = 0;
    while let Some(reply) = stream.next().await {
        reply.unwrap();
        replies += 1;
    }
    assert_eq!(replies, 3);
    let span = server_span(tid).await;
    assert_eq!(span.name, "demo.Inventory/Watch");
    assert_eq!(
        text(&span, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    assert!(span.end_time >= span.start_time);
}
