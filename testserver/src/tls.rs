//! TLS mode: certificate generation and the server side of HTTP/2 over TLS.
//!
//! Certificates are made fresh with [`rcgen`] (ECDSA P-256, ring backend):
//! a throw-away CA and a leaf certificate signed by it. The functions here
//! are public so that other tests (interop tests configuring nghttpd, nginx
//! or h2o, say) can use the same material:
//!
//! ```no_run
//! let bundle = h2client_testserver::tls::generate(&["localhost", "127.0.0.1"]);
//! std::fs::write("ca.pem", &bundle.ca_pem).unwrap();
//! std::fs::write("cert.pem", &bundle.cert_pem).unwrap();
//! std::fs::write("key.pem", &bundle.key_pem).unwrap();
//! ```
//!
//! The server uses [`rustls`] with the *ring* crypto provider, passed
//! explicitly, so nothing depends on a process-wide default provider.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::{conn, stopped, OpenConnection, Settings, Stats};

/// TLS 1.2, as used in [`TlsOptions::versions`].
pub const TLS12: u16 = 0x0303;
/// TLS 1.3, as used in [`TlsOptions::versions`].
pub const TLS13: u16 = 0x0304;

/// The ALPN protocol identifier of HTTP/2 over TLS (RFC 9113 §3.2).
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN protocol identifier of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// Lifetime of generated certificates that are meant to be valid: two years
/// (below the 825 days some platforms accept for TLS server certificates).
const VALID_DAYS: u32 = 730;

/// A CA certificate and a server (leaf) certificate signed by it, all PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertBundle {
    /// The CA certificate: what a client must trust.
    pub ca_pem: String,
    /// The leaf certificate (only the leaf, not the chain).
    pub cert_pem: String,
    /// The leaf's private key (PKCS#8).
    pub key_pem: String,
}

/// A client certificate and its key, signed by a client CA, all PEM: for
/// mutual TLS. A server verifying clients trusts `ca_pem`; the client
/// presents `cert_pem` with `key_pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertBundle {
    /// The client CA certificate: what a server must trust.
    pub ca_pem: String,
    /// The client certificate (only the leaf, not the chain).
    pub cert_pem: String,
    /// The client certificate's private key (PKCS#8).
    pub key_pem: String,
}

/// A fresh CA and a leaf certificate for `names` (DNS names and IP literals,
/// as subject alternative names) signed by it. The leaf is valid from
/// yesterday for two years, for server authentication.
///
/// # Panics
///
/// If a name is neither an IP literal nor a valid DNS name (e.g. non-ASCII),
/// or the key or certificate cannot be generated.
pub fn generate(names: &[&str]) -> CertBundle {
    try_generate(names, false).expect("generate test server certificate")
}

/// Like [`generate`], but the leaf's validity period ended yesterday (it
/// started 30 days ago), so that clients reject it as expired rather than
/// as untrusted. The CA itself is valid.
///
/// # Panics
///
/// As [`generate`].
pub fn generate_expired(names: &[&str]) -> CertBundle {
    try_generate(names, true).expect("generate expired test server certificate")
}

/// A client certificate with subject `CN=common_name` (for client
/// authentication, no subject alternative names), signed by a fresh client
/// CA: for mutual TLS.
///
/// # Panics
///
/// If the key or certificate cannot be generated.
pub fn generate_client(common_name: &str) -> ClientCertBundle {
    try_generate_client(common_name).expect("generate test client certificate")
}

/// Sets `params` valid from yesterday for [`VALID_DAYS`], or, when
/// `expired`, from 30 days ago until yesterday.
fn set_validity(params: &mut CertificateParams, expired: bool) {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    if expired {
        params.not_before = now - 30 * DAY;
        params.not_after = now - DAY;
    } else {
        params.not_before = now - DAY;
        params.not_after = now + VALID_DAYS * DAY;
    }
}

/// A self-signed CA named `CN=<label> <random hex>`: the random part keeps
/// CAs from different runs apart for clients that match issuers by name.
fn new_ca(label: &str) -> Result<CertifiedIssuer<'static, KeyPair>, rcgen::Error> {
    let key = KeyPair::generate()?;
    let tag: String = key
        .public_key_raw()
        .iter()
        .rev()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{label} {tag}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, false);
    CertifiedIssuer::self_signed(params, key)
}

/// [`generate`] / [`generate_expired`] without the panics.
pub(crate) fn try_generate(names: &[&str], expired: bool) -> Result<CertBundle, rcgen::Error> {
    let ca = new_ca("h2testserver CA")?;
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("h2testserver"),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, expired);
    let cert = params.signed_by(&key, &ca)?;
    Ok(CertBundle {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// [`generate_client`] without the panics.
fn try_generate_client(common_name: &str) -> Result<ClientCertBundle, rcgen::Error> {
    let ca = new_ca("h2testserver client CA")?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, false);
    let cert = params.signed_by(&key, &ca)?;
    Ok(ClientCertBundle {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// TLS settings of a [`Server`](crate::Server) (see
/// [`Options::tls`](crate::Options::tls)).
///
/// After the handshake the server speaks HTTP/2 if ALPN selected `h2` *or
/// nothing* (a client that does not use ALPN gets HTTP/2 with prior
/// knowledge over TLS). If ALPN selected anything else (e.g. `http/1.1`),
/// the server closes the connection right away (with `close_notify`): it
/// speaks no other protocol. A client offering only protocols that are not
/// in [`alpn`](Self::alpn) (when that is non-empty) gets a
/// `no_application_protocol` alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Subject alternative names of the server certificate: DNS names and IP
    /// literals. Default: `localhost`, `127.0.0.1`, `::1`.
    pub names: Vec<String>,
    /// ALPN protocols the server accepts, in its order of preference
    /// (rustls picks the first one of these that the client offers).
    /// Default: `[b"h2"]`. With only `b"http/1.1"` the handshake completes
    /// selecting `http/1.1` and the server then closes the connection; with
    /// an empty list the server selects no protocol at all.
    pub alpn: Vec<Vec<u8>>,
    /// Serve a certificate whose validity ended yesterday (see
    /// [`generate_expired`]). Default: false.
    pub expired: bool,
    /// Allowed TLS versions: [`TLS12`] (0x0303) and/or [`TLS13`] (0x0304).
    /// Default: both.
    pub versions: Vec<u16>,
    /// If set, require a client certificate signed by this CA (PEM, one or
    /// more certificates): mutual TLS. Clients without one, or with one
    /// signed by someone else, fail the handshake. Default: `None`.
    pub client_ca_pem: Option<String>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            names: vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ],
            alpn: vec![ALPN_H2.to_vec()],
            expired: false,
            versions: vec![TLS12, TLS13],
            client_ca_pem: None,
        }
    }
}

/// What a TLS server needs at run time.
pub(crate) struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA that signed the server certificate.
    pub(crate) ca_pem: String,
    /// The server certificate.
    pub(crate) cert_pem: String,
}

/// Validates `opts`, generates the server certificate and builds the rustls
/// configuration. Bad options are `InvalidInput` errors.
pub(crate) fn server_tls(opts: &TlsOptions) -> io::Result<ServerTls> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);

    if opts.versions.is_empty() {
        return Err(invalid("no TLS version allowed".to_string()));
    }
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for &version in &opts.versions {
        let supported = match version {
            TLS12 => &rustls::version::TLS12,
            TLS13 => &rustls::version::TLS13,
            other => {
                return Err(invalid(format!(
                    "unsupported TLS version {other:#06x} (use 0x0303 or 0x0304)"
                )))
            }
        };
        if !versions.iter().any(|v| v.version == supported.version) {
            versions.push(supported);
        }
    }
    if let Some(bad) = opts.alpn.iter().find(|p| p.is_empty() || p.len() > 255) {
        return Err(invalid(format!(
            "ALPN protocol ids must be 1..=255 bytes, got {} bytes",
            bad.len()
        )));
    }

    let names: Vec<&str> = opts.names.iter().map(String::as_str).collect();
    let bundle = try_generate(&names, opts.expired)
        .map_err(|e| invalid(format!("cannot generate a certificate for {names:?}: {e}")))?;
    let cert = CertificateDer::from_pem_slice(bundle.cert_pem.as_bytes())
        .map_err(|e| io::Error::other(format!("generated certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(bundle.key_pem.as_bytes())
        .map_err(|e| io::Error::other(format!("generated key: {e}")))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("TLS versions: {e}")))?;
    let builder = match &opts.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| invalid(format!("client CA PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("client CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(invalid("client CA PEM holds no certificate".to_string()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(vec![cert], key)
        .map_err(|e| io::Error::other(format!("server certificate: {e}")))?;
    config.alpn_protocols = opts.alpn.clone();
    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: bundle.ca_pem,
        cert_pem: bundle.cert_pem,
    })
}

/// Runs the TLS handshake on an accepted socket, then serves HTTP/2 over it
/// (or closes it if ALPN chose another protocol). A failed handshake only
/// ends this connection; it is counted in `tls_handshake_failures`.
pub(crate) async fn serve_tls_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    id: u64,
    settings: Arc<Settings>,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
    open: OpenConnection,
) {
    let stop_signal = stopped(stop.clone());
    tokio::pin!(stop_signal);
    let mut tls = tokio::select! {
        accepted = acceptor.accept(tcp) => match accepted {
            Ok(tls) => tls,
            Err(e) => {
                stats.tls_handshake_failures.fetch_add(1, Ordering::SeqCst);
                log!("conn {id}: TLS handshake failed: {e}");
                return;
            }
        },
        _ = &mut stop_signal => return,
    };
    let session = tls.get_ref().1;
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    log!(
        "conn {id}: TLS established: {:?}, {:?}, ALPN {}",
        session.protocol_version(),
        session.negotiated_cipher_suite().map(|s| s.suite()),
        alpn.as_deref()
            .map_or("none".to_string(), |p| String::from_utf8_lossy(p)
                .into_owned()),
    );
    match alpn.as_deref() {
        None | Some(ALPN_H2) => {
            conn::serve_connection(tls, id, settings, stats, stop, open).await;
        }
        Some(_) => {
            log!("conn {id}: ALPN protocol is not h2; closing");
            let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
        }
    }
}
