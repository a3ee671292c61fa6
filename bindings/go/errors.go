package h2client

/*
#include "gh2.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Code is an h2client result code (H2_E_* in h2client.h). A Code is itself an error, so the
// constants below serve as sentinels: errors.Is(err, h2client.ErrTimeout) reports whether err
// is (or wraps) an *Error with that code.
type Code uint32

// The library's result codes (stable numbers; new ones may be added).
const (
	OK                  Code = 0
	ErrInvalidArgument  Code = 1
	ErrInvalidURL       Code = 2
	ErrConnect          Code = 3
	ErrTimeout          Code = 4
	ErrProtocol         Code = 5
	ErrStreamReset      Code = 6
	ErrGoAway           Code = 7
	ErrConnection       Code = 8
	ErrClosed           Code = 9
	ErrCanceled         Code = 10
	ErrHeadersTooLarge  Code = 11
	ErrBodyTooLarge     Code = 12
	ErrRefused          Code = 13
	ErrWrongThread      Code = 14
	ErrInternal         Code = 15
	ErrTLS              Code = 16
	ErrForked           Code = 17
	ErrTooManyRedirects Code = 18
	ErrProxy            Code = 19
	// ErrDecode: a body the Transport was decoding (WithAcceptEncoding) is corrupt or
	// truncated for its content-encoding.
	ErrDecode Code = 20
	// ErrResolve: a host name (the origin's or the proxy's) could not be resolved. It also
	// matches ErrConnect (errors.Is), which is what such failures were before.
	ErrResolve Code = 21
	// ErrAgain (H2_E_AGAIN) is not a failure: a non-blocking library call found nothing
	// ready yet. The Transport waits and tries again; it never returns it.
	ErrAgain Code = 22
)

// Name is the code's name in h2client.h, e.g. "H2_E_TIMEOUT" ("H2_E_UNKNOWN" for codes this
// library version does not know).
func (c Code) Name() string { return C.GoString(C.h2_error_name(C.h2_result(c))) }

// String is the same as Name.
func (c Code) String() string { return c.Name() }

// Error describes the code ("timed out", ...).
func (c Code) Error() string {
	return "h2client: " + C.GoString(C.h2_strerror(C.h2_result(c)))
}

// Processed says whether the server may have processed a failed request.
type Processed uint8

const (
	// ProcessedNo: the server certainly did not process the request (never sent, refused with
	// REFUSED_STREAM, or above the last stream id of a GOAWAY). Safe to retry.
	ProcessedNo Processed = 0
	// ProcessedMaybe: the server may have processed it.
	ProcessedMaybe Processed = 1
	// ProcessedYes: the server processed it (a response head arrived).
	ProcessedYes Processed = 2
)

// String is "NO", "MAYBE" or "YES".
func (p Processed) String() string {
	switch p {
	case ProcessedNo:
		return "NO"
	case ProcessedMaybe:
		return "MAYBE"
	case ProcessedYes:
		return "YES"
	}
	return fmt.Sprintf("Processed(%d)", uint8(p))
}

// Origin says who detected a failure.
type Origin uint8

const (
	OriginLocal     Origin = 0 // h2client (a check, a timeout, the caller)
	OriginRemote    Origin = 1 // the server (RST_STREAM, GOAWAY)
	OriginTransport Origin = 2 // TCP or TLS
)

// String is "LOCAL", "REMOTE" or "TRANSPORT".
func (o Origin) String() string {
	switch o {
	case OriginLocal:
		return "LOCAL"
	case OriginRemote:
		return "REMOTE"
	case OriginTransport:
		return "TRANSPORT"
	}
	return fmt.Sprintf("Origin(%d)", uint8(o))
}

// Error is a failure reported by the library: the fields of h2_error_info.
//
// When the request's context was cancelled or its deadline passed, Code is ErrCanceled and
// the error wraps ctx.Err(), so errors.Is(err, context.Canceled) or
// errors.Is(err, context.DeadlineExceeded) holds. When reading the request body failed, the
// error wraps that error; when an httptrace.ClientTrace's Got1xxResponse returned an error,
// Code is ErrCanceled and the error wraps that one; when the proxy function (WithProxy)
// failed, Code is ErrProxy and the error wraps the function's.
type Error struct {
	Code               Code      // H2_E_*
	CodeName           string    // "H2_E_TIMEOUT", ...
	H2Error            uint32    // HTTP/2 error code (RST_STREAM, GOAWAY, or detected), or 0
	Processed          Processed // whether the server may have processed the request
	Origin             Origin    // who detected the failure
	GoAwayLastStreamID uint32
	Retries            uint32 // how many times the request was retried
	Message            string // what happened, e.g. "stream reset by the server: CANCEL"

	cause error // context error or request-body read error, if any
}

// Error is "h2client: " followed by the code's name, the message, and the wrapped error
// if there is one.
func (e *Error) Error() string {
	msg := "h2client: " + e.CodeName
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.cause != nil {
		msg += " (" + e.cause.Error() + ")"
	}
	return msg
}

// Unwrap returns the error behind this one, if any: the context's error, the request body's
// read error or a trace hook's error behind a cancellation, or the proxy function's error.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is this error's Code (errors.Is(err, h2client.ErrTimeout)).
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && (c == e.Code || (c == ErrConnect && e.Code == ErrResolve))
}

// Timeout reports whether the failure is a timeout: the library's own (ErrTimeout) or the
// request context's deadline. It makes *Error satisfy net.Error's Timeout.
func (e *Error) Timeout() bool {
	return e.Code == ErrTimeout || errors.Is(e.cause, context.DeadlineExceeded)
}

func newError(info *C.h2_error_info, code C.h2_result) *Error {
	c := Code(code)
	if info.code != 0 {
		c = Code(info.code)
	}
	return &Error{
		Code:               c,
		CodeName:           c.Name(),
		H2Error:            uint32(info.h2_error),
		Processed:          Processed(info.processed),
		Origin:             Origin(info.origin),
		GoAwayLastStreamID: uint32(info.goaway_last_stream_id),
		Retries:            uint32(info.retries),
		Message:            C.GoString(&info.message[0]),
	}
}

// ctxError is the error for a request whose context ended before it was started.
func ctxError(err error) *Error {
	return &Error{
		Code:      ErrCanceled,
		CodeName:  ErrCanceled.Name(),
		Processed: ProcessedNo,
		Origin:    OriginLocal,
		Message:   "request not sent: its context is done",
		cause:     err,
	}
}

// hookError is the error of a request whose httptrace Got1xxResponse hook returned err (or
// panicked) although the final response head arrived before the call's cancellation did.
func hookError(err error) *Error {
	return &Error{
		Code:      ErrCanceled,
		CodeName:  ErrCanceled.Name(),
		Processed: ProcessedYes,
		Origin:    OriginLocal,
		Message:   "request cancelled: an httptrace hook for a 1xx response failed",
		cause:     err,
	}
}

// localError is an error detected by the binding before calling the library.
func localError(code Code, format string, args ...interface{}) *Error {
	return &Error{
		Code:      code,
		CodeName:  code.Name(),
		Processed: ProcessedNo,
		Origin:    OriginLocal,
		Message:   fmt.Sprintf(format, args...),
	}
}
