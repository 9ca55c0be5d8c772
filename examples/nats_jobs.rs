//! A background job across processes through a broker: a `web` service queues
//! the confirmation e-mail of each order as a NATS JetStream message, a
//! `worker` process (a child of this program) consumes it from a durable pull
//! consumer and sends the e-mail in the order's trace.
//!
//! It needs a NATS server with JetStream (`nats-server -js`); run it with:
//!
//! ```text
//! NATS_URL=nats://127.0.0.1:4222 cargo run --example nats_jobs --features nats,reqwest
//! ```
//!
//! It sends two orders and prints the log lines of both processes (each
//! prefixed with its `service.name`), then stops once the worker has sent both
//! e-mails. The worker's lines carry the trace id of the request that queued
//! the job (your ids differ):
//!
//! ```text
//! [web     ] [f2287709384dea4825ec45baaf7779b2] [INFO ] order accepted order=1 job=jobs.email stream_sequence=1
//! POST /orders -> order 1 accepted (trace f2287709384dea4825ec45baaf7779b2)
//! [web     ] [1bd9590b6a4157f0ee91e3c9191c029b] [INFO ] order accepted order=2 job=jobs.email stream_sequence=2
//! POST /orders -> order 2 accepted (trace 1bd9590b6a4157f0ee91e3c9191c029b)
//! [worker  ] [f2287709384dea4825ec45baaf7779b2] [INFO ] sending the confirmation e-mail order=1 delivered=1
//! [worker  ] [f2287709384dea4825ec45baaf7779b2] [ERROR] the mail server refused the e-mail, the job goes back to the queue reason=421 try again later
//! [worker  ] [1bd9590b6a4157f0ee91e3c9191c029b] [INFO ] sending the confirmation e-mail order=2 delivered=1
//! [worker  ] [1bd9590b6a4157f0ee91e3c9191c029b] [INFO ] confirmation e-mail sent
//! [worker  ] [f2287709384dea4825ec45baaf7779b2] [INFO ] sending the confirmation e-mail order=1 delivered=2
//! [worker  ] [f2287709384dea4825ec45baaf7779b2] [INFO ] confirmation e-mail sent
//! ...
//! the worker sent 2 e-mails
//! ```
//!
//! The spans: the request's SERVER span, its PRODUCER span `publish jobs.email`
//! and, in the worker, a CONSUMER span `process jobs.email` per delivery (the
//! first delivery of order 1 is refused: an error, and the job comes back),
//! each a child of the PRODUCER span. With `DT_JOBS_TRUST=link` the worker
//! trusts messages no more than an edge service trusts requests
//! (`Trust::NewTraceWithLink`): each delivery is a trace of its own whose
//! CONSUMER span links to the PRODUCER span, and the worker's lines carry that
//! new trace id. Where spans go follows the usual `OTEL_*` variables (a local
//! file per service by default).
//!
//! `nats_jobs worker [count]` runs the worker alone (until it has sent `count`
//! e-mails, else forever).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream, AckKind};
use axum::extract::{MatchedPath, State};
use axum::routing::post;
use axum::Router;
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::messaging::{nats, Messaging};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::opentelemetry::trace::FutureExt as _;
use distributed_tracing::propagation::Trust;
use distributed_tracing::ObservabilityBuilder;
use futures::StreamExt as _;
use tracing::{error, info, instrument};

/// The stream that keeps the jobs, its subjects, and the worker's durable
/// consumer.
const STREAM: &str = "JOBS";
const SUBJECT: &str = "jobs.email";
const CONSUMER: &str = "email-workers";

#[derive(Clone)]
struct Web {
    jetstream: jetstream::Context,
    messaging: Messaging,
    orders: Arc<AtomicU32>,
}

/// `POST /orders`: accepts the order and queues its confirmation e-mail, in
/// the request's trace (the PRODUCER span is a child of the SERVER span).
async fn order(State(web): State<Web>) -> String {
    let n = web.orders.fetch_add(1, Ordering::Relaxed) + 1;
    let queued = nats::publish_jetstream(
        &web.jetstream,
        &web.messaging,
        SUBJECT,
        async_nats::HeaderMap::new(),
        format!("order {n}").into(),
    )
    .await;
    let trace = get_trace_id().unwrap_or_default();
    match queued {
        Ok(ack) => {
            info!(
                order = n,
                job = SUBJECT,
                stream_sequence = ack.sequence,
                "order accepted"
            );
            format!("order {n} accepted (trace {trace})")
        }
        Err(e) => {
            error!(order = n, error = %e, "the job could not be queued");
            format!("order {n} failed: {e} (trace {trace})")
        }
    }
}

/// The `web` service on 127.0.0.1 until `stop` is notified; calls `ready`
/// with its URL.
async fn serve_web(
    jetstream: jetstream::Context,
    messaging: Messaging,
    stop: Arc<tokio::sync::Notify>,
    ready: impl FnOnce(String),
) {
    let web = Web {
        jetstream,
        messaging,
        orders: Arc::new(AtomicU32::new(0)),
    };
    let router = Router::new()
        .route("/orders", post(order))
        .layer(
            ServerTraceLayer::new()
                .route_fn(|ext| ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())),
        )
        .with_state(web);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ready(format!("http://{}", listener.local_addr().unwrap()));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.notified().await })
        .await
        .unwrap();
}

/// The worker: takes the jobs from the durable consumer, each in a CONSUMER
/// span (continuing or linking to its publisher's trace, as `DT_JOBS_TRUST`
/// says), until it has sent `count` e-mails.
async fn work(jetstream: jetstream::Context, messaging: Messaging, count: Option<usize>) {
    let consumer = jobs_consumer(&jetstream, false).await;
    let mut jobs = consumer.messages().await.expect("the jobs");
    let mut sent = 0;
    while count.is_none_or(|c| sent < c) {
        let Some(job) = jobs.next().await else { break };
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                error!(error = %e, "no job");
                continue;
            }
        };
        // A span per delivery: a redelivered job gets a new CONSUMER span
        // with the same parent (or link).
        let processing = nats::process_jetstream(&messaging, &job);
        let order = String::from_utf8_lossy(&job.payload).into_owned();
        let delivered = job.info().map(|i| i.delivered).unwrap_or(1);
        let result = async {
            info!(order = %order.trim_start_matches("order "), delivered, "sending the confirmation e-mail");
            send_mail(&order, delivered).await
        }
        .with_context(processing.context())
        .await;
        match result {
            Ok(()) => {
                let _ = job.ack().await;
                processing.end(Ok(()));
                sent += 1;
            }
            Err(reason) => {
                // Back to the queue: the server delivers it again shortly.
                let _ = job
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(100))))
                    .await;
                processing.end_with_error_type(&reason, "mail_refused");
            }
        }
    }
}

/// Sends the e-mail of `order`; the mail server refuses the first delivery
/// of order 1.
#[instrument(skip(order))]
async fn send_mail(order: &str, delivered: i64) -> Result<(), &'static str> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if order == "order 1" && delivered == 1 {
        error!(
            reason = "421 try again later",
            "the mail server refused the e-mail, the job goes back to the queue"
        );
        return Err("421 try again later");
    }
    info!("confirmation e-mail sent");
    Ok(())
}

/// The stream of jobs and the worker's durable pull consumer (explicit acks:
/// a job not acked is delivered again). `fresh`: the consumer made anew,
/// delivering only the jobs published from now on (a run of this example
/// does not see an earlier run's jobs; a real service keeps its consumer).
async fn jobs_consumer(
    jetstream: &jetstream::Context,
    fresh: bool,
) -> jetstream::consumer::Consumer<pull::Config> {
    let jobs = jetstream
        .get_or_create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["jobs.>".into()],
            max_age: Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .expect("the JOBS stream (is JetStream on? `nats-server -js`)");
    let config = pull::Config {
        durable_name: Some(CONSUMER.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        deliver_policy: jetstream::consumer::DeliverPolicy::New,
        filter_subject: SUBJECT.into(),
        ..Default::default()
    };
    if fresh {
        let _ = jobs.delete_consumer(CONSUMER).await;
    }
    jobs.get_or_create_consumer(CONSUMER, config)
        .await
        .expect("the worker's consumer")
}

/// `DT_JOBS_TRUST`: what the worker does with a job's trace context.
fn trust() -> Trust {
    match std::env::var("DT_JOBS_TRUST").as_deref() {
        Err(_) | Ok("" | "continue") => Trust::Continue,
        Ok("link") => Trust::NewTraceWithLink,
        Ok("ignore") => Trust::Ignore,
        Ok(other) => panic!("DT_JOBS_TRUST={other}: continue, link or ignore"),
    }
}

fn init(role: &'static str) -> distributed_tracing::ObservabilityGuard {
    ObservabilityBuilder::default()
        .service_name(role)
        .log_pattern(format!(
            "[{role:<8}] [{{trace_id}}] [{{level:<5}}] {{message}}{{fields}}"
        ))
        .init()
        .expect("observability")
}

/// The NATS server of `NATS_URL` (default `nats://127.0.0.1:4222`).
async fn connect() -> async_nats::Client {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    match async_nats::connect(&url).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!(
                "no NATS server at {url} ({e}): start one (`nats-server -js`) or set NATS_URL"
            );
            std::process::exit(2);
        }
    }
}

/// Starts `worker <count>` as a child; its output is relayed line by line to
/// ours.
fn start_worker(count: usize) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["worker", &count.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the worker");
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("{line}");
        }
    });
    child
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        let count = args.get(1).map(|c| c.parse().expect("a count of e-mails"));
        // Connected first: async-nats' own start-up lines stay out of the log.
        let client = connect().await;
        let _guard = init("worker");
        let messaging = nats::messaging(&client).trust(trust());
        work(jetstream::new(client), messaging, count).await;
        return;
    }

    const ORDERS: usize = 2;
    let client = connect().await;
    let jetstream = jetstream::new(client.clone());
    // The consumer exists before the first job: the jobs wait in the stream
    // until the worker takes them.
    jobs_consumer(&jetstream, true).await;
    let mut worker = start_worker(ORDERS);
    let guard = init("web");
    let stop = Arc::new(tokio::sync::Notify::new());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let web = tokio::spawn(serve_web(
        jetstream,
        nats::messaging(&client),
        stop.clone(),
        move |url| {
            let _ = tx.send(url);
        },
    ));
    let url = rx.await.unwrap();

    // The user's requests: a plain client, so the web service starts the traces.
    let plain = reqwest::Client::new();
    for _ in 0..ORDERS {
        let answer = plain
            .post(format!("{url}/orders"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        println!("POST /orders -> {answer}");
    }

    // The worker exits once it has sent every e-mail.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            let _ = worker.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.notify_one();
    let _ = web.await;
    drop(guard);
    match status {
        Some(status) if status.success() => println!("the worker sent {ORDERS} e-mails"),
        other => {
            eprintln!("the worker did not finish its jobs: {other:?}");
            std::process::exit(1);
        }
    }
}
