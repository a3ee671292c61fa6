// Package h2client is the Go binding of h2client, an HTTP/2 client library written in Rust
// with a C ABI (libh2client, found through pkg-config). It uses cgo and the standard library
// only.
//
// # Transport
//
// NewTransport returns a *Transport that serves any URL: "http://" URLs over cleartext TCP
// with prior knowledge (h2c), "https://" URLs over TLS (ALPN h2). It implements
// http.RoundTripper, so net/http's Client works unchanged on top of it:
//
//	tr, err := h2client.NewTransport(h2client.WithCAFile("ca.pem"))
//	if err != nil { ... }
//	defer tr.Close()
//	client := &http.Client{Transport: tr}
//	resp, err := client.Get("https://example.com/index.html")
//
// One Transport serves every origin (scheme, host, port) from one library client
// (h2_client_new without a base URL; one more per proxy, see Proxies), each origin with its
// own connections, and multiplexes the requests of any number of goroutines over them
// (opening more connections when a server's stream limit is reached, up to
// WithMaxConnectionsPerOrigin). Make one Transport and share it, as with net/http's. Options
// (With...) set the library's configuration: timeouts, connection and stream limits,
// flow-control windows, CA file or PEM, client certificate, TLS versions, proxy, name and
// address overrides (WithResolve, WithConnectTo, WithLocalAddress), a Unix domain socket
// for every connection (WithUnixSocket, curl's --unix-socket: the URL still names the
// origin, no proxy applies), the User-Agent (WithUserAgent), and the defence limits against
// misbehaving servers (WithMaxContinuationFrames, WithMaxEmptyDataFrames,
// WithMaxPendingAcks, WithMaxGlitches, WithMaxResetsPerSecond,
// WithMaxInformationalResponses; Stats counts what they stopped).
//
// WithBaseURL makes requests with a relative URL (client.Get("/users")) go to a base URL's
// origin (resolved as url.URL.ResolveReference does); without it they fail with
// ErrInvalidURL, as with net/http's Transport. Earlier versions took a base URL as
// NewTransport's first argument and refused other origins; NewTransport(url, opts...) is
// now NewTransport(opts...), with WithBaseURL(url) for relative URLs.
//
// # Redirects
//
// The Transport does not follow redirects: RoundTrip returns the 3xx response, and
// http.Client follows it (CheckRedirect, at most 10 by default), sending each hop through
// the Transport, to whatever origin it leads. Dropping Authorization and Cookie headers on
// the way to another host, and the method and body rules of 301, 302, 303, 307 and 308,
// are http.Client's.
//
// # Proxies
//
// Each request's proxy is chosen by a function, like http.Transport.Proxy: WithProxy sets
// it, and without WithProxy it is http.ProxyFromEnvironment, as in http.DefaultTransport
// (HTTPS_PROXY and HTTP_PROXY, NO_PROXY, never for localhost or loopback addresses; the
// environment is read once per process). WithProxy(nil) always connects directly. The
// function is called for every request, so it may choose by host, and each hop of a
// redirect is asked about on its own. Proxies are "http://" and "https://" ones (an HTTP/1.1
// CONNECT tunnel, for https and http URLs alike) and SOCKS5 ("socks5://", which like
// net/http sends host names to the proxy to resolve, and "socks5h://"), with credentials in
// the URL if they need them. Since the library's proxy is a client setting, the Transport
// holds one library client for direct connections and one per proxy URL the function has
// returned, made when first needed; the library's own reading of the environment (curl's
// rules) is never used. A proxy that refuses the tunnel fails the request with ErrProxy; an
// error of the function fails it with an ErrProxy *Error that wraps it.
//
// # Connections
//
// CloseIdleConnections (which http.Client.CloseIdleConnections calls) closes every idle
// connection, of every origin and proxy (h2_client_close_idle_connections); connections with
// requests in flight are left alone. Idle connections also close by themselves after
// WithIdleTimeout (90 s by default). Close closes them all and frees the library clients.
// Stats and OriginStats return the library's counters (h2_client_stats,
// h2_client_origin_stats), summed over the library clients.
//
// # Requests
//
// The method, the URL and the headers are sent; the library lowercases the names. The URL
// is the scheme, host and port followed by URL.RequestURI (path and query), without the user
// information (http.Client has turned it into an Authorization header) or the fragment; the
// library parses it by the WHATWG rules (dot segments removed, a non-ASCII host in punycode)
// and sends :authority as host[:port], with the port only when it is not the scheme's
// default. Request.Host, when it differs from the URL's host, becomes :authority (the
// connection still goes to the URL's host). Connection-specific fields HTTP/2 forbids are
// dropped: Connection and the fields it names, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade, and TE unless it is "trailers". Values are trimmed of
// surrounding spaces and tabs. No Accept-Encoding is added (and no transparent gzip is done).
//
// A request without a User-Agent field gets the Transport's: DefaultUserAgent(),
// "h2client/<version>" (the library's own default, as the C, C++ and Ruby clients send it),
// or WithUserAgent's; WithUserAgent("") sends none. This binding chose the library's name
// over "Go-http-client/2.0", which net/http's own HTTP/2 client sends, because the HTTP/2
// implementation talking to the server is h2client's, not Go's (servers that work around a
// client's quirks by its User-Agent would be misled); WithUserAgent("Go-http-client/2.0")
// gives net/http's. A request's own User-Agent follows net/http's rules: only its first value
// is sent, and a User-Agent present in Request.Header with an empty value (or none) sends no
// User-Agent at all.
//
// A body whose length is known (ContentLength > 0) and at most the inline limit
// (WithInlineBodyLimit, 1 MiB by default) is read at once and sent as one buffer; the library
// may then retry the request on another connection if the server did not process it. Any
// other body (unknown length, larger, or with Request.Trailer) is streamed: a goroutine reads
// Request.Body and passes each chunk to h2_call_write, which copies it (the Go buffer is lent
// to C for the duration of the call only, as cgo's rules allow for memory without Go
// pointers) and blocks while the server's flow-control window is closed, so a body of any
// size streams in bounded memory. Once the body returns io.EOF, the values of Request.Trailer
// are sent as trailers (the keys are declared in a "trailer" header up front) and the stream
// is ended. A streamed body is not retried once part of it went out. If reading the body
// fails, the request is cancelled and the error returned to the caller wraps the read error.
// The body is always closed, as the RoundTripper contract requires.
//
// # Responses
//
// RoundTrip returns when the response head has arrived (1xx responses are skipped, after
// going to the request's trace: see Informational responses).
// Proto is "HTTP/2.0" (ProtoMajor 2), ContentLength comes from content-length (-1 without
// one), and Body reads the body as it arrives (h2_call_read): the stream's receive window
// is reopened only as the body is read, so a slow reader slows the server down rather than
// filling memory. Closing the body before the end resets the stream (RST_STREAM(CANCEL)).
// Response.TLS describes the TLS session of https responses, nil for h2c (see Request
// information).
//
// Trailers follow net/http's convention as far as HTTP/2 allows: Response.Trailer holds the
// keys the server declared in a "Trailer" header (with nil values) when RoundTrip returns,
// and the values (plus any undeclared trailers) are filled in when Body.Read returns io.EOF.
// Read them only after that.
//
// # Informational responses
//
// Informational (1xx) responses, such as 103 Early Hints (RFC 8297), go to the
// httptrace.ClientTrace of the request's context (httptrace.WithClientTrace), as with
// net/http's own HTTP/2 client: Got1xxResponse(code, header) for each one (100 Continue
// included), with its fields in a textproto.MIMEHeader (canonical keys, e.g. "Link"), then
// Got100Continue for a 100. They are called in order, before RoundTrip returns the final
// response, on one of the library's threads (a cgo callback) while that connection's reader
// waits: keep them quick. If Got1xxResponse returns an error, the request is cancelled
// (RST_STREAM(CANCEL)) and fails with an *Error of code ErrCanceled that wraps it; a hook
// that panics fails it the same way. The library's callback
// (h2_request_set_informational_callback) is set only for requests whose trace has one of
// these two hooks; the others skip 1xx responses at no cost. At most 16 are accepted before
// the final response by default (WithMaxInformationalResponses; net/http allows 5): more fail
// the request with ErrProtocol. The connection hooks of the trace are reported after the fact:
// see Request information.
//
// # Request information
//
// The library records, for each request, its times, bytes, connection and TLS session
// (h2_request_info). The Transport reports them in three ways.
//
// Response.TLS, for https responses in both modes (nil for h2c), is a *tls.ConnectionState
// made from them: Version and CipherSuite (the IANA numbers, as crypto/tls's constants),
// NegotiatedProtocol "h2" (NegotiatedProtocolIsMutual true), ServerName (the SNI sent: the
// URL's host, "" for an IP address), DidResume, HandshakeComplete true, and PeerCertificates:
// the certificates the server sent, leaf first, parsed with x509.ParseCertificate (up to the
// first one it refuses, if any). VerifiedChains is nil: the library verified the server's
// chain against its roots (unless WithInsecureSkipVerify), but does not expose the chain it
// built, and the certificates the server sent are not one (they usually lack the root, and may
// hold extra ones). OCSPResponse, SignedCertificateTimestamps and TLSUnique are empty, and
// ExportKeyingMaterial must not be called (crypto/tls alone can make a ConnectionState for
// which it works: on this one it panics). As with net/http, the responses of one connection
// share one *tls.ConnectionState: do not modify it. The certificates are copied and parsed
// once per connection (the states of the last 256 connections are kept).
//
// ContextWithRequestInfo(ctx, &info) makes the Transport fill a RequestInfo for the requests
// made with ctx: the times since the request started (name lookup, connect, TLS handshake,
// headers sent, request sent, first byte, total), the header and body bytes sent and received,
// whether the connection was reused, the retries, the connection's id, the stream id, the
// remote and local addresses, and the TLS session. It is filled when RoundTrip returns,
// brought up to date when the body has been read to the end or closed, and filled for requests
// that failed after they started too. Read it in the goroutine that read or closed the body.
//
// The connection hooks of the request's httptrace.ClientTrace are called too, but only once
// the response head is in (streaming mode) or the response is complete (buffered mode), just
// before RoundTrip returns, and not as things happen: the library reports a request's times
// after the fact, and does not call into Go while it connects. So the time between two hooks
// says nothing: take the times from RequestInfo. Got1xxResponse and Got100Continue, which are
// called live (see Informational responses), come before them. The hooks that are set are
// called in net/http's order, each at most once, in the goroutine of RoundTrip: GetConn (the
// proxy's host:port through a proxy, else the URL's); on a new connection only, DNSStart and
// DNSDone (for a host name, not an IP address nor a Unix socket; DNSDone's Addrs holds the
// address connected to only, as the library does not report the others), ConnectStart and
// ConnectDone ("tcp" and the address dialled, or "unix" and the socket's path; through a
// proxy, the proxy's) and over TLS TLSHandshakeStart and TLSHandshakeDone (the state of
// Response.TLS); GotConn; WroteHeaders; then WroteRequest and GotFirstResponseByte in the
// order they happened. In streaming mode, a request whose body was not all sent when the head
// came in (a server that answers before reading the whole body, such as an echo) gets
// WroteRequest when its response body ends (EOF, an error or Close; in that goroutine) if the
// body was all sent by then, else never; in buffered mode, never. GotConn's Conn is a stand-in
// net.Conn that only has the connection's addresses (the library does not lend its socket:
// Read, Write, Close and the deadlines fail); Reused is as in RequestInfo; WasIdle and
// IdleTime are not known (false and 0). Errors are not reported through these hooks
// (ConnectDone and TLSHandshakeDone always get a nil error, and a request that fails before
// its head calls none of them): the request's error and RequestInfo tell what happened.
// PutIdleConn, Wait100Continue and WroteHeaderField are not called. A hook that panics makes
// RoundTrip panic, as in net/http (the call is released first).
//
// # Logging
//
// SetLogFunc(level, fn) and SetLogger(level, *log.Logger) send the library's diagnostics
// (h2_set_log_callback) to Go: at LogInfo, connections opened and closed and TLS handshakes;
// at LogDebug, every request and response header field, credentials included; at LogTrace,
// rustls's details. The setting is process-wide, for every Transport, like the library's.
// The function runs on the library's threads, and on goroutines in the middle of a Transport
// call, concurrently: it must be safe for concurrent use and must not use a Transport.
// This module builds with Go 1.19, so log/slog is not used; a three-line SetLogFunc
// adapter feeds it (see SetLogFunc).
//
// # Cancellation, deadlines, timeouts
//
// The request's context (and the deprecated Request.Cancel, which http.Client.Timeout also
// uses) is watched while the request is in flight: when it ends, the call is cancelled with
// h2_call_cancel (RST_STREAM(CANCEL)) and the waiting RoundTrip or Body.Read returns at
// once with an *Error of code ErrCanceled that wraps ctx.Err(), so
// errors.Is(err, context.Canceled) and errors.Is(err, context.DeadlineExceeded) work, and
// Timeout() is true for a deadline. The watching goroutine is started only for contexts that
// can end, and ends when the body is closed or read to the end. The library's own timeouts
// (WithRequestTimeout, WithHeadersTimeout, WithBodyIdleTimeout, ...) fail with ErrTimeout.
//
// # Errors
//
// Failures reported by the library are *Error values with the fields of h2_error_info: the
// code (Code; ErrTimeout, ErrStreamReset, ...), its name, the HTTP/2 error code, whether the
// server may have processed the request (Processed: ProcessedNo means it is safe to retry),
// who detected it (Origin), GOAWAY's last stream id, the retries made, and the message. The
// Code constants are errors themselves: errors.Is(err, h2client.ErrStreamReset). http.Client
// wraps them in *url.Error; errors.As finds them through it. Errors the binding detects
// itself are *Error values too: a URL that is not http or https, or has no host, is
// ErrInvalidURL; an error of the proxy function is ErrProxy, wrapping it. The library's
// per-thread last error is read in the same C call that failed (small C helpers in gh2.c),
// never in a later cgo call, which could run on another OS thread.
//
// # Threads: streaming mode and buffered mode
//
// A blocking C call occupies an OS thread while it blocks. cgo lets the other goroutines run
// (the thread's P is handed to another thread when the call takes long), but every blocked
// call holds its own thread, and the hand-off itself costs time. The Transport therefore has
// two modes:
//
// Streaming mode (the default) is the one with net/http's semantics: h2_client_start, then
// h2_call_wait_headers, h2_call_read and h2_call_write, each blocking a thread while it waits.
// It streams bodies both ways with flow control, and returns after the head. Its cost is one
// OS thread per request that is waiting at that moment, plus the scheduler's hand-offs. With
// 1,000 goroutines doing GETs on one Transport (2 CPUs, cmd/h2gobench): for a fast endpoint,
// 250 to 1,000 threads, 7,500 to 11,000 req/s and 100 to 120 µs of CPU per request, against
// 12 to 30 threads, 19,000 to 23,000 req/s and 30 µs in buffered mode; for an endpoint that
// answers after 200 ms, 800 to 970 threads, 2,000 req/s and 300 µs of CPU per request,
// against 8 to 10 threads, 4,000 to 4,700 req/s (of 5,000 possible) and 50 to 60 µs. Go
// aborts a program that exceeds 10,000 threads (debug.SetMaxThreads), so do not keep more
// than a few thousand slow requests in flight in this mode.
//
// Buffered mode (WithBufferedResponses, or ContextWithBuffering per request) submits the
// request to the library's completion queue (h2_client_submit) and returns once the whole
// response has arrived, body and trailers included (bounded by WithMaxResponseBody). One
// queue serves every Transport of the process; one goroutine collects its completions by
// waiting for the queue's eventfd in Go's netpoller, so no thread is held while requests
// wait, whatever their number, and each completion goes to the goroutine that submitted it,
// which converts the response itself. It is also faster under concurrency (64 goroutines:
// about 50 µs per request against about 90 µs in streaming mode, near the C API's 42 µs with
// 64 threads). Requests whose body is streamed always use streaming mode. Use
// buffered mode for many concurrent requests with small responses (APIs, RPC); use streaming
// mode (the default) for large or long responses, downloads, event streams and uploads. A
// sequential caller is slightly better served by streaming mode (one goroutine hand-off less
// per request).
//
// Compression: as net/http, gzip is asked for and decoded transparently (resp.Uncompressed);
// WithAcceptEncoding("") adds deflate, br and zstd, WithDisableCompression(true) turns it off.
package h2client
