package h2client_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"h2client.example/h2client"
)

// A name that does not resolve is ErrResolve, which also matches ErrConnect.
func TestUnresolvableHostIsErrResolve(t *testing.T) {
	tr, err := h2client.NewTransport(h2client.WithProxy(nil), h2client.WithConnectTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// RFC 6761: .invalid never resolves.
	_, err = (&http.Client{Transport: tr}).Get("http://no-such-host.invalid/")
	if !errors.Is(err, h2client.ErrResolve) || !errors.Is(err, h2client.ErrConnect) {
		t.Fatalf("want ErrResolve (and ErrConnect), got %v", err)
	}
	if errors.Is(err, h2client.ErrTimeout) {
		t.Fatalf("ErrResolve matched ErrTimeout: %v", err)
	}
}
