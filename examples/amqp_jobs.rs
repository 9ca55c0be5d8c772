//! A background job across processes through RabbitMQ: a `web` service queues
//! the confirmation e-mail of each order as a persistent message on the
//! durable queue `jobs.email` (through the default exchange), a `worker`
//! process (a child of this program) consumes it with manual acks and sends
//! the e-mail in the order's trace. The NATS version is `nats_jobs`.
//!
//! It needs a RabbitMQ broker (user `guest`, password `guest`, allowed from
//! the address used); run it with:
//!
//! ```text
//! AMQP_HOST=127.0.0.1 AMQP_PORT=5672 cargo run --example amqp_jobs --features amqp,reqwest
//! ```
//!
//! It sends two orders and prints the log lines of both processes (each
//! prefixed with its `service.name`), then stops once the worker has sent both
//! e-mails. The worker's lines carry the trace id of the request that queued
//! the job (your ids differ):
//!
//! ```text
//! [web     ] [b2fd1d39efdfbd286e09f36b95c95f48] [INFO ] order accepted order=1 job=jobs.email message_id=order-1
//! POST /orders -> order 1 accepted (trace b2fd1d39efdfbd286e09f36b95c95f48)
//! [web     ] [f6387b40b77e35d6605c90b2c696505b] [INFO ] order accepted order=2 job=jobs.email message_id=order-2
//! POST /orders -> order 2 accepted (trace f6387b40b77e35d6605c90b2c696505b)
//! [worker  ] [b2fd1d39efdfbd286e09f36b95c95f48] [INFO ] sending the confirmation e-mail order=1 redelivered=false
//! [worker  ] [b2fd1d39efdfbd286e09f36b95c95f48] [ERROR] the mail server refused the e-mail, the job goes back to the queue reason=421 try again later
//! [worker  ] [b2fd1d39efdfbd286e09f36b95c95f48] [INFO ] sending the confirmation e-mail order=1 redelivered=true
//! [worker  ] [b2fd1d39efdfbd286e09f36b95c95f48] [INFO ] confirmation e-mail sent
//! [worker  ] [f6387b40b77e35d6605c90b2c696505b] [INFO ] sending the confirmation e-mail order=2 redelivered=false
//! [worker  ] [f6387b40b77e35d6605c90b2c696505b] [INFO ] confirmation e-mail sent
//! ...
//! the worker sent 2 e-mails
//! ```
//!
//! The spans: the request's SERVER span, its PRODUCER span `publish jobs.email`
//! and, in the worker, a CONSUMER span `process jobs.email` per delivery (the
//! first delivery of order 1 is refused: an error, a nack with requeue, and
//! the job comes back, ahead of order 2: a requeued message keeps its place
//! at the head of the queue), each a child of the PRODUCER span. With
//! `DT_JOBS_TRUST=link` the worker trusts messages no more than an edge
//! service trusts requests (`Trust::NewTraceWithLink`): each delivery is a
//! trace of its own whose CONSUMER span links to the PRODUCER span, and the
//! worker's lines carry that new trace id. Where spans go follows the usual
//! `OTEL_*` variables (a local file per service by default).
//!
//! The queue is purged at the start, so that a run never sees an earlier
//! run's jobs (a real service keeps them). `amqp_jobs worker [count]` runs
//! the worker alone (until it has sent `count` e-mails, else forever).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicNackArguments, BasicPublishArguments,
    BasicQosArguments, Channel, QueueDeclareArguments, QueuePurgeArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::BasicProperties;
use axum::extract::{MatchedPath, State};
use axum::routing::post;
use axum::Router;
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::messaging::{amqp, Messaging};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::opentelemetry::trace::FutureExt as _;
use distributed_tracing::propagation::Trust;
use distributed_tracing::ObservabilityBuilder;
use tracing::{error, info, instrument};

/// The durable queue of the jobs (published through the default exchange,
/// its name the routing key).
const QUEUE: &str = "jobs.email";

#[derive(Clone)]
struct Web {
    channel: Channel,
    messaging: Messaging,
    orders: Arc<AtomicU32>,
}

/// `POST /orders`: accepts the order and queues its confirmation e-mail, in
/// the request's trace (the PRODUCER span is a child of the SERVER span).
async fn order(State(web): State<Web>) -> String {
    let n = web.orders.fetch_add(1, Ordering::Relaxed) + 1;
    let message_id = format!("order-{n}");
    // Persistent (delivery mode 2): the job outlives a restart of the broker.
    let properties = BasicProperties::default()
        .with_message_id(&message_id)
        .with_delivery_mode(2)
        .finish();
    let queued = amqp::publish(
        &web.channel,
        &web.messaging,
        properties,
        format!("order {n}").into_bytes(),
        BasicPublishArguments::new("", QUEUE),
    )
    .await;
    let trace = get_trace_id().unwrap_or_default();
    match queued {
        Ok(()) => {
            info!(order = n, job = QUEUE, message_id, "order accepted");
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
    channel: Channel,
    messaging: Messaging,
    stop: Arc<tokio::sync::Notify>,
    ready: impl FnOnce(String),
) {
    let web = Web {
        channel,
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

/// The worker: takes the jobs from the queue (manual acks, one at a time),
/// each in a CONSUMER span (continuing or linking to its publisher's trace,
/// as `DT_JOBS_TRUST` says), until it has sent `count` e-mails.
async fn work(channel: &Channel, messaging: Messaging, count: Option<usize>) {
    declare(channel).await;
    channel
        .basic_qos(BasicQosArguments::new(0, 1, false))
        .await
        .expect("the worker's prefetch");
    let (_tag, mut jobs) = channel
        .basic_consume_rx(BasicConsumeArguments::new(QUEUE, "email-worker"))
        .await
        .expect("consume the jobs");
    let mut sent = 0;
    while count.is_none_or(|c| sent < c) {
        let Some(job) = jobs.recv().await else { break };
        let (Some(deliver), Some(properties), Some(content)) =
            (job.deliver, job.basic_properties, job.content)
        else {
            error!("an incomplete delivery");
            continue;
        };
        // A span per delivery: a redelivered job gets a new CONSUMER span
        // with the same parent (or link).
        let processing = amqp::process(&messaging, QUEUE, &deliver, &properties, content.len());
        let order = String::from_utf8_lossy(&content).into_owned();
        let redelivered = deliver.redelivered();
        let result = async {
            info!(order = %order.trim_start_matches("order "), redelivered, "sending the confirmation e-mail");
            send_mail(&order, redelivered).await
        }
        .with_context(processing.context())
        .await;
        let tag = deliver.delivery_tag();
        match result {
            Ok(()) => {
                let _ = channel.basic_ack(BasicAckArguments::new(tag, false)).await;
                processing.end(Ok(()));
                sent += 1;
            }
            Err(reason) => {
                // Back to the queue (requeue): RabbitMQ delivers it again,
                // marked redelivered.
                let _ = channel
                    .basic_nack(BasicNackArguments::new(tag, false, true))
                    .await;
                processing.end_with_error_type(&reason, "mail_refused");
            }
        }
    }
}

/// Sends the e-mail of `order`; the mail server refuses the first delivery
/// of order 1.
#[instrument(skip(order))]
async fn send_mail(order: &str, redelivered: bool) -> Result<(), &'static str> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if order == "order 1" && !redelivered {
        error!(
            reason = "421 try again later",
            "the mail server refused the e-mail, the job goes back to the queue"
        );
        return Err("421 try again later");
    }
    info!("confirmation e-mail sent");
    Ok(())
}

/// The durable queue of the jobs.
async fn declare(channel: &Channel) {
    channel
        .queue_declare(QueueDeclareArguments::durable_client_named(QUEUE))
        .await
        .expect("the jobs.email queue");
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

/// The broker of `AMQP_HOST` and `AMQP_PORT` (default `127.0.0.1:5672`), as
/// `guest`: the connection, a channel, and the messaging instrumentation
/// naming that broker.
async fn connect() -> (Connection, Channel, Messaging) {
    let host = std::env::var("AMQP_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = match std::env::var("AMQP_PORT") {
        Ok(port) => port.parse().expect("AMQP_PORT: a port number"),
        Err(_) => 5672,
    };
    let arguments = OpenConnectionArguments::new(&host, port, "guest", "guest");
    let connection = match Connection::open(&arguments).await {
        Ok(connection) => connection,
        Err(e) => {
            eprintln!(
                "no RabbitMQ at {host}:{port} ({e}): start one or set AMQP_HOST and AMQP_PORT"
            );
            std::process::exit(2);
        }
    };
    let channel = connection.open_channel(None).await.expect("a channel");
    let messaging = amqp::messaging().server(host, Some(port));
    (connection, channel, messaging)
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
        let (connection, channel, messaging) = connect().await;
        let _guard = init("worker");
        work(&channel, messaging.trust(trust()), count).await;
        let _ = channel.close().await;
        let _ = connection.close().await;
        return;
    }

    const ORDERS: usize = 2;
    let (connection, channel, messaging) = connect().await;
    // The queue exists before the first job (the jobs wait in it until the
    // worker takes them), without an earlier run's jobs.
    declare(&channel).await;
    channel
        .queue_purge(QueuePurgeArguments::new(QUEUE))
        .await
        .expect("purge the jobs.email queue");
    let mut worker = start_worker(ORDERS);
    let guard = init("web");
    let stop = Arc::new(tokio::sync::Notify::new());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let web = tokio::spawn(serve_web(
        channel.clone(),
        messaging,
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
    let _ = channel.close().await;
    let _ = connection.close().await;
    drop(guard);
    match status {
        Some(status) if status.success() => println!("the worker sent {ORDERS} e-mails"),
        other => {
            eprintln!("the worker did not finish its jobs: {other:?}");
            std::process::exit(1);
        }
    }
}
