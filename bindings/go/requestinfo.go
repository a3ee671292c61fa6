package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// RequestInfo is what the library knows of one request (h2_request_info): its times, its
// bytes, its connection and TLS session. Ask for it with ContextWithRequestInfo.
//
// The times are durations since the request started (when RoundTrip handed it to the
// library), rounded up to the microsecond; 0 means "did not happen" or "not yet". For a
// completed exchange they never decrease in this order: NameLookup, Connect, TLSHandshake
// (when not 0), HeadersSent, FirstByte, Total; RequestSent may come after FirstByte when the
// server answers before the request body is all sent. The connect-phase times (NameLookup,
// Connect, TLSHandshake) belong to the request that opened the connection: on a reused
// connection they are 0.
type RequestInfo struct {
	// NameLookup is when the host name was resolved (through a proxy, the proxy's; over a
	// Unix socket, when dialling began). 0 on a reused connection.
	NameLookup time.Duration
	// Connect is when the TCP (or Unix socket) connection was established (through a proxy,
	// the connection to the proxy). 0 on a reused connection.
	Connect time.Duration
	// TLSHandshake is when the TLS handshake with the origin completed (through a proxy,
	// opening the tunnel included). 0 for h2c and on a reused connection.
	TLSHandshake time.Duration
	// HeadersSent is when the request's HEADERS frame was queued for the socket.
	HeadersSent time.Duration
	// RequestSent is when the request's last frame (END_STREAM) was queued for the socket;
	// 0 while the body is being sent.
	RequestSent time.Duration
	// FirstByte is when the first response header block arrived (a 1xx included).
	FirstByte time.Duration
	// Total is when the exchange ended: the response's last frame arrived, or the request
	// failed. 0 while the response body is still coming.
	Total time.Duration

	// HeaderBytesSent and HeaderBytesReceived count HPACK-encoded header blocks (trailers
	// and 1xx heads included), without frame headers.
	HeaderBytesSent, HeaderBytesReceived int64
	// BodyBytesSent and BodyBytesReceived count DATA payloads, without padding.
	BodyBytesSent, BodyBytesReceived int64

	// Reused: the request went on a connection that had carried a request before (it is not
	// the connection's first stream). A request that waited for a connection another request
	// opened counts as reused, as in curl.
	Reused bool
	// Retries is how many times the library retried the request (the server provably did
	// not process the earlier attempts).
	Retries int
	// ConnectionID is the connection's process-unique number (0 before the request was
	// written to a connection).
	ConnectionID uint64
	// StreamID is the request's stream on its connection (0 before it was written).
	StreamID uint32
	// RemoteAddr is the address dialled: a *net.TCPAddr (the proxy's through a proxy) or,
	// with WithUnixSocket, a *net.UnixAddr holding the socket's path. LocalAddr is ours: a
	// *net.TCPAddr, or an unnamed *net.UnixAddr. Both are nil before the request was written
	// to a connection.
	RemoteAddr, LocalAddr net.Addr
	// TLS is the connection's TLS session as Response.TLS has it; nil for h2c.
	TLS *tls.ConnectionState
}

type requestInfoKey struct{}

// ContextWithRequestInfo returns a context that makes the Transport fill *info for requests
// made with it: RoundTrip sets it when the response head has arrived (streaming mode) or the
// response is complete (buffered mode), and again when the response body has been read to the
// end or closed (with Total and the body's bytes; a body closed before its end leaves them as
// they were then: Total stays 0 unless the whole response had arrived, as the stream is reset
// after). A request that fails after it was started leaves in *info what was known when it
// failed (its Total is the time of the failure); one that fails before leaves it zero. With
// http.Client, each hop of a redirect fills it in turn, so that after Do it describes the last
// one. Read it after the body has been read to the end or closed, in the goroutine that did so
// (or after RoundTrip returned, for the head's information): it is written without locking. Do
// not share one info between requests in flight.
//
//	var info h2client.RequestInfo
//	req = req.WithContext(h2client.ContextWithRequestInfo(req.Context(), &info))
//	resp, err := client.Do(req)
//	...
//	io.Copy(io.Discard, resp.Body)
//	resp.Body.Close()
//	fmt.Println(info.RemoteAddr, info.Reused, info.TLSHandshake, info.FirstByte, info.Total)
func ContextWithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// reqInfo is what RoundTrip collects of one request's information, and for whom: nil when
// nothing needs it (an h2c request without ContextWithRequestInfo nor connection hooks).
type reqInfo struct {
	holder *RequestInfo // ContextWithRequestInfo's, or nil
	trace  *connTrace   // the connection hooks of the request's trace, or nil
}

// infoHolder is ContextWithRequestInfo's info, zeroed (nil without one).
func infoHolder(ctx context.Context) *RequestInfo {
	holder, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	if holder != nil {
		*holder = RequestInfo{}
	}
	return holder
}

// newReqInfo: the information a request to target (its scheme lowercase) needs: always over
// https (Response.TLS), else only for ContextWithRequestInfo (holder) or connection hooks.
// proxy is the request's proxy URL ("" = direct).
func newReqInfo(ctx context.Context, holder *RequestInfo, target *url.URL, scheme, proxy string) *reqInfo {
	trace := newConnTrace(ctx, target, proxy)
	if holder == nil && trace == nil && scheme != "https" {
		return nil
	}
	return &reqInfo{holder: holder, trace: trace}
}

// wantInfo is the want_info flag of the C helpers.
func (ri *reqInfo) wantInfo() C.uint32_t {
	if ri == nil {
		return 0
	}
	return 1
}

// failed records what is known of a request that failed after it was started (c: its call,
// not yet freed).
func (ri *reqInfo) failed(c *C.h2_call) {
	if ri == nil || ri.holder == nil {
		return
	}
	out := new(C.gh2_out)
	if C.gh2_call_info(c, out) == 0 {
		*ri.holder = convertInfo(&out.info, func() []byte { return packedCerts(c, nil) })
	}
}

// convert is convertInfo, or only its TLS when nothing else is wanted (an https request
// without ContextWithRequestInfo nor connection hooks).
func (ri *reqInfo) convert(ci *C.h2_request_info, certs func() []byte) RequestInfo {
	if ri.holder == nil && ri.trace == nil {
		return RequestInfo{TLS: tlsState(ci, certs)}
	}
	return convertInfo(ci, certs)
}

// us is a time of h2_request_info as a Duration.
func us(v C.uint64_t) time.Duration { return time.Duration(v) * time.Microsecond }

// goString is C.GoString with NULL as "".
func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// convertInfo makes a RequestInfo of the library's (whose strings must still be valid);
// certs returns the connection's certificates, packed by gh2_peer_certs, if the TLS session
// is not known yet.
func convertInfo(ci *C.h2_request_info, certs func() []byte) RequestInfo {
	unix := bool(ci.unix_socket)
	return RequestInfo{
		NameLookup:          us(ci.time_namelookup_us),
		Connect:             us(ci.time_connect_us),
		TLSHandshake:        us(ci.time_tls_us),
		HeadersSent:         us(ci.time_headers_sent_us),
		RequestSent:         us(ci.time_request_sent_us),
		FirstByte:           us(ci.time_first_byte_us),
		Total:               us(ci.time_total_us),
		HeaderBytesSent:     int64(ci.header_bytes_sent),
		HeaderBytesReceived: int64(ci.header_bytes_received),
		BodyBytesSent:       int64(ci.body_bytes_sent),
		BodyBytesReceived:   int64(ci.body_bytes_received),
		Reused:              bool(ci.reused),
		Retries:             int(ci.retries),
		ConnectionID:        uint64(ci.connection_id),
		StreamID:            uint32(ci.stream_id),
		RemoteAddr:          address(ci.remote_address, ci.remote_port, unix, ci.remote_address != nil),
		LocalAddr:           address(ci.local_address, ci.local_port, unix, ci.remote_address != nil),
		TLS:                 tlsState(ci, certs),
	}
}

// address is a net.Addr of the library's text (an IP address or a Unix socket's path) and
// port; nil when there is no connection (connected false).
func address(text *C.char, port C.uint16_t, unix, connected bool) net.Addr {
	if !connected {
		return nil
	}
	if unix {
		return &net.UnixAddr{Name: goString(text), Net: "unix"}
	}
	if text == nil {
		return nil
	}
	s, zone := C.GoString(text), ""
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s, zone = s[:i], s[i+1:]
	}
	return &net.TCPAddr{IP: net.ParseIP(s), Port: int(port), Zone: zone}
}

// The TLS sessions of the connections last seen, by connection id (process-unique): every
// response of a connection shares its *tls.ConnectionState, as with net/http, and its
// certificates are copied and parsed once. At most tlsCacheSize are kept; when full, one is
// forgotten (it is made again if its connection is seen again).
const tlsCacheSize = 256

var tlsCache struct {
	sync.Mutex
	m map[uint64]*tls.ConnectionState
}

// tlsState is the TLS session of the info's connection, or nil for h2c.
func tlsState(ci *C.h2_request_info, certs func() []byte) *tls.ConnectionState {
	if ci.tls_version == 0 {
		return nil
	}
	id := uint64(ci.connection_id)
	tlsCache.Lock()
	st := tlsCache.m[id]
	tlsCache.Unlock()
	if st != nil {
		return st
	}
	st = &tls.ConnectionState{
		Version:                    uint16(ci.tls_version),
		HandshakeComplete:          true,
		DidResume:                  bool(ci.tls_resumed),
		CipherSuite:                uint16(ci.tls_cipher_suite),
		NegotiatedProtocol:         goString(ci.alpn),
		NegotiatedProtocolIsMutual: true,
		ServerName:                 goString(ci.tls_server_name),
		PeerCertificates:           parseCerts(certs()),
	}
	tlsCache.Lock()
	if tlsCache.m == nil {
		tlsCache.m = make(map[uint64]*tls.ConnectionState)
	}
	if prev := tlsCache.m[id]; prev != nil {
		st = prev // made meanwhile by another response of the connection: share it
	} else {
		if len(tlsCache.m) >= tlsCacheSize {
			for k := range tlsCache.m {
				delete(tlsCache.m, k)
				break
			}
		}
		tlsCache.m[id] = st
	}
	tlsCache.Unlock()
	return st
}

// packedCerts copies the server's certificates on the connection of resp (if not nil) or of
// the call c, packed as gh2_peer_certs packs them.
func packedCerts(c *C.h2_call, resp *C.h2_response) []byte {
	need := C.gh2_peer_certs(c, resp, nil, 0)
	if need == 0 {
		return nil
	}
	buf := make([]byte, int(need))
	if C.gh2_peer_certs(c, resp, bytesPtr(buf), C.size_t(len(buf))) != need {
		return nil
	}
	return buf
}

// parseCerts parses packed certificates ([u32le len][DER]...), up to the first that
// x509.ParseCertificate refuses.
func parseCerts(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for len(b) >= 4 {
		n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		if n > len(b)-4 {
			break
		}
		cert, err := x509.ParseCertificate(b[4 : 4+n : 4+n])
		if err != nil {
			break
		}
		out = append(out, cert)
		b = b[4+n:]
	}
	return out
}

// ---- httptrace ---------------------------------------------------------------------------

// connTrace is the part of a request's httptrace.ClientTrace that RoundTrip reports from the
// request's information once the response head is in (see gotHead), with what it needs for
// it.
type connTrace struct {
	t        *httptrace.ClientTrace
	hostPort string // GetConn's argument: the proxy's host:port, else the URL's
	dnsHost  string // DNSStart's host: hostPort's host, "" for an IP address
}

// newConnTrace: nil unless the request's trace has one of the hooks gotHead calls.
func newConnTrace(ctx context.Context, target *url.URL, proxy string) *connTrace {
	t := httptrace.ContextClientTrace(ctx)
	if t == nil || (t.GetConn == nil && t.GotConn == nil && t.DNSStart == nil && t.DNSDone == nil &&
		t.ConnectStart == nil && t.ConnectDone == nil && t.TLSHandshakeStart == nil &&
		t.TLSHandshakeDone == nil && t.WroteHeaders == nil && t.WroteRequest == nil &&
		t.GotFirstResponseByte == nil) {
		return nil
	}
	u := target
	if proxy != "" {
		if p, err := url.Parse(proxy); err == nil {
			u = p
		}
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = defaultPorts[strings.ToLower(u.Scheme)]
	}
	ct := &connTrace{t: t, hostPort: net.JoinHostPort(host, port)}
	if net.ParseIP(host) == nil {
		ct.dnsHost = host
	}
	return ct
}

// defaultPorts are the ports of URLs without one (as net/http's canonicalAddr).
var defaultPorts = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}

// gotHead calls, once the response head is in and in net/http's order, the hooks of the
// trace that are set: GetConn; on a new connection DNSStart and DNSDone (for a host name),
// ConnectStart and ConnectDone, TLSHandshakeStart and TLSHandshakeDone (over TLS); GotConn;
// WroteHeaders; WroteRequest and GotFirstResponseByte in the order they happened. It returns
// whether WroteRequest is still due (the request was not all sent yet).
func (ct *connTrace) gotHead(ri *RequestInfo) (wrotePending bool) {
	t := ct.t
	if t.GetConn != nil {
		t.GetConn(ct.hostPort)
	}
	if !ri.Reused {
		tcp, _ := ri.RemoteAddr.(*net.TCPAddr)
		if ri.NameLookup != 0 && tcp != nil && ct.dnsHost != "" {
			if t.DNSStart != nil {
				t.DNSStart(httptrace.DNSStartInfo{Host: ct.dnsHost})
			}
			if t.DNSDone != nil {
				t.DNSDone(httptrace.DNSDoneInfo{Addrs: []net.IPAddr{{IP: tcp.IP, Zone: tcp.Zone}}})
			}
		}
		if ri.Connect != 0 && ri.RemoteAddr != nil {
			network, addr := "tcp", ri.RemoteAddr.String()
			if tcp == nil {
				network = "unix"
			}
			if t.ConnectStart != nil {
				t.ConnectStart(network, addr)
			}
			if t.ConnectDone != nil {
				t.ConnectDone(network, addr, nil)
			}
		}
		if ri.TLSHandshake != 0 && ri.TLS != nil {
			if t.TLSHandshakeStart != nil {
				t.TLSHandshakeStart()
			}
			if t.TLSHandshakeDone != nil {
				t.TLSHandshakeDone(*ri.TLS, nil)
			}
		}
	}
	if t.GotConn != nil {
		t.GotConn(httptrace.GotConnInfo{Conn: &connView{local: ri.LocalAddr, remote: ri.RemoteAddr}, Reused: ri.Reused})
	}
	if ri.HeadersSent != 0 && t.WroteHeaders != nil {
		t.WroteHeaders()
	}
	sent := ri.RequestSent != 0
	if sent && ri.RequestSent <= ri.FirstByte && t.WroteRequest != nil {
		t.WroteRequest(httptrace.WroteRequestInfo{})
	}
	if ri.FirstByte != 0 && t.GotFirstResponseByte != nil {
		t.GotFirstResponseByte()
	}
	if sent && ri.RequestSent > ri.FirstByte && t.WroteRequest != nil {
		t.WroteRequest(httptrace.WroteRequestInfo{})
	}
	return !sent && t.WroteRequest != nil
}

// errConnView is what connView's I/O methods return.
var errConnView = errors.New("h2client: the connection belongs to the library: only its addresses are available")

// connView is the net.Conn that GotConn receives: the connection's addresses, nothing more
// (the connection belongs to the library, which does not lend its socket). Read, Write and
// the deadlines fail with an error; Close does nothing but fail too.
type connView struct {
	local, remote net.Addr
}

func (c *connView) Read([]byte) (int, error)         { return 0, errConnView }
func (c *connView) Write([]byte) (int, error)        { return 0, errConnView }
func (c *connView) Close() error                     { return errConnView }
func (c *connView) LocalAddr() net.Addr              { return c.local }
func (c *connView) RemoteAddr() net.Addr             { return c.remote }
func (c *connView) SetDeadline(time.Time) error      { return errConnView }
func (c *connView) SetReadDeadline(time.Time) error  { return errConnView }
func (c *connView) SetWriteDeadline(time.Time) error { return errConnView }

var _ net.Conn = (*connView)(nil)
