//! TLS for the export tests: certificates made in the test (rcgen) and a
//! TLS-terminating proxy on 127.0.0.1 in front of a plain receiver, as a
//! load balancer or a collector's TLS listener stands in front of the
//! collector in production.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate authority made for one test.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), valid
    /// for a server or a client: (certificate PEM, key PEM).
    pub fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        self.leaf_with(names, purpose, |_| {})
    }

    /// A leaf certificate as [`leaf`](Self::leaf), `adjust`ed (its validity, say).
    pub fn leaf_with(
        &self,
        names: &[&str],
        purpose: ExtendedKeyUsagePurpose,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![purpose];
        adjust(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The files of one test: a CA the exporter trusts, another it does not,
/// the server's certificate (for `localhost` and `127.0.0.1`), a client
/// certificate from the client CA, and one from an unknown CA.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
    server: (String, String),
    misnamed: (String, String),
    expired: (String, String),
    client_ca: String,
}

/// The certificate the server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// For `localhost` and `127.0.0.1`, from the trusted CA.
    Localhost,
    /// From the trusted CA, for another name (`collector.example`).
    OtherName,
    /// From the trusted CA, for `localhost`, expired yesterday.
    Expired,
    /// For `localhost`, followed by 1,000 copies of the CA's certificate: a
    /// chain of about half a megabyte, larger than a TLS client takes.
    HugeChain,
}

impl Pki {
    pub fn new(label: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "distributed-tracing-tls-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let server_ca = Ca::new("server CA");
        let client_ca = Ca::new("client CA");
        let other = Ca::new("another CA");
        let server = server_ca.leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let misnamed = server_ca.leaf(&["collector.example"], ExtendedKeyUsagePurpose::ServerAuth);
        let expired = server_ca.leaf_with(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            |params| {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                let yesterday =
                    std::time::SystemTime::now() - std::time::Duration::from_secs(86400);
                params.not_after = yesterday.into();
            },
        );
        let client = client_ca.leaf(&["exporter"], ExtendedKeyUsagePurpose::ClientAuth);
        let stranger = other.leaf(&["exporter"], ExtendedKeyUsagePurpose::ClientAuth);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", &server_ca.pem),
            other_ca: write("other-ca.pem", &other.pem),
            client_cert: write("client.pem", &client.0),
            client_key: write("client-key.pem", &client.1),
            stranger_cert: write("stranger.pem", &stranger.0),
            stranger_key: write("stranger-key.pem", &stranger.1),
            server,
            misnamed,
            expired,
            client_ca: client_ca.pem,
            dir,
        }
    }

    /// The server's certificate and key as files (for a real collector).
    pub fn server_files(&self) -> (PathBuf, PathBuf) {
        let cert = self.dir.join("server.pem");
        let key = self.dir.join("server-key.pem");
        std::fs::write(&cert, &self.server.0).unwrap();
        std::fs::write(&key, &self.server.1).unwrap();
        (cert, key)
    }

    /// The client CA as a file (for a real collector's `client_ca_file`).
    pub fn client_ca_file(&self) -> PathBuf {
        let path = self.dir.join("client-ca.pem");
        std::fs::write(&path, &self.client_ca).unwrap();
        path
    }

    /// The server side: this PKI's server certificate; with
    /// `require_client_cert`, only clients with a certificate of the client CA.
    fn server_config(&self, served: Served, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match require_client_cert {
            true => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(self.client_ca.as_bytes()) {
                    roots.add(cert.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            false => builder.with_no_client_auth(),
        };
        let (cert, key) = match served {
            Served::Localhost | Served::HugeChain => &self.server,
            Served::OtherName => &self.misnamed,
            Served::Expired => &self.expired,
        };
        let mut chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        if served == Served::HugeChain {
            let ca = std::fs::read(&self.ca).unwrap();
            let ca = CertificateDer::pem_slice_iter(&ca).next().unwrap().unwrap();
            chain.extend(std::iter::repeat_n(ca, 1000));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS-terminating proxy on 127.0.0.1: TLS in, the plain bytes to
/// `upstream`. It records every handshake's outcome.
pub struct TlsProxy {
    pub addr: SocketAddr,
    handshakes: Arc<Mutex<Vec<Result<(), String>>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsProxy {
    pub fn start(
        pki: &Pki,
        upstream: SocketAddr,
        served: Served,
        require_client_cert: bool,
    ) -> TlsProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(
            pki.server_config(served, require_client_cert),
        ));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = handshakes.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(mut tls) => {
                            seen.lock().unwrap().push(Ok(()));
                            if let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                            }
                        }
                        Err(e) => seen.lock().unwrap().push(Err(e.to_string())),
                    }
                });
            }
        });
        TlsProxy {
            addr,
            handshakes,
            runtime: Some(runtime),
        }
    }

    /// The handshakes so far: `Ok`, or the server's reason for refusing.
    pub fn handshakes(&self) -> Vec<Result<(), String>> {
        self.handshakes.lock().unwrap().clone()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `path` as a string for an environment variable.
pub fn var(path: &Path) -> String {
    path.display().to_string()
}
