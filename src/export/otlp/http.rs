//! OTLP/HTTP with protobuf bodies (hyper): one POST a request, gzip when
//! configured, the answer's headers within the deadline and its body within
//! what is left, at most `MAX_RESPONSE_BYTES`; what the answer means is
//! decided by [`answers`](super::answers).

use std::time::Duration;

use prost::bytes::Bytes;

use super::{answers, tls, Reply, MAX_RESPONSE_BYTES};
use super::{error_chain, too_long_answer, unfinished_answer};
use crate::export::Failure;

/// The OTLP/HTTP client (HTTP/1.1; no redirect is ever followed, so the
/// headers and their API keys never go to a host the user did not name).
pub(super) type HttpClient =
    hyper_util::client::legacy::Client<tls::Recording, http_body_util::Full<Bytes>>;

pub(super) async fn send_http(
    client: &HttpClient,
    url: &http::Uri,
    headers: &http::HeaderMap,
    body: Bytes,
    gzip: bool,
    timeout: Duration,
) -> Result<Reply, Failure> {
    use http_body_util::BodyExt as _;
    let mut request = http::Request::post(url.clone());
    if let Some(h) = request.headers_mut() {
        *h = headers.clone();
    }
    request = request.header(http::header::CONTENT_TYPE, "application/x-protobuf");
    let body = match gzip {
        true => {
            request = request.header(http::header::CONTENT_ENCODING, "gzip");
            Bytes::from(gzipped(&body))
        }
        false => body,
    };
    let request = request
        .body(http_body_util::Full::new(body))
        .map_err(|e| Failure::Transport(e.to_string()))?;
    let started = tokio::time::Instant::now();
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| Failure::TimedOut(timeout))?
        .map_err(|e| match tls::handshake_failure(&e) {
            Some(reason) => Failure::Tls(reason),
            None if e.is_connect() => Failure::Unreachable(error_chain(&e)),
            // The connection broke (a collector restarting closes its
            // keep-alive connections): worth another try.
            None => Failure::Interrupted(error_chain(&e)),
        })?;
    let status = response.status();
    if !status.is_success() {
        // The body of a refusal is not read (nothing in it changes what
        // happens); the connection is closed with it.
        let hint = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| answers::retry_after(v.as_bytes(), std::time::SystemTime::now()));
        return Err(answers::http_failure(status.as_u16(), hint));
    }
    // Accepted: the collector has the spans whatever happens to the rest of
    // its answer, so the request is never sent again from here on.
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    let read = async {
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| format!("its answer broke off ({})", error_chain(&e)))?;
            if let Ok(chunk) = frame.into_data() {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(too_long_answer());
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(())
    };
    let left = timeout.saturating_sub(started.elapsed());
    Ok(match tokio::time::timeout(left, read).await {
        Ok(Ok(())) => Reply::Body(body),
        Ok(Err(why)) => Reply::Unread(why),
        Err(_) => Reply::Unread(unfinished_answer(timeout)),
    })
}

/// `body` compressed with gzip (the default level).
pub(super) fn gzipped(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    // Writing into a `Vec` cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}
