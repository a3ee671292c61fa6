package h2client_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The project's test server (h2testserver), started once for all tests: plain h2c and TLS.
var (
	plainURL string // http://127.0.0.1:PORT
	tlsURL   string // https://127.0.0.1:PORT
	caFile   string // the TLS server's CA certificate
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "proxy-environment" {
		os.Exit(proxyEnvironmentChild()) // TestProxyFromEnvironment's child
	}
	code, err := runWithServers(m)
	if err != nil {
		// No skipping: without the test server (or the library) the tests fail.
		fmt.Fprintln(os.Stderr, "FAIL: h2client tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithServers(m *testing.M) (int, error) {
	runtime.LockOSThread()
	bin, err := findServer()
	if err != nil {
		return 1, err
	}
	plain, err := startServer(bin)
	if err != nil {
		return 1, err
	}
	defer plain.stop()
	dir, err := os.MkdirTemp("", "h2client-go-test")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	secure, err := startServer(bin, "--tls", "--tls-dir", dir)
	if err != nil {
		return 1, err
	}
	defer secure.stop()
	plainURL, tlsURL = plain.url, secure.url
	caFile = filepath.Join(dir, "h2testserver-ca.pem")
	if _, err := os.Stat(caFile); err != nil {
		return 1, fmt.Errorf("the TLS test server wrote no CA certificate: %v", err)
	}
	return m.Run(), nil
}

// findServer: $H2TESTSERVER, else target/{release,debug}/h2testserver of the repository
// this binding lives in (bindings/go is two levels below the root).
func findServer() (string, error) {
	if p := os.Getenv("H2TESTSERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("H2TESTSERVER=%s: %v", p, err)
		}
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	var tried []string
	for _, profile := range []string{"release", "debug"} {
		p := filepath.Join(wd, "..", "..", "target", profile, "h2testserver")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("test server not found (tried %s); build it with "+
		"`cargo build --release -p h2client-testserver` or set H2TESTSERVER", strings.Join(tried, ", "))
}

type server struct {
	cmd *exec.Cmd
	url string
}

func startServer(bin string, args ...string) (*server, error) {
	cmd := exec.Command(bin, append([]string{"--host", "127.0.0.1", "--port", "0"}, args...)...)
	cmd.Stderr = os.Stderr
	// The server dies with the test process even if it crashes (else it would keep the
	// output pipe of `go test` open). TestMain's thread, which forks, is locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", bin, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
	}()
	s := &server{cmd: cmd}
	select {
	case line, ok := <-lines:
		const prefix = "listening on "
		if !ok || !strings.HasPrefix(line, prefix) {
			s.stop()
			return nil, fmt.Errorf("%s did not start (first line %q)", bin, line)
		}
		s.url = strings.TrimPrefix(line, prefix)
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, errors.New("the test server did not start within 15 s")
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
