package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// call is one streaming exchange (h2_client_start). It is freed when its last owner lets go:
// the response side (RoundTrip, then the response body) and the request-body writer.
type call struct {
	c    *C.h2_call // constant until freed; nil after
	ctx  context.Context
	req  *http.Request
	hook *infoHook // the trace's 1xx hooks, or nil

	mu      sync.Mutex
	refs    int
	writing bool  // the writer goroutine has not ended
	failErr error // why the Transport cancelled the call: the request body or a trace hook failed

	stop      chan struct{} // closed when the response side is done (ends the watcher)
	stopOnce  sync.Once
	closeOnce sync.Once // closes req.Body

	// The process's queue, where the call's readiness notifications come (nil:
	// H2CLIENT_GO_STREAMING=blocking), its tag there and where they are handed over.
	d     *dispatcher
	tag   uint64
	ready chan struct{}
	// blocking: the call waits in blocking C calls (see solo), else it parks.
	blocking bool
}

// blockingStreams makes the streaming mode wait in blocking C calls (h2_call_wait_headers,
// h2_call_read), each holding an OS thread, instead of parking goroutines until the call's
// notification: for comparison only.
var blockingStreams = os.Getenv("H2CLIENT_GO_STREAMING") == "blocking"

// parkedStreams makes every wait park, even that of a call alone in flight (see
// streamsInFlight): H2CLIENT_GO_STREAMING=parked, for comparison only.
var parkedStreams = os.Getenv("H2CLIENT_GO_STREAMING") == "parked"

// streamsInFlight counts the process's streaming calls, from h2_client_start to their
// release, and sharedAt is when (time.Now().UnixNano()) one last started while another was in
// flight. A call that starts alone, with none started alongside another for soloQuiet, waits
// in the blocking calls (h2_call_wait_headers, h2_call_read) from start to end: their thread
// runs the connection itself, so a response needs one thread wake-up instead of three
// (sequential use). Every other call parks its waits. The choice is made once per call: a
// call that parks right after one that drove the connection waits for the library's own
// thread to take over again (up to 1 ms), which must not happen on every request. Large
// bodies cost less parked (the library's thread decrypts while the goroutine copies): after
// a blocking call whose body passed soloLargeBody, lone calls park until one with a smaller
// body (soloLarge is the size seen last).
var (
	streamsInFlight int32
	sharedAt        int64
	soloLarge       int32 // 1: the last call's body was large
)

// soloLargeBody is the body size past which lone calls park.
const soloLargeBody = 256 << 10

// soloQuiet is how long after the last concurrent start a lone call may block.
const soloQuiet = int64(10 * time.Millisecond)

// solo decides whether a call that has just been counted in streamsInFlight (as the n-th
// in flight) may block.
func solo(n int32) bool {
	now := time.Now().UnixNano()
	if n > 1 {
		atomic.StoreInt64(&sharedAt, now)
		return false
	}
	return !parkedStreams && now-atomic.LoadInt64(&sharedAt) > soloQuiet &&
		atomic.LoadInt32(&soloLarge) == 0
}

// waitHead waits for the final response head: tries without blocking and, while it is not
// there, parks the goroutine until the call's notification (or, a blocking call, blocks in
// h2_call_wait_headers). A cancel (context, Close) fails the call, which notifies it.
// armed: gh2_start armed the notification already.
func (cl *call) waitHead(fields []byte, out *C.gh2_out, armed bool) C.h2_result {
	if armed {
		<-cl.ready
	} else if cl.blocking {
		return C.gh2_wait_head(cl.c, bytesPtr(fields), C.size_t(len(fields)), out)
	}
	for {
		rc := C.gh2_try_head(cl.c, cl.d.q, C.uint64_t(cl.tag), bytesPtr(fields), C.size_t(len(fields)), out)
		if rc != C.H2_E_AGAIN {
			return rc
		}
		<-cl.ready
	}
}

// read reads body bytes into p as waitHead waits for the head.
func (cl *call) read(p []byte, out *C.gh2_out) C.h2_result {
	buf, n := (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p))
	if cl.blocking {
		return C.gh2_read(cl.c, buf, n, out)
	}
	for {
		rc := C.gh2_try_read(cl.c, cl.d.q, C.uint64_t(cl.tag), buf, n, out)
		if rc != C.H2_E_AGAIN {
			return rc
		}
		<-cl.ready
	}
}

// cancel resets the stream (h2_call_cancel), unless the call was freed.
func (cl *call) cancel() {
	cl.mu.Lock()
	if cl.c != nil {
		C.h2_call_cancel(cl.c)
	}
	cl.mu.Unlock()
}

func (cl *call) release() {
	cl.mu.Lock()
	cl.refs--
	freed := cl.refs == 0
	if freed {
		C.h2_call_free(cl.c)
		cl.c = nil
		if cl.d != nil {
			cl.d.unregister(cl.tag)
			atomic.AddInt32(&streamsInFlight, -1)
		}
	}
	cl.mu.Unlock()
	if freed {
		cl.hook.done() // outside cl.mu: a hook's abort takes it
	}
}

func (cl *call) closeReqBody() {
	cl.closeOnce.Do(func() {
		if cl.req.Body != nil {
			cl.req.Body.Close()
		}
	})
}

// watch cancels the call when the request's context ends (or its legacy Cancel channel is
// closed), until the response side is done.
func (cl *call) watch(done <-chan struct{}, legacy <-chan struct{}) {
	cl.stop = make(chan struct{})
	go func() {
		select {
		case <-done:
			cl.cancel()
		case <-legacy:
			cl.cancel()
		case <-cl.stop:
		}
	}()
}

// responseDone ends the response side: stops the watcher, stops a writer that is still
// sending (the response is over, or abandoned), and drops the response side's reference.
func (cl *call) responseDone() {
	if cl.stop != nil {
		cl.stopOnce.Do(func() { close(cl.stop) })
	}
	cl.mu.Lock()
	writing := cl.writing
	cl.mu.Unlock()
	if writing {
		cl.cancel()
		cl.closeReqBody()
	}
	cl.release()
}

// failure turns a failed library call into the Go error: the context's error, the request
// body's read error or a trace hook's error is attached to a cancellation.
func (cl *call) failure(info *C.h2_error_info, rc C.h2_result) error {
	e := newError(info, rc)
	if e.Code == ErrCanceled {
		if err := cl.ctx.Err(); err != nil {
			e.cause = err
		} else if cl.req.Cancel != nil && isClosed(cl.req.Cancel) {
			e.cause = context.Canceled
		} else {
			cl.mu.Lock()
			e.cause = cl.failErr
			cl.mu.Unlock()
		}
	}
	return e
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

const writeChunk = 64 << 10

var writePool = sync.Pool{New: func() interface{} { b := make([]byte, writeChunk); return &b }}

// writeBody streams req.Body with h2_call_write (which copies each chunk, so the Go buffer
// is only lent for the duration of the call), then the trailers, then END_STREAM.
func (cl *call) writeBody() {
	defer func() {
		cl.mu.Lock()
		cl.writing = false
		cl.mu.Unlock()
		cl.closeReqBody()
		cl.release()
	}()
	var info C.h2_error_info
	bp := writePool.Get().(*[]byte)
	defer writePool.Put(bp)
	buf := *bp
	for {
		n, err := cl.req.Body.Read(buf)
		if n > 0 {
			if C.gh2_write(cl.c, bytesPtr(buf[:n]), C.size_t(n), &info) != 0 {
				return // the call failed: the response side reports why
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			cl.fail(err)
			return
		}
	}
	var packed []byte
	n := 0
	if len(cl.req.Trailer) > 0 {
		keys := make([]string, 0, len(cl.req.Trailer))
		for k := range cl.req.Trailer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range cl.req.Trailer[k] {
				if checkString("trailer", k+v) != nil {
					cl.fail(localError(ErrInvalidArgument, "trailer %s contains a NUL byte", k))
					return
				}
				packed = append(packed, k...)
				packed = append(packed, 0)
				packed = append(packed, trimOWS(v)...)
				packed = append(packed, 0)
				n++
			}
		}
	}
	var ptr *C.char
	if n > 0 {
		ptr = charPtr(packed)
	}
	if rc := C.gh2_finish(cl.c, ptr, C.size_t(n), &info); rc != 0 && Code(rc) == ErrInvalidArgument {
		cl.fail(newError(&info, rc))
	}
}

// fail records why the request cannot go on (its body could not be read, a trace hook
// failed) and cancels the call, so the response side returns an *Error wrapping err.
func (cl *call) fail(err error) {
	cl.mu.Lock()
	if cl.failErr == nil {
		cl.failErr = err
	}
	cl.mu.Unlock()
	cl.cancel()
}

func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// roundTripStreaming: h2_client_start, a writer goroutine for a streamed body, a watcher for
// the context, the wait for the head (waitHead); the body reads with call.read.
func (t *Transport) roundTripStreaming(req *http.Request, ctx context.Context, proxy string, packed []byte,
	nhdr int, inline []byte, streaming bool, hook *infoHook, ri *reqInfo) (*http.Response, error) {
	// The helpers' outputs live in their own allocation: cgo checks that memory passed to C
	// holds no Go pointers, and a field of body would be checked as the whole body.
	out := new(C.gh2_out)
	b := &body{out: out, ri: ri}
	client, err := t.client(proxy)
	if err != nil {
		hook.done()
		if streaming {
			req.Body.Close()
		}
		return nil, err
	}
	sflag := C.int(0)
	if streaming {
		sflag = 1
	}
	cl := &call{ctx: ctx, req: req, hook: hook, refs: 1, blocking: true}
	var q *C.h2_queue // armed for the head at once: the call parks
	if !blockingStreams {
		if d, err := queue(); err == nil {
			cl.d = d
			cl.tag, cl.ready = d.register()
			if cl.blocking = solo(atomic.AddInt32(&streamsInFlight, 1)); !cl.blocking {
				q = d.q
			}
		}
	}
	rc := C.gh2_start(client, charPtr(packed), C.size_t(nhdr), bytesPtr(inline), C.size_t(len(inline)), sflag,
		hook.userdata(), q, C.uint64_t(cl.tag), out)
	t.mu.RUnlock()
	if rc != 0 {
		if cl.d != nil {
			cl.d.unregister(cl.tag)
			atomic.AddInt32(&streamsInFlight, -1)
		}
		hook.done()
		if streaming {
			req.Body.Close()
		}
		return nil, newError(&out.err, rc)
	}
	cl.c = out.call
	hook.attach(cl.fail)
	b.cl = cl
	if streaming {
		cl.refs++
		cl.writing = true
		go cl.writeBody()
	}
	if done := ctx.Done(); done != nil || req.Cancel != nil {
		cl.watch(done, req.Cancel)
	}

	fp := fieldsPool.Get().(*[]byte)
	fields := *fp
	out.want_info = ri.wantInfo()
	rc = cl.waitHead(fields, out, q != nil)
	if rc != 0 {
		fieldsPool.Put(fp)
		err := cl.failure(&out.err, rc)
		ri.failed(cl.c)
		cl.responseDone()
		return nil, err
	}
	if err := hook.failure(); err != nil {
		// The final head came in before the cancellation took effect: fail all the same.
		fieldsPool.Put(fp)
		ri.failed(cl.c)
		cl.responseDone()
		return nil, hookError(err)
	}
	status, count := int(out.status), int(out.count)
	if need := int(out.n); need > len(fields) {
		fields = make([]byte, need)
		C.gh2_pack_headers(cl.c, bytesPtr(fields), C.size_t(need), &out.count)
		count = int(out.count)
	}
	h := make(http.Header, count)
	var trailer http.Header
	unpackFields(fields[:out.n], count, h, &trailer)
	fieldsPool.Put(fp)
	resp := newResponse(req, status, h, trailer)
	if out.decoded != 0 {
		// As net/http after transparent decompression.
		resp.Uncompressed = true
		resp.ContentLength = -1
	}
	b.resp = resp
	resp.Body = b
	if ri != nil {
		c := cl.c
		info := ri.convert(&out.info, func() []byte { return packedCerts(c, nil) })
		resp.TLS = info.TLS
		if ri.holder != nil {
			*ri.holder = info
		}
		if ri.trace != nil {
			// A hook that panics must not leak the call: the panic goes on to the caller, as
			// with net/http, once the call is released.
			ok := false
			defer func() {
				if !ok {
					b.Close()
				}
			}()
			b.wrotePending = ri.trace.gotHead(&info)
			ok = true
		}
	}
	return resp, nil
}

// body is a streamed response body: Read is call.read (h2_call_try_read). Read and Close may be called from
// different goroutines; Close during a Read cancels the call and makes the Read return.
type body struct {
	cl   *call
	resp *http.Response
	out  *C.gh2_out // used by one Read at a time
	ri   *reqInfo   // the request's information wanted, or nil

	// wrotePending: the trace's WroteRequest is still due (the request was not all sent when
	// the head came in); looked at again when the response side is done.
	wrotePending bool

	got int64 // bytes read (by one Read at a time)

	mu       sync.Mutex
	reading  bool
	closed   bool
	released bool
	err      error // sticky: io.EOF or the failure
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.err != nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.closed:
		b.mu.Unlock()
		return 0, errBodyClosed
	case b.reading:
		b.mu.Unlock()
		return 0, localError(ErrInvalidArgument, "concurrent Read calls on one response body")
	case len(p) == 0:
		b.mu.Unlock()
		return 0, nil
	}
	b.reading = true
	b.mu.Unlock()

	rc := b.cl.read(p, b.out)
	n := int(b.out.n)
	b.got += int64(n)
	var err error
	if rc != 0 {
		err = b.cl.failure(&b.out.err, rc)
	} else if b.out.eof != 0 {
		if b.out.trailers > 0 {
			b.trailers(int(b.out.trailers))
		}
		err = io.EOF
	}

	b.mu.Lock()
	b.reading = false
	if b.closed {
		err = errBodyClosed
	}
	if err != nil {
		b.err = err
	}
	release := (err != nil || b.closed) && !b.released
	if release {
		b.released = true
	}
	b.mu.Unlock()
	if release {
		b.release()
	}
	return n, err
}

// release ends the response side, once: the request's information is brought up to date
// first (with the call still alive).
func (b *body) release() {
	defer b.cl.responseDone() // even if a trace hook panics
	if b.cl.d != nil && (b.err == io.EOF) {
		large := int32(0)
		if b.got > soloLargeBody {
			large = 1
		}
		if atomic.LoadInt32(&soloLarge) != large {
			atomic.StoreInt32(&soloLarge, large)
		}
	}
	b.finishInfo()
}

// finishInfo updates ContextWithRequestInfo's info at the end of the response (Total, the
// body's bytes), and calls the trace's WroteRequest if it was still due and the request has
// been sent since.
func (b *body) finishInfo() {
	ri := b.ri
	if ri == nil || (ri.holder == nil && !b.wrotePending) {
		return
	}
	out := new(C.gh2_out)
	c := b.cl.c
	if C.gh2_call_info(c, out) != 0 {
		return
	}
	info := convertInfo(&out.info, func() []byte { return packedCerts(c, nil) })
	if ri.holder != nil {
		*ri.holder = info
	}
	if b.wrotePending && info.RequestSent != 0 {
		b.wrotePending = false
		ri.trace.t.WroteRequest(httptrace.WroteRequestInfo{})
	}
}

// trailers stores the response trailers in resp.Trailer (at the end of the body).
func (b *body) trailers(count int) {
	var need C.uint32_t
	size := C.gh2_pack_trailers(b.cl.c, nil, 0, &need)
	buf := make([]byte, int(size))
	C.gh2_pack_trailers(b.cl.c, bytesPtr(buf), size, &need)
	if b.resp.Trailer == nil {
		b.resp.Trailer = make(http.Header, count)
	}
	unpackFields(buf, int(need), b.resp.Trailer, nil)
}

// Close frees the call; if the body was not read to the end, the stream is reset with
// RST_STREAM(CANCEL).
func (b *body) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	reading := b.reading
	release := !reading && !b.released
	if release {
		b.released = true
	}
	b.mu.Unlock()
	if reading {
		b.cl.cancel() // the Read returns and releases
	}
	if release {
		b.release()
	}
	return nil
}
