package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// The process's completion queue, shared by every Transport (one h2_queue serves any number
// of clients). Completions are collected by one goroutine that waits for the queue's eventfd
// in Go's netpoller, so waiting holds no OS thread; each completion is handed to the
// goroutine waiting for it. They are of two kinds:
//   - buffered mode: a submitted request completed (h2_client_submit); the goroutine that
//     submitted it converts the response itself (in parallel with the others);
//   - streaming mode: a readiness notification (h2_call_notify) of a started call: its head,
//     body data or end arrived, or it failed; the goroutine parked in RoundTrip or in the
//     body's Read tries again (h2_call_try_wait_headers, h2_call_try_read).

type completion struct {
	result C.h2_result
}

type dispatcher struct {
	q       *C.h2_queue
	mu      sync.Mutex
	next    uint64
	waiters map[uint64]chan completion // buffered mode: one completion, then removed
	streams map[uint64]chan struct{}   // streaming mode: any number of notifications
}

var (
	dispOnce sync.Once
	disp     *dispatcher
	dispErr  error
)

// pollBatch is how many completions one h2_queue_poll takes.
const pollBatch = 128

func queue() (*dispatcher, error) {
	dispOnce.Do(func() {
		var info C.h2_error_info
		q := C.gh2_queue_new(&info)
		if q == nil {
			dispErr = newError(&info, C.H2_E_INTERNAL)
			return
		}
		d := &dispatcher{q: q, waiters: make(map[uint64]chan completion), streams: make(map[uint64]chan struct{})}
		if os.Getenv("H2CLIENT_GO_POLLER") == "thread" {
			go d.pollThread()
		} else if err := d.startNetpoll(); err != nil {
			go d.pollThread()
		}
		disp = d
	})
	return disp, dispErr
}

// startNetpoll registers a duplicate of the queue's eventfd (non-blocking, like the
// original: they share the open file description) with Go's netpoller. The library keeps
// the eventfd readable exactly while completions are pending; the netpoller's
// edge-triggered epoll is fine with that because the poller drains the queue each time.
func (d *dispatcher) startNetpoll() error {
	fd := int(C.h2_queue_fd(d.q))
	if fd < 0 {
		return syscall.EINVAL
	}
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return errno
	}
	f := os.NewFile(nfd, "h2_queue")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	go func() {
		comps := make([]C.h2_completion, pollBatch)
		for {
			err := rc.Read(func(uintptr) bool {
				for d.drain(comps, 0) > 0 {
				}
				return false // wait for the fd to become readable again
			})
			if err != nil { // cannot happen: the file is never closed
				runtime.KeepAlive(f)
				d.pollThread()
				return
			}
		}
	}()
	return nil
}

// pollThread is the fallback: a goroutine blocked in h2_queue_poll (holding one OS thread).
func (d *dispatcher) pollThread() {
	comps := make([]C.h2_completion, pollBatch)
	for {
		d.drain(comps, 1000)
	}
}

// drain takes up to a batch of completions (waiting up to timeoutMS) and hands them out.
func (d *dispatcher) drain(comps []C.h2_completion, timeoutMS C.int32_t) int {
	n := int(C.h2_queue_poll(d.q, &comps[0], C.size_t(len(comps)), timeoutMS))
	if n == 0 {
		return 0
	}
	d.mu.Lock()
	for i := 0; i < n; i++ {
		tag := uint64(comps[i].tag)
		if w, ok := d.waiters[tag]; ok {
			delete(d.waiters, tag)
			w <- completion{result: comps[i].result}
		} else if s, ok := d.streams[tag]; ok {
			select {
			case s <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
	}
	d.mu.Unlock()
	return n
}

var waiterPool = sync.Pool{New: func() interface{} { return make(chan completion, 1) }}

// roundTripQueued: h2_client_submit to the process's queue, wait for the completion (or the
// context), then take the buffered response.
func (t *Transport) roundTripQueued(req *http.Request, ctx context.Context, proxy string, packed []byte,
	nhdr int, inline []byte, hook *infoHook, ri *reqInfo) (*http.Response, error) {
	defer hook.done()
	d, err := queue()
	if err != nil {
		return nil, err
	}
	client, err := t.client(proxy)
	if err != nil {
		return nil, err
	}
	w := waiterPool.Get().(chan completion)
	d.mu.Lock()
	d.next++
	tag := d.next
	d.waiters[tag] = w
	d.mu.Unlock()

	out := new(C.gh2_out)
	rc := C.gh2_submit(client, d.q, C.uint64_t(tag), charPtr(packed), C.size_t(nhdr),
		bytesPtr(inline), C.size_t(len(inline)), hook.userdata(), out)
	t.mu.RUnlock()
	if rc != 0 {
		d.mu.Lock()
		delete(d.waiters, tag)
		d.mu.Unlock()
		waiterPool.Put(w)
		return nil, newError(&out.err, rc)
	}
	c := out.call
	// A trace hook that fails cancels the call; the call is freed only after hook.done.
	hook.attach(func(error) { C.h2_call_cancel(c) })
	var comp completion
	select {
	case comp = <-w:
	default:
		done := ctx.Done()
		select {
		case comp = <-w:
		case <-done:
			C.h2_call_cancel(c)
			comp = <-w
		case <-req.Cancel:
			C.h2_call_cancel(c)
			comp = <-w
		}
	}
	waiterPool.Put(w)
	hook.done() // the call is complete: no 1xx callback comes any more
	hookErr := hook.failure()

	if hookErr != nil && comp.result == 0 {
		// The response completed before the cancellation took effect: fail all the same.
		ri.failed(c)
		C.h2_call_free(c)
		return nil, hookError(hookErr)
	}
	if comp.result == 0 {
		out.want_info = ri.wantInfo()
		rc = C.gh2_take(c, out)
	} else {
		rc = C.h2_call_error(c, &out.err)
		if rc == 0 {
			rc = comp.result
		}
	}
	if rc != 0 {
		e := newError(&out.err, rc)
		ri.failed(c)
		C.h2_call_free(c)
		if e.Code == ErrCanceled {
			if err := ctx.Err(); err != nil {
				e.cause = err
			} else if hookErr != nil {
				e.cause = hookErr
			} else {
				e.cause = context.Canceled // req.Cancel
			}
		}
		return nil, e
	}
	count, ntrailers := int(out.count), int(out.trailers)
	var fp *[]byte
	var fields []byte
	if out.n <= 4096 {
		fp = fieldsPool.Get().(*[]byte)
		fields = (*fp)[:out.n]
	} else {
		fields = make([]byte, out.n)
	}
	var info RequestInfo
	if ri != nil {
		r := out.resp
		info = ri.convert(&out.info, func() []byte { return packedCerts(nil, r) })
	}
	var bodyBytes []byte
	if out.body_len > 0 {
		bodyBytes = make([]byte, out.body_len)
	}
	C.gh2_copy_response(out.resp, c, bytesPtr(fields), C.size_t(len(fields)), bytesPtr(bodyBytes), C.size_t(len(bodyBytes)))
	h := make(http.Header, count)
	var trailer http.Header
	unpackFields(fields, count, h, &trailer)
	if ntrailers > 0 {
		rest := fields[unpackedSize(fields, count):]
		if trailer == nil {
			trailer = make(http.Header, ntrailers)
		}
		unpackFields(rest, ntrailers, trailer, nil)
	}
	if fp != nil {
		fieldsPool.Put(fp)
	}
	resp := newResponse(req, int(out.status), h, trailer)
	if out.decoded != 0 {
		// As net/http after transparent decompression.
		resp.Uncompressed = true
		resp.ContentLength = -1
	}
	resp.Body = &bufferedBody{Reader: bytes.NewReader(bodyBytes)}
	if ri != nil {
		resp.TLS = info.TLS
		if ri.holder != nil {
			*ri.holder = info
		}
		if ri.trace != nil {
			ri.trace.gotHead(&info) // the response is complete: what was not sent never will be
		}
	}
	return resp, nil
}

// bufferedBody is a complete response body in Go memory.
type bufferedBody struct {
	*bytes.Reader
}

func (b *bufferedBody) Close() error { return nil }

// register gives a streaming call its tag and the channel its notifications come on (a
// buffer of one: the call has at most one notification armed at a time, and a spare
// wake-up only makes it try again).
func (d *dispatcher) register() (uint64, chan struct{}) {
	ch := make(chan struct{}, 1)
	d.mu.Lock()
	d.next++
	tag := d.next
	d.streams[tag] = ch
	d.mu.Unlock()
	return tag, ch
}

// unregister forgets a streaming call's tag (once the call is freed: no more notification
// comes for it).
func (d *dispatcher) unregister(tag uint64) {
	d.mu.Lock()
	delete(d.streams, tag)
	d.mu.Unlock()
}
