package h2client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"h2client.example/h2client"
)

// serverLeaf is the TLS test server's certificate as crypto/tls sees it in a handshake of its
// own (verified against the test CA).
func serverLeaf(t *testing.T) *x509.Certificate {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the test CA file")
	}
	u, _ := url.Parse(tlsURL)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("crypto/tls handshake with the test server: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// Response.TLS over https, in both modes: the session's parameters and the server's
// certificate (the same crypto/tls gets); nil for h2c.
func TestResponseTLS(t *testing.T) {
	leaf := serverLeaf(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithCAFile(caFile), h2client.WithBufferedResponses(m.buffered))
			c := &http.Client{Transport: tr}

			resp, _ := get(t, c, plainURL+"/bytes/10")
			if resp.TLS != nil {
				t.Errorf("h2c: TLS %+v, want nil", resp.TLS)
			}

			resp, err := c.Get(tlsURL + "/bytes/100")
			if err != nil {
				t.Fatal(err)
			}
			st := resp.TLS // set when RoundTrip returns, before the body is read
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if st == nil {
				t.Fatal("https: Response.TLS is nil")
			}
			if st.Version != tls.VersionTLS13 && st.Version != tls.VersionTLS12 {
				t.Errorf("Version %#x", st.Version)
			}
			if name := tls.CipherSuiteName(st.CipherSuite); st.CipherSuite == 0 || strings.HasPrefix(name, "0x") {
				t.Errorf("CipherSuite %#04x (%s)", st.CipherSuite, name)
			}
			if st.Version == tls.VersionTLS13 && st.CipherSuite>>8 != 0x13 {
				t.Errorf("TLS 1.3 with cipher suite %#04x", st.CipherSuite)
			}
			if st.NegotiatedProtocol != "h2" || !st.NegotiatedProtocolIsMutual || !st.HandshakeComplete {
				t.Errorf("ALPN %q (mutual %v), handshake complete %v", st.NegotiatedProtocol,
					st.NegotiatedProtocolIsMutual, st.HandshakeComplete)
			}
			if st.ServerName != "" { // an IP address: no SNI
				t.Errorf("ServerName %q for an IP address", st.ServerName)
			}
			if st.DidResume {
				t.Error("DidResume on the first connection")
			}
			if st.VerifiedChains != nil {
				t.Errorf("VerifiedChains %v, documented as nil", st.VerifiedChains)
			}
			if len(st.PeerCertificates) != 1 || !bytes.Equal(st.PeerCertificates[0].Raw, leaf.Raw) {
				t.Fatalf("%d peer certificates; the first equal to the server's: %v", len(st.PeerCertificates),
					len(st.PeerCertificates) > 0 && bytes.Equal(st.PeerCertificates[0].Raw, leaf.Raw))
			}
			if err := st.PeerCertificates[0].VerifyHostname("127.0.0.1"); err != nil {
				t.Error(err)
			}

			// The next response of the connection shares its state, as with net/http.
			resp2, _ := get(t, c, tlsURL+"/bytes/1")
			if resp2.TLS != st {
				t.Errorf("a second response on the connection: TLS %p, want the first's %p", resp2.TLS, st)
			}

			// By name: the SNI sent. A new connection of the same Transport resumes the session.
			byname, _ := get(t, c, byName(t, tlsURL)+"/bytes/1")
			if byname.TLS == nil || byname.TLS.ServerName != "localhost" {
				t.Fatalf("by name: TLS %+v", byname.TLS)
			}
			tr.CloseIdleConnections()
			again, _ := get(t, c, byName(t, tlsURL)+"/bytes/1")
			if again.TLS == nil || !again.TLS.DidResume || again.TLS == byname.TLS {
				t.Errorf("a new connection after CloseIdleConnections: TLS %+v", again.TLS)
			}
		})
	}
}

// ContextWithRequestInfo: times in order, bytes, reuse, addresses, both modes; updated at the
// end of the body; filled for failures; the last hop of a redirect.
func TestRequestInfo(t *testing.T) {
	u, _ := url.Parse(plainURL)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered)),
				Timeout: time.Minute} // http.Client wraps the body: the info does not depend on it
			do := func(target string) (*h2client.RequestInfo, []byte) {
				t.Helper()
				var info h2client.RequestInfo
				req, _ := http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &info),
					"GET", target, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", target, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				return &info, b
			}

			first, body := do(plainURL + "/bytes/20000")
			if len(body) != 20000 {
				t.Fatalf("%d bytes", len(body))
			}
			i := first
			if !(0 < i.NameLookup && i.NameLookup <= i.Connect && i.Connect <= i.HeadersSent &&
				i.HeadersSent <= i.FirstByte && i.FirstByte <= i.Total) || i.TLSHandshake != 0 {
				t.Errorf("times out of order: %+v", i)
			}
			if i.RequestSent < i.HeadersSent || i.RequestSent > i.Total {
				t.Errorf("RequestSent %v, headers sent %v, total %v", i.RequestSent, i.HeadersSent, i.Total)
			}
			if i.BodyBytesReceived != 20000 || i.BodyBytesSent != 0 || i.HeaderBytesSent == 0 || i.HeaderBytesReceived == 0 {
				t.Errorf("bytes: %+v", i)
			}
			if i.Reused || i.ConnectionID == 0 || i.StreamID != 1 || i.Retries != 0 || i.TLS != nil {
				t.Errorf("first request: %+v", i)
			}
			ra, ok := i.RemoteAddr.(*net.TCPAddr)
			if !ok || ra.String() != u.Host {
				t.Errorf("RemoteAddr %v, want %s", i.RemoteAddr, u.Host)
			}
			la, ok := i.LocalAddr.(*net.TCPAddr)
			if !ok || !la.IP.Equal(net.IPv4(127, 0, 0, 1)) || la.Port == 0 {
				t.Errorf("LocalAddr %v", i.LocalAddr)
			}

			second, _ := do(plainURL + "/bytes/3")
			i = second
			if !i.Reused || i.NameLookup != 0 || i.Connect != 0 || i.ConnectionID != first.ConnectionID ||
				i.StreamID != 3 || i.FirstByte == 0 || i.Total < i.FirstByte || i.BodyBytesReceived != 3 {
				t.Errorf("second request: %+v", i)
			}
			if i.LocalAddr.String() != first.LocalAddr.String() {
				t.Errorf("LocalAddr %v, then %v on the same connection", first.LocalAddr, i.LocalAddr)
			}

			// http.Client follows the redirect: the info describes the last hop.
			hop, body := do(plainURL + "/redirect/302?to=" + url.QueryEscape(plainURL+"/bytes/7"))
			if len(body) != 7 || hop.BodyBytesReceived != 7 || !hop.Reused {
				t.Errorf("after a redirect: %d bytes, %+v", len(body), hop)
			}

			// TLS: the handshake's time and session.
			ct := &http.Client{Transport: newTransport(t, h2client.WithCAFile(caFile),
				h2client.WithBufferedResponses(m.buffered))}
			var ti h2client.RequestInfo
			req, _ := http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &ti),
				"GET", tlsURL+"/bytes/5", nil)
			resp, err := ct.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if !(ti.Connect < ti.TLSHandshake && ti.TLSHandshake <= ti.HeadersSent) || ti.TLS == nil || ti.TLS != resp.TLS {
				t.Errorf("https: %+v (Response.TLS %p)", ti, resp.TLS)
			}

			// A stream reset before the head: what was known, with the time of the failure.
			var ri h2client.RequestInfo
			req, _ = http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &ri),
				"GET", plainURL+"/reset/2", nil)
			if _, err := c.Do(req); err == nil {
				t.Fatal("/reset/2 succeeded")
			}
			if ri.Total == 0 || ri.FirstByte != 0 || ri.ConnectionID != first.ConnectionID || ri.RemoteAddr == nil {
				t.Errorf("reset: %+v", ri)
			}
		})
	}

	// A connection refused: no connection, but the time of the failure.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()
	info := h2client.RequestInfo{Reused: true} // overwritten: each request starts from zero
	req, _ := http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &info), "GET", refused, nil)
	if _, err := (&http.Client{Transport: newTransport(t)}).Do(req); err == nil {
		t.Fatal("a refused connection succeeded")
	}
	if info.Total == 0 || info.Reused || info.ConnectionID != 0 || info.RemoteAddr != nil || info.LocalAddr != nil {
		t.Errorf("refused: %+v", info)
	}

	// A request refused before it started: zero.
	info = h2client.RequestInfo{Reused: true, Total: time.Second}
	req, _ = http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &info),
		"GET", "ftp://127.0.0.1/", nil)
	if _, err := newTransport(t).RoundTrip(req); err == nil {
		t.Fatal("an ftp:// URL was accepted")
	}
	if info != (h2client.RequestInfo{}) {
		t.Errorf("a request refused before it started: %+v", info)
	}
}

// traceLog records the hooks of an httptrace.ClientTrace as they are called.
type traceLog struct {
	mu     sync.Mutex
	events []string
	conns  []httptrace.GotConnInfo
	tls    []tls.ConnectionState
}

func (l *traceLog) add(format string, args ...interface{}) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// take returns the events so far and forgets them.
func (l *traceLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.events, " ")
	l.events = nil
	return s
}

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:  func(hostPort string) { l.add("GetConn(%s)", hostPort) },
		DNSStart: func(i httptrace.DNSStartInfo) { l.add("DNSStart(%s)", i.Host) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			var addrs []string
			for _, a := range i.Addrs {
				addrs = append(addrs, a.String())
			}
			l.add("DNSDone(%s,%v)", strings.Join(addrs, ","), i.Err)
		},
		ConnectStart:      func(network, addr string) { l.add("ConnectStart(%s,%s)", network, addr) },
		ConnectDone:       func(network, addr string, err error) { l.add("ConnectDone(%s,%s,%v)", network, addr, err) },
		TLSHandshakeStart: func() { l.add("TLSHandshakeStart") },
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			l.mu.Lock()
			l.tls = append(l.tls, st)
			l.mu.Unlock()
			l.add("TLSHandshakeDone(%s,%v)", st.ServerName, err)
		},
		GotConn: func(i httptrace.GotConnInfo) {
			l.mu.Lock()
			l.conns = append(l.conns, i)
			l.mu.Unlock()
			l.add("GotConn(%v)", i.Reused)
		},
		WroteHeaders: func() { l.add("WroteHeaders") },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			l.add("WroteRequest(%v)", i.Err)
		},
		GotFirstResponseByte: func() { l.add("GotFirstResponseByte") },
	}
}

// The connection hooks of httptrace, called once the head is in, in net/http's order, with
// Reused false then true; DNS hooks only for a host name, TLS hooks only over TLS.
func TestTraceHooks(t *testing.T) {
	port := func(s string) string { u, _ := url.Parse(s); return u.Port() }
	pp, tp := port(plainURL), port(tlsURL)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithCAFile(caFile),
				h2client.WithBufferedResponses(m.buffered))}
			var l traceLog
			get := func(target string) {
				t.Helper()
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), l.trace()),
					"GET", target, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			tail := "WroteHeaders WroteRequest(<nil>) GotFirstResponseByte"

			get(plainURL + "/bytes/10")
			want := fmt.Sprintf("GetConn(127.0.0.1:%s) ConnectStart(tcp,127.0.0.1:%s) ConnectDone(tcp,127.0.0.1:%s,<nil>) "+
				"GotConn(false) %s", pp, pp, pp, tail)
			if got := l.take(); got != want {
				t.Errorf("first request:\n got %s\nwant %s", got, want)
			}
			get(plainURL + "/bytes/10")
			if got, want := l.take(), "GetConn(127.0.0.1:"+pp+") GotConn(true) "+tail; got != want {
				t.Errorf("second request:\n got %s\nwant %s", got, want)
			}
			conn := l.conns[0].Conn
			if conn.RemoteAddr().String() != "127.0.0.1:"+pp || conn.LocalAddr() == nil ||
				conn.LocalAddr().String() != l.conns[1].Conn.LocalAddr().String() {
				t.Errorf("GotConn's addresses: remote %v, local %v then %v", conn.RemoteAddr(), conn.LocalAddr(),
					l.conns[1].Conn.LocalAddr())
			}
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Error("GotConn's Conn can be read")
			}

			// By name, over TLS: DNS and TLS hooks.
			get(byName(t, tlsURL) + "/bytes/10")
			want = fmt.Sprintf("GetConn(localhost:%s) DNSStart(localhost) DNSDone(127.0.0.1,<nil>) "+
				"ConnectStart(tcp,127.0.0.1:%s) ConnectDone(tcp,127.0.0.1:%s,<nil>) TLSHandshakeStart "+
				"TLSHandshakeDone(localhost,<nil>) GotConn(false) %s", tp, tp, tp, tail)
			if got := l.take(); got != want {
				t.Errorf("by name over TLS:\n got %s\nwant %s", got, want)
			}
			if len(l.tls) != 1 || l.tls[0].NegotiatedProtocol != "h2" || len(l.tls[0].PeerCertificates) != 1 {
				t.Errorf("TLSHandshakeDone's state: %+v", l.tls)
			}
			get(byName(t, tlsURL) + "/bytes/10")
			if got, want := l.take(), "GetConn(localhost:"+tp+") GotConn(true) "+tail; got != want {
				t.Errorf("by name over TLS, again:\n got %s\nwant %s", got, want)
			}

			// Hooks that are not set are not called; the others are.
			var reused []bool
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"GET", plainURL+"/", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(reused) != 1 || !reused[0] {
				t.Errorf("GotConn alone: %v", reused)
			}
		})
	}
}

// A request whose body is still being sent when the head comes in: WroteRequest comes when
// the response ends, after the body went out.
func TestTraceWroteRequestLater(t *testing.T) {
	c := &http.Client{Transport: newTransport(t)}
	var l traceLog
	var info h2client.RequestInfo
	ctx := httptrace.WithClientTrace(context.Background(), l.trace())
	ctx = h2client.ContextWithRequestInfo(ctx, &info)
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, "POST", plainURL+"/echo", pr)
	go pw.Write([]byte("hello"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got, want := l.take(), "WroteHeaders GotFirstResponseByte"; !strings.HasSuffix(got, want) {
		t.Errorf("at the head: %s, want ... %s", got, want)
	}
	if info.RequestSent != 0 || info.Total != 0 || info.FirstByte == 0 {
		t.Errorf("at the head: %+v", info)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echoed %q, %v", buf, err)
	}
	pw.Close()
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the end of the request: %q, %v", rest, err)
	}
	if got := l.take(); got != "WroteRequest(<nil>)" {
		t.Errorf("at the end: %q, want WroteRequest(<nil>)", got)
	}
	if !(info.FirstByte < info.RequestSent && info.RequestSent <= info.Total) || info.BodyBytesSent != 5 ||
		info.BodyBytesReceived != 5 {
		t.Errorf("at the end: %+v", info)
	}
}

// A trace hook that panics: the panic reaches the caller, and the call is released (its 1xx
// hook unregistered).
func TestTraceHookPanics(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			trace := &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { return nil },
				GotConn:        func(httptrace.GotConnInfo) { panic("hook") },
			}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"GET", plainURL+"/bytes/100", nil)
			func() {
				defer func() {
					if r := recover(); r != "hook" {
						t.Errorf("recovered %v, want the hook's panic", r)
					}
				}()
				c.Do(req)
			}()
			if n := h2client.PendingInformationalHooks(); n != 0 {
				t.Errorf("%d 1xx hooks still registered", n)
			}
		})
	}
}

// Over a Unix socket: RequestInfo's addresses are *net.UnixAddr, the trace's ConnectDone is
// "unix" with the socket's path, and no DNS hook is called for the made-up host name.
func TestRequestInfoUnixSocket(t *testing.T) {
	sock, _ := forward(t, t.TempDir(), "h2c.sock", plainURL)
	c := &http.Client{Transport: newTransport(t, h2client.WithUnixSocket(sock))}
	var l traceLog
	var info h2client.RequestInfo
	ctx := h2client.ContextWithRequestInfo(httptrace.WithClientTrace(context.Background(), l.trace()), &info)
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://made-up.test/bytes/3", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("GetConn(made-up.test:80) ConnectStart(unix,%s) ConnectDone(unix,%s,<nil>) GotConn(false) "+
		"WroteHeaders WroteRequest(<nil>) GotFirstResponseByte", sock, sock)
	if got := l.take(); got != want {
		t.Errorf("trace:\n got %s\nwant %s", got, want)
	}
	ra, ok := info.RemoteAddr.(*net.UnixAddr)
	la, ok2 := info.LocalAddr.(*net.UnixAddr)
	if !ok || ra.Name != sock || ra.Net != "unix" || !ok2 || la.Name != "" || info.BodyBytesReceived != 3 {
		t.Errorf("RemoteAddr %#v, LocalAddr %#v, %+v", info.RemoteAddr, info.LocalAddr, info)
	}
}
