package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"crypto/tls"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// An Option configures a Transport (NewTransport). Most set one h2_config option; the
// library checks the values, and NewTransport reports the first one it refuses.
type Option func(*options) error

type numOpt struct {
	name  string
	opt   C.int
	value uint64
}

type strOpt struct {
	name string
	opt  C.int
	a, b string
	data []byte
}

type options struct {
	nums      []numOpt
	strs      []strOpt
	buffered  bool
	inlineMax int64
	base      *url.URL                              // WithBaseURL
	proxy     func(*http.Request) (*url.URL, error) // WithProxy
	unix      bool                                  // WithUnixSocket with a path
	userAgent string                                // WithUserAgent, or DefaultUserAgent()
	encoding  *string                               // WithAcceptEncoding (nil: "gzip", as Go)
	// WithDisableCompression(true)
	noEncoding bool
}

func num(name string, opt C.int, v uint64) Option {
	return func(o *options) error {
		o.nums = append(o.nums, numOpt{name, opt, v})
		return nil
	}
}

func count(name string, opt C.int, n int) Option {
	if n < 0 || uint64(n) > math.MaxUint32 {
		return func(*options) error { return fmt.Errorf("h2client: %s(%d): out of range", name, n) }
	}
	return num(name, opt, uint64(n))
}

// millis converts a duration to whole milliseconds, rounding up (0 stays 0, so "none").
func millis(name string, opt C.int, d time.Duration) Option {
	if d < 0 {
		return func(*options) error { return fmt.Errorf("h2client: %s(%v): negative duration", name, d) }
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return func(*options) error { return fmt.Errorf("h2client: %s(%v): too long", name, d) }
	}
	return num(name, opt, uint64(ms))
}

// WithConnectTimeout sets the TCP connect timeout, DNS and TLS handshake included
// (default 10s).
func WithConnectTimeout(d time.Duration) Option {
	return millis("WithConnectTimeout", C.GH2_CONNECT_TIMEOUT, d)
}

// WithRequestTimeout sets the library's whole-request timeout, time waiting for a connection
// included (default 0: none). Expiry fails the request with an *Error of code ErrTimeout
// (while waiting for the head, or from Body.Read). A context deadline is the Go way to bound a
// single request; this one applies to every request of the Transport.
func WithRequestTimeout(d time.Duration) Option {
	return millis("WithRequestTimeout", C.GH2_REQUEST_TIMEOUT, d)
}

// WithHeadersTimeout bounds the time from submission to the response head (default none).
func WithHeadersTimeout(d time.Duration) Option {
	return millis("WithHeadersTimeout", C.GH2_HEADERS_TIMEOUT, d)
}

// WithBodyIdleTimeout bounds the gap between DATA frames of a response body (default none).
func WithBodyIdleTimeout(d time.Duration) Option {
	return millis("WithBodyIdleTimeout", C.GH2_BODY_IDLE_TIMEOUT, d)
}

// WithIdleTimeout closes connections without streams after d (default 90s; 0 = never).
func WithIdleTimeout(d time.Duration) Option {
	return millis("WithIdleTimeout", C.GH2_IDLE_TIMEOUT, d)
}

// WithKeepalive sends a PING after interval without traffic (0 = no keepalive; default 30s)
// and fails the connection if it is not acknowledged within timeout (default 15s).
func WithKeepalive(interval, timeout time.Duration) Option {
	a := millis("WithKeepalive", C.GH2_KEEPALIVE_INTERVAL, interval)
	b := millis("WithKeepalive", C.GH2_KEEPALIVE_TIMEOUT, timeout)
	return func(o *options) error {
		if err := a(o); err != nil {
			return err
		}
		return b(o)
	}
}

// WithSettingsTimeout bounds the wait for the server's SETTINGS acknowledgement (default 10s).
func WithSettingsTimeout(d time.Duration) Option {
	return millis("WithSettingsTimeout", C.GH2_SETTINGS_TIMEOUT, d)
}

// WithWriteTimeout fails a connection whose socket accepts nothing for d (default 30s).
func WithWriteTimeout(d time.Duration) Option {
	return millis("WithWriteTimeout", C.GH2_WRITE_TIMEOUT, d)
}

// WithMaxConnections caps the connections the Transport opens in all, over every origin
// (default 256). Beyond it, requests wait for a free stream or for a connection to close.
// The cap applies per proxy: the Transport holds one library client for direct connections
// and one per proxy URL (see WithProxy), each with its own connections.
func WithMaxConnections(n int) Option {
	return count("WithMaxConnections", C.GH2_MAX_CONNECTIONS, n)
}

// WithMaxConnectionsPerOrigin caps the connections to one origin (scheme, host, port;
// default 256), like http.Transport.MaxConnsPerHost. Beyond it, requests to that origin wait
// for a free stream on its connections. WithMaxConnections caps the whole Transport as well.
func WithMaxConnectionsPerOrigin(n int) Option {
	return count("WithMaxConnectionsPerOrigin", C.GH2_MAX_CONNECTIONS_PER_ORIGIN, n)
}

// WithMaxConcurrentStreams caps the streams per connection (default 1000; the server's
// SETTINGS_MAX_CONCURRENT_STREAMS applies too).
func WithMaxConcurrentStreams(n int) Option {
	return count("WithMaxConcurrentStreams", C.GH2_MAX_CONCURRENT_STREAMS, n)
}

// WithInitialWindowSize sets each stream's receive window (default 4 MiB). A response body
// that is not read holds back the server after this many bytes.
func WithInitialWindowSize(n int) Option {
	return count("WithInitialWindowSize", C.GH2_INITIAL_WINDOW_SIZE, n)
}

// WithConnectionWindowSize sets each connection's receive window (default 1 GiB).
func WithConnectionWindowSize(n int) Option {
	return count("WithConnectionWindowSize", C.GH2_CONNECTION_WINDOW_SIZE, n)
}

// WithMaxFrameSize sets the largest frame the server may send (default 16384).
func WithMaxFrameSize(n int) Option {
	return count("WithMaxFrameSize", C.GH2_MAX_FRAME_SIZE, n)
}

// WithMaxHeaderListSize sets the largest response header list accepted (default 256 KiB).
func WithMaxHeaderListSize(n int) Option {
	return count("WithMaxHeaderListSize", C.GH2_MAX_HEADER_LIST_SIZE, n)
}

// WithHeaderTableSize sets the HPACK table the server may use towards us (default 4096).
func WithHeaderTableSize(n int) Option {
	return count("WithHeaderTableSize", C.GH2_HEADER_TABLE_SIZE, n)
}

// WithMaxResponseBody caps the bodies of buffered responses (WithBufferedResponses;
// default 1 GiB): a larger one fails with ErrBodyTooLarge. Streamed bodies are not capped.
func WithMaxResponseBody(n int64) Option {
	if n < 0 {
		return func(*options) error { return fmt.Errorf("h2client: WithMaxResponseBody(%d): negative", n) }
	}
	return num("WithMaxResponseBody", C.GH2_MAX_RESPONSE_BODY, uint64(n))
}

// WithMaxRetries sets how often a request the server provably did not process is retried
// (default 3, at most 10). Streamed request bodies are not retried once part went out.
func WithMaxRetries(n int) Option {
	return count("WithMaxRetries", C.GH2_MAX_RETRIES, n)
}

// WithCAFile trusts only the CA certificates of this PEM file (https), instead of the
// system's store.
func WithCAFile(path string) Option {
	return func(o *options) error {
		o.strs = append(o.strs, strOpt{name: "WithCAFile", opt: C.GH2_CA_FILE, a: path})
		return nil
	}
}

// WithCAPEM trusts only the CA certificates in pem (https).
func WithCAPEM(pem []byte) Option {
	data := append([]byte(nil), pem...)
	return func(o *options) error {
		o.strs = append(o.strs, strOpt{name: "WithCAPEM", opt: C.GH2_CA_PEM, data: data})
		return nil
	}
}

// WithInsecureSkipVerify makes https accept ANY server certificate. FOR TESTING ONLY.
func WithInsecureSkipVerify() Option {
	return num("WithInsecureSkipVerify", C.GH2_INSECURE_SKIP_VERIFY, 1)
}

// WithClientCertFile presents a client certificate chain and key (PEM files) for mutual TLS.
func WithClientCertFile(certFile, keyFile string) Option {
	return func(o *options) error {
		o.strs = append(o.strs, strOpt{name: "WithClientCertFile", opt: C.GH2_CLIENT_CERT_FILE, a: certFile, b: keyFile})
		return nil
	}
}

// WithTLSVersions restricts the TLS versions (tls.VersionTLS12, tls.VersionTLS13; both by
// default).
func WithTLSVersions(versions ...uint16) Option {
	return func(o *options) error {
		var mask uint64
		for _, v := range versions {
			switch v {
			case tls.VersionTLS12:
				mask |= C.H2_TLS_1_2
			case tls.VersionTLS13:
				mask |= C.H2_TLS_1_3
			default:
				return fmt.Errorf("h2client: WithTLSVersions: unsupported version %#x (TLS 1.2 and 1.3 only)", v)
			}
		}
		o.nums = append(o.nums, numOpt{"WithTLSVersions", C.GH2_TLS_VERSIONS, mask})
		return nil
	}
}

// WithBufferedResponses makes buffered mode the Transport's default: requests without a
// streamed body are submitted to the library's completion queue and RoundTrip returns once
// the WHOLE response has arrived (bounded by WithMaxResponseBody). No OS thread is held while
// such requests wait, so it scales to many thousands of concurrent requests; but the body is
// not streamed. ContextWithBuffering overrides the mode per request. See the package
// documentation.
func WithBufferedResponses(on bool) Option {
	return func(o *options) error {
		o.buffered = on
		return nil
	}
}

// WithInlineBodyLimit sets the largest request body with a known ContentLength that is read
// up front and sent as one buffer (default 1 MiB): such a body can be retried by the library
// and can go through the completion queue. Larger bodies, and bodies of unknown length
// (ContentLength 0 with a non-nil Body, or -1), are streamed. 0 streams every body.
func WithInlineBodyLimit(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("h2client: WithInlineBodyLimit(%d): negative", n)
		}
		o.inlineMax = n
		return nil
	}
}

// WithBaseURL sets the URL that requests with a relative URL (no scheme and no host, as in
// client.Get("/users")) are resolved against (RFC 3986, url.URL.ResolveReference):
// "http://host[:port][/path]" or "https://host[:port][/path]", without credentials.
// Requests with an absolute URL go to their own origin, with or without this option. Without
// it, a relative URL fails with ErrInvalidURL, as it does with net/http's Transport.
func WithBaseURL(baseURL string) Option {
	return func(o *options) error {
		u, err := url.Parse(baseURL)
		if err != nil {
			return localError(ErrInvalidURL, "WithBaseURL: %v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return localError(ErrInvalidURL, "WithBaseURL(%q): the scheme must be http or https", baseURL)
		}
		if u.Host == "" || u.Opaque != "" {
			return localError(ErrInvalidURL, "WithBaseURL(%q): no host", baseURL)
		}
		if u.User != nil {
			return localError(ErrInvalidURL, "WithBaseURL(%q): credentials are not allowed in the base URL", baseURL)
		}
		o.base = u
		return nil
	}
}

// WithProxy sets the function that chooses each request's proxy, like http.Transport.Proxy:
// it is called for every request (each hop of a redirect that http.Client follows is a
// request of its own) and returns the proxy's URL, or nil and no error for a direct
// connection; an error fails the request (the *Error, of code ErrProxy, wraps it).
// http.ProxyURL(u) always uses u. WithProxy(nil) always connects directly, like an
// http.Transport whose Proxy is nil. Without WithProxy, the Transport uses
// http.ProxyFromEnvironment, like http.DefaultTransport: HTTPS_PROXY for https URLs,
// HTTP_PROXY for http URLs, NO_PROXY, and never a proxy for localhost and loopback
// addresses (see its documentation; the environment is read once per process).
//
// Proxy URLs: "http://host[:port]" (an HTTP/1.1 CONNECT tunnel, for http and https URLs
// alike, since HTTP/2 needs the connection to itself; port 80 by default), "https://"
// (the same, inside TLS to the proxy; port 443), "socks5://" and "socks5h://" (SOCKS5;
// port 1080; both send host names to the proxy to resolve, as net/http does with socks5).
// Credentials in the URL ("http://user:password@proxy:3128") are sent to the proxy. A URL
// the library cannot use fails the request with ErrInvalidURL.
//
// The library's proxy is a client setting, so the Transport holds one library client for
// direct connections and one per distinct proxy URL the function has returned (made when
// first needed, kept until Close); each has its own connections, and Stats,
// CloseIdleConnections and Close cover them all. The library's own reading of the
// environment (curl's rules) is never used: the function's answer is final. With
// WithUnixSocket no proxy applies and the function is not called.
func WithProxy(proxy func(*http.Request) (*url.URL, error)) Option {
	return func(o *options) error {
		if proxy == nil {
			proxy = noProxy
		}
		o.proxy = proxy
		return nil
	}
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// str is an option of one string (no NUL bytes allowed).
func str(name string, opt C.int, s string) Option {
	return func(o *options) error {
		if strings.IndexByte(s, 0) >= 0 {
			return localError(ErrInvalidArgument, "%s(%q): contains a NUL byte", name, s)
		}
		o.strs = append(o.strs, strOpt{name: name, opt: opt, a: s})
		return nil
	}
}

// WithResolve adds name resolution overrides, like curl's --resolve: each entry is
// "HOST:PORT:ADDR[,ADDR]..." (IPv6 addresses in brackets), e.g.
// "example.com:443:127.0.0.1". Connections to HOST:PORT then dial these addresses without
// asking DNS; the URL's host still names the origin (:authority, TLS server name and
// certificate check). The first matching entry wins. A malformed entry makes NewTransport
// fail with ErrInvalidArgument. Not applied to connections through a proxy.
func WithResolve(entries ...string) Option {
	return func(o *options) error {
		for _, e := range entries {
			if err := str("WithResolve", C.GH2_RESOLVE, e)(o); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithConnectTo adds connection target overrides, like curl's --connect-to: each entry is
// "HOST1:PORT1:HOST2:PORT2", and connections to HOST1:PORT1 go to HOST2:PORT2 instead (an
// empty HOST1 or PORT1 matches any; an empty HOST2 or PORT2 keeps the original). The URL's
// host still names the origin (:authority, TLS server name and certificate check). Applied
// before WithResolve's entries; the first match wins. A malformed entry makes NewTransport
// fail with ErrInvalidArgument. Not applied to connections through a proxy.
func WithConnectTo(entries ...string) Option {
	return func(o *options) error {
		for _, e := range entries {
			if err := str("WithConnectTo", C.GH2_CONNECT_TO, e)(o); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithLocalAddress binds every connection's socket to the local IP address addr before
// connecting (like net.Dialer.LocalAddr, or curl's --interface with an address). An address
// that is not an IP address makes NewTransport fail with ErrInvalidArgument; one the machine
// does not have fails each connection with ErrConnect.
func WithLocalAddress(addr string) Option {
	return str("WithLocalAddress", C.GH2_LOCAL_ADDRESS, addr)
}

// WithUnixSocket sends every connection over the Unix domain socket at path instead of TCP,
// like curl's --unix-socket (h2_config_set_unix_socket), for a local server, sidecar or
// proxy. Request URLs still name the origin: "http://" URLs speak h2c (prior knowledge) on the
// socket, "https://" URLs TLS with the URL's host as server name and for the certificate
// check, and :authority is the URL's, so any host name works without being resolved. No proxy
// applies (the proxy function, WithProxy or http.ProxyFromEnvironment, is not called), nor do
// WithResolve, WithConnectTo and WithLocalAddress. A path longer than a socket address holds
// (107 bytes) makes NewTransport fail with ErrInvalidArgument; a socket nobody listens on fails
// each request with ErrConnect naming it. "" connects over TCP, the default.
func WithUnixSocket(path string) Option {
	set := str("WithUnixSocket", C.GH2_UNIX_SOCKET, path)
	return func(o *options) error {
		if err := set(o); err != nil {
			return err
		}
		o.unix = path != ""
		return nil
	}
}

// WithUserAgent sets the User-Agent sent with requests that have none (default:
// DefaultUserAgent(), "h2client/<version>"); "" sends none. A request's own User-Agent
// header wins, as with net/http: the first value only, and a User-Agent present in
// Request.Header with an empty value (or no value) sends no User-Agent at all. A value with
// control characters or surrounding spaces makes NewTransport fail with ErrInvalidArgument.
func WithUserAgent(userAgent string) Option {
	set := str("WithUserAgent", C.GH2_USER_AGENT, userAgent)
	return func(o *options) error {
		if userAgent != "" {
			if err := set(o); err != nil { // the library checks the value
				return err
			}
		}
		o.userAgent = userAgent
		return nil
	}
}

// WithAcceptEncoding sets the Accept-Encoding a Transport sends with requests that have none,
// and whose responses it then decodes transparently, as net/http's Transport does with gzip:
// the decoded Response has Uncompressed set, no Content-Encoding and Content-Length headers,
// and ContentLength -1. The default is "gzip", as net/http; "" asks for every coding the
// library decodes ("gzip, deflate, br, zstd"); WithDisableCompression turns it off. A request
// that sets its own Accept-Encoding gets the body as sent (as with net/http). A body that
// does not decode fails the read with ErrDecode.
func WithAcceptEncoding(list string) Option {
	return func(o *options) error {
		if strings.IndexByte(list, 0) >= 0 {
			return localError(ErrInvalidArgument, "WithAcceptEncoding(%q): contains a NUL byte", list)
		}
		o.encoding = &list
		return nil
	}
}

// WithDisableCompression(true) sends no Accept-Encoding and decodes nothing, as
// http.Transport.DisableCompression.
func WithDisableCompression(disable bool) Option {
	return func(o *options) error {
		if disable {
			o.encoding = nil
			o.noEncoding = true
		} else {
			o.noEncoding = false
		}
		return nil
	}
}

// WithMaxContinuationFrames caps the CONTINUATION frames accepted in one response header block
// (default 0: derived from WithMaxHeaderListSize, enough for a maximal block in 4 KiB
// frames). More is a CONTINUATION flood (CVE-2024-27316 class): the connection is closed with
// GOAWAY(ENHANCE_YOUR_CALM) and Stats().LimitContinuationFlood counts it.
func WithMaxContinuationFrames(n int) Option {
	return count("WithMaxContinuationFrames", C.GH2_MAX_CONTINUATION_FRAMES, n)
}

// WithMaxEmptyDataFrames caps the empty DATA frames (without END_STREAM) a server may send per
// connection per minute (default 100; must be > 0). More closes the connection with
// GOAWAY(ENHANCE_YOUR_CALM) (Stats().LimitEmptyDataFlood).
func WithMaxEmptyDataFrames(n int) Option {
	return count("WithMaxEmptyDataFrames", C.GH2_MAX_EMPTY_DATA_FRAMES, n)
}

// WithMaxPendingAcks caps the PING and SETTINGS acknowledgements allowed to wait for the
// socket (default 1000; must be > 0): a server flooding PINGs or SETTINGS while not reading
// gets GOAWAY(ENHANCE_YOUR_CALM) (Stats().LimitAckFlood).
func WithMaxPendingAcks(n int) Option {
	return count("WithMaxPendingAcks", C.GH2_MAX_PENDING_ACKS, n)
}

// WithMaxGlitches caps the pointless frames (RST_STREAM, PRIORITY, unknown frame types) a
// server may send per connection per minute (default 1000; must be > 0). More closes the
// connection with GOAWAY(ENHANCE_YOUR_CALM) (Stats().LimitGlitchFlood).
func WithMaxGlitches(n int) Option {
	return count("WithMaxGlitches", C.GH2_MAX_GLITCHES, n)
}

// WithMaxResetsPerSecond caps the stream resets the Transport sends per connection per second
// (cancelled requests, bodies closed early; default 200; must be > 0). Beyond it the
// connection takes no new streams (later requests go on another one), so that cancelling in
// bulk cannot make this client a rapid-reset source (CVE-2023-44487); Stats().LimitResetRate
// counts it.
func WithMaxResetsPerSecond(n int) Option {
	return count("WithMaxResetsPerSecond", C.GH2_MAX_RESETS_PER_SECOND, n)
}

// WithMaxInformationalResponses caps the informational (1xx) responses a server may send
// before a request's final response (default 16; must be > 0; net/http's own HTTP/2 client
// allows 5). More resets the stream with ENHANCE_YOUR_CALM and fails the request with
// ErrProtocol; Stats().LimitInformationalFlood counts it.
func WithMaxInformationalResponses(n int) Option {
	return count("WithMaxInformationalResponses", C.GH2_MAX_INFORMATIONAL_RESPONSES, n)
}
