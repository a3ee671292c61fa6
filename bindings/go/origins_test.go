package h2client_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"h2client.example/h2client"
)

// port is the port of a test server's URL.
func port(t *testing.T, serverURL string) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// byName is the test server's URL with "localhost" instead of 127.0.0.1: the same server,
// another origin.
func byName(t *testing.T, serverURL string) string {
	t.Helper()
	return strings.Replace(serverURL, "127.0.0.1", "localhost", 1)
}

// echo GETs url's /echo and returns the :authority and path the server saw.
func echo(t *testing.T, c *http.Client, url string) (authority, path string) {
	t.Helper()
	resp, _ := get(t, c, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp.Header.Get("X-Echo-Authority"), resp.Header.Get("X-Echo-Path")
}

func originStats(t *testing.T, tr *h2client.Transport, origin string) h2client.Stats {
	t.Helper()
	s, err := tr.OriginStats(origin)
	if err != nil {
		t.Fatalf("OriginStats(%s): %v", origin, err)
	}
	return s
}

// One Transport serves several origins (h2c and TLS, the same servers by address and by
// name), each over its own connection, in both modes.
func TestManyOrigins(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithCAFile(caFile), h2client.WithBufferedResponses(m.buffered))
			c := &http.Client{Transport: tr}
			origins := []string{plainURL, byName(t, plainURL), tlsURL, byName(t, tlsURL)}
			for round := 0; round < 2; round++ {
				for _, o := range origins {
					authority, path := echo(t, c, o+"/echo?round="+fmt.Sprint(round))
					if want := strings.SplitN(o, "://", 2)[1]; authority != want {
						t.Errorf("%s: authority %q, want %q", o, authority, want)
					}
					if want := fmt.Sprintf("/echo?round=%d", round); path != want {
						t.Errorf("%s: path %q, want %q", o, path, want)
					}
				}
			}
			for _, o := range origins {
				s := originStats(t, tr, o)
				if s.RequestsCompleted != 2 || s.ConnectionsOpened != 1 {
					t.Errorf("%s: %d requests completed over %d connections, want 2 over 1", o,
						s.RequestsCompleted, s.ConnectionsOpened)
				}
			}
			if s := tr.Stats(); s.RequestsCompleted != 8 || s.ConnectionsOpened != 4 {
				t.Errorf("Stats: %d requests over %d connections, want 8 over 4", s.RequestsCompleted, s.ConnectionsOpened)
			}
			// The default port may be left out of an origin; an unused origin reads as zeros.
			if s := originStats(t, tr, "https://example.com"); s != (h2client.Stats{}) {
				t.Errorf("unused origin: %+v", s)
			}
		})
	}
}

// Goroutines using several origins at once share the Transport.
func TestManyOriginsConcurrently(t *testing.T) {
	tr := newTransport(t, h2client.WithCAFile(caFile))
	c := &http.Client{Transport: tr}
	origins := []string{plainURL, byName(t, plainURL), tlsURL, byName(t, tlsURL)}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := origins[i%len(origins)]
			if err := getBytes(c, o, 1000+i); err != nil {
				errs <- fmt.Errorf("%s/bytes/%d: %v", o, 1000+i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, o := range origins {
		if s := originStats(t, tr, o); s.RequestsCompleted != 50 {
			t.Errorf("%s: %d requests completed, want 50", o, s.RequestsCompleted)
		}
	}
}

// http.Client follows redirects from one origin to another through the same Transport;
// the Transport itself returns the 3xx.
func TestRedirectToAnotherOrigin(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTransport(t, h2client.WithCAFile(caFile), h2client.WithBufferedResponses(m.buffered))
			c := &http.Client{Transport: tr}
			to := byName(t, plainURL) + "/echo?hop=2"
			from := plainURL + "/redirect/302?to=" + url.QueryEscape(to)
			resp, _ := get(t, c, from)
			if resp.StatusCode != 200 || resp.Request.URL.String() != to {
				t.Fatalf("status %d for %s, want 200 for %s", resp.StatusCode, resp.Request.URL, to)
			}
			if a := resp.Header.Get("X-Echo-Authority"); a != strings.TrimPrefix(byName(t, plainURL), "http://") {
				t.Errorf("authority after the redirect: %q", a)
			}
			for _, o := range []string{plainURL, byName(t, plainURL)} {
				if s := originStats(t, tr, o); s.RequestsCompleted != 1 {
					t.Errorf("%s: %d requests completed, want 1", o, s.RequestsCompleted)
				}
			}

			// 307 from h2c to TLS, by name: the method and the body are sent again.
			to = byName(t, tlsURL) + "/echo"
			resp, err := c.Post(plainURL+"/redirect/307?to="+url.QueryEscape(to), "text/plain",
				bytes.NewReader([]byte("posted twice")))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "posted twice" || resp.Header.Get("X-Echo-Method") != "POST" ||
				resp.Request.URL.String() != to {
				t.Errorf("307 to %s: %s %q %v, method %q", to, resp.Request.URL, body, err, resp.Header.Get("X-Echo-Method"))
			}

			// The Transport does not follow redirects.
			req, _ := http.NewRequest("GET", from, nil)
			resp, err = tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 302 || resp.Header.Get("Location") != byName(t, plainURL)+"/echo?hop=2" {
				t.Errorf("RoundTrip: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// Relative URLs are resolved against WithBaseURL; absolute ones go to their own origin.
func TestBaseURL(t *testing.T) {
	var seen []string
	tr := newTransport(t, h2client.WithBaseURL(plainURL+"/dir/page"),
		h2client.WithProxy(func(r *http.Request) (*url.URL, error) {
			seen = append(seen, r.URL.String())
			return nil, nil
		}))
	c := &http.Client{Transport: tr}
	host := strings.TrimPrefix(plainURL, "http://")
	for _, tc := range []struct{ url, authority, path string }{
		{"/echo", host, "/echo"},
		{"../echo?x=1", host, "/echo?x=1"},
		{byName(t, plainURL) + "/echo", strings.TrimPrefix(byName(t, plainURL), "http://"), "/echo"},
	} {
		if a, p := echo(t, c, tc.url); a != tc.authority || p != tc.path {
			t.Errorf("GET %s: authority %q path %q, want %q %q", tc.url, a, p, tc.authority, tc.path)
		}
	}
	// The proxy function sees the resolved URL.
	want := []string{plainURL + "/echo", plainURL + "/echo?x=1", byName(t, plainURL) + "/echo"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("the proxy function saw %q, want %q", seen, want)
	}
}

// CloseIdleConnections (as http.Client calls it) closes every origin's idle connections, and
// leaves those with a request in flight alone.
func TestCloseIdleConnections(t *testing.T) {
	tr := newTransport(t, h2client.WithCAFile(caFile))
	var _ interface{ CloseIdleConnections() } = tr
	c := &http.Client{Transport: tr}
	origins := []string{plainURL, byName(t, plainURL), tlsURL}
	for _, o := range origins {
		get(t, c, o+"/")
	}
	c.CloseIdleConnections()
	for _, o := range origins {
		get(t, c, o+"/")
		if s := originStats(t, tr, o); s.ConnectionsOpened != 2 {
			t.Errorf("%s: %d connections opened, want 2 (the idle one was closed)", o, s.ConnectionsOpened)
		}
	}

	// A connection with a response being read stays open, and the body arrives whole.
	resp, err := c.Get(plainURL + "/slow-bytes/3000/1000/50")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading on after CloseIdleConnections: %v", err)
	}
	if err := checkPattern(append(first, rest...), 3000); err != nil {
		t.Error(err)
	}
	get(t, c, plainURL+"/")
	if s := originStats(t, tr, plainURL); s.ConnectionsOpened != 2 {
		t.Errorf("%d connections opened, want 2 (the busy one kept)", s.ConnectionsOpened)
	}
	if s := originStats(t, tr, byName(t, plainURL)); s.ConnectionsOpened != 2 {
		t.Errorf("localhost: %d connections opened, want 2", s.ConnectionsOpened)
	}
}

// WithResolve and WithConnectTo send a name's connections elsewhere; the name stays the
// origin (:authority).
func TestResolveAndConnectTo(t *testing.T) {
	p := port(t, plainURL)
	c := &http.Client{Transport: newTransport(t,
		h2client.WithResolve("h2client-test.invalid:"+p+":127.0.0.1"),
		h2client.WithConnectTo("other.invalid:80:127.0.0.1:"+p))}
	if a, _ := echo(t, c, "http://h2client-test.invalid:"+p+"/echo"); a != "h2client-test.invalid:"+p {
		t.Errorf("WithResolve: authority %q", a)
	}
	if a, _ := echo(t, c, "http://other.invalid/echo"); a != "other.invalid" {
		t.Errorf("WithConnectTo: authority %q", a)
	}
	// TLS checks the certificate for the URL's name, not the address it dialled.
	tp := port(t, tlsURL)
	c = &http.Client{Transport: newTransport(t, h2client.WithCAFile(caFile),
		h2client.WithResolve("localhost:"+tp+":127.0.0.1", "h2client-test.invalid:"+tp+":127.0.0.1"))}
	if a, _ := echo(t, c, "https://localhost:"+tp+"/echo"); a != "localhost:"+tp {
		t.Errorf("TLS with WithResolve: authority %q", a)
	}
	if _, err := c.Get("https://h2client-test.invalid:" + tp + "/"); !errors.Is(err, h2client.ErrTLS) {
		t.Errorf("a name the certificate does not have: %v", err)
	}

	for _, opt := range []h2client.Option{h2client.WithResolve("no-port-or-address"),
		h2client.WithConnectTo("a:b"), h2client.WithResolve("x\x00:1:127.0.0.1")} {
		if _, err := h2client.NewTransport(opt); !errors.Is(err, h2client.ErrInvalidArgument) {
			t.Errorf("malformed entry: %v", err)
		}
	}
}

func TestLocalAddress(t *testing.T) {
	c := &http.Client{Transport: newTransport(t, h2client.WithLocalAddress("127.0.0.1"))}
	get(t, c, plainURL+"/")
	if _, err := h2client.NewTransport(h2client.WithLocalAddress("eth0")); !errors.Is(err, h2client.ErrInvalidArgument) {
		t.Errorf("not an address: %v", err)
	}
	// An address the machine does not have (TEST-NET-1) fails each connection.
	c = &http.Client{Transport: newTransport(t, h2client.WithLocalAddress("192.0.2.1"))}
	_, err := c.Get(plainURL + "/")
	if e := asError(t, err); e.Code != h2client.ErrConnect || !strings.Contains(e.Message, "192.0.2.1") {
		t.Errorf("foreign local address: %v", err)
	}
}

// WithMaxConnectionsPerOrigin caps each origin, not the Transport.
func TestMaxConnectionsPerOrigin(t *testing.T) {
	if _, err := h2client.NewTransport(h2client.WithMaxConnectionsPerOrigin(0)); !errors.Is(err, h2client.ErrInvalidArgument) {
		t.Errorf("0: %v", err)
	}
	// One stream per connection and one connection per origin: concurrent requests to one
	// origin take turns on its connection (the library would open more otherwise).
	tr := newTransport(t, h2client.WithMaxConcurrentStreams(1), h2client.WithMaxConnectionsPerOrigin(1))
	c := &http.Client{Transport: tr}
	origins := []string{plainURL, byName(t, plainURL)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(o string) {
			defer wg.Done()
			resp, err := c.Get(o + "/delay/50")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				errs <- err
			}
		}(origins[i%2])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, o := range origins {
		if s := originStats(t, tr, o); s.ConnectionsOpened != 1 || s.RequestsCompleted != 4 {
			t.Errorf("%s: %d requests over %d connections, want 4 over 1", o, s.RequestsCompleted, s.ConnectionsOpened)
		}
	}
}
