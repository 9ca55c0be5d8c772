//! A real OTLP receiver on 127.0.0.1 for the tests: the generated gRPC
//! `TraceService` server of `opentelemetry-proto` (tonic), and OTLP/HTTP
//! `POST /v1/traces` with protobuf bodies (axum + prost). Both decode what the
//! exporter really sent and keep every span with its resource's `service.name`.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tonic::codec::CompressionEncoding;

/// One received span, with the service that sent it.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub span: Span,
}

impl Received {
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                Value::IntValue(i) => Some(i.to_string()),
                Value::BoolValue(b) => Some(b.to_string()),
                Value::DoubleValue(d) => Some(d.to_string()),
                other => Some(format!("{other:?}")),
            })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `service.name` of a resource, `""` when it has none.
fn service_name(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The headers (or gRPC metadata) of one request.
pub type Headers = Vec<(String, String)>;

/// What the receiver got, shared with its servers.
#[derive(Debug, Clone, Default)]
pub struct Store {
    spans: Arc<Mutex<Vec<Received>>>,
    logs: Arc<Mutex<Vec<(String, LogRecord)>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    requests: Arc<Mutex<Vec<Headers>>>,
    log_requests: Arc<Mutex<Vec<Headers>>>,
    /// The largest request body the servers accept (gRPC's decoding limit,
    /// HTTP's body limit: 413 past it).
    max_request_bytes: Option<usize>,
    /// Export requests still to refuse (503 + Retry-After / UNAVAILABLE).
    refuse: Arc<std::sync::atomic::AtomicUsize>,
    /// The `Retry-After` seconds sent with a refusal.
    retry_after: Option<u64>,
    /// Times of the refused and accepted requests.
    attempts: Arc<Mutex<Vec<Instant>>>,
    /// The encoded size of each accepted traces request.
    sizes: Arc<Mutex<Vec<usize>>>,
}

impl Store {
    /// A store whose servers accept requests of at most `bytes`.
    pub fn with_max_request_bytes(bytes: usize) -> Store {
        Store {
            max_request_bytes: Some(bytes),
            ..Store::default()
        }
    }

    /// The next `n` export requests are refused as "unavailable" (HTTP 503
    /// with `Retry-After: retry_after` seconds when given, gRPC UNAVAILABLE).
    pub fn refuse_next(&mut self, n: usize, retry_after: Option<u64>) {
        self.refuse.store(n, std::sync::atomic::Ordering::SeqCst);
        self.retry_after = retry_after;
    }

    /// The encoded size of each accepted traces request.
    pub fn request_sizes(&self) -> Vec<usize> {
        self.sizes.lock().unwrap().clone()
    }

    /// When each export request arrived (refused ones included).
    pub fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().clone()
    }

    /// Whether this request is refused (and counts it).
    fn refused(&self) -> bool {
        self.attempts.lock().unwrap().push(Instant::now());
        self.refuse
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
    }

    fn add(&self, request: ExportTraceServiceRequest, headers: Headers) {
        self.sizes.lock().unwrap().push(request.encoded_len());
        let mut spans = self.spans.lock().unwrap();
        for rs in request.resource_spans {
            let service = service_name(rs.resource.as_ref());
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        self.requests.lock().unwrap().push(headers);
    }

    fn add_logs(&self, request: ExportLogsServiceRequest, headers: Headers) {
        self.log_requests.lock().unwrap().push(headers);
        let mut logs = self.logs.lock().unwrap();
        for rl in request.resource_logs {
            let service = service_name(rl.resource.as_ref());
            for sl in rl.scope_logs {
                for record in sl.log_records {
                    logs.push((service.clone(), record));
                }
            }
        }
    }

    fn add_metrics(&self, request: ExportMetricsServiceRequest) {
        self.metrics.lock().unwrap().push(request);
    }

    /// The metric export requests received, as decoded.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.metrics.lock().unwrap().clone()
    }

    /// The log records received, with their service.
    pub fn logs(&self) -> Vec<(String, LogRecord)> {
        self.logs.lock().unwrap().clone()
    }

    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// The headers (gRPC metadata) of every span export request received.
    pub fn request_headers(&self) -> Vec<Headers> {
        self.requests.lock().unwrap().clone()
    }

    /// The value of header `name` on each span export request received.
    pub fn header_values(&self, name: &str) -> Vec<Option<String>> {
        self.request_headers()
            .iter()
            .map(|headers| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    /// The headers (gRPC metadata) of every log export request received.
    pub fn log_request_headers(&self) -> Vec<Headers> {
        self.log_requests.lock().unwrap().clone()
    }

    pub fn of_trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id() == trace_id)
            .collect()
    }

    /// Waits until `done` holds for the received spans (polling), at most `timeout`.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) || start.elapsed() > timeout {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[derive(Debug, Clone)]
struct Grpc(Store);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.0.refused() {
            return Err(tonic::Status::unavailable("refused by the test"));
        }
        let headers = headers_of(&request.metadata().clone().into_headers());
        self.0.add(request.into_inner(), headers);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.add_metrics(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let headers = headers_of(&request.metadata().clone().into_headers());
        self.0.add_logs(request.into_inner(), headers);
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running receiver; it stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    pub store: Store,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 (port 0, or `port` to come back on the
    /// same address after a restart), on a thread with its own runtime.
    pub fn start(protocol: Protocol, port: u16, store: Store) -> Receiver {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread_store = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async {
                    let _ = stop_rx.await;
                };
                match protocol {
                    Protocol::Grpc => {
                        let incoming = tokio_stream_from(listener);
                        let limit = thread_store.max_request_bytes.unwrap_or(4 * 1024 * 1024);
                        tonic::transport::Server::builder()
                            .add_service(
                                TraceServiceServer::new(Grpc(thread_store.clone()))
                                    .accept_compressed(CompressionEncoding::Gzip)
                                    .max_decoding_message_size(limit),
                            )
                            .add_service(
                                MetricsServiceServer::new(Grpc(thread_store.clone()))
                                    .accept_compressed(CompressionEncoding::Gzip)
                                    .max_decoding_message_size(limit),
                            )
                            .add_service(
                                LogsServiceServer::new(Grpc(thread_store))
                                    .accept_compressed(CompressionEncoding::Gzip)
                                    .max_decoding_message_size(limit),
                            )
                            .serve_with_incoming_shutdown(incoming, shutdown)
                            .await
                            .unwrap();
                    }
                    Protocol::Http => {
                        let app = axum::Router::new()
                            .route("/v1/traces", axum::routing::post(http_export))
                            .route("/v1/logs", axum::routing::post(http_export_logs))
                            .route("/v1/metrics", axum::routing::post(http_export_metrics))
                            .layer(axum::extract::DefaultBodyLimit::max(
                                thread_store.max_request_bytes.unwrap_or(64 * 1024 * 1024),
                            ))
                            .with_state(thread_store);
                        axum::serve(listener, app)
                            .with_graceful_shutdown(shutdown)
                            .await
                            .unwrap();
                    }
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Receiver {
            store,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The URL an exporter of `protocol` is given.
    pub fn endpoint(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Grpc => format!("http://{}", self.addr),
            Protocol::Http => format!("http://{}/v1/traces", self.addr),
        }
    }

    /// Stops the receiver and waits for it to be gone.
    pub fn stop(mut self) -> Store {
        self.shutdown();
        self.store.clone()
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

/// A request's headers (or gRPC metadata) as name/value pairs.
fn headers_of(headers: &axum::http::HeaderMap) -> Headers {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect()
}

/// The body, decompressed when it says it is gzip (as the crate and
/// collectors such as rotel send it).
fn gunzipped(
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::body::Bytes, axum::http::StatusCode> {
    match headers.get("content-encoding").map(|v| v.as_bytes()) {
        Some(b"gzip") => {
            use std::io::Read as _;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .map_err(|_| axum::http::StatusCode::BAD_REQUEST)?;
            Ok(axum::body::Bytes::from(out))
        }
        _ => Ok(body),
    }
}

async fn http_export(
    axum::extract::State(store): axum::extract::State<Store>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Vec<u8>, axum::response::Response> {
    use axum::response::IntoResponse as _;
    if store.refused() {
        let mut response = axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
        if let Some(seconds) = store.retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
        }
        return Err(response);
    }
    let body = gunzipped(&headers, body).map_err(|status| status.into_response())?;
    let request = ExportTraceServiceRequest::decode(body.clone()).map_err(|e| {
        eprintln!(
            "test receiver: undecodable /v1/traces body ({e}; {headers:?}; {} bytes)",
            body.len()
        );
        axum::http::StatusCode::BAD_REQUEST.into_response()
    })?;
    store.add(request, headers_of(&headers));
    Ok(ExportTraceServiceResponse {
        partial_success: None,
    }
    .encode_to_vec())
}

async fn http_export_metrics(
    axum::extract::State(store): axum::extract::State<Store>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Vec<u8>, axum::http::StatusCode> {
    if store.refused() {
        return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
    let body = gunzipped(&headers, body)?;
    let request = ExportMetricsServiceRequest::decode(body)
        .map_err(|_| axum::http::StatusCode::BAD_REQUEST)?;
    store.add_metrics(request);
    Ok(ExportMetricsServiceResponse {
        partial_success: None,
    }
    .encode_to_vec())
}

async fn http_export_logs(
    axum::extract::State(store): axum::extract::State<Store>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Vec<u8>, axum::http::StatusCode> {
    let body = gunzipped(&headers, body)?;
    let request =
        ExportLogsServiceRequest::decode(body).map_err(|_| axum::http::StatusCode::BAD_REQUEST)?;
    store.add_logs(request, headers_of(&headers));
    Ok(ExportLogsServiceResponse {
        partial_success: None,
    }
    .encode_to_vec())
}
