//! A local OTLP receiver that counts spans and discards them: the collector of
//! the export benchmark (`benches/export_instructions.sh`), a process of its
//! own so that its work is not counted with the server's.
//!
//! * OTLP/HTTP: `POST /v1/traces` with a protobuf body (gzip or not);
//! * OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`;
//! * `GET /count` on the HTTP port: the spans received so far, both
//!   transports together, as decimal text; `GET /requests`: the export
//!   requests that brought them.
//!
//! Each request is decoded (prost) only to count its spans; nothing is kept.
//!
//! ```text
//! cargo run --release --example otlp_sink -- 127.0.0.1:4318 127.0.0.1:4317
//! LISTENING http=127.0.0.1:4318 grpc=127.0.0.1:4317
//! ```
//!
//! Both addresses default to port 0 (the system picks one; the line says which).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;

/// What was received, both transports together.
#[derive(Debug, Default)]
struct Counts {
    spans: AtomicU64,
    requests: AtomicU64,
}

type Count = Arc<Counts>;

impl Counts {
    fn add(&self, request: &ExportTraceServiceRequest) {
        self.spans.fetch_add(spans_in(request), Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// The spans of one export request.
fn spans_in(request: &ExportTraceServiceRequest) -> u64 {
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    spans as u64
}

/// `POST /v1/traces`: decodes the body, counts its spans, answers an empty
/// `ExportTraceServiceResponse`; 400 for a body that does not decode.
async fn http_export(
    State(count): State<Count>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let body = match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        Some(b"gzip") => {
            use std::io::Read as _;
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
            }
            Bytes::from(out)
        }
        _ => body,
    };
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            count.add(&request);
            let answer = ExportTraceServiceResponse {
                partial_success: None,
            }
            .encode_to_vec();
            ([(header::CONTENT_TYPE, "application/x-protobuf")], answer).into_response()
        }
        Err(e) => {
            eprintln!("otlp_sink: a body that does not decode: {e}");
            (StatusCode::BAD_REQUEST, Vec::new()).into_response()
        }
    }
}

/// `GET /count`: the spans received so far.
async fn http_count(State(count): State<Count>) -> String {
    count.spans.load(Ordering::Relaxed).to_string()
}

/// `GET /requests`: the export requests received so far.
async fn http_requests(State(count): State<Count>) -> String {
    count.requests.load(Ordering::Relaxed).to_string()
}

#[derive(Debug)]
struct Grpc(Count);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.add(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let http_addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let grpc_addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let count = Count::default();

    let http = tokio::net::TcpListener::bind(&http_addr).await.unwrap();
    let grpc = tokio::net::TcpListener::bind(&grpc_addr).await.unwrap();
    println!(
        "LISTENING http={} grpc={}",
        http.local_addr().unwrap(),
        grpc.local_addr().unwrap()
    );

    let app = Router::new()
        .route("/v1/traces", post(http_export))
        .route("/count", get(http_count))
        .route("/requests", get(http_requests))
        // Room for any batch: axum's default limit is 2 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(count.clone());
    // TCP_NODELAY on both ports, as collectors do: without it, an answer
    // written in pieces (HTTP/2 frames: a window update, headers, data,
    // trailers) waits for the exporter's delayed ACK, some 40 ms a request.
    let http = axum::serve::ListenerExt::tap_io(http, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let http = async move { axum::serve(http, app).await.unwrap() };
    let grpc = tonic::transport::Server::builder()
        .add_service(
            TraceServiceServer::new(Grpc(count))
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(16 * 1024 * 1024),
        )
        .serve_with_incoming(TcpIncoming::from(grpc).with_nodelay(Some(true)));
    let grpc = async move { grpc.await.unwrap() };
    tokio::join!(http, grpc);
}
