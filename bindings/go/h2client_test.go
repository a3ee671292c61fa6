package h2client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"h2client.example/h2client"
)

// Both ways a Transport can run a request without a streamed body.
var modes = []struct {
	name     string
	buffered bool
}{{"streaming", false}, {"buffered", true}}

func newTransport(t *testing.T, opts ...h2client.Option) *h2client.Transport {
	t.Helper()
	tr, err := h2client.NewTransport(opts...)
	if err != nil {
		t.Fatalf("NewTransport: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, b
}

// getBytes fetches origin's /bytes/n with c and checks the body's pattern.
func getBytes(c *http.Client, origin string, n int) error {
	resp, err := c.Get(fmt.Sprintf("%s/bytes/%d", origin, n))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	return checkPattern(b, n)
}

func checkPattern(b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("body is %d bytes, want %d", len(b), n)
	}
	for i, c := range b {
		if c != byte('a'+i%26) {
			return fmt.Errorf("body byte %d is %q, want %q", i, c, 'a'+i%26)
		}
	}
	return nil
}

func asError(t *testing.T, err error) *h2client.Error {
	t.Helper()
	var e *h2client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *h2client.Error", err, err)
	}
	return e
}

func TestGet(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			resp, body := get(t, c, plainURL+"/")
			if resp.StatusCode != 200 || resp.Status != "200 OK" {
				t.Errorf("status %d %q", resp.StatusCode, resp.Status)
			}
			if resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 || resp.ProtoMinor != 0 {
				t.Errorf("proto %q %d.%d", resp.Proto, resp.ProtoMajor, resp.ProtoMinor)
			}
			if string(body) != "hello from h2testserver\n" {
				t.Errorf("body %q", body)
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("ContentLength %d, body %d bytes", resp.ContentLength, len(body))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type %q", ct)
			}

			for _, n := range []int{0, 1, 16384, 1 << 20, 5<<20 + 3} {
				resp, body := get(t, c, fmt.Sprintf("%s/bytes/%d", plainURL, n))
				if err := checkPattern(body, n); err != nil {
					t.Errorf("/bytes/%d: %v", n, err)
				}
				if resp.ContentLength != int64(n) {
					t.Errorf("/bytes/%d: ContentLength %d", n, resp.ContentLength)
				}
			}

			resp, _ = get(t, c, plainURL+"/status/404")
			if resp.StatusCode != 404 || resp.Status != "404 Not Found" {
				t.Errorf("/status/404: %d %q", resp.StatusCode, resp.Status)
			}
		})
	}
}

func TestTrailers(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			resp, err := c.Get(plainURL + "/trailers")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "body with trailers\n" {
				t.Fatalf("body %q, %v", body, err)
			}
			if got := resp.Trailer.Get("X-Trailer-One"); got != "1" {
				t.Errorf("X-Trailer-One = %q (Trailer %v)", got, resp.Trailer)
			}
			if got := resp.Trailer.Get("X-Trailer-Two"); got != "two" {
				t.Errorf("X-Trailer-Two = %q", got)
			}
		})
	}
}

// The request's headers arrive (hop-by-hop ones dropped), Host sets :authority, and a body
// with a known length is sent whole.
func TestRequestHeadersAndInlineBody(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			req, _ := http.NewRequest("PUT", plainURL+"/echo?x=1&y=%20", strings.NewReader("hello, echo"))
			req.Header.Set("X-Foo", "bar")
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			req.Header.Set("Connection", "keep-alive, X-Dropped")
			req.Header.Set("X-Dropped", "by Connection")
			req.Header.Set("Keep-Alive", "timeout=5")
			req.Header.Set("Transfer-Encoding", "chunked")
			req.Header.Set("User-Agent", "h2client-go-test")
			req.Host = "example.com:8443"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello, echo" {
				t.Errorf("echoed body %q", body)
			}
			h := resp.Header
			for name, want := range map[string]string{
				"X-Echo-Method":           "PUT",
				"X-Echo-Path":             "/echo?x=1&y=%20",
				"X-Echo-Authority":        "example.com:8443",
				"X-Echo-H-X-Foo":          "bar",
				"X-Echo-H-User-Agent":     "h2client-go-test",
				"X-Echo-H-Content-Length": "11",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got := h.Values("X-Echo-H-X-Multi"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
				t.Errorf("X-Echo-H-X-Multi = %q", got)
			}
			for _, name := range []string{"X-Echo-H-Connection", "X-Echo-H-X-Dropped", "X-Echo-H-Keep-Alive", "X-Echo-H-Transfer-Encoding"} {
				if v := h.Values(name); len(v) != 0 {
					t.Errorf("%s was sent: %q", name, v)
				}
			}
		})
	}
}

// A large body from an io.Pipe producer streams through /echo (read back concurrently) byte
// for byte, with request trailers echoed as response trailers.
func TestPostStreaming(t *testing.T) {
	tr := newTransport(t)
	c := &http.Client{Transport: tr}
	const total = 48<<20 + 12345
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", plainURL+"/echo", pr)
	req.Trailer = http.Header{"X-Sum": nil}
	sent := sha256.New()
	go func() {
		rng := rand.New(rand.NewSource(1))
		buf := make([]byte, 200<<10)
		rng.Read(buf)
		for left := total; left > 0; {
			n := 1 + rng.Intn(len(buf))
			if n > left {
				n = left
			}
			sent.Write(buf[:n])
			if _, err := pw.Write(buf[:n]); err != nil {
				pw.CloseWithError(err)
				return
			}
			left -= n
		}
		req.Trailer.Set("X-Sum", fmt.Sprintf("%x", sent.Sum(nil)))
		pw.Close()
	}()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	if n != total {
		t.Fatalf("echoed %d bytes, sent %d", n, total)
	}
	want := fmt.Sprintf("%x", sent.Sum(nil))
	if fmt.Sprintf("%x", got.Sum(nil)) != want {
		t.Fatal("the echoed body differs from the one sent")
	}
	if ts := resp.Trailer.Get("X-Echo-Trailer-X-Sum"); ts != want {
		t.Errorf("echoed trailer %q, want %q (Trailer %v)", ts, want, resp.Trailer)
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d for a body of unknown length", resp.ContentLength)
	}
}

// A request body whose reader fails cancels the request with that error.
func TestPostBodyReadError(t *testing.T) {
	c := &http.Client{Transport: newTransport(t)}
	pr, pw := io.Pipe()
	boom := errors.New("producer failed")
	go func() {
		pw.Write([]byte("some bytes"))
		pw.CloseWithError(boom)
	}()
	resp, err := c.Post(plainURL+"/echo", "application/octet-stream", pr)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the producer's error", err)
	}
	if !errors.Is(err, h2client.ErrCanceled) {
		t.Errorf("error %v is not ErrCanceled", err)
	}
}

func TestCancelBeforeHeaders(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			req, _ := http.NewRequestWithContext(ctx, "GET", plainURL+"/delay/10000", nil)
			start := time.Now()
			_, err := c.Do(req)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("cancel took %v", took)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v is not context.Canceled", err)
			}
			if e := asError(t, err); e.Code != h2client.ErrCanceled {
				t.Errorf("code %v", e.Code)
			}
			// An already cancelled context fails at once.
			if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
				t.Errorf("second request: %v", err)
			}
		})
	}
}

func TestCancelMidBody(t *testing.T) {
	c := &http.Client{Transport: newTransport(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", plainURL+"/slow-bytes/100000/100/20", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 50)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Read returned %v after the cancel", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v is not context.Canceled", err)
	}

	// In buffered mode the cancel lands while the body is being buffered.
	c = &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(true))}
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel2)
	req, _ = http.NewRequestWithContext(ctx2, "GET", plainURL+"/slow-bytes/100000/100/20", nil)
	start = time.Now()
	if _, err = c.Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("buffered: error %v is not context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("buffered: cancel took %v", took)
	}
}

// Closing a body early resets the stream and frees the call; the Transport stays usable.
func TestBodyCloseEarly(t *testing.T) {
	tr := newTransport(t)
	c := &http.Client{Transport: tr}
	for i := 0; i < 20; i++ {
		resp, err := c.Get(plainURL + "/bytes/50000000")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 100000)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
			t.Fatal("Read after Close succeeded")
		}
	}
	// Close during a blocked Read makes the Read return.
	resp, err := c.Get(plainURL + "/slow-bytes/1000/10/1000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 100))
	time.AfterFunc(100*time.Millisecond, func() { resp.Body.Close() })
	start := time.Now()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("Read of a closed body succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v to end the Read", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Stats().StreamsActive != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := tr.Stats(); s.StreamsActive != 0 {
		t.Errorf("%d streams still active", s.StreamsActive)
	}
	if _, body := get(t, c, plainURL+"/"); len(body) == 0 {
		t.Error("empty body after the early closes")
	}
}

func TestDeadline(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithBufferedResponses(m.buffered))
			c := &http.Client{Transport: tr}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", plainURL+"/delay/5000", nil)
			start := time.Now()
			_, err := c.Do(req)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v is not context.DeadlineExceeded", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %v is not a net.Error with Timeout()", err)
			}

			// http.Client.Timeout works through the request's context too.
			c = &http.Client{Transport: tr, Timeout: 200 * time.Millisecond}
			start = time.Now()
			_, err = c.Get(plainURL + "/delay/5000")
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Client.Timeout: took %v", took)
			}
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("Client.Timeout: error %v is not a timeout", err)
			}
		})
	}
}

func TestLibraryTimeout(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered),
				h2client.WithRequestTimeout(200*time.Millisecond))}
			start := time.Now()
			_, err := c.Get(plainURL + "/delay/5000")
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			e := asError(t, err)
			if e.Code != h2client.ErrTimeout || !errors.Is(err, h2client.ErrTimeout) || !e.Timeout() {
				t.Errorf("error %v: code %v", err, e.Code)
			}
			if e.CodeName != "H2_E_TIMEOUT" || !strings.Contains(e.Message, "timed out") {
				t.Errorf("CodeName %q Message %q", e.CodeName, e.Message)
			}
		})
	}
	// The body idle timeout fires while a streamed body is read.
	c := &http.Client{Transport: newTransport(t, h2client.WithBodyIdleTimeout(100*time.Millisecond))}
	resp, err := c.Get(plainURL + "/slow-bytes/100/10/1000")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, h2client.ErrTimeout) {
		t.Errorf("body idle timeout: %v", err)
	}
}

func TestConcurrency(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithBufferedResponses(m.buffered))
			c := &http.Client{Transport: tr}
			const n = 1000
			var wg sync.WaitGroup
			var failed int32
			errs := make(chan error, n)
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					if err := getBytes(c, plainURL, 1000+i); err != nil {
						atomic.AddInt32(&failed, 1)
						errs <- err
					}
				}(i)
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("%d of %d requests failed, e.g.: %v", failed, n, err)
				break
			}
			s := tr.Stats()
			t.Logf("%s: %d completed, %d connections, %d OS threads in the process", m.name,
				s.RequestsCompleted, s.ConnectionsOpened, threads())
		})
	}
}

// threads is the process's OS thread count (Linux).
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			var n int
			fmt.Sscan(strings.TrimPrefix(line, "Threads:"), &n)
			return n
		}
	}
	return -1
}

func TestHTTPS(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithCAFile(caFile),
				h2client.WithBufferedResponses(m.buffered))}
			resp, body := get(t, c, tlsURL+"/bytes/100000")
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
			if err := checkPattern(body, 100000); err != nil {
				t.Error(err)
			}
		})
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: newTransport(t, h2client.WithCAPEM(pem))}
	if _, body := get(t, c, tlsURL+"/"); string(body) != "hello from h2testserver\n" {
		t.Errorf("WithCAPEM: body %q", body)
	}
	c = &http.Client{Transport: newTransport(t, h2client.WithInsecureSkipVerify())}
	get(t, c, tlsURL+"/")

	// Without the test CA (system store only) the certificate is refused.
	c = &http.Client{Transport: newTransport(t)}
	_, err = c.Get(tlsURL + "/")
	if e := asError(t, err); e.Code != h2client.ErrTLS || !strings.Contains(e.Message, "certificate") {
		t.Errorf("without the CA: %v", err)
	}
	if _, err := h2client.NewTransport(h2client.WithCAFile("/nonexistent/ca.pem")); !errors.Is(err, h2client.ErrTLS) {
		t.Errorf("bad CA file: %v", err)
	}
}

func TestErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			_, err := c.Get(plainURL + "/reset/2")
			e := asError(t, err)
			if e.Code != h2client.ErrStreamReset || e.H2Error != 2 || e.Origin != h2client.OriginRemote ||
				!errors.Is(err, h2client.ErrStreamReset) || e.CodeName != "H2_E_STREAM_RESET" {
				t.Errorf("/reset/2: %v: %+v", err, e)
			}

			c = &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			_, err = c.Get(refused + "/")
			e = asError(t, err)
			if e.Code != h2client.ErrConnect || e.Processed != h2client.ProcessedNo || e.Origin != h2client.OriginTransport {
				t.Errorf("refused: %v: %+v", err, e)
			}
			if !strings.Contains(e.Message, "refused") {
				t.Errorf("refused: message %q", e.Message)
			}
		})
	}
}

func TestMisuse(t *testing.T) {
	for _, base := range []string{"ftp://x", "http://", "/relative", "//host/x", "https://user:pw@host", "http://[::1"} {
		if _, err := h2client.NewTransport(h2client.WithBaseURL(base)); !errors.Is(err, h2client.ErrInvalidURL) {
			t.Errorf("WithBaseURL(%q): %v", base, err)
		}
	}
	if _, err := h2client.NewTransport(h2client.WithMaxFrameSize(10)); !errors.Is(err, h2client.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "WithMaxFrameSize") {
		t.Errorf("bad option: %v", err)
	}
	tr := newTransport(t)
	c := &http.Client{Transport: tr}
	for _, u := range []string{"ftp://127.0.0.1/", "/relative", "relative", "http:///path"} {
		if _, err := c.Get(u); !errors.Is(err, h2client.ErrInvalidURL) {
			t.Errorf("GET %q: %v", u, err)
		}
	}
	if _, err := tr.RoundTrip(&http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "a/b", Path: "/"}}); !errors.Is(err, h2client.ErrInvalidURL) {
		t.Errorf("a host with a slash: %v", err)
	}
	// The scheme's case does not matter.
	req, _ := http.NewRequest("GET", strings.Replace(plainURL, "http://", "HTTP://", 1)+"/", nil)
	req.URL.Scheme = "HTTP"
	if resp, err := tr.RoundTrip(req); err != nil {
		t.Errorf("scheme HTTP: %v", err)
	} else {
		resp.Body.Close()
	}
	req, _ = http.NewRequest("GET", plainURL+"/", nil)
	req.Header.Set("X-Bad", "a\x00b")
	if _, err := c.Do(req); !errors.Is(err, h2client.ErrInvalidArgument) {
		t.Errorf("NUL in a header: %v", err)
	}
	req.Header = http.Header{"Bad Name": {"x"}}
	if _, err := c.Do(req); !errors.Is(err, h2client.ErrInvalidArgument) {
		t.Errorf("bad header name: %v", err)
	}
	if _, err := tr.OriginStats("ftp://x"); !errors.Is(err, h2client.ErrInvalidURL) {
		t.Errorf("OriginStats(ftp://x): %v", err)
	}
	tr.Close()
	if _, err := c.Get(plainURL + "/"); !errors.Is(err, h2client.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	tr.CloseIdleConnections() // does nothing once closed
	if s := tr.Stats(); s != (h2client.Stats{}) {
		t.Errorf("Stats after Close: %+v", s)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if h2client.Version() == "" {
		t.Error("empty Version")
	}
}

// No goroutine is left behind by finished, failed or cancelled requests.
func TestNoGoroutineLeak(t *testing.T) {
	c := &http.Client{Transport: newTransport(t)}
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", plainURL+"/echo", bytes.NewReader(make([]byte, 2<<20)))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// Close fails the requests in flight promptly, in both modes.
func TestCloseWhileWaiting(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr, err := h2client.NewTransport(h2client.WithBufferedResponses(m.buffered))
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: tr}
			get(t, c, plainURL+"/")
			time.AfterFunc(200*time.Millisecond, func() { tr.Close() })
			start := time.Now()
			_, err = c.Get(plainURL + "/delay/5000")
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the request ended %v after Close", took)
			}
			if err == nil {
				t.Fatal("the request succeeded after Close")
			}
			t.Logf("%s: %v", m.name, err)
		})
	}
}

// A body longer than the inline limit streams, with its content-length.
func TestLongKnownLengthBodyStreams(t *testing.T) {
	c := &http.Client{Transport: newTransport(t, h2client.WithInlineBodyLimit(1000))}
	body := bytes.Repeat([]byte("0123456789"), 100000)
	resp, err := c.Post(plainURL+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	if cl := resp.Header.Get("X-Echo-H-Content-Length"); cl != "1000000" {
		t.Errorf("content-length sent: %q", cl)
	}
	if resp.ContentLength != 1000000 {
		t.Errorf("ContentLength %d", resp.ContentLength)
	}
}
