package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"unsafe"
)

// Informational (1xx) responses, such as 103 Early Hints, reach the httptrace.ClientTrace of
// the request's context: the library calls gh2GoInformational (a cgo callback, on one of its
// threads) for each one, before the final response head, with the id of the request's
// infoHook as userdata.
//
// The hooks are found by id in a registry rather than through cgo.Handle: the library does not
// promise that no callback is still running when a call is freed (h2_call_free cancels, it does
// not wait), and a late callback must find nothing rather than panic on a deleted handle.

// infoHook is one request's link to its trace.
type infoHook struct {
	id    uintptr
	trace *httptrace.ClientTrace

	mu    sync.Mutex
	err   error       // the first error of Got1xxResponse (or its panic); the request fails with it
	abort func(error) // cancels the call; nil before it started and once it is over
}

var hooks struct {
	sync.Mutex
	next uintptr
	m    map[uintptr]*infoHook
}

// newInfoHook registers a hook for a request whose context carries a trace that wants 1xx
// responses; nil (no hook, no callback) otherwise.
func newInfoHook(ctx context.Context) *infoHook {
	trace := httptrace.ContextClientTrace(ctx)
	if trace == nil || (trace.Got1xxResponse == nil && trace.Got100Continue == nil) {
		return nil
	}
	h := &infoHook{trace: trace}
	hooks.Lock()
	if hooks.m == nil {
		hooks.m = map[uintptr]*infoHook{}
	}
	hooks.next++
	h.id = hooks.next
	hooks.m[h.id] = h
	hooks.Unlock()
	return h
}

// userdata is what the library is given for the hook (0 for none).
func (h *infoHook) userdata() C.uintptr_t {
	if h == nil {
		return 0
	}
	return C.uintptr_t(h.id)
}

// attach sets how to cancel the call, once it exists (and cancels it at once if a hook has
// failed already).
func (h *infoHook) attach(abort func(error)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		abort(h.err)
		return
	}
	h.abort = abort
}

// done unregisters the hook: the call is over (or about to be freed).
func (h *infoHook) done() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.abort = nil
	h.mu.Unlock()
	hooks.Lock()
	delete(hooks.m, h.id)
	hooks.Unlock()
}

// failure is the error a trace hook failed the request with, or nil.
func (h *infoHook) failure() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// fail records the hook's error and cancels the call.
func (h *infoHook) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return
	}
	h.err = err
	if h.abort != nil {
		h.abort(err)
	}
}

// got delivers one informational head, as x/net/http2 does: Got1xxResponse for every 1xx
// (100 included), then Got100Continue for a 100. A hook that returned an error (or panicked)
// gets nothing more.
func (h *infoHook) got(status int, header textproto.MIMEHeader) {
	if h.failure() != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			h.fail(fmt.Errorf("h2client: an httptrace hook panicked on a %d response: %v", status, r))
		}
	}()
	if fn := h.trace.Got1xxResponse; fn != nil {
		if err := fn(status, header); err != nil {
			h.fail(err)
			return
		}
	}
	if status == 100 && h.trace.Got100Continue != nil {
		h.trace.Got100Continue()
	}
}

//export gh2GoInformational
func gh2GoInformational(id C.uintptr_t, status C.uint32_t, fields *C.uint8_t, n C.size_t, count C.uint32_t) {
	hooks.Lock()
	h := hooks.m[uintptr(id)]
	hooks.Unlock()
	if h == nil {
		return // the request is over: a late callback
	}
	header := make(http.Header, int(count))
	if n > 0 {
		unpackFields(unsafe.Slice((*byte)(unsafe.Pointer(fields)), int(n)), int(count), header, nil)
	}
	h.got(int(status), textproto.MIMEHeader(header))
}
