package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"fmt"
	"log"
	"runtime/cgo"
	"sync"
)

// LogLevel is how much of the library's diagnostics SetLogFunc and SetLogger receive
// (h2_set_log_callback's H2_LOG_* levels). Each level includes the ones before it.
type LogLevel uint32

const (
	// LogOff turns logging off (the default).
	LogOff LogLevel = C.H2_LOG_OFF
	// LogError: a connection or request failed.
	LogError LogLevel = C.H2_LOG_ERROR
	// LogWarn: something is wrong but work goes on (a failed connection attempt, a defence
	// limit tripped).
	LogWarn LogLevel = C.H2_LOG_WARN
	// LogInfo: connections opened and closed (with the address), TLS handshakes (version,
	// cipher, ALPN), GOAWAY, retries.
	LogInfo LogLevel = C.H2_LOG_INFO
	// LogDebug: SETTINGS, streams opened and closed, and every request and response header
	// field ("conn 1 stream 3: > :path: /"), values included: credentials (Authorization,
	// Cookie) too.
	LogDebug LogLevel = C.H2_LOG_DEBUG
	// LogTrace: PING round trips, flow-control stalls, rustls's details.
	LogTrace LogLevel = C.H2_LOG_TRACE
)

// String is "OFF", "ERROR", "WARN", "INFO", "DEBUG" or "TRACE".
func (l LogLevel) String() string {
	switch l {
	case LogOff:
		return "OFF"
	case LogError:
		return "ERROR"
	case LogWarn:
		return "WARN"
	case LogInfo:
		return "INFO"
	case LogDebug:
		return "DEBUG"
	case LogTrace:
		return "TRACE"
	}
	return fmt.Sprintf("LogLevel(%d)", uint32(l))
}

// LogFunc receives one line of the library's diagnostics: its level, its source ("h2client",
// or a module of rustls such as "rustls::client::hs") and the message (one line, no newline).
type LogFunc func(level LogLevel, target, message string)

var (
	logMu     sync.Mutex
	logHandle cgo.Handle // the LogFunc registered with the library; 0 if none
)

// SetLogFunc sends the library's diagnostics at level and below to fn, for every Transport of
// the process (the library's log is process-wide: h2_set_log_callback), replacing the
// function set before. LogOff or a nil fn turns logging off, the default; while it is off,
// logging costs the library one atomic load per log site.
//
// fn is called on whatever thread logs: the library's own threads (through cgo callbacks) and
// goroutines in the middle of a Transport call, several at once. It must be safe for
// concurrent use and quick, and must not use a Transport, nor call SetLogFunc or SetLogger
// (it may wait for fn to return). When SetLogFunc returns, the previous function is not
// running and will not be called again. A panic in fn is recovered and the line dropped: it
// must not unwind through the library.
//
// To feed log/slog (Go 1.21 and later; this package builds with Go 1.19), whose levels are
// 8 (Error), 4 (Warn), 0 (Info), -4 (Debug), so -8 for Trace:
//
//	h2client.SetLogFunc(h2client.LogDebug, func(l h2client.LogLevel, target, msg string) {
//		slog.Log(context.Background(), slog.Level(12-4*int(l)), msg, "target", target)
//	})
func SetLogFunc(level LogLevel, fn LogFunc) {
	logMu.Lock()
	defer logMu.Unlock()
	var h cgo.Handle
	if level != LogOff && fn != nil {
		h = cgo.NewHandle(fn)
		C.gh2_set_log(C.uint32_t(level), C.uintptr_t(h))
	} else {
		C.gh2_set_log(C.H2_LOG_OFF, 0)
	}
	// The library guarantees the previous callback is over: its handle can go.
	if logHandle != 0 {
		logHandle.Delete()
	}
	logHandle = h
}

// SetLogger sends the library's diagnostics at level and below to logger, one Print per line:
// "h2client LEVEL target: message" (the logger adds its own prefix and flags). A nil logger
// or LogOff turns logging off. It is SetLogFunc with a function that prints; see there.
func SetLogger(level LogLevel, logger *log.Logger) {
	if logger == nil {
		SetLogFunc(LogOff, nil)
		return
	}
	SetLogFunc(level, func(l LogLevel, target, msg string) {
		logger.Printf("h2client %s %s: %s", l, target, msg)
	})
}

//export gh2GoLog
func gh2GoLog(h C.uintptr_t, level C.uint32_t, target, msg *C.char) {
	if h == 0 {
		return
	}
	fn, ok := cgo.Handle(h).Value().(LogFunc)
	if !ok {
		return
	}
	t, m := C.GoString(target), C.GoString(msg)
	defer func() { _ = recover() }()
	fn(LogLevel(level), t, m)
}
