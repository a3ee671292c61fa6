package h2client_test

import (
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"testing"

	"h2client.example/h2client"
)

type logLine struct {
	level           h2client.LogLevel
	target, message string
}

// logCollector is a LogFunc that keeps every line (it runs on the library's threads).
type logCollector struct {
	mu    sync.Mutex
	lines []logLine
}

func (c *logCollector) log(l h2client.LogLevel, target, msg string) {
	c.mu.Lock()
	c.lines = append(c.lines, logLine{l, target, msg})
	c.mu.Unlock()
}

func (c *logCollector) take() []logLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lines
	c.lines = nil
	return l
}

func has(lines []logLine, level h2client.LogLevel, needle string) bool {
	for _, l := range lines {
		if l.level == level && strings.Contains(l.message, needle) {
			return true
		}
	}
	return false
}

func dump(lines []logLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s: %s\n", l.level, l.target, l.message)
	}
	return b.String()
}

// oneGet makes a Transport, GETs path from the test server and closes the Transport (so that
// its connection's closing is logged before this returns).
func oneGet(t *testing.T, path string) {
	t.Helper()
	tr, err := h2client.NewTransport()
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := get(t, &http.Client{Transport: tr}, plainURL+path)
	tr.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
}

// SetLogFunc: the library's lines at the level asked and below (events, header fields with
// the User-Agent the Transport adds); nothing once it is off. SetLogger prints them.
func TestLogging(t *testing.T) {
	t.Cleanup(func() { h2client.SetLogFunc(h2client.LogOff, nil) })
	var c logCollector

	h2client.SetLogFunc(h2client.LogDebug, c.log)
	oneGet(t, "/bytes/5")
	lines := c.take()
	for _, want := range []struct {
		level h2client.LogLevel
		text  string
	}{
		{h2client.LogInfo, ": connected to 127.0.0.1:"},
		{h2client.LogDebug, "> :method: GET"},
		{h2client.LogDebug, "> :path: /bytes/5"},
		{h2client.LogDebug, "> user-agent: " + h2client.DefaultUserAgent()},
		{h2client.LogDebug, "< :status: 200"},
	} {
		if !has(lines, want.level, want.text) {
			t.Errorf("no %s line with %q in\n%s", want.level, want.text, dump(lines))
		}
	}
	for _, l := range lines {
		if l.level > h2client.LogDebug || l.level < h2client.LogError || l.target == "" {
			t.Errorf("line beyond the level asked, or without target: %+v", l)
		}
	}

	// Info: no header fields.
	h2client.SetLogFunc(h2client.LogInfo, c.log)
	oneGet(t, "/")
	lines = c.take()
	if !has(lines, h2client.LogInfo, ": connected to 127.0.0.1:") {
		t.Errorf("no connection line at Info:\n%s", dump(lines))
	}
	for _, l := range lines {
		if l.level > h2client.LogInfo {
			t.Errorf("%s line at Info: %+v", l.level, l)
		}
	}

	// Off (level or nil function): nothing more, from any thread.
	for _, off := range []func(){
		func() { h2client.SetLogFunc(h2client.LogOff, c.log) },
		func() { h2client.SetLogFunc(h2client.LogTrace, nil) },
	} {
		h2client.SetLogFunc(h2client.LogTrace, c.log)
		off()
		c.take() // lines from before (a connection of an earlier Transport closing late)
		oneGet(t, "/")
		if lines := c.take(); len(lines) != 0 {
			t.Errorf("%d lines while off:\n%s", len(lines), dump(lines))
		}
	}

	// A function that panics loses its lines; requests go on.
	h2client.SetLogFunc(h2client.LogDebug, func(h2client.LogLevel, string, string) { panic("log bug") })
	oneGet(t, "/")

	// SetLogger: one Print per line.
	var buf lockedBuffer
	h2client.SetLogger(h2client.LogInfo, log.New(&buf, "test: ", 0))
	oneGet(t, "/")
	h2client.SetLogger(h2client.LogInfo, nil) // off
	out := buf.String()
	if !strings.Contains(out, "test: h2client INFO h2client: conn ") || !strings.Contains(out, ": connected to 127.0.0.1:") {
		t.Errorf("SetLogger output:\n%s", out)
	}
	if strings.Contains(out, "DEBUG") {
		t.Errorf("Debug lines at Info:\n%s", out)
	}
	oneGet(t, "/")
	if buf.String() != out {
		t.Errorf("lines after SetLogger(_, nil):\n%s", strings.TrimPrefix(buf.String(), out))
	}

	if got := h2client.LogWarn.String(); got != "WARN" {
		t.Errorf("LogWarn.String() = %q", got)
	}
	if got := h2client.LogLevel(9).String(); got != "LogLevel(9)" {
		t.Errorf("LogLevel(9).String() = %q", got)
	}
}
