package h2client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"h2client.example/h2client"
)

// One Transport serves every origin; net/http's Client works on top of it unchanged, and
// follows redirects to other origins through it.
func ExampleNewTransport() {
	tr, err := h2client.NewTransport(
		h2client.WithCAFile("ca.pem"),
		h2client.WithConnectTimeout(5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://localhost:8443/index.html", nil)
	resp, err := client.Do(req)
	var e *h2client.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("deadline exceeded")
		return
	case errors.As(err, &e) && e.Processed == h2client.ProcessedNo:
		fmt.Println("not processed by the server, safe to retry:", e.Message)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, len(body), err, resp.Trailer)

	// The same Transport, another origin (its own connections).
	resp, err = client.Get("http://127.0.0.1:8080/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	client.CloseIdleConnections() // closes the idle connections of both origins
}

// A proxy chosen per request, like http.Transport.Proxy: internal hosts directly, the rest
// through a SOCKS5 proxy (which resolves their names). Without WithProxy, the Transport uses
// http.ProxyFromEnvironment.
func ExampleWithProxy() {
	socks, _ := url.Parse("socks5://user:password@127.0.0.1:1080")
	tr, err := h2client.NewTransport(h2client.WithProxy(func(req *http.Request) (*url.URL, error) {
		if strings.HasSuffix(req.URL.Hostname(), ".internal") {
			return nil, nil // direct
		}
		return socks, nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}

// Relative URLs resolved against a base URL; absolute ones still go to their own origin.
func ExampleWithBaseURL() {
	tr, err := h2client.NewTransport(h2client.WithBaseURL("https://api.example.com/v1/"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("users?page=2") // https://api.example.com/v1/users?page=2
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}

// The request's times, connection and TLS session: RequestInfo is filled when the head is in,
// and brought up to date (Total, the body's bytes) once the body is read and closed.
func ExampleContextWithRequestInfo() {
	tr, err := h2client.NewTransport()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	var info h2client.RequestInfo
	req, _ := http.NewRequestWithContext(h2client.ContextWithRequestInfo(context.Background(), &info),
		"GET", "https://example.com/", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Println(err, "after", info.Total) // what was known when it failed
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("%v (reused %v): connect %v, tls %v, first byte %v, total %v, %d body bytes\n",
		info.RemoteAddr, info.Reused, info.Connect, info.TLSHandshake, info.FirstByte, info.Total,
		info.BodyBytesReceived)
	if resp.TLS != nil {
		fmt.Printf("TLS %#04x %s %v\n", resp.TLS.Version, tls.CipherSuiteName(resp.TLS.CipherSuite),
			resp.TLS.PeerCertificates[0].Subject)
	}
}
