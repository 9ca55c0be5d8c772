//! A collector's answers are untrusted input: fake collectors on 127.0.0.1,
//! real HTTP/1.1 (OTLP/HTTP protobuf) and HTTP/2 (OTLP/gRPC) servers written
//! here with hyper, answer per a script with what a broken or hostile
//! collector can send: absurd throttling hints, partial successes larger than
//! the request, answers over the client's limit, answers trickled a byte a
//! second, endless answers, no answer at all. Each fake collector decodes
//! every request it receives and keeps its span names, so delivery is checked
//! from the receiver's side: nothing resent, nothing split, every span
//! accounted for (`exported + lost == emitted`), the export thread alive for
//! the next batch, memory bounded, shutdown clean.

mod common;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use common::ExportMessages;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::{ExportStats, ObservabilityBuilder, ObservabilityGuard};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http,
    Grpc,
}

/// A `Retry-After` header of a scripted refusal.
#[derive(Debug, Clone)]
enum Hint {
    Text(&'static str),
    /// An HTTP-date this many seconds from when the answer is sent.
    DateIn(i64),
}

/// One scripted answer.
#[derive(Debug, Clone)]
enum Reply {
    /// 200 / gRPC OK with an empty `ExportTraceServiceResponse`.
    Accept,
    /// 200 / gRPC OK with a partial success refusing `rejected_spans`.
    Partial(i64),
    /// HTTP only: this status, with this `Retry-After`.
    Status(u16, Option<Hint>),
    /// gRPC only: a trailers-only status (code, message, details).
    GrpcStatus(tonic::Code, &'static str, Bytes),
    /// 200 / gRPC OK with an answer of this many bytes (gRPC: one message).
    Huge(usize),
    /// 200 / gRPC response headers, then the answer one byte a second.
    Trickle,
    /// 200 / gRPC response headers, then bytes without end (gRPC: after a
    /// length prefix of 4 GiB).
    Endless,
    /// gRPC: the connection and its HTTP/2 handshake are made, the request
    /// read, and no answer ever comes.
    Silent,
}

/// One request, as the fake collector decoded it.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    names: Vec<String>,
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// Zeros, sent without end by [`Reply::Endless`] (no allocation per chunk).
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// A fake collector on 127.0.0.1:0; it stops when dropped.
struct Collector {
    protocol: Protocol,
    addr: SocketAddr,
    /// The export thread's messages before this collector had its port: a
    /// port is used again once free, so those may name it too.
    mark: usize,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    /// Answers the requests with `script` in order, then with [`Reply::Accept`].
    fn start(protocol: Protocol, script: Vec<Reply>) -> Collector {
        let state = Arc::new(State {
            script: Mutex::new(script.into()),
            ..State::default()
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let state = served.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(protocol, request).await) }
                    });
                    let io = TokioIo::new(stream);
                    tokio::spawn(async move {
                        let _ = match protocol {
                            Protocol::Http => {
                                hyper::server::conn::http1::Builder::new()
                                    .serve_connection(io, service)
                                    .await
                            }
                            Protocol::Grpc => {
                                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                    .serve_connection(io, service)
                                    .await
                            }
                        };
                    });
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Collector {
            protocol,
            addr,
            mark: ExportMessages::global().count(),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        match self.protocol {
            Protocol::Http => format!("http://{}/v1/traces", self.addr),
            Protocol::Grpc => format!("http://{}", self.addr),
        }
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// How many times each span name was received, over all requests.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.received() {
            for name in request.names {
                *counts.entry(name).or_default() += 1;
            }
        }
        counts
    }

    /// Every name of `emitted` was received exactly once, and nothing else.
    fn assert_received_once(&self, emitted: &[String], why: &str) {
        let counts = self.counts();
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            twice.is_empty(),
            "{why}: spans received more than once: {} of them (e.g. {:?}); {} requests",
            twice.len(),
            twice.iter().take(3).collect::<Vec<_>>(),
            self.received().len()
        );
        let mut got: Vec<&String> = counts.keys().collect();
        got.sort();
        let mut want: Vec<&String> = emitted.iter().collect();
        want.sort();
        assert_eq!(got, want, "{why}: the spans received");
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl State {
    async fn answer(
        &self,
        protocol: Protocol,
        request: http::Request<Incoming>,
    ) -> http::Response<Body> {
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        // gRPC: one message after its 5-byte prefix (flag 0: not compressed).
        let message = match protocol {
            Protocol::Http => body,
            Protocol::Grpc if body.len() >= 5 && body[0] == 0 => body.slice(5..),
            Protocol::Grpc => Bytes::new(),
        };
        let names = match ExportTraceServiceRequest::decode(message) {
            Ok(request) => request
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| &ss.spans)
                .map(|s| s.name.clone())
                .collect(),
            Err(e) => vec![format!("<undecodable request: {e}>")],
        };
        self.received.lock().unwrap().push(Received {
            at: Instant::now(),
            names,
        });
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::Accept);
        match protocol {
            Protocol::Http => http_reply(reply),
            Protocol::Grpc => grpc_reply(reply).await,
        }
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into()).boxed_unsync()
}

fn frames(frames: Vec<Frame<Bytes>>) -> Body {
    StreamBody::new(futures::stream::iter(frames.into_iter().map(Ok))).boxed_unsync()
}

/// `bytes` from the first one on, one a second, over and over (the first at once).
fn trickle(bytes: Vec<u8>) -> Body {
    let stream = futures::stream::unfold(0usize, move |i| {
        let byte = bytes[i % bytes.len()];
        async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Some((Ok(Frame::data(Bytes::copy_from_slice(&[byte]))), i + 1))
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

/// `first`, then zeros without end.
fn endless(first: Bytes) -> Body {
    let zeros = futures::stream::repeat_with(|| Ok(Frame::data(Bytes::from_static(&ZEROS))));
    let stream = futures::StreamExt::chain(
        futures::stream::once(async { Ok(Frame::data(first)) }),
        zeros,
    );
    StreamBody::new(stream).boxed_unsync()
}

fn partial(rejected: i64) -> Vec<u8> {
    ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: "refused by the fake collector".into(),
        }),
    }
    .encode_to_vec()
}

fn http_reply(reply: Reply) -> http::Response<Body> {
    let ok = |body: Body| {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .unwrap()
    };
    match reply {
        Reply::Accept => ok(full(ExportTraceServiceResponse::default().encode_to_vec())),
        Reply::Partial(rejected) => ok(full(partial(rejected))),
        Reply::Status(status, hint) => {
            let mut response = http::Response::builder().status(status);
            match hint {
                Some(Hint::Text(text)) => response = response.header("retry-after", text),
                Some(Hint::DateIn(seconds)) => {
                    let now = SystemTime::now();
                    let at = match seconds >= 0 {
                        true => now + Duration::from_secs(seconds as u64),
                        false => now - Duration::from_secs(seconds.unsigned_abs()),
                    };
                    response = response.header("retry-after", httpdate::fmt_http_date(at));
                }
                None => {}
            }
            response.body(full("busy")).unwrap()
        }
        Reply::Huge(n) => ok(full(vec![0u8; n])),
        Reply::Trickle => ok(trickle(partial(1))),
        Reply::Endless => ok(endless(Bytes::from_static(&ZEROS))),
        Reply::GrpcStatus(..) | Reply::Silent => panic!("not an HTTP answer: {reply:?}"),
    }
}

/// A gRPC message: its 5-byte prefix (not compressed, the length) and bytes.
fn grpc_message(bytes: &[u8]) -> Bytes {
    let mut out = vec![0u8];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    out.into()
}

fn grpc_ok_trailers() -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    trailers
}

async fn grpc_reply(reply: Reply) -> http::Response<Body> {
    let ok = |body: Body| {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(body)
            .unwrap()
    };
    let message = |bytes: Vec<u8>| {
        ok(frames(vec![
            Frame::data(grpc_message(&bytes)),
            Frame::trailers(grpc_ok_trailers()),
        ]))
    };
    match reply {
        Reply::Accept => message(ExportTraceServiceResponse::default().encode_to_vec()),
        Reply::Partial(rejected) => message(partial(rejected)),
        Reply::GrpcStatus(code, text, details) => {
            tonic::Status::with_details(code, text, details).into_http::<Body>()
        }
        Reply::Huge(n) => message(vec![0u8; n]),
        Reply::Trickle => ok(trickle(grpc_message(&partial(1)).to_vec())),
        // A length prefix of 4 GiB - 1, then zeros without end.
        Reply::Endless => ok(endless(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]))),
        Reply::Silent => futures::future::pending().await,
        Reply::Status(..) => panic!("not a gRPC answer: {reply:?}"),
    }
}

/// A `google.rpc.Status` whose details hold one `RetryInfo` of `seconds`
/// (as it goes on the wire: any `i64`, not what `RetryInfo::new` would clamp).
fn retry_info(seconds: i64) -> Bytes {
    use tonic_types::pb;
    let info = pb::RetryInfo {
        retry_delay: Some(prost_types::Duration { seconds, nanos: 0 }),
    };
    pb::Status {
        code: tonic::Code::Unavailable as i32,
        message: "busy".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
    .into()
}

/// Tests run in parallel; the one that measures the process's memory runs
/// alone (it takes this for writing, every other one for reading).
static MEMORY: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    MEMORY.read().unwrap_or_else(|e| e.into_inner())
}

/// A pipeline exporting to `collector`: only a flush exports (each batch is
/// one request), each request waits at most `request_timeout`, each export
/// at most `export_timeout`.
fn pipeline(
    collector: &Collector,
    request_timeout: Duration,
    export_timeout: Duration,
) -> ObservabilityGuard {
    ObservabilityBuilder::default()
        .env_vars([
            (
                "OTEL_BSP_EXPORT_TIMEOUT",
                export_timeout.as_millis().to_string(),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_string()),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1024".to_string()),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096".to_string()),
        ])
        .otlp_endpoint(collector.endpoint())
        .otlp_protocol(match collector.protocol {
            Protocol::Http => OtlpProtocol::HttpProtobuf,
            Protocol::Grpc => OtlpProtocol::Grpc,
        })
        .otlp_timeout(request_timeout)
        .shutdown_deadline(Duration::from_secs(10))
        .build()
        .expect("a pipeline")
}

/// Ends `n` spans named `{prefix}-{i}`; returns their names.
fn emit(guard: &ObservabilityGuard, prefix: &str, n: usize) -> Vec<String> {
    let tracer = guard.tracer_provider().unwrap().tracer("hostile");
    (0..n)
        .map(|i| {
            let name = format!("{prefix}-{i}");
            tracer.start(name.clone()).end();
            name
        })
        .collect()
}

/// Runs `f` on another thread and fails if it has not returned after
/// `limit` (a hang detector, far above the expected time; not a timing assertion).
fn must_return<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("it hung")
}

/// Whether `message` names the collector at `addr` (not one whose port
/// starts with the same digits).
fn mentions(message: &str, addr: SocketAddr) -> bool {
    let needle = addr.to_string();
    message
        .match_indices(&needle)
        .any(|(i, _)| !message[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// What the export thread said about `collector` (of the pipeline that
/// exports to it), with the level.
fn said(collector: &Collector) -> Vec<(tracing::Level, String)> {
    ExportMessages::global()
        .since(collector.mark)
        .into_iter()
        .filter(|(_, m)| mentions(m, collector.addr))
        .collect()
}

fn messages(collector: &Collector) -> Vec<String> {
    said(collector).into_iter().map(|(_, m)| m).collect()
}

fn warnings(collector: &Collector) -> Vec<String> {
    said(collector)
        .into_iter()
        .filter(|(level, _)| *level == tracing::Level::WARN)
        .map(|(_, m)| m)
        .collect()
}

/// Drops the guard (shutdown, with its deadline) and returns the summary it
/// printed, checked to be that of a shutdown that succeeded.
fn shut_down(guard: ObservabilityGuard, collector: &Collector, why: &str) -> String {
    must_return(Duration::from_secs(30), move || drop(guard));
    let summaries: Vec<String> = messages(collector)
        .into_iter()
        .filter(|m| m.contains(" exported to ") && m.contains(" during this run, "))
        // Feature `logs` adds the log records' own summary.
        .filter(|m| !m.contains("log record"))
        .collect();
    assert_eq!(
        summaries.len(),
        1,
        "{why}: one summary at shutdown: {summaries:?}"
    );
    let summary = summaries[0].clone();
    assert!(
        !summary.contains("Shutdown already invoked") && !summary.contains("; shutdown"),
        "{why}: the export thread was alive at shutdown, which succeeded: {summary}"
    );
    summary
}

fn assert_accounted(stats: ExportStats, emitted: usize, why: &str) {
    assert_eq!(
        stats.exported + stats.lost(),
        emitted as u64,
        "{why}: every span accounted for: {stats:?}"
    );
}

/// Runs `case` for each of `cases` on its own thread, all at once, and
/// reports every failure (with its case) before failing.
fn in_parallel<C: Send + std::fmt::Debug + Clone>(cases: Vec<C>, case: impl Fn(C) + Sync) {
    let case = &case;
    let failures: Vec<String> = std::thread::scope(|s| {
        let running: Vec<_> = cases
            .into_iter()
            .map(|c| {
                let label = format!("{c:?}");
                (label, s.spawn(move || case(c)))
            })
            .collect();
        running
            .into_iter()
            .filter_map(|(label, handle)| {
                handle.join().err().map(|panic| {
                    let text = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("{label}: {text}")
                })
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a refusal's hint should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Past any deadline: one attempt, the batch lost, said so.
    PastDeadline,
    /// No usable hint: the exporter's backoff, then success.
    Backoff,
    /// A `Retry-After` date ahead: one retry, after it.
    AfterTheDate,
}

/// A collector that answers with `refusal` (twice for [`Expect::Backoff`],
/// once otherwise), then accepts: the pipeline's first batch, then a second.
fn throttled(protocol: Protocol, refusal: Reply, expect: Expect, label: &str) {
    let _shared = shared();
    ExportMessages::global();
    let script = match expect {
        // Refused twice, then accepted.
        Expect::Backoff => vec![refusal.clone(), refusal],
        _ => vec![refusal],
    };
    let collector = Collector::start(protocol, script);
    let export_timeout = match expect {
        Expect::AfterTheDate => Duration::from_secs(10),
        _ => Duration::from_secs(3),
    };
    let guard = pipeline(&collector, Duration::from_secs(1), export_timeout);
    let first = emit(&guard, "first", 5);
    let (guard, flushed) = must_return(Duration::from_secs(30), move || {
        let flushed = guard.flush();
        (guard, flushed)
    });
    let stats = guard.export_stats();
    let attempts = collector.received();
    match expect {
        Expect::PastDeadline => {
            assert!(flushed.is_err(), "{label}: the batch is lost");
            assert_eq!(attempts.len(), 1, "{label}: not retried in this export");
            assert_eq!((stats.exported, stats.failed), (0, 5), "{label}: {stats:?}");
            let said = warnings(&collector);
            assert!(
                said.iter().any(|w| w.contains("asks to wait")
                    && w.contains("past this export's deadline")
                    && w.contains("not retried")),
                "{label}: the warning says the collector asks to wait past the deadline: {said:#?}"
            );
        }
        Expect::Backoff => {
            flushed.unwrap_or_else(|e| panic!("{label}: accepted after the backoff: {e}"));
            assert_eq!(attempts.len(), 3, "{label}: two refusals, then accepted");
            assert_eq!((stats.exported, stats.failed), (5, 0), "{label}: {stats:?}");
            let said = warnings(&collector);
            assert!(
                said.iter().all(|w| !w.contains("asks to wait")),
                "{label}: no wait the collector did not ask for: {said:#?}"
            );
        }
        Expect::AfterTheDate => {
            flushed.unwrap_or_else(|e| panic!("{label}: accepted after the wait: {e}"));
            assert_eq!(attempts.len(), 2, "{label}: one refusal, then accepted");
            let gap = attempts[1].at - attempts[0].at;
            assert!(
                gap >= Duration::from_secs(1),
                "{label}: the retry waited for the date: {gap:?}"
            );
            assert_eq!((stats.exported, stats.failed), (5, 0), "{label}: {stats:?}");
        }
    }
    // The export thread is alive: the next batch goes out (the collector
    // now accepts).
    let second = emit(&guard, "second", 5);
    let guard = must_return(Duration::from_secs(30), move || {
        guard
            .flush()
            .unwrap_or_else(|e| panic!("the next batch is exported: {e}"));
        guard
    });
    let stats = guard.export_stats();
    assert_accounted(stats, 10, label);
    assert_eq!(
        stats.exported,
        if expect == Expect::PastDeadline {
            5
        } else {
            10
        },
        "{label}: {stats:?}"
    );
    let summary = shut_down(guard, &collector, label);
    assert!(
        summary.starts_with(&format!("{} spans exported to", stats.exported)),
        "{label}: {summary}"
    );
    // Each span was received once (the refused ones too: a hint past the
    // deadline is not a reason to send them again).
    let mut all = first;
    all.extend(second);
    if expect == Expect::PastDeadline {
        collector.assert_received_once(&all, label);
    } else {
        let counts = collector.counts();
        let refused = attempts.len() - 1;
        for name in &all[..5] {
            assert_eq!(
                counts.get(name),
                Some(&(refused + 1)),
                "{label}: {name}: one attempt each"
            );
        }
        for name in &all[5..] {
            assert_eq!(counts.get(name), Some(&1), "{label}: {name}");
        }
    }
}

#[test]
fn http_retry_after_is_untrusted() {
    let hints: Vec<(Hint, Expect)> = vec![
        (Hint::Text("18446744073709551615"), Expect::PastDeadline),
        (Hint::Text("99999999999999999999999"), Expect::PastDeadline),
        (Hint::Text("-5"), Expect::Backoff),
        (Hint::Text("soon"), Expect::Backoff),
        (Hint::Text("1.5"), Expect::Backoff),
        // An HTTP-date has whole seconds: 3 s ahead is more than 2 s ahead.
        (Hint::DateIn(3), Expect::AfterTheDate),
        (Hint::DateIn(-3600), Expect::Backoff),
    ];
    let cases: Vec<(u16, Hint, Expect)> = [503, 429]
        .into_iter()
        .flat_map(|status| hints.iter().map(move |(h, e)| (status, h.clone(), *e)))
        .collect();
    in_parallel(cases, |(status, hint, expect)| {
        let label = format!("HTTP {status}, Retry-After {hint:?}");
        throttled(
            Protocol::Http,
            Reply::Status(status, Some(hint)),
            expect,
            &label,
        );
    });
}

#[test]
fn grpc_retry_info_is_untrusted() {
    use tonic_types::{ErrorDetails, StatusExt as _};
    // What `Status::with_error_details` puts on the wire (tonic-types clamps
    // a `RetryInfo` to about 10,000 years when it encodes one).
    let ten_thousand_years = tonic::Status::with_error_details(
        tonic::Code::Unavailable,
        "busy",
        ErrorDetails::with_retry_info(Some(Duration::from_secs(i64::MAX as u64))),
    )
    .details()
    .to_vec();
    let cases: Vec<(&str, Bytes, Expect)> = vec![
        ("i64::MAX s", retry_info(i64::MAX), Expect::PastDeadline),
        (
            "ErrorDetails::with_retry_info(i64::MAX s)",
            ten_thousand_years.into(),
            Expect::PastDeadline,
        ),
        ("-5 s", retry_info(-5), Expect::Backoff),
        ("i64::MIN s", retry_info(i64::MIN), Expect::Backoff),
    ];
    in_parallel(cases, |(label, details, expect)| {
        let label = format!("gRPC UNAVAILABLE, RetryInfo {label}");
        let refusal = Reply::GrpcStatus(tonic::Code::Unavailable, "busy", details);
        throttled(Protocol::Grpc, refusal, expect, &label);
    });
}

#[test]
fn a_partial_success_larger_than_the_request_is_bounded_by_it() {
    let cases: Vec<(Protocol, i64)> = [Protocol::Http, Protocol::Grpc]
        .into_iter()
        .flat_map(|p| [4611686018427387904, i64::MAX, -5, i64::MIN, 3].map(|r| (p, r)))
        .collect();
    in_parallel(cases, |(protocol, rejected)| {
        let _shared = shared();
        ExportMessages::global();
        let label = format!("{protocol:?}, rejected_spans {rejected}");
        let collector = Collector::start(protocol, vec![Reply::Partial(rejected); 2]);
        let guard = pipeline(&collector, Duration::from_secs(1), Duration::from_secs(3));
        let mut emitted = emit(&guard, "first", 5);
        let guard = must_return(Duration::from_secs(30), move || {
            // Accepted: a partial success is not an error of the export.
            guard.flush().unwrap_or_else(|e| panic!("accepted: {e}"));
            guard
        });
        emitted.extend(emit(&guard, "second", 5));
        let guard = must_return(Duration::from_secs(30), move || {
            guard.flush().unwrap_or_else(|e| panic!("accepted: {e}"));
            guard
        });
        let stats = guard.export_stats();
        let refused_each = rejected.clamp(0, 5) as u64;
        assert_eq!(
            (stats.exported, stats.failed),
            (10 - 2 * refused_each, 2 * refused_each),
            "{label}: at most the spans sent are refused, no wrap: {stats:?}"
        );
        assert_eq!(stats.exported + stats.failed, 10, "{label}: {stats:?}");
        assert_accounted(stats, 10, &label);
        if rejected > 5 {
            let said = warnings(&collector);
            assert!(
                said.iter()
                    .any(|w| w.contains(&format!("claimed {rejected} refused of the 5 sent"))),
                "{label}: the claim is reported as what it was: {said:#?}"
            );
        }
        shut_down(guard, &collector, &label);
        collector.assert_received_once(&emitted, &label);
    });
}

#[derive(Debug, Clone)]
enum Oversized {
    /// Accepted with an answer over the client's limit.
    Accepted(Protocol),
    /// grpc-go's refusal to *send* its own answer.
    GrpcCannotSendItsAnswer,
}

#[test]
fn answers_over_the_limit_never_split_a_batch() {
    const SPANS: usize = 301;
    let cases = vec![
        Oversized::Accepted(Protocol::Http),
        Oversized::Accepted(Protocol::Grpc),
        Oversized::GrpcCannotSendItsAnswer,
    ];
    in_parallel(cases, |case| {
        let _shared = shared();
        ExportMessages::global();
        let label = format!("{case:?}");
        let (protocol, reply) = match case {
            Oversized::Accepted(p) => (p, Reply::Huge(8 * 1024 * 1024)),
            Oversized::GrpcCannotSendItsAnswer => (
                Protocol::Grpc,
                Reply::GrpcStatus(
                    tonic::Code::ResourceExhausted,
                    "grpc: trying to send message larger than max (8388613 vs. 4194304)",
                    Bytes::new(),
                ),
            ),
        };
        let accepted = matches!(case, Oversized::Accepted(_));
        // Every request gets that answer.
        let collector = Collector::start(protocol, vec![reply; 4096]);
        let guard = pipeline(&collector, Duration::from_secs(2), Duration::from_secs(4));
        let emitted = emit(&guard, "big", SPANS);
        let (guard, flushed) = must_return(Duration::from_secs(30), move || {
            let flushed = guard.flush();
            (guard, flushed)
        });
        let stats = guard.export_stats();
        assert_eq!(
            collector.received().len(),
            1,
            "{label}: one request for the batch, not split"
        );
        collector.assert_received_once(&emitted, &label);
        assert_eq!(stats.too_large, 0, "{label}: {stats:?}");
        match accepted {
            true => {
                flushed.unwrap_or_else(|e| panic!("{label}: accepted: {e}"));
                assert_eq!(
                    (stats.exported, stats.failed),
                    (SPANS as u64, 0),
                    "{label}: {stats:?}"
                );
            }
            false => {
                assert!(flushed.is_err(), "{label}");
                assert_eq!(
                    (stats.exported, stats.failed),
                    (0, SPANS as u64),
                    "{label}: {stats:?}"
                );
            }
        }
        let said = warnings(&collector);
        assert!(
            said.iter()
                .all(|w| !w.contains("lower the attribute limits")),
            "{label}: no advice to shrink the spans: {said:#?}"
        );
        if accepted {
            let unread: Vec<_> = said.iter().filter(|w| w.contains("not read")).collect();
            assert_eq!(
                unread.len(),
                1,
                "{label}: one warning that the answer was not read: {said:#?}"
            );
            assert!(unread[0].contains("accepted"), "{label}: {}", unread[0]);
        } else {
            assert!(
                said.iter()
                    .any(|w| w.contains("ResourceExhausted") && w.contains("not retried")),
                "{label}: {said:#?}"
            );
        }
        assert_accounted(stats, SPANS, &label);
        shut_down(guard, &collector, &label);
    });
}

#[test]
fn a_trickled_answer_is_accepted_and_never_resent() {
    in_parallel(vec![Protocol::Http, Protocol::Grpc], |protocol| {
        let _shared = shared();
        ExportMessages::global();
        let label = format!("{protocol:?}");
        // Every request gets a trickled answer.
        let collector = Collector::start(protocol, vec![Reply::Trickle; 64]);
        let guard = pipeline(&collector, Duration::from_secs(1), Duration::from_secs(3));
        let mut emitted = emit(&guard, "slow", 20);
        let guard = must_return(Duration::from_secs(30), move || {
            guard.flush().unwrap_or_else(|e| panic!("accepted: {e}"));
            guard
        });
        emitted.extend(emit(&guard, "again", 20));
        let guard = must_return(Duration::from_secs(30), move || {
            guard.flush().unwrap_or_else(|e| panic!("accepted: {e}"));
            guard
        });
        let stats = guard.export_stats();
        assert_eq!(
            (stats.exported, stats.lost()),
            (40, 0),
            "{label}: {stats:?}"
        );
        assert_eq!(
            collector.received().len(),
            2,
            "{label}: one request per batch"
        );
        collector.assert_received_once(&emitted, &label);
        let said = warnings(&collector);
        let unread: Vec<_> = said
            .iter()
            .filter(|w| w.contains("did not arrive whole within"))
            .collect();
        assert_eq!(unread.len(), 1, "{label}: said once: {said:#?}");
        shut_down(guard, &collector, &label);
    });
}

#[test]
fn a_grpc_collector_that_never_answers_is_no_answer_not_a_lost_connection() {
    let _shared = shared();
    ExportMessages::global();
    let collector = Collector::start(Protocol::Grpc, vec![Reply::Silent; 64]);
    let guard = pipeline(
        &collector,
        Duration::from_millis(700),
        Duration::from_secs(2),
    );
    emit(&guard, "unanswered", 5);
    let guard = must_return(Duration::from_secs(30), move || {
        assert!(guard.flush().is_err(), "no answer");
        guard
    });
    let stats = guard.export_stats();
    assert_eq!((stats.exported, stats.failed), (0, 5), "{stats:?}");
    assert!(!collector.received().is_empty(), "the requests arrived");
    let said = warnings(&collector);
    assert!(
        said.iter().any(|w| w.contains("no answer within 700 ms")),
        "{said:#?}"
    );
    assert!(
        said.iter().all(|w| !w.contains("connection lost")),
        "{said:#?}"
    );
    assert_accounted(stats, 5, "silent");
    shut_down(guard, &collector, "silent");
}

/// The resident memory of this process, in bytes (Linux).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Runs `f` and returns, with its result, the most this process's resident
/// memory grew over what it was before, sampled every few milliseconds
/// (after `f` the allocator may have given a large buffer back already).
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = resident_bytes();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = before;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(resident_bytes());
                std::thread::sleep(Duration::from_millis(2));
            }
            peak.max(resident_bytes())
        });
        let out = f();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().unwrap();
        (out, peak.saturating_sub(before))
    })
}

#[test]
#[cfg(target_os = "linux")]
fn an_endless_answer_keeps_memory_bounded() {
    // Alone: no other test's pipeline changes this process's memory meanwhile.
    let _alone = MEMORY.write().unwrap_or_else(|e| e.into_inner());
    ExportMessages::global();
    for protocol in [Protocol::Http, Protocol::Grpc] {
        let collector = Collector::start(protocol, vec![Reply::Endless; 64]);
        let guard = pipeline(&collector, Duration::from_secs(2), Duration::from_secs(3));
        let emitted = emit(&guard, "endless", 50);
        let (guard, grown) = peak_growth(|| {
            must_return(Duration::from_secs(30), move || {
                guard.flush().unwrap_or_else(|e| panic!("accepted: {e}"));
                guard
            })
        });
        assert!(
            grown < 64 * 1024 * 1024,
            "{protocol:?}: the answer is not buffered: {} MiB more at the peak",
            grown / (1024 * 1024)
        );
        let stats = guard.export_stats();
        assert_eq!(
            (stats.exported, stats.lost()),
            (50, 0),
            "{protocol:?}: {stats:?}"
        );
        assert_eq!(
            collector.received().len(),
            1,
            "{protocol:?}: one request, not split"
        );
        collector.assert_received_once(&emitted, &format!("{protocol:?}"));
        shut_down(guard, &collector, &format!("{protocol:?}"));
        eprintln!(
            "{protocol:?}: an endless answer: {} KiB more at the peak",
            grown / 1024
        );
    }
}
