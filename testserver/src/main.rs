//! `h2testserver`: runs the h2client test server until SIGTERM or SIGINT.
//!
//! Prints exactly one line, `listening on http://HOST:PORT`, to stdout once it
//! accepts connections, so that scripts and C tests can start it with
//! `--port 0` and read the port back.

use std::io::Write;
use std::process::ExitCode;

use h2client_testserver::{Options, Server};

const USAGE: &str = "\
usage: h2testserver [--host ADDR] [--port N] [--max-concurrent-streams N]
                    [--initial-window-size N] [--max-frame-size N]
                    [--max-header-list-size N]

Serves HTTP/2 over cleartext TCP with prior knowledge (h2c) until SIGTERM or
SIGINT. --port 0 (the default) picks a free port. Prints one line,
'listening on http://HOST:PORT', when ready. H2TESTSERVER_LOG=1 logs to stderr.";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Serve(Options),
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

    let mut opts = Options::default();
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
        let known = [
            "--host",
            "--port",
            "--max-concurrent-streams",
            "--initial-window-size",
            "--max-frame-size",
            "--max-header-list-size",
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
            _ => unreachable!("checked against `known` above"),
        }
    }
    Ok(Command::Serve(opts))
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
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(opts)) => opts,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("h2testserver: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
    // Whoever started us is waiting for this line (and may read nothing
    // else), so flush it explicitly: stdout is block-buffered on a pipe.
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", server.url())
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
        assert_eq!(parse(&[]), Ok(Command::Serve(Options::default())));
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
        assert_eq!(got, Ok(Command::Serve(expected)));
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
