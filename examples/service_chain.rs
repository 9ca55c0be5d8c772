//! Three services talking to each other, each exporting under its own
//! `service.name`: `frontend -> backend -> worker`, all on 127.0.0.1, each a
//! separate process (this program starts the other two as children of itself).
//!
//! Run it with:
//!
//! ```text
//! cargo run --example service_chain --features reqwest
//! ```
//!
//! It sends one request through the chain and prints the log lines of all
//! three services (each prefixed with its name): they carry one trace id. Then
//! it sends an order, whose confirmation e-mail is a background job with a trace
//! of its own, linked to the order's (its first attempt fails: an error in that
//! trace). Where spans go follows the usual
//! `OTEL_*` variables (a local file per service by default). At exit it prints
//! each route's request count, errors and p50/p99 latency, read back from the
//! metrics files the three services exported (in the default set-up; with an
//! OTLP endpoint they went to the collector, and it says so).
//!
//! `service_chain serve <frontend|backend|worker> <next service URL or ->`
//! runs one service alone; it prints `LISTENING <url>` once it accepts requests
//! and stops on `GET /shutdown`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, State};
use axum::routing::{get, post};
use axum::Router;
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::middleware::{ClientTraceMiddleware, ServerTraceLayer};
use distributed_tracing::{spawn_background_job, ObservabilityBuilder};
use reqwest_middleware::ClientWithMiddleware;
use tracing::{error, info, instrument};

#[derive(Clone)]
struct App {
    role: &'static str,
    next: Option<String>,
    client: ClientWithMiddleware,
    shutdown: Arc<tokio::sync::Notify>,
}

/// `GET /checkout` (frontend), `/price` (backend), `/stock` (worker): each logs
/// and calls the next service.
#[instrument(skip(app), fields(service = app.role))]
async fn work(State(app): State<App>) -> String {
    info!("{} handling the request", app.role);
    let answer = match (&app.next, app.role) {
        (Some(next), "frontend") => call(app.client.get(format!("{next}/price"))).await,
        (Some(next), "backend") => call(app.client.get(format!("{next}/stock"))).await,
        _ => "in stock".to_string(),
    };
    info!(answer = %answer, "{} done", app.role);
    match app.role {
        "frontend" => format!("{answer} (trace {})", get_trace_id().unwrap_or_default()),
        _ => answer,
    }
}

/// Sends a call to the next service; its answer, or why it failed.
async fn call(request: reqwest_middleware::RequestBuilder) -> String {
    match request.send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(e) => format!("call failed: {e}"),
    }
}

/// `POST /orders`: the frontend forwards the order; the backend accepts it and
/// queues the confirmation e-mail as a background job in a trace of its own.
async fn order(State(app): State<App>) -> String {
    info!("{} received an order", app.role);
    match (&app.next, app.role) {
        (Some(next), "frontend") => call(app.client.post(format!("{next}/orders"))).await,
        _ => {
            let job = spawn_background_job("send_confirmation", async {
                info!("sending the confirmation e-mail (background job)");
                // The mail server refuses the first attempt: an error in the
                // job's trace (a span event, the attempt's status an error).
                for attempt in 1..=2 {
                    if send_mail(attempt).await.is_ok() {
                        break;
                    }
                }
            });
            let _ = job.await;
            "order accepted".to_string()
        }
    }
}

/// One attempt at sending the confirmation e-mail; the first is refused.
#[instrument]
async fn send_mail(attempt: u32) -> Result<(), &'static str> {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    if attempt == 1 {
        error!(
            reason = "421 try again later",
            "the mail server refused the e-mail"
        );
        return Err("refused");
    }
    info!("confirmation e-mail sent");
    Ok(())
}

async fn shutdown(State(app): State<App>) -> &'static str {
    app.shutdown.notify_one();
    "bye"
}

/// Serves one role until `GET /shutdown`; calls `ready` with its address.
async fn serve(role: &'static str, next: Option<String>, ready: impl FnOnce(SocketAddr)) {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientTraceMiddleware::default())
        .build();
    let app = App {
        role,
        next,
        client,
        shutdown: Arc::new(tokio::sync::Notify::new()),
    };
    let stop = app.shutdown.clone();
    let router = Router::new()
        .route("/checkout", get(work))
        .route("/price", get(work))
        .route("/stock", get(work))
        .route("/orders", post(order))
        // Every request, 404s too; routes added after `layer` are not traced.
        .layer(
            ServerTraceLayer::new()
                .route_fn(|ext| ext.get::<MatchedPath>().map(|p| p.as_str().to_owned()))
                // The caller's address (`network.peer.*`, `client.address`):
                // axum puts it in the request when served with connect info.
                .peer_fn(|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)),
        )
        .route("/shutdown", get(shutdown))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ready(listener.local_addr().unwrap());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.notified().await })
    .await
    .unwrap();
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

fn role(name: &str) -> &'static str {
    match name {
        "frontend" => "frontend",
        "backend" => "backend",
        "worker" => "worker",
        other => panic!("unknown role {other}: frontend, backend or worker"),
    }
}

/// Starts `serve <role> <next>` as a child; returns it with its URL. Its
/// output is relayed line by line to ours.
fn start_child(role: &str, next: &str) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["serve", role, next])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start a service");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the service to start").unwrap();
        if let Some(url) = line.strip_prefix("LISTENING ") {
            break url.to_string();
        }
        println!("{line}");
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("{line}");
        }
    });
    (child, url)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let role = role(args.get(1).map(String::as_str).unwrap_or("worker"));
        let next = args.get(2).filter(|n| *n != "-").cloned();
        let _guard = init(role);
        serve(role, next, |addr| println!("LISTENING http://{addr}")).await;
        return;
    }

    // The whole chain: worker and backend as child processes, frontend here.
    let (mut worker, worker_url) = start_child("worker", "-");
    let (mut backend, backend_url) = start_child("backend", &worker_url);
    let guard = init("frontend");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let frontend = tokio::spawn(serve("frontend", Some(backend_url.clone()), move |addr| {
        let _ = tx.send(addr);
    }));
    let frontend_url = format!("http://{}", rx.await.unwrap());

    // The user's requests: a plain client, so the frontend starts the traces.
    let plain = reqwest::Client::new();
    let answer = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().text().await.unwrap()
    };
    let checkout = answer(plain.get(format!("{frontend_url}/checkout"))).await;
    println!("GET /checkout -> {checkout}");
    let order = answer(plain.post(format!("{frontend_url}/orders"))).await;
    println!("POST /orders -> {order}");

    for url in [&backend_url, &worker_url, &frontend_url] {
        let _ = plain.get(format!("{url}/shutdown")).send().await;
    }
    let _ = frontend.await;
    let _ = backend.wait();
    let _ = worker.wait();
    let metrics = guard.config().metrics.exporter.clone();
    // The guard's drop exports the frontend's last collection; the other two
    // did at their exit.
    drop(guard);
    print_request_metrics(&metrics);
}

/// Each service's routes with their count, errors and p50/p99, from the
/// metrics files as exported (the last collection of each: cumulative).
fn print_request_metrics(exporter: &distributed_tracing::config::MetricsExporter) {
    use distributed_tracing::config::MetricsExporter;
    use distributed_tracing::metrics::{HistogramPoint, Instrument, Temporality};
    let MetricsExporter::File(frontend) = exporter else {
        println!("request metrics: exported as configured ({exporter:?}), not read back here");
        return;
    };
    println!("request metrics (read back from the metrics files)");
    println!(
        "{:<9} {:<29} {:<24} {:>5} {:>6} {:>8} {:>8}",
        "service", "metric", "route", "count", "errors", "p50 ms", "p99 ms"
    );
    for service in ["frontend", "backend", "worker"] {
        let path = frontend.with_file_name(format!("{service}.metrics.jsonl"));
        let Ok(reader) = distributed_tracing::otlp_file::read_metrics(&path) else {
            println!("{service:<9} (no metrics file at {})", path.display());
            continue;
        };
        // Cumulative: the last line holds everything; delta: every line adds.
        let mut rows: Vec<(Instrument, String, HistogramPoint, u64)> = Vec::new();
        let batches: Vec<_> = reader.filter_map(Result::ok).collect();
        let cumulative = batches.last().is_some_and(|b| {
            b.histograms
                .iter()
                .all(|h| h.temporality == Temporality::Cumulative)
        });
        let used = match cumulative {
            true => &batches[batches.len().saturating_sub(1)..],
            false => &batches[..],
        };
        for histogram in used.iter().flat_map(|b| &b.histograms) {
            for point in &histogram.points {
                let text = |k: &str| point.attribute(k).map(|v| v.to_string());
                let route = match histogram.instrument {
                    Instrument::HttpServer => format!(
                        "{} {}",
                        text("http.request.method").unwrap_or_default(),
                        text("http.route").unwrap_or_else(|| "(no route)".into())
                    ),
                    Instrument::HttpClient => format!(
                        "{} {}",
                        text("http.request.method").unwrap_or_default(),
                        text("server.address").unwrap_or_default()
                    ),
                    _ => text("rpc.method").unwrap_or_default(),
                };
                let errors = match point.attribute("error.type") {
                    Some(_) => point.count,
                    None => 0,
                };
                match rows
                    .iter_mut()
                    .find(|(i, r, ..)| *i == histogram.instrument && *r == route)
                {
                    Some((_, _, merged, e)) => {
                        merged.merge(point);
                        *e += errors;
                    }
                    None => rows.push((histogram.instrument, route, point.clone(), errors)),
                }
            }
        }
        for (instrument, route, point, errors) in rows {
            let ms = |q: f64| point.quantile(q).map_or(f64::NAN, |s| s * 1000.0);
            println!(
                "{service:<9} {:<29} {route:<24} {:>5} {errors:>6} {:>8.1} {:>8.1}",
                instrument.name(),
                point.count,
                ms(0.5),
                ms(0.99)
            );
        }
    }
}
