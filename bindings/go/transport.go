package h2client

/*
#cgo pkg-config: h2client
#include <stdlib.h>
#include "gh2.h"
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

const defaultInlineMax = 1 << 20

// Transport is an http.RoundTripper that sends requests over HTTP/2 with h2client, to any
// origin: "http://" URLs over cleartext TCP with prior knowledge (h2c), "https://" URLs over
// TLS (ALPN h2). It is safe for concurrent use; one Transport multiplexes the requests of all
// goroutines over its connections, each origin (scheme, host, port) having its own. It does
// not follow redirects: http.Client does, sending each hop through the Transport.
type Transport struct {
	mu      sync.RWMutex            // RLock while using a client, Lock to add one or to close
	cfg     *C.h2_config            // the options, for the clients made later; nil once closed
	direct  *C.h2_client            // direct connections; nil once closed
	proxied map[string]*C.h2_client // by proxy URL, made when first needed
	proxy   func(*http.Request) (*url.URL, error)
	base    *url.URL // WithBaseURL, or nil
	unix    bool     // WithUnixSocket: every connection goes to the socket, no proxy applies
	ua      string   // the User-Agent of requests without one ("" = none)

	buffered  bool
	inlineMax int64
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport makes a Transport, configured by the options. It serves any http:// or
// https:// URL; requests choose their proxy with http.ProxyFromEnvironment unless WithProxy
// says otherwise. No connection is opened until the first request.
func NewTransport(opts ...Option) (*Transport, error) {
	o := options{inlineMax: defaultInlineMax, proxy: http.ProxyFromEnvironment, userAgent: DefaultUserAgent()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cfg := C.h2_config_new()
	if cfg == nil {
		return nil, localError(ErrInternal, "h2_config_new failed")
	}
	var info C.h2_error_info
	for _, n := range o.nums {
		if rc := C.gh2_config_set(cfg, n.opt, C.uint64_t(n.value), &info); rc != 0 {
			C.h2_config_free(cfg)
			e := newError(&info, rc)
			e.Message = n.name + ": " + e.Message
			return nil, e
		}
	}
	if !o.noEncoding {
		list := "gzip" // net/http's transparent compression
		if o.encoding != nil {
			list = *o.encoding
		}
		o.strs = append(o.strs, strOpt{name: "WithAcceptEncoding", opt: C.GH2_ACCEPT_ENCODING, a: list})
	}
	for _, s := range o.strs {
		if err := setBytes(cfg, s, &info); err != nil {
			C.h2_config_free(cfg)
			return nil, err
		}
	}
	direct, err := newClient(cfg, "")
	if err != nil {
		C.h2_config_free(cfg)
		return nil, err
	}
	return &Transport{
		cfg:       cfg,
		direct:    direct,
		proxied:   map[string]*C.h2_client{},
		proxy:     o.proxy,
		base:      o.base,
		unix:      o.unix,
		ua:        o.userAgent,
		buffered:  o.buffered,
		inlineMax: o.inlineMax,
	}, nil
}

// newClient makes a library client for any origin through proxy ("" = direct).
func newClient(cfg *C.h2_config, proxy string) (*C.h2_client, error) {
	cproxy := C.CString(proxy)
	defer C.free(unsafe.Pointer(cproxy))
	var info C.h2_error_info
	client := C.gh2_client_new(cfg, cproxy, &info)
	if client == nil {
		return nil, newError(&info, C.H2_E_INVALID_ARGUMENT)
	}
	return client, nil
}

func setBytes(cfg *C.h2_config, s strOpt, info *C.h2_error_info) error {
	var a, b *C.char
	var n C.size_t
	if s.data != nil {
		if len(s.data) > 0 {
			a = (*C.char)(C.CBytes(s.data))
		}
		n = C.size_t(len(s.data))
	} else {
		a = C.CString(s.a)
		b = C.CString(s.b)
	}
	defer C.free(unsafe.Pointer(a))
	defer C.free(unsafe.Pointer(b))
	if rc := C.gh2_config_set_bytes(cfg, s.opt, a, b, n, info); rc != 0 {
		e := newError(info, rc)
		e.Message = s.name + ": " + e.Message
		return e
	}
	return nil
}

// errClosed is the error of a request made after Close.
func errClosed() error { return localError(ErrClosed, "the Transport is closed") }

// client returns the library client for proxy ("" = direct), making it if needed, with
// t.mu read-locked (the caller unlocks once its library call has returned, so that Close
// cannot free the client during it).
func (t *Transport) client(proxy string) (*C.h2_client, error) {
	for {
		t.mu.RLock()
		if t.cfg == nil {
			t.mu.RUnlock()
			return nil, errClosed()
		}
		c := t.direct
		if proxy != "" {
			c = t.proxied[proxy]
		}
		if c != nil {
			return c, nil
		}
		t.mu.RUnlock()

		t.mu.Lock()
		if t.cfg != nil && t.proxied[proxy] == nil {
			c, err := newClient(t.cfg, proxy)
			if err != nil {
				t.mu.Unlock()
				return nil, err
			}
			t.proxied[proxy] = c
		}
		t.mu.Unlock()
	}
}

// clients calls f for every library client, with t.mu read-locked.
func (t *Transport) clients(f func(*C.h2_client)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.direct != nil {
		f(t.direct)
	}
	for _, c := range t.proxied {
		f(c)
	}
}

// Close closes the Transport's connections (GOAWAY(NO_ERROR)) and frees its library
// clients, like h2_client_free. Requests in flight fail (ErrClosed, or the error their
// connection's closing caused), and so do later ones (ErrClosed). Close response bodies as
// usual.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg == nil {
		return nil
	}
	C.h2_client_free(t.direct)
	for k, c := range t.proxied {
		C.h2_client_free(c)
		delete(t.proxied, k)
	}
	C.h2_config_free(t.cfg)
	t.direct, t.cfg = nil, nil
	return nil
}

// CloseIdleConnections closes the connections, to any origin and through any proxy, that
// have no request in flight (h2_client_close_idle_connections); connections with requests
// in flight are left alone, and later requests open new connections as needed. It is the
// method http.Client.CloseIdleConnections calls.
func (t *Transport) CloseIdleConnections() {
	t.clients(func(c *C.h2_client) { C.h2_client_close_idle_connections(c, nil) })
}

// Stats are a Transport's counters and state (h2_stats).
type Stats struct {
	ConnectionsOpen, ConnectionsOpening, ConnectionsDraining     uint32
	PeerMaxConcurrentStreamsMin, PeerMaxConcurrentStreamsMax     uint32
	StreamsActive, StreamsQueued                                 uint64
	RequestsCompleted, RequestsFailed, RequestsRetried           uint64
	BytesSent, BytesReceived, ConnectionsOpened, RTTMicros       uint64
	LimitContinuationFlood, LimitHeaderList, LimitEmptyDataFlood uint64
	LimitAckFlood, LimitGlitchFlood, LimitResetRate              uint64
	LimitInformationalFlood                                      uint64
}

// Stats returns the Transport's counters, summed over every origin and proxy (zero after
// Close). PeerMaxConcurrentStreamsMin and ...Max are the extremes over the open connections,
// RTTMicros the mean over the clients that measured one.
func (t *Transport) Stats() Stats {
	var sum Stats
	rtts := 0
	t.clients(func(c *C.h2_client) {
		var s C.h2_stats
		if C.h2_client_stats(c, &s) == 0 {
			sum.add(&s, &rtts)
		}
	})
	if rtts > 0 {
		sum.RTTMicros /= uint64(rtts)
	}
	return sum
}

// OriginStats returns the counters of one origin, "scheme://host[:port]" (e.g.
// "https://example.com", or "https://example.com:443"; a path is ignored), summed over the
// direct connections and those through every proxy. An origin the Transport holds no
// connections for (never used, or forgotten after its idle timeout) reads as zeros. An
// origin that is not such a URL is ErrInvalidURL.
func (t *Transport) OriginStats(origin string) (Stats, error) {
	if err := checkString("origin", origin); err != nil {
		return Stats{}, err
	}
	corigin := C.CString(origin)
	defer C.free(unsafe.Pointer(corigin))
	var sum Stats
	var err error
	rtts := 0
	t.clients(func(c *C.h2_client) {
		var s C.h2_stats
		var info C.h2_error_info
		if rc := C.gh2_origin_stats(c, corigin, &s, &info); rc != 0 {
			err = newError(&info, rc)
			return
		}
		sum.add(&s, &rtts)
	})
	if err != nil {
		return Stats{}, err
	}
	if rtts > 0 {
		sum.RTTMicros /= uint64(rtts)
	}
	return sum, nil
}

// add adds one client's counters. RTTMicros is summed here and *rtts counts the clients that
// measured one; the caller divides.
func (t *Stats) add(s *C.h2_stats, rtts *int) {
	if min := uint32(s.peer_max_concurrent_streams_min); min != 0 &&
		(t.PeerMaxConcurrentStreamsMin == 0 || min < t.PeerMaxConcurrentStreamsMin) {
		t.PeerMaxConcurrentStreamsMin = min
	}
	if max := uint32(s.peer_max_concurrent_streams_max); max > t.PeerMaxConcurrentStreamsMax {
		t.PeerMaxConcurrentStreamsMax = max
	}
	if s.rtt_us != 0 {
		t.RTTMicros += uint64(s.rtt_us)
		*rtts++
	}
	t.ConnectionsOpen += uint32(s.connections_open)
	t.ConnectionsOpening += uint32(s.connections_opening)
	t.ConnectionsDraining += uint32(s.connections_draining)
	t.StreamsActive += uint64(s.streams_active)
	t.StreamsQueued += uint64(s.streams_queued)
	t.RequestsCompleted += uint64(s.requests_completed)
	t.RequestsFailed += uint64(s.requests_failed)
	t.RequestsRetried += uint64(s.requests_retried)
	t.BytesSent += uint64(s.bytes_sent)
	t.BytesReceived += uint64(s.bytes_received)
	t.ConnectionsOpened += uint64(s.connections_opened)
	t.LimitContinuationFlood += uint64(s.limit_continuation_flood)
	t.LimitHeaderList += uint64(s.limit_header_list)
	t.LimitEmptyDataFlood += uint64(s.limit_empty_data_flood)
	t.LimitAckFlood += uint64(s.limit_ack_flood)
	t.LimitGlitchFlood += uint64(s.limit_glitch_flood)
	t.LimitResetRate += uint64(s.limit_reset_rate)
	t.LimitInformationalFlood += uint64(s.limit_informational_flood)
}

type bufferingKey struct{}

// ContextWithBuffering returns a context that makes RoundTrip use buffered mode (on) or
// streaming mode (off) for requests made with it, whatever the Transport's default
// (WithBufferedResponses).
func ContextWithBuffering(ctx context.Context, on bool) context.Context {
	return context.WithValue(ctx, bufferingKey{}, on)
}

// Hop-by-hop and connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2), and fields
// net/http sets from Request fields rather than from Header.
var skipHeader = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Host":              true,
	"Content-Length":    true,
	"Trailer":           true,
}

// closeBody closes a request body RoundTrip did not hand to a writer (the RoundTripper
// contract: RoundTrip always closes the body).
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// RoundTrip sends req and returns the response once its head has arrived (streaming mode) or
// once it is complete (buffered mode). req.URL is an http:// or https:// URL, or a relative
// one with WithBaseURL. RoundTrip does not follow redirects (http.Client does).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	holder := infoHolder(req.Context()) // zeroed: a request that fails before it starts leaves it so
	if req.URL == nil {
		closeBody(req)
		return nil, localError(ErrInvalidArgument, "request has no URL")
	}
	target, targetURL, err := t.target(req.URL)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	proxy := ""
	if !t.unix {
		if proxy, err = t.proxyFor(req, target); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, ctxError(err)
	}

	hasBody := req.Body != nil && req.Body != http.NoBody
	var inline []byte
	streaming := false
	if hasBody {
		if req.ContentLength > 0 && req.ContentLength <= t.inlineMax && len(req.Trailer) == 0 {
			inline = make([]byte, req.ContentLength)
			_, err := io.ReadFull(req.Body, inline)
			req.Body.Close()
			if err != nil {
				e := localError(ErrInvalidArgument, "reading the request body (ContentLength %d): %v", req.ContentLength, err)
				e.cause = err
				return nil, e
			}
		} else {
			streaming = true
		}
	} else if req.Body != nil {
		req.Body.Close()
	}

	packed, nhdr, err := packRequest(req, targetURL, streaming, t.ua)
	if err != nil {
		if streaming {
			req.Body.Close()
		}
		return nil, err
	}

	buffered := t.buffered
	if v, ok := ctx.Value(bufferingKey{}).(bool); ok {
		buffered = v
	}
	hook := newInfoHook(ctx) // nil unless a trace wants 1xx responses
	ri := newReqInfo(ctx, holder, target, targetURL[:strings.IndexByte(targetURL, ':')], proxy)
	if buffered && !streaming {
		return t.roundTripQueued(req, ctx, proxy, packed, nhdr, inline, hook, ri)
	}
	return t.roundTripStreaming(req, ctx, proxy, packed, nhdr, inline, streaming, hook, ri)
}

// target is the absolute URL req goes to (req.URL, or resolved against the base URL), and
// the URL the library is given: "scheme://host/path?query", without credentials (http.Client
// has turned them into an Authorization header) or fragment.
func (t *Transport) target(u *url.URL) (*url.URL, string, error) {
	if u.Scheme == "" && u.Host == "" && t.base != nil {
		u = t.base.ResolveReference(u)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return nil, "", localError(ErrInvalidURL, "no scheme in the request URL %q (a relative URL needs WithBaseURL)", u.String())
	case scheme != "http" && scheme != "https":
		return nil, "", localError(ErrInvalidURL, "unsupported protocol scheme %q", u.Scheme)
	case u.Host == "":
		return nil, "", localError(ErrInvalidURL, "no host in the request URL %q", u.String())
	case strings.ContainsAny(u.Host, "/?#@\\ \t\r\n\x00"):
		return nil, "", localError(ErrInvalidURL, "invalid host %q in the request URL", u.Host)
	}
	path := u.RequestURI()
	if !strings.HasPrefix(path, "/") {
		// An opaque "//host/path" gives "scheme://host/path".
		path = strings.TrimPrefix(path, u.Scheme+"://"+u.Host)
		if !strings.HasPrefix(path, "/") {
			return nil, "", localError(ErrInvalidURL, "invalid request path %q", u.RequestURI())
		}
	}
	return u, scheme + "://" + u.Host + path, nil
}

// proxyFor asks the proxy function for req's proxy (target is req's absolute URL): its URL
// for the library ("" = direct). SOCKS5 leaves host names to the proxy, as in net/http.
func (t *Transport) proxyFor(req *http.Request, target *url.URL) (string, error) {
	r := req
	if target != req.URL { // a relative URL resolved against the base URL
		r2 := *req
		r2.URL = target
		r = &r2
	}
	u, err := t.proxy(r)
	if err != nil {
		e := localError(ErrProxy, "choosing the proxy: %v", err)
		e.cause = err
		return "", e
	}
	if u == nil {
		return "", nil
	}
	if strings.EqualFold(u.Scheme, "socks5") {
		p := *u
		p.Scheme = "socks5h"
		u = &p
	}
	s := u.String()
	if s == "" {
		return "", localError(ErrInvalidURL, "the proxy function returned an empty URL")
	}
	if err := checkString("proxy URL", s); err != nil {
		return "", err
	}
	return s, nil
}

// checkString refuses NUL bytes, which could not cross into C.
func checkString(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return localError(ErrInvalidArgument, "%s contains a NUL byte", what)
	}
	return nil
}

// packRequest packs "method\0url\0name\0value\0..." and returns it with the header count.
// userAgent is sent when the request has no User-Agent field ("" = none).
func packRequest(req *http.Request, target string, streaming bool, userAgent string) ([]byte, int, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if err := checkString("method", method); err != nil {
		return nil, 0, err
	}
	if err := checkString("URL", target); err != nil {
		return nil, 0, err
	}
	size := len(method) + len(target) + 2
	for k, vs := range req.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 2
		}
	}
	buf := make([]byte, 0, size+64)
	buf = append(buf, method...)
	buf = append(buf, 0)
	buf = append(buf, target...)
	buf = append(buf, 0)
	n := 0
	add := func(name, value string) error {
		if err := checkString("header "+name, name+value); err != nil {
			return err
		}
		buf = append(buf, name...)
		buf = append(buf, 0)
		buf = append(buf, value...)
		buf = append(buf, 0)
		n++
		return nil
	}
	var dropped map[string]bool // fields named by Connection
	for _, v := range req.Header["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				if dropped == nil {
					dropped = map[string]bool{}
				}
				dropped[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	hasUA := false
	for k, vs := range req.Header {
		if skipHeader[k] || dropped[k] {
			continue
		}
		if strings.EqualFold(k, "User-Agent") {
			// As net/http: at most one; present but nil or empty means none at all.
			if hasUA || len(vs) == 0 || strings.Trim(vs[0], " \t") == "" {
				hasUA = true
				continue
			}
			hasUA = true
			vs = vs[:1]
		}
		for _, v := range vs {
			v = strings.Trim(v, " \t")
			if k == "Te" && !strings.EqualFold(v, "trailers") {
				continue
			}
			if err := add(k, v); err != nil {
				return nil, 0, err
			}
		}
	}
	if !hasUA && userAgent != "" {
		if err := add("user-agent", userAgent); err != nil {
			return nil, 0, err
		}
	}
	if req.Host != "" && req.Host != req.URL.Host {
		if err := add("host", req.Host); err != nil {
			return nil, 0, err
		}
	}
	if streaming {
		if req.ContentLength > 0 {
			if err := add("content-length", strconv.FormatInt(req.ContentLength, 10)); err != nil {
				return nil, 0, err
			}
		}
		if len(req.Trailer) > 0 {
			keys := make([]string, 0, len(req.Trailer))
			for k := range req.Trailer {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if err := add("trailer", strings.Join(keys, ", ")); err != nil {
				return nil, 0, err
			}
		}
	}
	return buf, n, nil
}

// bytesPtr is the C view of a byte slice (NULL if empty). The slice holds no Go pointers, so
// it may be passed to C for the duration of a call.
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

func charPtr(b []byte) *C.char {
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// statusLine is "200 OK" etc.
func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

// fieldsPool holds buffers for packed header lists.
var fieldsPool = sync.Pool{New: func() interface{} { b := make([]byte, 4096); return &b }}

// unpackFields decodes count packed fields from buf into h (names canonicalised as net/http
// does). All values are substrings of one string: one allocation for the values of a list.
// "Trailer" fields are declared into *trailer instead (as net/http does).
func unpackFields(buf []byte, count int, h http.Header, trailer *http.Header) {
	s := string(buf)
	p := 0
	for i := 0; i < count && p+8 <= len(s); i++ {
		nl := int(uint32(s[p]) | uint32(s[p+1])<<8 | uint32(s[p+2])<<16 | uint32(s[p+3])<<24)
		vl := int(uint32(s[p+4]) | uint32(s[p+5])<<8 | uint32(s[p+6])<<16 | uint32(s[p+7])<<24)
		p += 8
		if p+nl+vl > len(s) {
			return
		}
		name := http.CanonicalHeaderKey(s[p : p+nl])
		value := s[p+nl : p+nl+vl]
		p += nl + vl
		if trailer != nil && name == "Trailer" {
			if *trailer == nil {
				*trailer = http.Header{}
			}
			for _, k := range strings.Split(value, ",") {
				if k = strings.TrimSpace(k); k != "" {
					(*trailer)[http.CanonicalHeaderKey(k)] = nil
				}
			}
			continue
		}
		h[name] = append(h[name], value)
	}
}

// unpackedSize is how many bytes count packed fields at the start of buf take.
func unpackedSize(buf []byte, count int) int {
	p := 0
	for i := 0; i < count && p+8 <= len(buf); i++ {
		nl := int(uint32(buf[p]) | uint32(buf[p+1])<<8 | uint32(buf[p+2])<<16 | uint32(buf[p+3])<<24)
		vl := int(uint32(buf[p+4]) | uint32(buf[p+5])<<8 | uint32(buf[p+6])<<16 | uint32(buf[p+7])<<24)
		p += 8 + nl + vl
	}
	return p
}

func newResponse(req *http.Request, status int, h http.Header, trailer http.Header) *http.Response {
	contentLength := int64(-1)
	if v := h["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			contentLength = n
		}
	}
	return &http.Response{
		Status:        statusLine(status),
		StatusCode:    status,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		ProtoMinor:    0,
		Header:        h,
		Trailer:       trailer,
		ContentLength: contentLength,
		Request:       req,
	}
}

// errBodyClosed is returned by Read after Close.
var errBodyClosed = errors.New("h2client: read on closed response body")

// Version is the version of the h2client library in use (h2_version), e.g. "0.1.0".
func Version() string { return C.GoString(C.h2_version()) }

// DefaultUserAgent is the User-Agent a Transport sends with requests that have none, unless
// WithUserAgent says otherwise: the library's, "h2client/" followed by Version() (as curl
// sends "curl/<version>"), the same as the C, C++ and Ruby clients send.
func DefaultUserAgent() string { return "h2client/" + Version() }
