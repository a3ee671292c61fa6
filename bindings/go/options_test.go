package h2client_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"h2client.example/h2client"
)

// echoedUA sends req to the test server's /echo and returns the User-Agent values it saw.
func echoedUA(t *testing.T, c *http.Client, req *http.Request) []string {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Values("X-Echo-H-User-Agent")
}

// The User-Agent: the library's h2client/<version> by default, WithUserAgent's instead ("" for
// none), the request's own if it has one (the first value; present but empty: none).
func TestUserAgent(t *testing.T) {
	if ua := h2client.DefaultUserAgent(); ua != "h2client/"+h2client.Version() || h2client.Version() == "" {
		t.Fatalf("DefaultUserAgent() = %q, Version() = %q", ua, h2client.Version())
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			def := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered))}
			custom := &http.Client{Transport: newTransport(t, h2client.WithUserAgent("custom/2.0"),
				h2client.WithBufferedResponses(m.buffered))}
			none := &http.Client{Transport: newTransport(t, h2client.WithUserAgent(""),
				h2client.WithBufferedResponses(m.buffered))}
			for _, tc := range []struct {
				name   string
				c      *http.Client
				header []string // the request's User-Agent values; nil: none in Header
				unset  bool     // the key is absent
				want   string   // "" for no User-Agent at all
			}{
				{"default", def, nil, true, h2client.DefaultUserAgent()},
				{"WithUserAgent", custom, nil, true, "custom/2.0"},
				{"WithUserAgent(\"\")", none, nil, true, ""},
				{"the request's", def, []string{"mine/1"}, false, "mine/1"},
				{"the request's over WithUserAgent", custom, []string{"mine/1"}, false, "mine/1"},
				{"the first of two", def, []string{"first/1", "second/2"}, false, "first/1"},
				{"empty: none", def, []string{""}, false, ""},
				{"empty over WithUserAgent: none", custom, []string{""}, false, ""},
				{"nil: none", def, nil, false, ""},
				{"the request's over none", none, []string{"mine/1"}, false, "mine/1"},
			} {
				req, _ := http.NewRequest("GET", plainURL+"/echo", nil)
				if !tc.unset {
					req.Header["User-Agent"] = tc.header
				}
				got := echoedUA(t, tc.c, req)
				if (tc.want == "" && len(got) != 0) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
					t.Errorf("%s: the server saw User-Agent %q, want %q", tc.name, got, tc.want)
				}
			}
		})
	}
	for _, bad := range []string{"tab\x01", " leading", "trailing ", "new\nline"} {
		_, err := h2client.NewTransport(h2client.WithUserAgent(bad))
		if !errors.Is(err, h2client.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithUserAgent") {
			t.Errorf("WithUserAgent(%q): %v", bad, err)
		}
	}
}

// forward listens on a Unix socket in dir and forwards each connection to the TCP address of
// serverURL; it counts the connections.
func forward(t *testing.T, dir, name, serverURL string) (path string, accepted *int32) {
	t.Helper()
	path = filepath.Join(dir, name)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	target := mustURL(t, serverURL).Host
	accepted = new(int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			atomic.AddInt32(accepted, 1)
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					io.Copy(up, c)
					up.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(c, up)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return path, accepted
}

// WithUnixSocket: connections go to the socket whatever the URL's host (made-up names work,
// the URL still names the origin), h2c and TLS, and no proxy function is asked.
func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	plainSock, plainConns := forward(t, dir, "h2c.sock", plainURL)
	tlsSock, tlsConns := forward(t, dir, "tls.sock", tlsURL)
	noProxy := h2client.WithProxy(func(r *http.Request) (*url.URL, error) {
		return nil, errors.New("the proxy function was asked about " + r.URL.String())
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := &http.Client{Transport: newTransport(t, h2client.WithUnixSocket(plainSock), noProxy,
				h2client.WithBufferedResponses(m.buffered))}
			for _, u := range []string{"http://made-up.test/echo?a=1", "http://other.test:8080/echo"} {
				authority, path := echo(t, c, u)
				want := mustURL(t, u)
				if authority != want.Host || path != want.RequestURI() {
					t.Errorf("%s: the server saw %s %s", u, authority, path)
				}
			}
			tc := &http.Client{Transport: newTransport(t, h2client.WithUnixSocket(tlsSock), h2client.WithCAFile(caFile),
				noProxy, h2client.WithBufferedResponses(m.buffered))}
			resp, body := get(t, tc, "https://localhost/bytes/3")
			if resp.StatusCode != 200 || string(body) != "abc" {
				t.Errorf("https over the socket: %d %q", resp.StatusCode, body)
			}
		})
	}
	// One connection per origin and Transport: two h2c origins, one TLS origin, two modes.
	if atomic.LoadInt32(plainConns) != 4 || atomic.LoadInt32(tlsConns) != 2 {
		t.Errorf("connections through the sockets: %d h2c, %d TLS; want 4 and 2",
			atomic.LoadInt32(plainConns), atomic.LoadInt32(tlsConns))
	}

	// Nobody listening: ErrConnect naming the socket.
	gone := filepath.Join(dir, "nobody.sock")
	_, err := (&http.Client{Transport: newTransport(t, h2client.WithUnixSocket(gone))}).Get("http://x.test/")
	if !errors.Is(err, h2client.ErrConnect) || !strings.Contains(err.Error(), gone) {
		t.Errorf("a socket nobody listens on: %v", err)
	}
	// A path too long for a socket address, and one with a NUL byte.
	for _, bad := range []string{"/tmp/" + strings.Repeat("x", 200), "/tmp/a\x00b"} {
		if _, err := h2client.NewTransport(h2client.WithUnixSocket(bad)); !errors.Is(err, h2client.ErrInvalidArgument) {
			t.Errorf("WithUnixSocket(%.20q...): %v", bad, err)
		}
	}
}

// The defence limits: refused when out of range (the library's check, naming the option),
// accepted otherwise.
func TestDefenceOptions(t *testing.T) {
	for name, opt := range map[string]h2client.Option{
		"WithMaxEmptyDataFrames":        h2client.WithMaxEmptyDataFrames(0),
		"WithMaxPendingAcks":            h2client.WithMaxPendingAcks(0),
		"WithMaxGlitches":               h2client.WithMaxGlitches(0),
		"WithMaxResetsPerSecond":        h2client.WithMaxResetsPerSecond(0),
		"WithMaxInformationalResponses": h2client.WithMaxInformationalResponses(0),
	} {
		_, err := h2client.NewTransport(opt)
		if !errors.Is(err, h2client.ErrInvalidArgument) || !strings.HasPrefix(asError(t, err).Message, name+": ") {
			t.Errorf("%s(0): %v", name, err)
		}
	}
	if _, err := h2client.NewTransport(h2client.WithMaxGlitches(-1)); err == nil {
		t.Errorf("WithMaxGlitches(-1) accepted")
	}
	c := &http.Client{Transport: newTransport(t,
		h2client.WithMaxContinuationFrames(0), h2client.WithMaxContinuationFrames(4),
		h2client.WithMaxEmptyDataFrames(10), h2client.WithMaxPendingAcks(10), h2client.WithMaxGlitches(10),
		h2client.WithMaxResetsPerSecond(10), h2client.WithMaxInformationalResponses(3))}
	resp, body := get(t, c, plainURL+"/bytes/26")
	if resp.StatusCode != 200 || checkPattern(body, 26) != nil {
		t.Errorf("with every limit set: %d %q", resp.StatusCode, body)
	}
}
