//! A test service for the W3C Trace Context validation harness
//! (w3c/trace-context, `test/`), built on this crate as a user builds a service:
//! `init_observability`, `ServerTraceLayer` on the server, `ClientTraceMiddleware` on the
//! client.
//!
//! The harness POSTs a JSON array of `{"url": ..., "arguments": [...]}` to
//! `/test`; the service POSTs each element's `arguments` to its `url`, in
//! order, inside the request's trace, and answers `200` once all calls are made.
//!
//! ```text
//! cargo run --example w3c_test_service --features http-server,reqwest -- 127.0.0.1:5000
//! # in a checkout of w3c/trace-context, with aiohttp installed:
//! STRICT_LEVEL=2 python test/test.py http://127.0.0.1:5000/test
//! ```
//!
//! It prints `LISTENING <address>` once it accepts requests, and stays up until
//! killed. The `OTEL_*` variables apply as in any service using the crate.

use std::net::SocketAddr;

use axum::routing::post;
use axum::{Json, Router};
use distributed_tracing::init_observability;
use distributed_tracing::middleware::{ClientTraceMiddleware, ServerTraceLayer};
use serde_json::Value;

/// One instruction of the harness: POST `arguments` to `url`.
fn calls(body: &Value) -> Vec<(String, Value)> {
    let list = match body {
        Value::Array(list) => list.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    list.into_iter()
        .filter_map(|action| {
            let url = action.get("url")?.as_str()?.to_owned();
            let arguments = match action.get("arguments") {
                Some(Value::Null) | None => Value::Array(Vec::new()),
                Some(arguments) => arguments.clone(),
            };
            Some((url, arguments))
        })
        .collect()
}

async fn test(
    client: axum::extract::State<reqwest_middleware::ClientWithMiddleware>,
    Json(body): Json<Value>,
) -> http::StatusCode {
    for (url, arguments) in calls(&body) {
        let sent = client
            .post(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(arguments.to_string())
            .send()
            .await;
        if let Err(error) = sent {
            tracing::warn!(%url, %error, "callback failed");
        }
    }
    http::StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = init_observability()?;
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5000".into())
        .parse()?;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientTraceMiddleware::new())
        .build();
    let app = Router::new()
        .route("/test", post(test))
        .with_state(client)
        .layer(ServerTraceLayer::new());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("LISTENING {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
