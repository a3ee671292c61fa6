//! `h2testserver`: runs the h2client test server until SIGTERM or SIGINT.
//!
//! Prints `listening on http://HOST:PORT` (or `https://` with `--tls`) as
//! the first line on stdout once it accepts connections, so that scripts and
//! C tests can start it with `--port 0` and read the port back. In h2c mode
//! that is the only line; with `--tls` the paths of the certificate files it
//! wrote follow, one per line (`ca certificate: PATH`, and with
//! `--require-client-cert` also `client certificate: PATH` and
//! `client key: PATH`). The files are written before the first line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use h2client_testserver::tls::{self, TLS12, TLS13};
use h2client_testserver::{Options, Server, TlsOptions};

const USAGE: &str = "\
usage: h2testserver [--host ADDR] [--port N] [--max-concurrent-streams N]
                    [--initial-window-size N] [--max-frame-size N]
                    [--max-header-list-size N]
                    [--tls [--tls-dir DIR] [--tls-name NAME]... [--tls-alpn PROTO]...
                           [--tls-expired] [--tls-versions 1.2|1.3|1.2,1.3]
                           [--require-client-cert]]

Serves HTTP/2 over cleartext TCP with prior knowledge (h2c) until SIGTERM or
SIGINT. --port 0 (the default) picks a free port. Prints
'listening on http://HOST:PORT' as its first line when ready.
H2TESTSERVER_LOG=1 logs to stderr.

--tls serves HTTP/2 over TLS instead ('listening on https://HOST:PORT'), with
a certificate generated at start and signed by a fresh CA, which is written to
DIR/h2testserver-ca.pem (DIR: --tls-dir, default the directory of this
executable) for clients to trust; its path is printed on the next line as
'ca certificate: PATH'.
  --tls-name NAME        certificate subject alternative name (DNS name or IP),
                         repeatable; default localhost, 127.0.0.1, ::1
  --tls-alpn PROTO       ALPN protocol to accept, repeatable; default h2. The
                         server speaks only h2: after selecting another
                         protocol (e.g. http/1.1) it closes the connection
  --tls-expired          serve a certificate that expired yesterday
  --tls-versions V       1.2, 1.3 or 1.2,1.3 (default)
  --require-client-cert  require a client certificate; one is generated, with
                         its own CA, and written to
                         DIR/h2testserver-client-cert.pem and
                         DIR/h2testserver-client-key.pem (paths printed as
                         'client certificate: PATH' and 'client key: PATH')";

/// File names written into the `--tls-dir` directory.
const CA_FILE: &str = "h2testserver-ca.pem";
const CLIENT_CERT_FILE: &str = "h2testserver-client-cert.pem";
const CLIENT_KEY_FILE: &str = "h2testserver-client-key.pem";

/// What `--tls` asks for beyond [`Options::tls`].
#[derive(Debug, Default, PartialEq)]
struct TlsFiles {
    /// `--tls-dir`; `None`: next to the executable.
    dir: Option<PathBuf>,
    /// `--require-client-cert`: generate a client certificate and make the
    /// server require one signed by its CA.
    client_cert: bool,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    /// Serve; `TlsFiles` is `Some` exactly when `Options::tls` is.
    Serve(Options, Option<TlsFiles>),
    Help,
}

/// Parses the arguments after the program name. Accepts `--flag VALUE` and
/// `--flag=VALUE`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
        value
            .parse()
            .map_err(|_| format!("{flag}: invalid number {value:?}"))
    }

    fn versions(flag: &str, value: &str) -> Result<Vec<u16>, String> {
        let mut versions = Vec::new();
        for part in value.split(',') {
            let version = match part.trim() {
                "1.2" => TLS12,
                "1.3" => TLS13,
                _ => {
                    return Err(format!(
                        "{flag}: expected 1.2, 1.3 or 1.2,1.3, got {value:?}"
                    ))
                }
            };
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
        Ok(versions)
    }

    let mut opts = Options::default();
    let mut tls_opts = TlsOptions::default();
    let mut files = TlsFiles::default();
    let mut tls = false;
    // TLS flags seen, so that they can be refused without --tls.
    let mut tls_flags = Vec::new();
    // Repeatable flags replace their default on first use.
    let mut names: Vec<String> = Vec::new();
    let mut alpn: Vec<Vec<u8>> = Vec::new();
    let mut alpn_given = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        let switches = ["--tls", "--tls-expired", "--require-client-cert"];
        if switches.contains(&flag.as_str()) {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            match flag.as_str() {
                "--tls" => tls = true,
                "--tls-expired" => tls_opts.expired = true,
                "--require-client-cert" => files.client_cert = true,
                _ => unreachable!("checked against `switches` above"),
            }
            if flag != "--tls" {
                tls_flags.push(flag);
            }
            continue;
        }
        let known = [
            "--host",
            "--port",
            "--max-concurrent-streams",
            "--initial-window-size",
            "--max-frame-size",
            "--max-header-list-size",
            "--tls-dir",
            "--tls-name",
            "--tls-alpn",
            "--tls-versions",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown argument {flag:?}"));
        }
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--host" => opts.host = value,
            "--port" => opts.port = number(&flag, &value)?,
            "--max-concurrent-streams" => {
                opts.max_concurrent_streams = Some(number(&flag, &value)?)
            }
            "--initial-window-size" => opts.initial_window_size = Some(number(&flag, &value)?),
            "--max-frame-size" => opts.max_frame_size = Some(number(&flag, &value)?),
            "--max-header-list-size" => opts.max_header_list_size = Some(number(&flag, &value)?),
            "--tls-dir" => files.dir = Some(PathBuf::from(value)),
            "--tls-name" => {
                if value.is_empty() {
                    return Err(format!("{flag}: empty name"));
                }
                names.push(value);
            }
            "--tls-alpn" => {
                if value.is_empty() || value.len() > 255 {
                    return Err(format!("{flag}: protocol id must be 1..=255 bytes"));
                }
                alpn_given = true;
                alpn.push(value.into_bytes());
            }
            "--tls-versions" => tls_opts.versions = versions(&flag, &value)?,
            _ => unreachable!("checked against `known` above"),
        }
        if flag.starts_with("--tls-") {
            tls_flags.push(flag);
        }
    }
    if !tls {
        if let Some(flag) = tls_flags.first() {
            return Err(format!("{flag} needs --tls"));
        }
        return Ok(Command::Serve(opts, None));
    }
    if !names.is_empty() {
        tls_opts.names = names;
    }
    if alpn_given {
        tls_opts.alpn = alpn;
    }
    opts.tls = Some(tls_opts);
    Ok(Command::Serve(opts, Some(files)))
}

/// Where the certificate files go: `--tls-dir`, or the executable's
/// directory.
fn tls_dir(files: &TlsFiles) -> Result<PathBuf, String> {
    if let Some(dir) = &files.dir {
        return Ok(dir.clone());
    }
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this executable (use --tls-dir): {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no parent directory (use --tls-dir)", exe.display()))
}

/// Writes `contents` to `dir/name` and returns the path.
fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// SIGTERM/SIGINT (Ctrl-C elsewhere) listeners. Created before the
/// "listening" line is printed, so that a signal sent as soon as a parent
/// reads that line already gets the orderly exit (status 0).
struct Signals {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // Signal streams register with the runtime that is current.
            let (term, int) = {
                let _entered = runtime.enter();
                (
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::interrupt())?,
                )
            };
            Ok(Signals { runtime, term, int })
        }
        #[cfg(not(unix))]
        Ok(Signals { runtime })
    }

    /// Blocks until one of the signals arrives.
    fn wait(mut self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let Signals { runtime, term, int } = &mut self;
            runtime.block_on(async {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
            Ok(())
        }
        #[cfg(not(unix))]
        {
            self.runtime.block_on(tokio::signal::ctrl_c())
        }
    }
}

fn main() -> ExitCode {
    let (mut opts, files) = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(opts, files)) => (opts, files),
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("h2testserver: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // TLS: where the files go, and the client certificate (generated before
    // the server starts, which must trust its CA).
    let mut tls_lines = Vec::new();
    let mut tls_dir_path = None;
    if let Some(files) = &files {
        let dir = match tls_dir(files) {
            Ok(dir) => dir,
            Err(msg) => {
                eprintln!("h2testserver: {msg}");
                return ExitCode::FAILURE;
            }
        };
        if files.client_cert {
            let client = tls::generate_client("h2testserver client");
            let written = write_file(&dir, CLIENT_CERT_FILE, &client.cert_pem).and_then(|cert| {
                write_file(&dir, CLIENT_KEY_FILE, &client.key_pem).map(|key| (cert, key))
            });
            match written {
                Ok((cert, key)) => {
                    tls_lines.push(format!("client certificate: {}", cert.display()));
                    tls_lines.push(format!("client key: {}", key.display()));
                }
                Err(msg) => {
                    eprintln!("h2testserver: {msg}");
                    return ExitCode::FAILURE;
                }
            }
            if let Some(tls) = opts.tls.as_mut() {
                tls.client_ca_pem = Some(client.ca_pem);
            }
        }
        tls_dir_path = Some(dir);
    }

    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("h2testserver: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(opts) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("h2testserver: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(dir), Some(ca_pem)) = (&tls_dir_path, server.tls_ca_pem()) {
        match write_file(dir, CA_FILE, ca_pem) {
            Ok(path) => tls_lines.insert(0, format!("ca certificate: {}", path.display())),
            Err(msg) => {
                eprintln!("h2testserver: {msg}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Whoever started us is waiting for the first line (and may read nothing
    // else), so flush explicitly: stdout is block-buffered on a pipe. The
    // certificate files it may need next are already written.
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", server.url())
        .and_then(|()| {
            tls_lines
                .iter()
                .try_for_each(|line| writeln!(stdout, "{line}"))
        })
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("h2testserver: cannot write to stdout");
        return ExitCode::FAILURE;
    }
    drop(stdout);

    if let Err(e) = signals.wait() {
        eprintln!("h2testserver: cannot wait for signals: {e}");
        return ExitCode::FAILURE;
    }
    server.stop();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[]), Ok(Command::Serve(Options::default(), None)));
    }

    #[test]
    fn tls_defaults() {
        let expected = Options {
            tls: Some(TlsOptions::default()),
            ..Options::default()
        };
        assert_eq!(
            parse(&["--tls"]),
            Ok(Command::Serve(expected, Some(TlsFiles::default())))
        );
    }

    #[test]
    fn tls_flags() {
        let expected = Options {
            port: 8443,
            tls: Some(TlsOptions {
                names: vec!["example.test".to_string(), "10.0.0.1".to_string()],
                alpn: vec![b"http/1.1".to_vec(), b"h2".to_vec()],
                expired: true,
                versions: vec![TLS13],
                client_ca_pem: None,
            }),
            ..Options::default()
        };
        let files = TlsFiles {
            dir: Some(PathBuf::from("/tmp/x")),
            client_cert: true,
        };
        let got = parse(&[
            "--tls-name",
            "example.test",
            "--port",
            "8443",
            "--tls",
            "--tls-name=10.0.0.1",
            "--tls-alpn",
            "http/1.1",
            "--tls-alpn=h2",
            "--tls-expired",
            "--tls-versions",
            "1.3",
            "--tls-dir",
            "/tmp/x",
            "--require-client-cert",
        ]);
        assert_eq!(got, Ok(Command::Serve(expected, Some(files))));
    }

    #[test]
    fn tls_versions() {
        let versions = |v: &str| match parse(&["--tls", "--tls-versions", v]) {
            Ok(Command::Serve(opts, _)) => Ok(opts.tls.expect("tls").versions),
            Ok(Command::Help) => Err("help".to_string()),
            Err(e) => Err(e),
        };
        assert_eq!(versions("1.2"), Ok(vec![TLS12]));
        assert_eq!(versions("1.3"), Ok(vec![TLS13]));
        assert_eq!(versions("1.2,1.3"), Ok(vec![TLS12, TLS13]));
        assert_eq!(versions("1.3,1.2"), Ok(vec![TLS13, TLS12]));
        assert!(versions("1.1").is_err());
        assert!(versions("").is_err());
        assert!(versions("1.2,").is_err());
    }

    #[test]
    fn tls_errors() {
        assert!(parse(&["--tls-name", "x"]).is_err());
        assert!(parse(&["--tls-expired"]).is_err());
        assert!(parse(&["--require-client-cert"]).is_err());
        assert!(parse(&["--tls-dir", "/tmp"]).is_err());
        assert!(parse(&["--tls=yes"]).is_err());
        assert!(parse(&["--tls", "--tls-alpn", ""]).is_err());
        assert!(parse(&["--tls", "--tls-name"]).is_err());
    }

    #[test]
    fn all_flags() {
        let expected = Options {
            host: "::1".to_string(),
            port: 8080,
            max_concurrent_streams: Some(10),
            initial_window_size: Some(65535),
            max_frame_size: Some(16384),
            max_header_list_size: Some(1024),
            tls: None,
        };
        let got = parse(&[
            "--host",
            "::1",
            "--port=8080",
            "--max-concurrent-streams",
            "10",
            "--initial-window-size",
            "65535",
            "--max-frame-size=16384",
            "--max-header-list-size",
            "1024",
        ]);
        assert_eq!(got, Ok(Command::Serve(expected, None)));
    }

    #[test]
    fn errors() {
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["stray"]).is_err());
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }
}
