package h2client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"h2client.example/h2client"
)

// The proxy tests run tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), started here on
// ports from the OS, and skip only if a binary is missing. Two small proxies written here
// (fakeProxy) record what the client asks for, which real proxies cannot tell a test.

// lookProxy finds a proxy binary in PATH or the sbin directories; the test skips without it.
func lookProxy(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freePort is a port the OS just gave out (and took back) on 127.0.0.1.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// proxyProcess is a running proxy, killed (by its own pid) at the end of the test.
type proxyProcess struct {
	cmd     *exec.Cmd
	port    string
	exited  chan struct{} // closed once it has exited
	log     lockedBuffer  // its output
	logFile string        // its log file, if it has one
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProxy runs command(port) on a port from the OS until a run is ready. Neither proxy
// can report that it listens on a pipe, so ready is checked every 10 ms until it holds, or
// the process exits (for instance because someone took the port in between: then another
// port is tried), or 15 s have passed.
func startProxy(t *testing.T, command func(p *proxyProcess) *exec.Cmd, ready func(p *proxyProcess) bool) *proxyProcess {
	t.Helper()
	for try := 0; try < 5; try++ {
		p := &proxyProcess{port: freePort(t), exited: make(chan struct{})}
		p.cmd = command(p)
		p.cmd.Stdout = &p.log
		p.cmd.Stderr = &p.log
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", p.cmd.Path, err)
		}
		go func() {
			p.cmd.Wait()
			close(p.exited)
		}()
		t.Cleanup(func() {
			p.cmd.Process.Kill()
			<-p.exited
		})
		if waitReady(p, ready) {
			return p
		}
		p.cmd.Process.Kill()
		<-p.exited
		var log []byte
		if p.logFile != "" {
			log, _ = os.ReadFile(p.logFile)
		}
		t.Logf("%s on port %s did not start: %s%s", p.cmd.Path, p.port, p.log.String(), log)
	}
	t.Fatal("the proxy did not start")
	return nil
}

func waitReady(p *proxyProcess, ready func(p *proxyProcess) bool) bool {
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			return false
		default:
		}
		if ready(p) {
			return true
		}
		select {
		case <-p.exited:
			return false
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
}

// startTinyproxy starts tinyproxy on 127.0.0.1 (with Basic credentials if user is not
// empty). It is ready once its log says it accepts connections (it writes its log file
// unbuffered, unlike its standard output).
func startTinyproxy(t *testing.T, user, password string) *proxyProcess {
	bin := lookProxy(t, "tinyproxy", "tinyproxy")
	dir := t.TempDir()
	return startProxy(t, func(p *proxyProcess) *exec.Cmd {
		p.logFile = filepath.Join(dir, "tinyproxy-"+p.port+".log")
		conf := "Port " + p.port + "\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\nMaxClients 100\n" +
			"LogLevel Info\nLogFile \"" + p.logFile + "\"\n"
		if user != "" {
			conf += "BasicAuth " + user + " " + password + "\n"
		}
		path := filepath.Join(dir, "tinyproxy-"+p.port+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, "-d", "-c", path)
	}, func(p *proxyProcess) bool {
		b, _ := os.ReadFile(p.logFile)
		return bytes.Contains(b, []byte("Accepting connections"))
	})
}

// startMicrosocks starts microsocks on 127.0.0.1 (with credentials if user is not empty).
// It says nothing when it listens, so it is ready once it answers a SOCKS5 greeting.
func startMicrosocks(t *testing.T, user, password string) *proxyProcess {
	bin := lookProxy(t, "microsocks", "microsocks")
	return startProxy(t, func(p *proxyProcess) *exec.Cmd {
		args := []string{"-i", "127.0.0.1", "-p", p.port}
		if user != "" {
			args = append(args, "-u", user, "-P", password)
		}
		return exec.Command(bin, args...)
	}, func(p *proxyProcess) bool {
		return socksGreets("127.0.0.1:" + p.port)
	})
}

// socksGreets reports whether a SOCKS5 server answers a greeting at addr.
func socksGreets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{5, 2, 0, 2}); err != nil { // no auth, or user/password
		return false
	}
	var reply [2]byte
	_, err = io.ReadFull(c, reply[:])
	return err == nil && reply[0] == 5
}

// proxyChooser is a WithProxy function that records the URLs it is asked about and sends
// localhost directly, everything else through proxy.
type proxyChooser struct {
	proxy *url.URL
	mu    sync.Mutex
	asked []string
}

func (p *proxyChooser) choose(r *http.Request) (*url.URL, error) {
	p.mu.Lock()
	p.asked = append(p.asked, r.URL.String())
	p.mu.Unlock()
	if r.URL.Hostname() == "localhost" {
		return nil, nil
	}
	return p.proxy, nil
}

func (p *proxyChooser) questions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func getPattern(t *testing.T, c *http.Client, base string, n int) {
	t.Helper()
	_, body := get(t, c, fmt.Sprintf("%s/bytes/%d", base, n))
	if err := checkPattern(body, n); err != nil {
		t.Errorf("%s: %v", base, err)
	}
}

// HTTP CONNECT tunnels through tinyproxy, to h2c and TLS origins, chosen per request: a
// redirect from a proxied origin to a direct one asks the function again, and nil goes
// direct (through this proxy without credentials it would fail).
func TestProxyHTTPConnect(t *testing.T) {
	p := startTinyproxy(t, "alice", "s3cret")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			good := &proxyChooser{proxy: mustURL(t, "http://alice:s3cret@127.0.0.1:"+p.port)}
			tr := newTransport(t, h2client.WithCAFile(caFile), h2client.WithBufferedResponses(m.buffered),
				h2client.WithProxy(good.choose))
			c := &http.Client{Transport: tr}
			getPattern(t, c, plainURL, 100000)
			getPattern(t, c, tlsURL, 100000)
			to := byName(t, plainURL) + "/echo"
			resp, _ := get(t, c, tlsURL+"/redirect/302?to="+url.QueryEscape(to))
			if resp.StatusCode != 200 || resp.Request.URL.String() != to {
				t.Errorf("redirect: %d from %s", resp.StatusCode, resp.Request.URL)
			}
			want := []string{plainURL + "/bytes/100000", tlsURL + "/bytes/100000",
				tlsURL + "/redirect/302?to=" + url.QueryEscape(to), to}
			if got := good.questions(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("the proxy function was asked about\n%q, want\n%q", got, want)
			}

			bad := &proxyChooser{proxy: mustURL(t, "http://127.0.0.1:"+p.port)}
			c = &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered),
				h2client.WithProxy(bad.choose))}
			_, err := c.Get(plainURL + "/")
			e := asError(t, err)
			if e.Code != h2client.ErrProxy || e.Processed != h2client.ProcessedNo ||
				!(strings.Contains(e.Message, "407") || strings.Contains(e.Message, "401")) {
				t.Errorf("without credentials: %v", err)
			}
			get(t, c, byName(t, plainURL)+"/") // direct
		})
	}
}

// SOCKS5 through microsocks, with credentials, to h2c and TLS origins, by address and by
// name (which the proxy resolves).
func TestProxySOCKS5(t *testing.T) {
	p := startMicrosocks(t, "bob", "pw")
	for _, scheme := range []string{"socks5", "socks5h"} {
		t.Run(scheme, func(t *testing.T) {
			proxy := mustURL(t, scheme+"://bob:pw@127.0.0.1:"+p.port)
			c := &http.Client{Transport: newTransport(t, h2client.WithCAFile(caFile),
				h2client.WithProxy(http.ProxyURL(proxy)))}
			for _, o := range []string{plainURL, tlsURL, byName(t, tlsURL)} {
				getPattern(t, c, o, 50000)
			}
			proxy.User = url.UserPassword("bob", "nope")
			c = &http.Client{Transport: newTransport(t, h2client.WithProxy(http.ProxyURL(proxy)))}
			_, err := c.Get(plainURL + "/")
			if e := asError(t, err); e.Code != h2client.ErrProxy || e.Processed != h2client.ProcessedNo ||
				strings.Contains(e.Message, "nope") {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
}

// One Transport, two proxies and direct connections at once, chosen per request.
func TestProxyPerRequest(t *testing.T) {
	tiny := startTinyproxy(t, "", "")
	socks := startMicrosocks(t, "", "")
	via := map[string]*url.URL{
		hostPortOf(t, plainURL): mustURL(t, "http://127.0.0.1:"+tiny.port),
		hostPortOf(t, tlsURL):   mustURL(t, "socks5://127.0.0.1:"+socks.port),
	}
	tr := newTransport(t, h2client.WithCAFile(caFile), h2client.WithProxy(func(r *http.Request) (*url.URL, error) {
		return via[r.URL.Host], nil
	}))
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := []string{plainURL, tlsURL, byName(t, plainURL)}[i%3]
			if err := getBytes(c, o, 100+i); err != nil {
				errs <- fmt.Errorf("%s: %v", o, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := tr.Stats(); s.RequestsCompleted != 60 || s.ConnectionsOpened != 3 {
		t.Errorf("Stats: %d requests over %d connections, want 60 over 3", s.RequestsCompleted, s.ConnectionsOpened)
	}
	tr.CloseIdleConnections()
	for _, o := range []string{plainURL, tlsURL, byName(t, plainURL)} {
		get(t, c, o+"/")
	}
	if s := tr.Stats(); s.ConnectionsOpened != 6 {
		t.Errorf("%d connections opened, want 6 (CloseIdleConnections closes those through proxies too)", s.ConnectionsOpened)
	}
}

func hostPortOf(t *testing.T, u string) string { return mustURL(t, u).Host }

// SOCKS5 sends host names to the proxy (as net/http does with socks5://), and HTTP CONNECT
// names the origin; the fake proxies record it and connect to the test server whatever the
// name.
func TestProxySendsNames(t *testing.T) {
	upstream := hostPortOf(t, plainURL)
	for _, kind := range []string{"http", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			fp := startFakeProxy(t, kind, upstream)
			tr := newTransport(t, h2client.WithProxy(http.ProxyURL(mustURL(t, kind+"://"+fp.addr()))))
			c := &http.Client{Transport: tr}
			if a, _ := echo(t, c, "http://h2client-test.invalid:1234/echo"); a != "h2client-test.invalid:1234" {
				t.Errorf("authority %q", a)
			}
			if got := fp.targets(); len(got) != 1 || got[0] != "h2client-test.invalid:1234" {
				t.Errorf("the proxy was asked for %q", got)
			}
		})
	}
}

// An error of the proxy function fails the request and is wrapped; a URL the library cannot
// use is ErrInvalidURL.
func TestProxyFunctionErrors(t *testing.T) {
	boom := errors.New("no proxy for you")
	c := &http.Client{Transport: newTransport(t, h2client.WithProxy(func(*http.Request) (*url.URL, error) {
		return nil, boom
	}))}
	_, err := c.Get(plainURL + "/")
	if !errors.Is(err, boom) || !errors.Is(err, h2client.ErrProxy) {
		t.Errorf("function error: %v", err)
	}
	c = &http.Client{Transport: newTransport(t, h2client.WithProxy(http.ProxyURL(mustURL(t, "ftp://127.0.0.1:21"))))}
	if _, err := c.Get(plainURL + "/"); !errors.Is(err, h2client.ErrInvalidURL) {
		t.Errorf("ftp proxy: %v", err)
	}
	// A proxy that is not listening: the connection fails, the request was not processed.
	c = &http.Client{Transport: newTransport(t, h2client.WithProxy(http.ProxyURL(mustURL(t, "http://127.0.0.1:"+freePort(t)))))}
	_, err = c.Get(plainURL + "/")
	if e := asError(t, err); e.Code != h2client.ErrConnect || e.Processed != h2client.ProcessedNo {
		t.Errorf("dead proxy: %v", err)
	}
}

// Without WithProxy the Transport follows the environment as http.ProxyFromEnvironment does
// (which reads it once per process: hence a child process, proxyEnvironmentChild); the
// library's own reading of it (curl's rules) never applies.
func TestProxyFromEnvironment(t *testing.T) {
	fp := startFakeProxy(t, "http", hostPortOf(t, plainURL))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if k := strings.ToLower(strings.SplitN(kv, "=", 2)[0]); !strings.HasSuffix(k, "_proxy") && k != "request_method" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	proxy := "http://" + fp.addr()
	for _, k := range []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"} {
		cmd.Env = append(cmd.Env, k+"="+proxy)
	}
	cmd.Env = append(cmd.Env, "no_proxy=no-proxy.invalid", "NO_PROXY=no-proxy.invalid",
		childEnv+"=proxy-environment", "H2CLIENT_GO_TEST_PLAIN="+plainURL, "H2CLIENT_GO_TEST_PROXY="+proxy)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	p := port(t, plainURL)
	want := []string{"h2client-test.invalid:" + p, "no-proxy.invalid:" + p}
	if got := fp.targets(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the environment's proxy was asked for %q, want %q\nchild: %s", got, want, out)
	}
}

// childEnv names the environment variable that makes the test binary a child (TestMain).
const childEnv = "H2CLIENT_GO_TEST_CHILD"

// proxyEnvironmentChild is TestProxyFromEnvironment's child: every *_proxy variable names
// the parent's fake proxy, and NO_PROXY lists no-proxy.invalid. It returns the exit code.
func proxyEnvironmentChild() int {
	plain, proxy := os.Getenv("H2CLIENT_GO_TEST_PLAIN"), os.Getenv("H2CLIENT_GO_TEST_PROXY")
	u, err := url.Parse(plain)
	if err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	pu, err := url.Parse(proxy)
	if err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	code := 0
	check := func(what, target string, opts ...h2client.Option) {
		tr, err := h2client.NewTransport(append(opts, h2client.WithConnectTimeout(5*time.Second))...)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", what, err)
			code = 1
			return
		}
		defer tr.Close()
		resp, err := (&http.Client{Transport: tr}).Get(target)
		if err != nil {
			fmt.Printf("FAIL %s: GET %s: %v\n", what, target, err)
			code = 1
			return
		}
		resp.Body.Close()
		fmt.Printf("ok %s: GET %s: %s\n", what, target, resp.Status)
	}
	// The proxy of the environment, for a name (the fake proxy connects it to the server).
	check("default", "http://h2client-test.invalid:"+u.Port()+"/echo")
	// Never for a loopback address (net/http's rule; curl's would use the proxy).
	check("default, loopback", plain+"/echo")
	// WithProxy(nil): direct, whatever the environment says.
	check("WithProxy(nil)", plain+"/echo", h2client.WithProxy(nil))
	// The function's answer is final: the environment's NO_PROXY does not apply to it.
	check("WithProxy(ProxyURL)", "http://no-proxy.invalid:"+u.Port()+"/echo", h2client.WithProxy(http.ProxyURL(pu)))
	return code
}

// fakeProxy is an HTTP CONNECT or SOCKS5 (no authentication) proxy that records the target
// of each tunnel and connects every tunnel to upstream.
type fakeProxy struct {
	l        net.Listener
	upstream string
	mu       sync.Mutex
	asked    []string
	conns    map[net.Conn]bool
}

func startFakeProxy(t *testing.T, kind, upstream string) *fakeProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakeProxy{l: l, upstream: upstream, conns: map[net.Conn]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fp.track(c, true)
			go fp.serve(kind, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		fp.mu.Lock()
		for c := range fp.conns {
			c.Close()
		}
		fp.mu.Unlock()
	})
	return fp
}

func (fp *fakeProxy) addr() string { return fp.l.Addr().String() }

func (fp *fakeProxy) targets() []string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]string(nil), fp.asked...)
}

func (fp *fakeProxy) track(c net.Conn, on bool) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if on {
		fp.conns[c] = true
	} else {
		delete(fp.conns, c)
	}
}

func (fp *fakeProxy) serve(kind string, c net.Conn) {
	defer func() {
		c.Close()
		fp.track(c, false)
	}()
	br := bufio.NewReader(c)
	var target string
	var ok func() error
	if kind == "http" {
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != "CONNECT" {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		target = req.Host
		ok = func() error {
			_, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			return err
		}
	} else {
		var err error
		if target, err = socksRequest(br, c); err != nil {
			return
		}
		ok = func() error {
			_, err := c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
			return err
		}
	}
	fp.mu.Lock()
	fp.asked = append(fp.asked, target)
	fp.mu.Unlock()
	up, err := net.Dial("tcp", fp.upstream)
	if err != nil {
		return
	}
	fp.track(up, true)
	defer func() {
		up.Close()
		fp.track(up, false)
	}()
	if ok() != nil {
		return
	}
	go func() {
		io.Copy(up, br)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, up)
}

// socksRequest reads a SOCKS5 greeting (accepting no authentication) and CONNECT request,
// and returns the target as host:port.
func socksRequest(br *bufio.Reader, w io.Writer) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil || head[0] != 5 {
		return "", errors.New("not SOCKS5")
	}
	if _, err := io.ReadFull(br, make([]byte, head[1])); err != nil {
		return "", err
	}
	if _, err := w.Write([]byte{5, 0}); err != nil {
		return "", err
	}
	var req [4]byte
	if _, err := io.ReadFull(br, req[:]); err != nil || req[1] != 1 {
		return "", errors.New("not CONNECT")
	}
	var host string
	switch req[3] {
	case 1, 4: // an address: the client resolved the name
		ip := make(net.IP, map[byte]int{1: 4, 4: 16}[req[3]])
		if _, err := io.ReadFull(br, ip); err != nil {
			return "", err
		}
		host = ip.String()
	case 3: // a name, for the proxy to resolve
		n, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return "", err
		}
		host = string(name)
	default:
		return "", errors.New("bad address type")
	}
	var p [2]byte
	if _, err := io.ReadFull(br, p[:]); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(p[:])))), nil
}
