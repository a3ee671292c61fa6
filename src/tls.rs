//! TLS for `https://` clients: rustls with the ring provider, ALPN offering `h2` only, SNI from
//! the URL's host (not for IP literals), trust in the system's CA store unless the caller gives
//! its own roots.
//!
//! System roots come from rustls-native-certs, which reads what Debian's `ca-certificates`
//! installs (and honours `SSL_CERT_FILE` / `SSL_CERT_DIR`, like OpenSSL), so h2client trusts
//! exactly what curl on the same machine trusts. They are loaded once per process.

use crate::connect::nosigpipe::NoSigPipe;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use once_cell::sync::OnceCell;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::diagnose;
use crate::error::{Error, ErrorKind, Origin, Processed, Result};

/// An established TLS connection.
pub(crate) type Stream = TlsStream<Recorder<NoSigPipe<TcpStream>>>;

/// TLS 1.2 (bit for `TlsOptions::versions`).
pub const TLS_1_2: u32 = 1;
/// TLS 1.3 (bit for `TlsOptions::versions`).
pub const TLS_1_3: u32 = 2;

/// Which certificate authorities are trusted.
#[derive(Clone, Debug)]
pub enum Trust {
    /// The system's store.
    System,
    /// Only these (from a PEM file or buffer).
    Roots(Arc<Vec<CertificateDer<'static>>>),
}

/// A client certificate chain and its key, for mutual TLS.
pub struct ClientIdentity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// The TLS options of a client.
#[derive(Clone)]
pub struct TlsOptions {
    /// Trusted roots.
    pub trust: Trust,
    /// Accept any server certificate (testing only).
    pub insecure_skip_verify: bool,
    /// Client certificate for mutual TLS.
    pub client_identity: Option<Arc<ClientIdentity>>,
    /// Allowed versions: `TLS_1_2 | TLS_1_3` by default.
    pub versions: u32,
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions {
            trust: Trust::System,
            insecure_skip_verify: false,
            client_identity: None,
            versions: TLS_1_2 | TLS_1_3,
        }
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("trust", &self.trust)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("client_identity", &self.client_identity.is_some())
            .field("versions", &self.versions)
            .finish()
    }
}

fn tls_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Tls, msg)
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_error(format!("could not read {what} '{path}': {e}")))
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        match item {
            Ok(c) => out.push(c),
            Err(e) => return Err(tls_error(format!("bad PEM in {what}: {e}"))),
        }
    }
    if out.is_empty() {
        return Err(tls_error(format!("no certificate found in {what}")));
    }
    Ok(out)
}

impl TlsOptions {
    /// Trusts only the certificates of the PEM file at `path`.
    pub fn set_ca_file(&mut self, path: &str) -> Result<()> {
        let pem = read_file(path, "CA file")?;
        let certs = parse_certs(&pem, &format!("CA file '{path}'"))?;
        check_roots(&certs, &format!("CA file '{path}'"))?;
        self.trust = Trust::Roots(Arc::new(certs));
        Ok(())
    }

    /// Trusts only the certificates of a PEM buffer.
    pub fn set_ca_pem(&mut self, pem: &[u8]) -> Result<()> {
        let certs = parse_certs(pem, "the CA PEM data")?;
        check_roots(&certs, "the CA PEM data")?;
        self.trust = Trust::Roots(Arc::new(certs));
        Ok(())
    }

    /// Presents the certificate chain of `cert_path` with the key of `key_path` (both PEM).
    pub fn set_client_cert_files(&mut self, cert_path: &str, key_path: &str) -> Result<()> {
        let certs = parse_certs(
            &read_file(cert_path, "client certificate file")?,
            &format!("client certificate file '{cert_path}'"),
        )?;
        let key_pem = read_file(key_path, "client key file")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            tls_error(format!(
                "no usable private key in client key file '{key_path}': {e}"
            ))
        })?;
        let identity = ClientIdentity { certs, key };
        // Catch a key the provider cannot use now rather than at the first connection.
        rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(identity.key.clone_key())
            .map_err(|e| tls_error(format!("unusable private key in '{key_path}': {e}")))?;
        self.client_identity = Some(Arc::new(identity));
        Ok(())
    }

    /// Sets the allowed versions (`TLS_1_2`, `TLS_1_3` or both).
    pub fn set_versions(&mut self, v: u32) -> Result<()> {
        if v == 0 || v & !(TLS_1_2 | TLS_1_3) != 0 {
            return Err(Error::invalid(
                "TLS versions must be H2_TLS_1_2, H2_TLS_1_3 or both",
            ));
        }
        self.versions = v;
        Ok(())
    }
}

fn check_roots(certs: &[CertificateDer<'static>], what: &str) -> Result<()> {
    let mut store = RootCertStore::empty();
    for c in certs {
        store
            .add(c.clone())
            .map_err(|e| tls_error(format!("unusable certificate in {what}: {e}")))?;
    }
    Ok(())
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceCell<Arc<CryptoProvider>> = OnceCell::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots (loaded once); empty if the system has none.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceCell<RootCertStore> = OnceCell::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        store
    })
}

/// Builds the rustls configuration of a client (shared by its connections, so TLS sessions
/// are resumed across them).
pub(crate) fn client_config(o: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let mut versions = Vec::new();
    if o.versions & TLS_1_3 != 0 {
        versions.push(&rustls::version::TLS13);
    }
    if o.versions & TLS_1_2 != 0 {
        versions.push(&rustls::version::TLS12);
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| tls_error(format!("TLS configuration: {e}")))?;
    let builder = if o.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    } else {
        let roots = match &o.trust {
            Trust::System => system_roots().clone(),
            Trust::Roots(certs) => {
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(certs.iter().cloned());
                store
            }
        };
        builder.with_root_certificates(roots)
    };
    let mut cfg = match &o.client_identity {
        Some(id) => builder
            .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
            .map_err(|e| tls_error(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    if let Some(log) = key_log() {
        cfg.key_log = log;
    }
    Ok(Arc::new(cfg))
}

/// Where TLS secrets go when the `SSLKEYLOGFILE` environment variable names a file (as curl,
/// Go's `KeyLogWriter` and browsers): lines in the NSS key log format appended to it, so
/// Wireshark can decrypt a capture. A debugging aid: anyone who reads the file can decrypt
/// the traffic. Read once per process, when the first TLS configuration is made.
fn key_log() -> Option<Arc<dyn rustls::KeyLog>> {
    static LOG: OnceCell<Option<Arc<rustls::KeyLogFile>>> = OnceCell::new();
    LOG.get_or_init(|| {
        std::env::var_os("SSLKEYLOGFILE")
            .filter(|v| !v.is_empty())
            .map(|_| Arc::new(rustls::KeyLogFile::new()))
    })
    .clone()
    .map(|l| l as Arc<dyn rustls::KeyLog>)
}

/// A byte stream that keeps the first `diagnose::FIRST_BYTES` bytes read from it: the
/// server's answer to our ClientHello, which rustls consumes and, when it is not TLS, reports
/// only as a "corrupt message". It stays under the TLS stream after the handshake because
/// tokio-rustls cannot rebuild a `TlsStream` around the bare TCP stream; once full it costs
/// one comparison per read.
pub(crate) struct Recorder<S> {
    inner: S,
    first: [u8; diagnose::FIRST_BYTES],
    len: usize,
}

impl<S> Recorder<S> {
    fn new(inner: S) -> Recorder<S> {
        Recorder {
            inner,
            first: [0; diagnose::FIRST_BYTES],
            len: 0,
        }
    }

    /// The first bytes read (fewer if fewer came).
    fn first(&self) -> &[u8] {
        &self.first[..self.len]
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.len < this.first.len() {
            let new = &buf.filled()[before..];
            let n = new.len().min(this.first.len() - this.len);
            this.first[this.len..this.len + n].copy_from_slice(&new[..n]);
            this.len += n;
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The TLS handshake over `tcp` (connected to `peer`), which must select h2 by ALPN.
pub(crate) async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    host: &str,
    cfg: Arc<ClientConfig>,
    trust_is_system: bool,
) -> Result<Stream> {
    // One record per send: see `NoSigPipe::vectored`.
    let tcp = NoSigPipe::new(tcp, false);
    handshake_over(tcp, &peer, host, cfg, trust_is_system, true).await
}

/// The TLS handshake over any byte stream `io` (leading to `peer`, possibly through a proxy):
/// with `want_h2`, the server must select h2 by ALPN (an origin); without, ALPN is not
/// checked (an https proxy, offered http/1.1 by [`proxy_client_config`]).
pub(crate) async fn handshake_over<S>(
    io: S,
    peer: &(dyn std::fmt::Display + Sync),
    host: &str,
    cfg: Arc<ClientConfig>,
    trust_is_system: bool,
    want_h2: bool,
) -> Result<TlsStream<Recorder<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| tls_error(format!("'{host}' is not a valid TLS server name")))?;
    let tls =
        TlsConnector::from(cfg)
            .connect(name, Recorder::new(io))
            .into_fallible()
            .await
            .map_err(|(e, io)| {
                // Bytes that are not TLS explain the failure better than rustls can: it only
                // knows that they are not TLS.
                let msg = diagnose::after_client_hello(io.first(), &peer.to_string())
                    .unwrap_or_else(|| match rustls_error(&e) {
                        Some(te) => describe(te, host, trust_is_system),
                        None => format!("TLS handshake with {host} failed: {e}"),
                    });
                tls_error(msg)
                    .with_origin(Origin::Transport)
                    .with_processed(Processed::No)
            })?;
    if crate::log::enabled(crate::log::Level::Info) {
        log_handshake(tls.get_ref().1, host, peer);
    }
    match tls.get_ref().1.alpn_protocol() {
        _ if !want_h2 => Ok(tls),
        Some(b"h2") => Ok(tls),
        other => Err(tls_error(format!(
            "server did not negotiate h2 over ALPN (offered: h2; selected: {})",
            other.map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned())
        ))
        .with_origin(Origin::Transport)
        .with_processed(Processed::No)),
    }
}

/// The rustls configuration for an https proxy: the client's trust and versions, ALPN
/// http/1.1 (CONNECT is HTTP/1.1), and no client certificate (that is for the origin).
pub(crate) fn proxy_client_config(o: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let mut o = o.clone();
    o.client_identity = None;
    let mut cfg = (*client_config(&o)?).clone();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Logs what a finished handshake agreed on (what `curl -v` prints after "SSL connection").
fn log_handshake(c: &rustls::ClientConnection, host: &str, peer: &dyn std::fmt::Display) {
    let version = match c.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "?".to_string(),
    };
    let cipher = c
        .negotiated_cipher_suite()
        .map_or("?".to_string(), |s| format!("{:?}", s.suite()));
    let alpn = c
        .alpn_protocol()
        .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned());
    crate::log::h2log!(
        crate::log::Level::Info,
        "TLS handshake with {host} ({peer}) done: {version} / {cipher}, ALPN {alpn}"
    );
}

/// The rustls error inside an I/O error, if any.
pub(crate) fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A message a person can act on for a TLS failure.
pub(crate) fn describe(e: &rustls::Error, host: &str, trust_is_system: bool) -> String {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                let hint = if trust_is_system && system_roots().is_empty() {
                    "; the system has no CA certificates (install ca-certificates, or use h2_config_set_ca_file)"
                } else {
                    "; use h2_config_set_ca_file to trust its CA"
                };
                format!("certificate verify failed for '{host}': unknown CA (the issuer is not trusted){hint}")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("certificate name mismatch: the server's certificate is not valid for '{host}'")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("certificate verify failed for '{host}': the certificate has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("certificate verify failed for '{host}': the certificate is not valid yet")
            }
            other => format!("certificate verify failed for '{host}': {other:?}"),
        },
        rustls::Error::AlertReceived(A::NoApplicationProtocol) => format!(
            "server did not negotiate h2 over ALPN (offered: h2; selected: none, {host} answered no_application_protocol)"
        ),
        rustls::Error::AlertReceived(a) => {
            format!("TLS handshake failure: {host} sent the alert {a:?}")
        }
        rustls::Error::PeerIncompatible(p) => {
            format!("TLS handshake failure: {host} is incompatible: {p:?}")
        }
        other => format!("TLS error with {host}: {other}"),
    }
}

/// A verifier that accepts every certificate but still checks handshake signatures: for
/// `h2_config_set_insecure_skip_verify`, testing only.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inputs_are_named() {
        let mut o = TlsOptions::default();
        let e = o.set_ca_file("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls);
        assert!(e.message.contains("/nonexistent/ca.pem"), "{}", e.message);
        let e = o.set_ca_pem(b"not a pem").unwrap_err();
        assert!(e.message.contains("no certificate"), "{}", e.message);
        let e = o
            .set_ca_pem(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls);
        assert!(o.set_versions(0).is_err());
        assert!(o.set_versions(4).is_err());
        assert!(o.set_versions(TLS_1_3).is_ok());
        assert!(client_config(&o).is_ok());
    }
}
