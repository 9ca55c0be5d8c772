//! The TLS files of the OTLP exporters, read and checked where the
//! configuration names them, and the `rustls::ClientConfig` they make (rustls,
//! the `ring` crypto provider): the trusted roots (the system's, or the CA file
//! the user names) and the client certificate of mutual TLS.
//!
//! One `rustls::ClientConfig` per exporter, built from [`OtlpTls`]. The
//! provider is passed explicitly, never taken from the process default, so a
//! service whose other crates bring another provider (aws-lc-rs) gets the
//! same behaviour.
//!
//! Files are read with a size bound (a path to `/dev/zero` or a log file
//! must not grow memory), must be regular files (a FIFO would block), and
//! their content is never shown: an error names the setting, the path and
//! what is wrong.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::exporters::TlsNames as Names;
use super::OtlpTls;

/// The most a certificate or key file may hold. A system bundle of every
/// public CA (`/etc/ssl/certs/ca-certificates.crt`) is about 220 KB.
const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

/// The names of the three settings when their sources are no longer known
/// (the exporter built from an [`OtlpTls`] given in code).
pub(crate) const FIELD_NAMES: Names = Names {
    certificate: "the CA certificate file",
    client_certificate: "the client certificate file",
    client_key: "the client key file",
};

/// A certificate or key setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFileError {
    /// The variable (or builder method) that names the file.
    pub(crate) setting: &'static str,
    /// The path it names.
    pub(crate) path: PathBuf,
    /// What is wrong, without the file's content.
    pub(crate) reason: String,
}

impl fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.setting,
            self.path.display(),
            self.reason
        )
    }
}

/// The client configuration for `tls`, trusting the CA file when one is
/// given, else the system's roots (none at all is reported by the
/// configuration: every handshake would fail).
pub(crate) fn client_config(
    tls: &OtlpTls,
    names: Names,
) -> Result<rustls::ClientConfig, TlsFileError> {
    configured(tls, names, true)
}

/// Checks the files `tls` names (readable, PEM, a key that matches its
/// certificate) without loading the system's roots.
pub(crate) fn check(tls: &OtlpTls, names: Names) -> Result<(), TlsFileError> {
    configured(tls, names, false).map(drop)
}

/// A configuration that trusts nothing, for the connector of a plain-text
/// endpoint (which never uses it).
pub(crate) fn unused_config() -> Result<rustls::ClientConfig, TlsFileError> {
    configured(&OtlpTls::default(), FIELD_NAMES, false)
}

/// `tls`'s configuration; without a CA file, the system's roots when
/// `system` says so, else none.
fn configured(
    tls: &OtlpTls,
    names: Names,
    system: bool,
) -> Result<rustls::ClientConfig, TlsFileError> {
    let roots = match &tls.certificate {
        Some(path) => ca_roots(path, names.certificate)?,
        None if system => system_roots().store.clone(),
        None => RootCertStore::empty(),
    };
    build(tls, names, roots)
}

fn build(
    tls: &OtlpTls,
    names: Names,
    roots: RootCertStore,
) -> Result<rustls::ClientConfig, TlsFileError> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsFileError {
        setting: names.certificate,
        path: PathBuf::new(),
        reason: format!("the TLS provider: {e}"),
    })?
    .with_root_certificates(roots);
    match (&tls.client_certificate, &tls.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), None) => Err(TlsFileError {
            setting: names.client_certificate,
            path: cert.clone(),
            reason: format!(
                "a client certificate needs its key: {} is not set",
                names.client_key
            ),
        }),
        (None, Some(key)) => Err(TlsFileError {
            setting: names.client_key,
            path: key.clone(),
            reason: format!(
                "a client key needs its certificate: {} is not set",
                names.client_certificate
            ),
        }),
        (Some(cert_path), Some(key_path)) => {
            let chain = certificates(cert_path, names.client_certificate)?;
            let key = private_key(key_path, names.client_key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsFileError {
                    setting: names.client_key,
                    path: key_path.clone(),
                    reason: match e {
                        rustls::Error::InconsistentKeys(_) => format!(
                            "this key does not belong to the certificate of {} ({})",
                            names.client_certificate,
                            cert_path.display()
                        ),
                        // rustls's words name the kind of key, never its bytes.
                        other => format!("the key cannot be used: {other}"),
                    },
                })
        }
    }
}

/// The CA certificates of a PEM file, as the only trusted roots.
fn ca_roots(path: &Path, setting: &'static str) -> Result<RootCertStore, TlsFileError> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certificates(path, setting)?);
    if added == 0 {
        return Err(TlsFileError {
            setting,
            path: path.to_owned(),
            reason: format!("none of its {ignored} certificates can be used as a CA"),
        });
    }
    Ok(roots)
}

/// The certificates of a PEM file (at least one).
fn certificates(
    path: &Path,
    setting: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let error = |reason: String| TlsFileError {
        setting,
        path: path.to_owned(),
        reason,
    };
    let bytes = read_bounded(path).map_err(error)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("not a valid PEM file ({})", pem_problem(&e))))?;
    if certs.is_empty() {
        return Err(error(
            "no certificate in it (expected PEM blocks: -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path, setting: &'static str) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let error = |reason: String| TlsFileError {
        setting,
        path: path.to_owned(),
        reason,
    };
    let bytes = read_bounded(path).map_err(error)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => error(
            "no private key in it (expected PEM: -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)"
                .into(),
        ),
        other => error(format!("not a valid PEM file ({})", pem_problem(&other))),
    })
}

/// What is wrong with a PEM file, in words that never quote its content
/// (the pem crate's messages may hold a line of it).
fn pem_problem(error: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { .. } => "a block has no END line",
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        Error::Base64Decode(_) => "a block is not valid base64",
        Error::NoItemsFound => "no PEM block",
        _ => "unreadable",
    }
}

/// A regular file's bytes, at most [`MAX_PEM_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it ({e})"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it ({e})"))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it ({e})"))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!(
            "larger than {} MiB: not a certificate or key file",
            MAX_PEM_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// The system's trusted roots (`/etc/ssl/certs` and the like, or
/// `SSL_CERT_FILE`/`SSL_CERT_DIR`), loaded once per process.
#[derive(Debug)]
pub(crate) struct SystemRoots {
    pub(crate) store: RootCertStore,
    /// Why the system's roots could not all be read (shown when none was).
    pub(crate) problems: Vec<String>,
}

pub(crate) fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(loaded.certs);
        SystemRoots {
            store,
            problems: loaded.errors.iter().map(|e| e.to_string()).collect(),
        }
    })
}
