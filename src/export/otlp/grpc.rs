//! OTLP/gRPC (tonic): the already-encoded request sent through a raw codec on
//! a server-streaming call, so that the response headers say the collector
//! handled it; the answer at most `MAX_RESPONSE_BYTES`; what a status means is
//! decided by [`answers`](super::answers).

use std::time::Duration;

use prost::bytes::{BufMut as _, Bytes};

use super::{answers, Reply, MAX_RESPONSE_BYTES};
use super::{error_chain, tls, too_long_answer, unfinished_answer};
use crate::export::Failure;

pub(super) async fn send_grpc(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    metadata: &tonic::metadata::MetadataMap,
    path: &'static str,
    body: Bytes,
    timeout: Duration,
) -> Result<Reply, Failure> {
    let started = tokio::time::Instant::now();
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| match tls::handshake_failure(&e) {
                Some(reason) => Failure::Tls(reason),
                None => Failure::Unreachable(error_chain(&e)),
            })?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = metadata.clone();
        // `grpc-timeout` holds at most 8 digits of its unit: tonic panics
        // past 99,999,999 hours (a timeout variable set to u64::MAX ms).
        request.set_timeout(timeout.min(MAX_GRPC_TIMEOUT));
        // A unary call, its answer read as a stream: the call returns when
        // the response headers arrive, so that what comes after them is told
        // apart from a refusal.
        grpc.server_streaming(
            request,
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| answers::grpc_failure(status, timeout))
    };
    let mut answer = match tokio::time::timeout(timeout, call).await {
        Ok(answer) => answer?,
        Err(_) => return Err(Failure::TimedOut(timeout)),
    };
    // Response headers without a status (a refusal comes trailers-only, as
    // tonic and grpc-go send it): the collector handled the request and is
    // sending its answer. A status in the trailers still decides; an answer
    // that cannot be read (larger than MAX_RESPONSE_BYTES, trickled past the
    // deadline) leaves the request accepted, never sent again.
    let read = async {
        let mut body = Vec::new();
        while let Some(message) = answer.message().await? {
            if body.is_empty() {
                body = message;
            }
        }
        answer.trailers().await?;
        Ok::<_, tonic::Status>(body)
    };
    let left = timeout.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, read).await {
        Ok(Ok(body)) => Ok(Reply::Body(body)),
        // tonic's own limit on the answer (`max_decoding_message_size`).
        Ok(Err(status)) if status.message().starts_with(TONIC_DECODE_LIMIT) => {
            Ok(Reply::Unread(too_long_answer()))
        }
        Ok(Err(status)) => Err(answers::grpc_failure(status, timeout)),
        Err(_) => Ok(Reply::Unread(unfinished_answer(timeout))),
    }
}

/// How tonic words its own refusal of a message over the decoding limit.
pub(super) const TONIC_DECODE_LIMIT: &str = "Error, decoded message length too large";

/// A gRPC codec that sends already-encoded bytes and returns the answer's bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf as _;
        let n = src.remaining().min(MAX_RESPONSE_BYTES);
        let out = src.copy_to_bytes(n).to_vec();
        src.advance(src.remaining());
        Ok(Some(out))
    }
}

/// The longest `grpc-timeout` sent: 99,999,999 seconds (over three years),
/// what the header's 8 digits hold in seconds.
const MAX_GRPC_TIMEOUT: Duration = Duration::from_secs(99_999_999);
