//! TLS mode, exercised with the `h2` crate's client over `tokio-rustls`.

use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2::client;
use h2client_testserver::tls::{self, ALPN_H2, ALPN_HTTP11, TLS12, TLS13};
use h2client_testserver::{Options, Server, TlsOptions};
use http::{Request, StatusCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, ProtocolVersion, RootCertStore};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn Error + Send + Sync>;

/// How a test client authenticates and what it offers.
struct Client<'a> {
    /// Trust root (PEM).
    ca_pem: &'a str,
    alpn: Vec<&'a [u8]>,
    versions: Vec<u16>,
    /// Client certificate and key (PEM).
    identity: Option<(&'a str, &'a str)>,
    server_name: &'a str,
}

impl<'a> Client<'a> {
    fn new(ca_pem: &'a str) -> Client<'a> {
        Client {
            ca_pem,
            alpn: vec![ALPN_H2],
            versions: vec![TLS12, TLS13],
            identity: None,
            server_name: "localhost",
        }
    }

    fn config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("add CA");
        }
        let versions: Vec<_> = self
            .versions
            .iter()
            .map(|&v| match v {
                TLS12 => &rustls::version::TLS12,
                TLS13 => &rustls::version::TLS13,
                other => panic!("version {other:#x}"),
            })
            .collect();
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&versions)
                .expect("versions")
                .with_root_certificates(roots);
        let mut config = match self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert PEM")],
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key PEM"),
                )
                .expect("client auth"),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// TCP connect and TLS handshake (the client's side of it: with TLS 1.3
    /// the server may still reject the client certificate afterwards).
    async fn connect(&self, server: &Server) -> io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(server.addr()).await?;
        let name = ServerName::try_from(self.server_name.to_string()).expect("server name");
        TlsConnector::from(self.config()).connect(name, tcp).await
    }
}

/// The rustls error inside a handshake's `io::Error`, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn is_expired(e: &io::Error) -> bool {
    matches!(
        rustls_error(e),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ))
    )
}

/// GET `path` over one new HTTP/2 connection on `tls`; returns status and body.
async fn get(
    tls: TlsStream<TcpStream>,
    server: &Server,
    path: &str,
) -> Result<(StatusCode, Bytes), BoxError> {
    let (mut send, conn) = client::handshake(tls).await?;
    let driver = tokio::spawn(conn);
    let req = Request::get(format!("{}{}", server.url(), path)).body(())?;
    let (response, _) = send.send_request(req, true)?;
    let result = async {
        let response = response.await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut all = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            body.flow_control().release_capacity(chunk.len())?;
            all.extend_from_slice(&chunk);
        }
        Ok::<_, BoxError>((status, all.freeze()))
    };
    let result = tokio::time::timeout(Duration::from_secs(10), result)
        .await
        .map_err(|_| "timed out")?;
    driver.abort();
    result
}

/// Waits until `f` is true (the server's counters settle asynchronously).
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn tls_server(tls: TlsOptions) -> Server {
    Server::start(Options {
        tls: Some(tls),
        ..Options::default()
    })
    .expect("start TLS server")
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn h2c_mode_has_no_tls() {
    let server = Server::start(Options::default()).expect("start");
    assert!(server.url().starts_with("http://"));
    assert_eq!(server.tls_ca_pem(), None);
    assert_eq!(server.tls_handshake_failures(), 0);
}

#[tokio::test]
async fn get_over_tls_with_alpn_h2() {
    let server = tls_server(TlsOptions::default());
    assert_eq!(server.url(), format!("https://{}", server.addr()));
    let ca = server.tls_ca_pem().expect("TLS mode has a CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));

    for name in ["localhost", "127.0.0.1", "::1"] {
        let client = Client {
            server_name: name,
            ..Client::new(ca)
        };
        let tls = client.connect(&server).await.expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ALPN_H2));
        let (status, body) = get(tls, &server, "/bytes/100000").await.expect("GET");
        assert_eq!(status, StatusCode::OK);
        assert!(body == pattern(100_000));
    }
    assert_eq!(server.connections_accepted(), 3);
    assert_eq!(server.tls_handshake_failures(), 0);
    eventually("requests counted", || server.requests_served() == 3).await;
}

#[tokio::test]
async fn both_tls_versions_and_restrictions() {
    for (server_versions, expected) in [
        (vec![TLS12], ProtocolVersion::TLSv1_2),
        (vec![TLS13], ProtocolVersion::TLSv1_3),
        (vec![TLS12, TLS13], ProtocolVersion::TLSv1_3),
    ] {
        let server = tls_server(TlsOptions {
            versions: server_versions.clone(),
            ..TlsOptions::default()
        });
        let ca = server.tls_ca_pem().expect("CA");
        let tls = Client::new(ca).connect(&server).await.expect("handshake");
        assert_eq!(tls.get_ref().1.protocol_version(), Some(expected));
        let (status, _) = get(tls, &server, "/").await.expect("GET");
        assert_eq!(status, StatusCode::OK, "{server_versions:x?}");
    }

    // A TLS 1.3-only server refuses a TLS 1.2-only client.
    let server = tls_server(TlsOptions {
        versions: vec![TLS13],
        ..TlsOptions::default()
    });
    let client = Client {
        versions: vec![TLS12],
        ..Client::new(server.tls_ca_pem().expect("CA"))
    };
    assert!(client.connect(&server).await.is_err());
    eventually("handshake failure counted", || {
        server.tls_handshake_failures() == 1
    })
    .await;
}

#[tokio::test]
async fn alpn_http11_only_negotiates_http11_then_closes() {
    let server = tls_server(TlsOptions {
        alpn: vec![ALPN_HTTP11.to_vec()],
        ..TlsOptions::default()
    });
    let ca = server.tls_ca_pem().expect("CA");
    let client = Client {
        alpn: vec![ALPN_H2, ALPN_HTTP11],
        ..Client::new(ca)
    };
    let mut tls = client.connect(&server).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ALPN_HTTP11));
    // The server speaks no HTTP/1.1: it closes (cleanly) without a byte.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf))
        .await
        .expect("server closes");
    assert_eq!(read.expect("clean close"), 0);
    assert_eq!(server.tls_handshake_failures(), 0);

    // A client that offers only h2 finds no common protocol.
    let err = Client::new(ca)
        .connect(&server)
        .await
        .expect_err("no common ALPN protocol");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::NoApplicationProtocol
            ))
        ),
        "{err}"
    );
    eventually("handshake failure counted", || {
        server.tls_handshake_failures() == 1
    })
    .await;
    assert_eq!(server.connections_accepted(), 2);
}

#[tokio::test]
async fn no_alpn_still_serves_h2() {
    // The server selects no protocol...
    let server = tls_server(TlsOptions {
        alpn: Vec::new(),
        ..TlsOptions::default()
    });
    let ca = server.tls_ca_pem().expect("CA");
    let tls = Client::new(ca).connect(&server).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    // ...and speaks HTTP/2 to a client that goes ahead anyway.
    let (status, _) = get(tls, &server, "/").await.expect("GET");
    assert_eq!(status, StatusCode::OK);

    // Likewise for a client that offers no ALPN to a default server.
    let server = tls_server(TlsOptions::default());
    let client = Client {
        alpn: Vec::new(),
        ..Client::new(server.tls_ca_pem().expect("CA"))
    };
    let tls = client.connect(&server).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let (status, _) = get(tls, &server, "/").await.expect("GET");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn expired_certificate_is_rejected_as_expired() {
    let server = tls_server(TlsOptions {
        expired: true,
        ..TlsOptions::default()
    });
    let ca = server.tls_ca_pem().expect("CA");
    let err = Client::new(ca)
        .connect(&server)
        .await
        .expect_err("expired certificate accepted");
    assert!(is_expired(&err), "not an expiry error: {err}");
    eventually("handshake failure counted", || {
        server.tls_handshake_failures() == 1
    })
    .await;

    // Contrast: a valid certificate from a CA the client does not trust is
    // UnknownIssuer. (webpki checks the leaf's validity period before
    // looking for its issuer, so an expired leaf is Expired either way.)
    let good = tls_server(TlsOptions::default());
    let other = tls::generate(&["localhost"]);
    let err = Client::new(&other.ca_pem)
        .connect(&good)
        .await
        .expect_err("untrusted certificate accepted");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{err}"
    );
    let tls = Client::new(good.tls_ca_pem().expect("CA"))
        .connect(&good)
        .await
        .expect("valid certificate");
    get(tls, &good, "/").await.expect("GET");

    // The failed handshake closed its connection.
    eventually("connection closed", || server.connections_open() == 0).await;
}

#[tokio::test]
async fn certificate_names_are_the_configured_ones() {
    let server = tls_server(TlsOptions {
        names: vec!["example.test".to_string()],
        ..TlsOptions::default()
    });
    let ca = server.tls_ca_pem().expect("CA");
    let err = Client::new(ca)
        .connect(&server)
        .await
        .expect_err("name mismatch accepted");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
    let client = Client {
        server_name: "example.test",
        ..Client::new(ca)
    };
    let tls = client.connect(&server).await.expect("handshake");
    let (status, _) = get(tls, &server, "/").await.expect("GET");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn client_certificate_required() {
    let client_material = tls::generate_client("test client");
    let stranger = tls::generate_client("stranger");
    for version in [TLS12, TLS13] {
        let server = tls_server(TlsOptions {
            client_ca_pem: Some(client_material.ca_pem.clone()),
            versions: vec![version],
            ..TlsOptions::default()
        });
        let ca = server.tls_ca_pem().expect("CA");

        // No certificate: refused. With TLS 1.2 the client's handshake
        // fails; with TLS 1.3 it completes on the client's side and the
        // refusal arrives as an alert on the first read.
        let without = Client::new(ca);
        if let Ok(tls) = without.connect(&server).await {
            get(tls, &server, "/")
                .await
                .expect_err("accepted without a client certificate");
        }
        eventually("handshake failure counted", || {
            server.tls_handshake_failures() == 1
        })
        .await;

        // A certificate from another CA: refused as well.
        let wrong = Client {
            identity: Some((&stranger.cert_pem, &stranger.key_pem)),
            ..Client::new(ca)
        };
        if let Ok(tls) = wrong.connect(&server).await {
            get(tls, &server, "/")
                .await
                .expect_err("accepted a certificate from an unknown CA");
        }
        eventually("handshake failure counted", || {
            server.tls_handshake_failures() == 2
        })
        .await;

        // The right one: served.
        let with = Client {
            identity: Some((&client_material.cert_pem, &client_material.key_pem)),
            ..Client::new(ca)
        };
        let tls = with.connect(&server).await.expect("handshake");
        let (status, body) = get(tls, &server, "/bytes/10")
            .await
            .unwrap_or_else(|e| panic!("GET with client certificate ({version:#x}): {e}"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"abcdefghij");
        assert_eq!(server.tls_handshake_failures(), 2);
        assert_eq!(server.connections_accepted(), 3);
    }
}

#[tokio::test]
async fn plain_tcp_client_and_garbage_do_not_hurt() {
    use tokio::io::AsyncWriteExt;

    let server = tls_server(TlsOptions::default());
    // Not TLS at all: the HTTP/2 preface in clear text.
    let mut tcp = TcpStream::connect(server.addr()).await.expect("connect");
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    // Connect and hang up before any handshake.
    drop(TcpStream::connect(server.addr()).await.expect("connect"));
    eventually("both failures counted", || {
        server.tls_handshake_failures() == 2
    })
    .await;

    let tls = Client::new(server.tls_ca_pem().expect("CA"))
        .connect(&server)
        .await
        .expect("handshake");
    let (status, _) = get(tls, &server, "/").await.expect("GET");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.connections_accepted(), 3);
}

#[test]
fn invalid_tls_options_are_rejected() {
    let bad = |tls: TlsOptions| {
        Server::start(Options {
            tls: Some(tls),
            ..Options::default()
        })
        .map(|_| ())
        .expect_err("invalid TLS options accepted")
        .kind()
    };
    let invalid = io::ErrorKind::InvalidInput;
    assert_eq!(
        bad(TlsOptions {
            versions: Vec::new(),
            ..TlsOptions::default()
        }),
        invalid
    );
    assert_eq!(
        bad(TlsOptions {
            versions: vec![0x0302],
            ..TlsOptions::default()
        }),
        invalid
    );
    assert_eq!(
        bad(TlsOptions {
            alpn: vec![Vec::new()],
            ..TlsOptions::default()
        }),
        invalid
    );
    assert_eq!(
        bad(TlsOptions {
            names: vec!["bücher.example".to_string()],
            ..TlsOptions::default()
        }),
        invalid
    );
    assert_eq!(
        bad(TlsOptions {
            client_ca_pem: Some("not a certificate".to_string()),
            ..TlsOptions::default()
        }),
        invalid
    );
}

#[test]
fn generated_material_is_consistent() {
    let bundle = tls::generate(&["localhost", "127.0.0.1", "::1"]);
    for pem in [&bundle.ca_pem, &bundle.cert_pem] {
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    }
    assert!(bundle.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    // rustls checks that the key matches the certificate.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(bundle.cert_pem.as_bytes()).expect("cert")],
            PrivateKeyDer::from_pem_slice(bundle.key_pem.as_bytes()).expect("key"),
        )
        .expect("key matches certificate");
    let client = tls::generate_client("me");
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(RootCertStore::empty())
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(client.cert_pem.as_bytes()).expect("cert")],
            PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).expect("key"),
        )
        .expect("key matches certificate");
    // Every call makes a new CA.
    assert_ne!(tls::generate(&["localhost"]).ca_pem, bundle.ca_pem);
    assert_ne!(tls::generate_expired(&["localhost"]).ca_pem, bundle.ca_pem);
}

/// Reads the first `n` lines of the child's stdout.
#[cfg(unix)]
fn read_lines(child: &mut std::process::Child, n: usize) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    (0..n)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read line");
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(unix)]
fn sigterm_and_wait(mut child: std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// A fresh empty directory under the system temp directory.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("h2testserver-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// `--tls` prints the https line first, then the CA path; the CA file is
/// there already and lets a client verify the server.
#[cfg(unix)]
#[test]
fn binary_tls_mode_prints_https_and_writes_ca() {
    use std::process::{Command, Stdio};

    let dir = temp_dir("tls");
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2testserver"))
        .args(["--tls", "--port", "0", "--tls-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn h2testserver");
    let lines = read_lines(&mut child, 2);
    let addr = lines[0]
        .strip_prefix("listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line {:?}", lines[0]))
        .to_string();
    let ca_path = dir.join("h2testserver-ca.pem");
    assert_eq!(lines[1], format!("ca certificate: {}", ca_path.display()));
    let ca_pem = std::fs::read_to_string(&ca_path).expect("CA file");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let tcp = TcpStream::connect(&addr).await.expect("connect");
        let client = Client::new(&ca_pem);
        let tls = TlsConnector::from(client.config())
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("TLS handshake with the written CA");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ALPN_H2));
        let (mut send, conn) = client::handshake(tls).await.expect("h2 handshake");
        tokio::spawn(conn);
        let req = Request::get(format!("https://{addr}/bytes/10"))
            .body(())
            .expect("req");
        let (resp, _) = send.send_request(req, true).expect("send");
        assert_eq!(resp.await.expect("response").status(), StatusCode::OK);
    });
    sigterm_and_wait(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--require-client-cert` writes a client certificate and key that the
/// server then accepts.
#[cfg(unix)]
#[test]
fn binary_require_client_cert_writes_usable_client_material() {
    use std::process::{Command, Stdio};

    let dir = temp_dir("mtls");
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2testserver"))
        .args(["--tls", "--require-client-cert", "--tls-versions=1.2"])
        .arg(format!("--tls-dir={}", dir.display()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn h2testserver");
    let lines = read_lines(&mut child, 4);
    let addr = lines[0]
        .strip_prefix("listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line {:?}", lines[0]))
        .to_string();
    let path = |name: &str| dir.join(name).display().to_string();
    assert_eq!(
        lines[1..],
        [
            format!("ca certificate: {}", path("h2testserver-ca.pem")),
            format!(
                "client certificate: {}",
                path("h2testserver-client-cert.pem")
            ),
            format!("client key: {}", path("h2testserver-client-key.pem")),
        ]
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("file");
    let (ca, cert, key) = (
        read("h2testserver-ca.pem"),
        read("h2testserver-client-cert.pem"),
        read("h2testserver-client-key.pem"),
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let connect = |identity| {
            let ca = &ca;
            let addr = &addr;
            async move {
                let client = Client {
                    identity,
                    ..Client::new(ca)
                };
                let tcp = TcpStream::connect(addr).await?;
                TlsConnector::from(client.config())
                    .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
                    .await
            }
        };
        // TLS 1.2: the refusal is part of the client's handshake.
        assert!(connect(None).await.is_err());
        let tls = connect(Some((cert.as_str(), key.as_str())))
            .await
            .expect("handshake with client certificate");
        let (mut send, conn) = client::handshake(tls).await.expect("h2 handshake");
        tokio::spawn(conn);
        let req = Request::get(format!("https://{addr}/"))
            .body(())
            .expect("req");
        let (resp, _) = send.send_request(req, true).expect("send");
        assert_eq!(resp.await.expect("response").status(), StatusCode::OK);
    });
    sigterm_and_wait(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--tls-dir` the CA goes next to the executable.
#[cfg(unix)]
#[test]
fn binary_tls_dir_defaults_to_the_executable_directory() {
    use std::process::{Command, Stdio};

    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_h2testserver"));
    let mut child = Command::new(exe)
        .arg("--tls")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn h2testserver");
    let lines = read_lines(&mut child, 2);
    assert!(lines[0].starts_with("listening on https://127.0.0.1:"));
    let ca_path = exe.parent().expect("dir").join("h2testserver-ca.pem");
    assert_eq!(lines[1], format!("ca certificate: {}", ca_path.display()));
    assert!(std::fs::read_to_string(&ca_path)
        .expect("CA file")
        .starts_with("-----BEGIN CERTIFICATE-----"));
    sigterm_and_wait(child);
}
