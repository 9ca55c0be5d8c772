//! An HTTP frontend calling a gRPC backend that calls a second gRPC service,
//! each a process of its own with its own `service.name`, all on 127.0.0.1:
//! `frontend (HTTP) -> inventory (gRPC) -> pricing (gRPC)`.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example grpc_chain --features grpc
//! ```
//!
//! It sends one request through the chain and prints the log lines of the
//! three services (each prefixed with its name): they carry one trace id.
//! Where spans go follows the usual `OTEL_*` variables (a local file per
//! service by default).
//!
//! Each gRPC server can also be started alone, and stays up until killed:
//!
//! ```text
//! cargo run --example grpc_chain --features grpc -- serve-backend 127.0.0.1:50051 [http://127.0.0.1:50052]
//! cargo run --example grpc_chain --features grpc -- serve-pricing 127.0.0.1:50052
//! ```
//!
//! `serve-backend` serves `demo.Inventory` (its `Check` asks the pricing
//! service named as its second argument, if any, for a quote), `serve-pricing`
//! serves `demo.Pricing`; both serve the standard `grpc.health.v1.Health`
//! beside it, and print `LISTENING http://<address>` once they accept calls.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};

use axum::extract::{MatchedPath, Path, State};
use axum::routing::get;
use axum::Router;
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::middleware::{
    GrpcClientLayer, GrpcClientService, GrpcServerLayer, ServerTraceLayer,
};
use distributed_tracing::ObservabilityBuilder;
use grpc_demo::inventory_client::InventoryClient;
use grpc_demo::inventory_server::{Inventory, InventoryServer};
use grpc_demo::pricing_client::PricingClient;
use grpc_demo::pricing_server::{Pricing, PricingServer};
use grpc_demo::{CheckReply, CheckRequest, QuoteReply, QuoteRequest, WatchRequest};
use tokio_stream::Stream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, instrument};

/// A tonic channel whose calls are traced (CLIENT spans, context in the metadata).
type Traced = GrpcClientService<Channel>;

/// A channel to `url`, traced.
fn channel(url: &str) -> Traced {
    let endpoint = Endpoint::from_shared(url.to_owned()).expect("a gRPC URL");
    let uri = endpoint.uri().clone();
    tower::ServiceBuilder::new()
        .layer(GrpcClientLayer::new().server(uri.host().unwrap_or_default(), uri.port_u16()))
        .service(endpoint.connect_lazy())
}

/// `demo.Inventory`: the stock of an item, and its price from the pricing
/// service when there is one.
struct Stock {
    pricing: Option<PricingClient<Traced>>,
}

/// The stock the example knows.
fn in_stock(item: &str) -> Option<u32> {
    match item {
        "widget" => Some(7),
        "gadget" => Some(0),
        _ => None,
    }
}

#[tonic::async_trait]
impl Inventory for Stock {
    #[instrument(skip_all, fields(item = %request.get_ref().item))]
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckReply>, Status> {
        let item = request.into_inner().item;
        info!("checking the stock");
        let Some(count) = in_stock(&item) else {
            return Err(Status::not_found(format!("no item {item:?}")));
        };
        let price_cents = match &self.pricing {
            Some(pricing) => {
                let quote = pricing
                    .clone()
                    .quote(QuoteRequest { item: item.clone() })
                    .await?;
                quote.into_inner().price_cents
            }
            None => 0,
        };
        info!(count, price_cents, "stock checked");
        Ok(Response::new(CheckReply {
            item,
            in_stock: count,
            trace_id: get_trace_id().unwrap_or_default(),
            price_cents,
        }))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<CheckReply, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let WatchRequest { item, count } = request.into_inner();
        let stock =
            in_stock(&item).ok_or_else(|| Status::not_found(format!("no item {item:?}")))?;
        let replies = (0..count).map(move |_| {
            // The stream runs in the call's trace: its log lines carry the id.
            info!("sending the stock");
            Ok(CheckReply {
                item: item.clone(),
                in_stock: stock,
                trace_id: get_trace_id().unwrap_or_default(),
                price_cents: 0,
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }

    type ChatStream = Pin<Box<dyn Stream<Item = Result<CheckReply, Status>> + Send>>;

    async fn chat(
        &self,
        request: Request<Streaming<CheckRequest>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        use tokio_stream::StreamExt as _;
        let replies = request.into_inner().map(|question| {
            let item = question?.item;
            Ok(CheckReply {
                in_stock: in_stock(&item).unwrap_or(0),
                item,
                trace_id: get_trace_id().unwrap_or_default(),
                price_cents: 0,
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// `demo.Pricing`.
struct Prices;

#[tonic::async_trait]
impl Pricing for Prices {
    #[instrument(skip_all, fields(item = %request.get_ref().item))]
    async fn quote(&self, request: Request<QuoteRequest>) -> Result<Response<QuoteReply>, Status> {
        info!("quoting");
        let price_cents = match request.get_ref().item.as_str() {
            "widget" => 1250,
            _ => 999,
        };
        Ok(Response::new(QuoteReply {
            price_cents,
            trace_id: get_trace_id().unwrap_or_default(),
        }))
    }
}

/// Serves `service` and the health service on `addr` until killed (SIGTERM
/// or Ctrl-C: then it returns, and the caller's guard flushes the spans);
/// prints `LISTENING http://<address>` once calls are accepted.
async fn serve_grpc<S>(addr: &str, name: &'static str, service: S)
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(name, tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    println!("LISTENING http://{}", listener.local_addr().unwrap());
    tonic::transport::Server::builder()
        .layer(GrpcServerLayer::new())
        .add_service(health)
        .add_service(service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            terminated(),
        )
        .await
        .expect("serve");
}

/// SIGTERM (what `kill` sends) or Ctrl-C.
async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// `GET /check/{item}` on the frontend: asks the inventory service.
#[instrument(skip(inventory))]
async fn check(
    State(inventory): State<InventoryClient<Traced>>,
    Path(item): Path<String>,
) -> String {
    info!("frontend asking the inventory");
    let answer = match inventory.clone().check(CheckRequest { item }).await {
        Ok(reply) => {
            let reply = reply.into_inner();
            format!(
                "{} in stock at {}.{:02}",
                reply.in_stock,
                reply.price_cents / 100,
                reply.price_cents % 100
            )
        }
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    };
    info!(answer = %answer, "frontend done");
    format!("{answer} (trace {})", get_trace_id().unwrap_or_default())
}

/// The body of `GET path` on `addr` (one HTTP/1.1 request on its own connection).
async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("answer");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or(response)
}

fn init(role: &str) -> distributed_tracing::ObservabilityGuard {
    ObservabilityBuilder::default()
        .service_name(role)
        .log_pattern(format!(
            "[{role:<9}] [{{trace_id}}] [{{level:<5}}] {{message}}{{fields}}"
        ))
        .init()
        .expect("observability")
}

/// Starts `args` as a child of this program; returns it with the URL it
/// prints. Its output is relayed line by line to ours.
fn start_child(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
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
    let arg = |i: usize| args.get(i).map(String::as_str);
    match arg(0) {
        Some("serve-pricing") => {
            let _guard = init("pricing");
            let addr = arg(1).unwrap_or("127.0.0.1:0");
            return serve_grpc(addr, "demo.Pricing", PricingServer::new(Prices)).await;
        }
        Some("serve-backend") => {
            let _guard = init("inventory");
            let addr = arg(1).unwrap_or("127.0.0.1:0");
            let pricing = arg(2).map(|url| PricingClient::new(channel(url)));
            return serve_grpc(
                addr,
                "demo.Inventory",
                InventoryServer::new(Stock { pricing }),
            )
            .await;
        }
        Some(other) => panic!("unknown command {other}: serve-backend or serve-pricing"),
        None => {}
    }

    // The whole chain: pricing and inventory as child processes, the HTTP
    // frontend here.
    let (mut pricing, pricing_url) = start_child(&["serve-pricing", "127.0.0.1:0"]);
    let (mut inventory, inventory_url) =
        start_child(&["serve-backend", "127.0.0.1:0", &pricing_url]);
    let guard = init("frontend");
    let app = Router::new()
        .route("/check/{item}", get(check))
        // Every request, 404s too; routes added after `layer` are not traced.
        .layer(
            ServerTraceLayer::new()
                .route_fn(|ext| ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())),
        )
        .with_state(InventoryClient::new(channel(&inventory_url)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frontend: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // The user's request: plain HTTP/1.1 without trace context, so the
    // frontend starts the trace.
    let answer = http_get(frontend, "/check/widget").await;
    println!("GET /check/widget -> {answer}");

    server.abort();
    drop(guard); // flushes the frontend's spans
    for child in [&mut inventory, &mut pricing] {
        // SIGTERM: the server stops and flushes its spans.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
    }
}
