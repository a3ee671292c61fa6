package h2client_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"h2client.example/h2client"
)

// HTTP/2 frame types and flags the raw server uses (RFC 9113 §6).
const (
	frameData       = 0
	frameHeaders    = 1
	frameSettings   = 4
	framePing       = 6
	frameGoAway     = 7
	frameContinue   = 9
	flagEndStream   = 1
	flagAck         = 1
	flagEndHeaders  = 4
	clientPrefaceSz = 24
)

// frame is one HTTP/2 frame: the 9-byte header and the payload.
func frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream&0x7fffffff)
	return append(b, payload...)
}

// hpackInt appends an HPACK integer (RFC 7541 §5.1) with an n-bit prefix after the bits of first.
func hpackInt(b []byte, bits uint, first byte, v int) []byte {
	max := 1<<bits - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	for v -= max; v >= 128; v >>= 7 {
		b = append(b, byte(v&127|128))
	}
	return append(b, byte(v))
}

// headerBlock encodes name/value pairs as HPACK literals without indexing, with literal
// names and no Huffman coding (RFC 7541 §6.2.2): no table, nothing to get wrong.
func headerBlock(fields ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(fields); i += 2 {
		b = append(b, 0)
		for _, s := range fields[i : i+2] {
			b = hpackInt(b, 7, 0, len(s))
			b = append(b, s...)
		}
	}
	return b
}

// startRawServer runs an HTTP/2 server (h2c, prior knowledge) written with the standard
// library only, for what the test server cannot send. It reads the client's frames only to
// acknowledge SETTINGS and PING and to see where each request's header block ends (it never
// decodes them), and answers each request on stream s with respond(s), written at once.
// Returns its http:// URL.
func startRawServer(t *testing.T, respond func(stream uint32) []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveRaw(c, respond)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + l.Addr().String()
}

func serveRaw(c net.Conn, respond func(stream uint32) []byte) {
	br := bufio.NewReader(c)
	if _, err := io.ReadFull(br, make([]byte, clientPrefaceSz)); err != nil {
		return
	}
	if _, err := c.Write(frame(frameSettings, 0, 0, nil)); err != nil {
		return
	}
	var head [9]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return
		}
		n := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		typ, flags := head[3], head[4]
		stream := binary.BigEndian.Uint32(head[5:]) & 0x7fffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		var out []byte
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			out = frame(frameSettings, flagAck, 0, nil)
		case typ == framePing && flags&flagAck == 0:
			out = frame(framePing, flagAck, 0, payload)
		case (typ == frameHeaders || typ == frameContinue) && flags&flagEndHeaders != 0:
			out = respond(stream)
		case typ == frameGoAway:
			return
		}
		if out != nil {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// The informational heads the early-hints server sends before its final response.
var earlyHints = []string{"</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"}

// startEarlyHintsServer answers every request with 103 Early Hints (two link fields),
// 100 Continue, then 200 with an x-final field and the body "done".
func startEarlyHintsServer(t *testing.T) string {
	return startRawServer(t, func(s uint32) []byte {
		var b []byte
		b = append(b, frame(frameHeaders, flagEndHeaders, s,
			headerBlock(":status", "103", "link", earlyHints[0], "link", earlyHints[1]))...)
		b = append(b, frame(frameHeaders, flagEndHeaders, s, headerBlock(":status", "100"))...)
		b = append(b, frame(frameHeaders, flagEndHeaders, s,
			headerBlock(":status", "200", "content-type", "text/plain", "x-final", "1"))...)
		return append(b, frame(frameData, flagEndStream, s, []byte("done"))...)
	})
}

// traceRecorder records what a ClientTrace's 1xx hooks are told, in order.
type traceRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *traceRecorder) add(s string) {
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *traceRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

func (r *traceRecorder) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			r.add(fmt.Sprintf("%d %q", code, h["Link"]))
			return nil
		},
		Got100Continue: func() { r.add("100-continue") },
	}
}

func traced(t *testing.T, url string, trace *httptrace.ClientTrace) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// 1xx heads reach the request's httptrace hooks, in order and before RoundTrip returns, as
// textproto.MIMEHeader with canonical keys; the final response carries none of their fields.
func TestInformationalResponses(t *testing.T) {
	srv := startEarlyHintsServer(t)
	want := []string{fmt.Sprintf("103 %q", earlyHints), "100 []", "100-continue"}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			var rec traceRecorder
			for i := 0; i < 3; i++ { // the same connection, one stream after another
				resp, err := c.Do(traced(t, srv+"/", rec.trace()))
				if err != nil {
					t.Fatal(err)
				}
				seen := rec.take() // before the body is read: all came before the final head
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != "done" || resp.StatusCode != 200 {
					t.Fatalf("#%d: %d %q %v", i, resp.StatusCode, body, err)
				}
				if strings.Join(seen, "\n") != strings.Join(want, "\n") {
					t.Errorf("#%d: the trace saw\n%s\nwant\n%s", i, strings.Join(seen, "\n"), strings.Join(want, "\n"))
				}
				if resp.Header.Get("X-Final") != "1" || resp.Header.Get("Link") != "" {
					t.Errorf("#%d: final header %v", i, resp.Header)
				}
			}

			// Only Got100Continue: called for the 100 alone.
			var n int32 // atomic: hooks run on the library's threads
			resp, err := c.Do(traced(t, srv+"/", &httptrace.ClientTrace{Got100Continue: func() { atomic.AddInt32(&n, 1) }}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if n := atomic.LoadInt32(&n); n != 1 {
				t.Errorf("Got100Continue called %d times", n)
			}
			// A trace without 1xx hooks, and no trace: the 1xx heads are skipped.
			resp, err = c.Do(traced(t, srv+"/", &httptrace.ClientTrace{GotFirstResponseByte: func() {}}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, body := get(t, c, srv+"/")
			if resp.StatusCode != 200 || string(body) != "done" {
				t.Errorf("untraced: %d %q", resp.StatusCode, body)
			}
			if k := h2client.PendingInformationalHooks(); k != 0 {
				t.Errorf("%d informational hooks still registered", k)
			}
		})
	}
}

// A Got1xxResponse that returns an error (or panics) aborts the request with that error,
// as net/http's own HTTP/2 client does.
func TestInformationalHookError(t *testing.T) {
	srv := startEarlyHintsServer(t)
	errHints := errors.New("no early hints, thanks")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			var calls int32
			_, err := c.Do(traced(t, srv+"/", &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { atomic.AddInt32(&calls, 1); return errHints },
			}))
			if !errors.Is(err, errHints) || !errors.Is(err, h2client.ErrCanceled) {
				t.Errorf("error %v, want one wrapping %q and ErrCanceled", err, errHints)
			}
			if calls := atomic.LoadInt32(&calls); calls != 1 {
				t.Errorf("Got1xxResponse called %d times, want 1 (none after its error)", calls)
			}
			_, err = c.Do(traced(t, srv+"/", &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { panic("hook bug") },
			}))
			if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "hook bug") {
				t.Errorf("a panicking hook: error %v", err)
			}
			// The Transport goes on.
			resp, body := get(t, c, srv+"/")
			if resp.StatusCode != 200 || string(body) != "done" {
				t.Errorf("after: %d %q", resp.StatusCode, body)
			}
			if k := h2client.PendingInformationalHooks(); k != 0 {
				t.Errorf("%d informational hooks still registered", k)
			}
		})
	}
}

// WithMaxInformationalResponses: two 1xx heads are one too many for 1 (ErrProtocol, counted
// in LimitInformationalFlood), and fine for 2.
func TestMaxInformationalResponses(t *testing.T) {
	srv := startEarlyHintsServer(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithMaxInformationalResponses(1), h2client.WithBufferedResponses(m.buffered))
			_, err := (&http.Client{Transport: tr}).Get(srv + "/")
			if !errors.Is(err, h2client.ErrProtocol) {
				t.Errorf("error %v, want ErrProtocol", err)
			}
			if n := tr.Stats().LimitInformationalFlood; n != 1 {
				t.Errorf("LimitInformationalFlood %d, want 1", n)
			}
			ok := &http.Client{Transport: newTransport(t, h2client.WithMaxInformationalResponses(2),
				h2client.WithBufferedResponses(m.buffered))}
			resp, body := get(t, ok, srv+"/")
			if resp.StatusCode != 200 || string(body) != "done" {
				t.Errorf("with 2 allowed: %d %q", resp.StatusCode, body)
			}
		})
	}
}
