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
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

const defaultInlineMax = 1 << 20

// Transport is an http.RoundTripper that sends requests over HTTP/2 with h2client, to the one
// authority (scheme, host, port) it was made for. It is safe for concurrent use; one
// Transport multiplexes the requests of all goroutines over its connections.
type Transport struct {
	mu     sync.RWMutex // RLock while starting a request, Lock to close
	client *C.h2_client

	scheme   string // "http" or "https"
	hostport string // lowercase host and explicit port, e.g. "127.0.0.1:8080"

	buffered  bool
	inlineMax int64
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport makes a Transport for baseURL, "http://host[:port]" (HTTP/2 over cleartext
// TCP with prior knowledge) or "https://host[:port]" (HTTP/2 over TLS). Any path in baseURL
// is ignored. No connection is opened until the first request.
func NewTransport(baseURL string, opts ...Option) (*Transport, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, localError(ErrInvalidURL, "%v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, localError(ErrInvalidURL, "%q: the scheme must be http or https", baseURL)
	}
	hp, err := hostPort(scheme, u.Host)
	if err != nil {
		return nil, err
	}
	o := options{inlineMax: defaultInlineMax}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cfg := C.h2_config_new()
	if cfg == nil {
		return nil, localError(ErrInternal, "h2_config_new failed")
	}
	defer C.h2_config_free(cfg)
	var info C.h2_error_info
	for _, n := range o.nums {
		if rc := C.gh2_config_set(cfg, n.opt, C.uint64_t(n.value), &info); rc != 0 {
			e := newError(&info, rc)
			e.Message = n.name + ": " + e.Message
			return nil, e
		}
	}
	for _, s := range o.strs {
		if err := setBytes(cfg, s, &info); err != nil {
			return nil, err
		}
	}
	curl := C.CString(baseURL)
	defer C.free(unsafe.Pointer(curl))
	client := C.gh2_client_new(curl, cfg, &info)
	if client == nil {
		return nil, newError(&info, C.H2_E_INVALID_URL)
	}
	return &Transport{
		client:    client,
		scheme:    scheme,
		hostport:  hp,
		buffered:  o.buffered,
		inlineMax: o.inlineMax,
	}, nil
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

// hostPort normalises an authority: lowercase host, explicit port.
func hostPort(scheme, authority string) (string, error) {
	if authority == "" {
		return "", localError(ErrInvalidURL, "no host in the URL")
	}
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		host, port = strings.Trim(authority, "[]"), ""
	}
	if port == "" {
		if scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// Close closes the Transport's connections (GOAWAY(NO_ERROR)) and frees the client, like
// h2_client_free. Requests in flight fail (ErrClosed, or the error their connection's closing
// caused), and so do later ones (ErrClosed). Close response bodies as usual.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client != nil {
		C.h2_client_free(t.client)
		t.client = nil
	}
	return nil
}

// Stats are the client's counters and state (h2_stats).
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

// Stats returns the client's counters (zero after Close).
func (t *Transport) Stats() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var s C.h2_stats
	if t.client == nil || C.h2_client_stats(t.client, &s) != 0 {
		return Stats{}
	}
	return Stats{
		ConnectionsOpen: uint32(s.connections_open), ConnectionsOpening: uint32(s.connections_opening),
		ConnectionsDraining:         uint32(s.connections_draining),
		PeerMaxConcurrentStreamsMin: uint32(s.peer_max_concurrent_streams_min),
		PeerMaxConcurrentStreamsMax: uint32(s.peer_max_concurrent_streams_max),
		StreamsActive:               uint64(s.streams_active), StreamsQueued: uint64(s.streams_queued),
		RequestsCompleted: uint64(s.requests_completed), RequestsFailed: uint64(s.requests_failed),
		RequestsRetried: uint64(s.requests_retried), BytesSent: uint64(s.bytes_sent),
		BytesReceived: uint64(s.bytes_received), ConnectionsOpened: uint64(s.connections_opened),
		RTTMicros:              uint64(s.rtt_us),
		LimitContinuationFlood: uint64(s.limit_continuation_flood),
		LimitHeaderList:        uint64(s.limit_header_list), LimitEmptyDataFlood: uint64(s.limit_empty_data_flood),
		LimitAckFlood: uint64(s.limit_ack_flood), LimitGlitchFlood: uint64(s.limit_glitch_flood),
		LimitResetRate: uint64(s.limit_reset_rate), LimitInformationalFlood: uint64(s.limit_informational_flood),
	}
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
// once it is complete (buffered mode). req.URL must name the Transport's authority.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, localError(ErrInvalidArgument, "request has no URL")
	}
	scheme := strings.ToLower(req.URL.Scheme)
	hp, err := hostPort(scheme, req.URL.Host)
	if err != nil || scheme != t.scheme || hp != t.hostport {
		closeBody(req)
		return nil, localError(ErrInvalidArgument, "request for %s://%s, but this Transport serves %s://%s",
			req.URL.Scheme, req.URL.Host, t.scheme, t.hostport)
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

	packed, nhdr, err := packRequest(req, streaming)
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
	if buffered && !streaming {
		return t.roundTripQueued(req, ctx, packed, nhdr, inline)
	}
	return t.roundTripStreaming(req, ctx, packed, nhdr, inline, streaming)
}

// checkString refuses NUL bytes, which could not cross into C.
func checkString(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return localError(ErrInvalidArgument, "%s contains a NUL byte", what)
	}
	return nil
}

// packRequest packs "method\0path\0name\0value\0..." and returns it with the header count.
func packRequest(req *http.Request, streaming bool) ([]byte, int, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	path := req.URL.RequestURI()
	if err := checkString("method", method); err != nil {
		return nil, 0, err
	}
	if err := checkString("path", path); err != nil {
		return nil, 0, err
	}
	size := len(method) + len(path) + 2
	for k, vs := range req.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 2
		}
	}
	buf := make([]byte, 0, size+64)
	buf = append(buf, method...)
	buf = append(buf, 0)
	buf = append(buf, path...)
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
	for k, vs := range req.Header {
		if skipHeader[k] || dropped[k] {
			continue
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
