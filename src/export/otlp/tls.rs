//! TLS connections of the OTLP exporters: the connector both transports
//! (tonic for gRPC, hyper for HTTP) use with the `rustls::ClientConfig` of
//! [`config::tls`](crate::config::tls) (the trusted roots, the client certificate of mutual
//! TLS), and the reasons a handshake fails, in words.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;

/// Why a connection failed, when TLS is the reason: the rustls error found
/// in `error`'s causes, in words, with what to change.
pub(crate) fn handshake_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = as_rustls(e) {
            return Some(explain(tls));
        }
        if let Some(reason) = alert_in_text(e) {
            return Some(reason);
        }
        next = e.source();
    }
    None
}

/// The rustls error `e` is, or that an `io::Error` carries, however deeply
/// (`io::Error::source` skips the error it wraps, so a plain walk of the
/// causes misses it; hyper-rustls wraps tokio-rustls's `io::Error` in another).
fn as_rustls<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// The alert's name in an I/O error that h2 rebuilt from rustls's words.
fn alert_in_text(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let io = e.downcast_ref::<std::io::Error>()?;
    let text = io.get_ref()?.to_string();
    let name = text.strip_prefix(ALERT_RECEIVED)?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then(|| explain_alert(name))
}

/// A TLS alert from the server, by its name (`CertificateRequired`), in words.
fn explain_alert(alert: &str) -> String {
    match alert {
        "CertificateRequired" => "the server requires a client certificate, and none is configured (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)".into(),
        "BadCertificate" | "UnknownCA" | "CertificateUnknown" | "UnsupportedCertificate"
        | "CertificateExpired" | "CertificateRevoked" | "AccessDenied" => {
            format!("the server refused the client certificate (TLS alert {alert})")
        }
        other => format!("the server ended the handshake (TLS alert {other})"),
    }
}

/// The prefix of rustls's words for an alert from the peer, which is all h2
/// keeps of an I/O error (it rebuilds errors from their kind and text).
const ALERT_RECEIVED: &str = "received fatal alert: ";

fn explain(error: &rustls::Error) -> String {
    use rustls::{CertificateError as Cert, Error};
    match error {
        Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "the server's certificate is not signed by a trusted CA (give the CA that signed it in OTEL_EXPORTER_OTLP_CERTIFICATE)".into(),
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for the endpoint's host name".into()
            }
            Cert::Expired | Cert::ExpiredContext { .. } => "the server's certificate has expired".into(),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clocks)".into()
            }
            Cert::Revoked => "the server's certificate is revoked".into(),
            other => format!("the server's certificate is refused ({other:?})"),
        },
        Error::AlertReceived(alert) => explain_alert(&format!("{alert:?}")),
        Error::InvalidMessage(
            rustls::InvalidMessage::CertificatePayloadTooLarge
            | rustls::InvalidMessage::HandshakePayloadTooLarge
            | rustls::InvalidMessage::MessageTooLarge,
        ) => "the server's handshake message is larger than a TLS client accepts (a certificate chain of more than 64 KiB?)".into(),
        Error::InvalidMessage(_) => {
            "the server did not answer in TLS (a plain-text endpoint? then use http://)".into()
        }
        other => format!("TLS: {other}"),
    }
}

/// The latest TLS failure on an exporter's connections, for the errors that
/// lose it: with TLS 1.3 a server refuses a client certificate after the
/// client's side of the handshake is done, so the alert comes on a read,
/// and h2 (gRPC) rebuilds its I/O errors from their text.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFailures(Arc<std::sync::Mutex<Option<String>>>);

impl TlsFailures {
    fn record(&self, error: &std::io::Error) {
        if let Some(reason) = handshake_failure(error) {
            self.note(reason);
        }
    }

    fn note(&self, reason: String) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(reason);
        }
    }

    /// `config`'s client certificate resolver, noting when a server asks for
    /// a certificate and none is configured (the server's refusal may come
    /// too late for the request to see it).
    pub(crate) fn watch(&self, config: &mut rustls::ClientConfig) {
        config.client_auth_cert_resolver = Arc::new(NotingResolver {
            inner: config.client_auth_cert_resolver.clone(),
            failures: self.clone(),
        });
    }

    /// The failure recorded since the last call, if any.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok()?.take()
    }
}

/// The configured client certificate resolver, noting the requests it cannot answer.
#[derive(Debug)]
struct NotingResolver {
    inner: Arc<dyn rustls::client::ResolvesClientCert>,
    failures: TlsFailures,
}

impl rustls::client::ResolvesClientCert for NotingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let resolved = self.inner.resolve(root_hint_subjects, sigschemes);
        if resolved.is_none() {
            self.failures.note(explain_alert("CertificateRequired"));
        }
        resolved
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// How long a new mutual-TLS 1.3 connection waits for the server to accept
/// the client certificate (a session ticket, or its first bytes) before it is
/// used anyway: servers that send neither cost this once per connection.
const CONFIRM_WAIT: Duration = Duration::from_millis(500);

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type HttpsStream = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;

/// The connector of the OTLP transports: TCP, then TLS with `config` for an
/// `https://` URL (`http2`: ALPN `h2`, for gRPC), its connections recording
/// their TLS failures in `failures`.
pub(crate) fn connector(
    mut config: rustls::ClientConfig,
    tcp: hyper_util::client::legacy::connect::HttpConnector,
    http2: bool,
    failures: &TlsFailures,
) -> Recording {
    let confirm = config.client_auth_cert_resolver.has_certs().then(|| {
        let tickets = Arc::new(AtomicU64::new(0));
        config.resumption = rustls::client::Resumption::store(Arc::new(CountingStore {
            inner: rustls::client::ClientSessionMemoryCache::new(32),
            tickets: tickets.clone(),
        }));
        tickets
    });
    failures.watch(&mut config);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    let inner = match http2 {
        #[cfg(feature = "otlp-grpc")]
        true => builder.enable_http2().wrap_connector(tcp),
        _ => builder.enable_http1().wrap_connector(tcp),
    };
    Recording {
        inner,
        failures: failures.clone(),
        confirm,
    }
}

/// The session store of a mutual-TLS client, counting the TLS 1.3 session
/// tickets received: a server sends them once it has accepted the client's
/// certificate.
#[derive(Debug)]
struct CountingStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: Arc<AtomicU64>,
}

impl rustls::client::ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets.fetch_add(1, Ordering::AcqRel);
        self.inner.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

/// A connector whose connections record their TLS failures.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    inner: Https,
    failures: TlsFailures,
    /// With a client certificate: the session tickets received so far.
    confirm: Option<Arc<AtomicU64>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<http::Uri> for Recording {
    type Response = Recorded;
    type Error = BoxError;
    type Future = BoxFuture<Result<Recorded, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let failures = self.failures.clone();
        let confirm = self.confirm.clone();
        Box::pin(async move {
            let mut io = connecting.await?;
            let prefix = match confirm {
                Some(tickets) => match confirmed(&mut io, &tickets).await {
                    Ok(prefix) => prefix,
                    Err(e) => {
                        let reason = handshake_failure(&e).unwrap_or_else(|| {
                            format!("the server closed the connection on receiving the client certificate: it does not accept it ({e})")
                        });
                        failures.note(reason.clone());
                        return Err(std::io::Error::other(reason).into());
                    }
                },
                None => Vec::new(),
            };
            Ok(Recorded {
                io,
                prefix,
                failures,
            })
        })
    }
}

/// Waits, on a new TLS 1.3 connection that sent a client certificate, for
/// the server to accept it (a session ticket, or its first bytes: returned,
/// to be read first) or refuse it (an alert, or the connection closed): with
/// TLS 1.3 the refusal comes after the client's side of the handshake, and
/// a server that resets the connection at once can make it vanish under a
/// request ("connection closed"). After [`CONFIRM_WAIT`], it is used as is.
async fn confirmed(io: &mut HttpsStream, tickets: &AtomicU64) -> std::io::Result<Vec<u8>> {
    let tls13 = match &*io {
        hyper_rustls::MaybeHttpsStream::Https(tls) => {
            tls.inner().get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
        }
        hyper_rustls::MaybeHttpsStream::Http(_) => false,
    };
    if !tls13 {
        return Ok(Vec::new());
    }
    let before = tickets.load(Ordering::Acquire);
    let mut buf = vec![0u8; 16 * 1024];
    let probe = std::future::poll_fn(|cx| {
        let mut read = hyper::rt::ReadBuf::new(&mut buf);
        match hyper::rt::Read::poll_read(Pin::new(&mut *io), cx, read.unfilled()) {
            Poll::Ready(Ok(())) if read.filled().is_empty() => {
                Poll::Ready(Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)))
            }
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().to_vec())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if tickets.load(Ordering::Acquire) != before => {
                Poll::Ready(Ok(Vec::new()))
            }
            Poll::Pending => Poll::Pending,
        }
    });
    tokio::time::timeout(CONFIRM_WAIT, probe)
        .await
        .unwrap_or(Ok(Vec::new()))
}

/// A connection that records the TLS failures of its reads and writes.
#[derive(Debug)]
pub(crate) struct Recorded {
    io: HttpsStream,
    /// Bytes the server sent while the connection was confirmed.
    prefix: Vec<u8>,
    failures: TlsFailures,
}

impl Recorded {
    fn seen<R>(&self, result: Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        if let Poll::Ready(Err(e)) = &result {
            self.failures.record(e);
        }
        result
    }
}

impl hyper::rt::Read for Recorded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.drain(..n);
            return Poll::Ready(Ok(()));
        }
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        this.seen(result)
    }
}

impl hyper::rt::Write for Recorded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.seen(result)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.seen(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_shutdown(cx);
        this.seen(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.seen(result)
    }
}

impl hyper_util::client::legacy::connect::Connection for Recorded {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.io.connected()
    }
}
