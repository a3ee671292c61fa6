// Command example fetches one URL over HTTP/2 with h2client's Go binding, through an
// unmodified net/http Client, and prints the status, the headers, the body and the
// trailers.
//
//	go run ./example [-X METHOD] [-d DATA] [-cacert FILE] [-k] [-x PROXY] [-timeout 10s] [-buffered] URL
//
// -d - streams the request body from standard input. Redirects are followed, to any origin,
// by http.Client. Without -x the proxy comes from the environment (http.ProxyFromEnvironment).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"h2client.example/h2client"
)

func main() {
	method := flag.String("X", "", "request method (default GET, or POST with -d)")
	data := flag.String("d", "", "request body; - streams standard input")
	cacert := flag.String("cacert", "", "trust only the CA certificates of this PEM file (https)")
	insecure := flag.Bool("k", false, "accept any server certificate (testing only)")
	timeout := flag.Duration("timeout", 30*time.Second, "whole-request deadline (0 = none)")
	buffered := flag.Bool("buffered", false, "buffered mode: the response arrives whole")
	proxy := flag.String("x", "", "proxy URL: http://, https://, socks5:// or socks5h:// (default: the environment's)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: example [flags] URL")
		flag.PrintDefaults()
		os.Exit(2)
	}
	target := flag.Arg(0)

	// One Transport serves every origin; share it between goroutines.
	opts := []h2client.Option{h2client.WithBufferedResponses(*buffered)}
	if *proxy != "" {
		p, err := url.Parse(*proxy)
		if err != nil {
			fail(err)
		}
		opts = append(opts, h2client.WithProxy(http.ProxyURL(p)))
	}
	if *cacert != "" {
		opts = append(opts, h2client.WithCAFile(*cacert))
	}
	if *insecure {
		opts = append(opts, h2client.WithInsecureSkipVerify())
	}
	tr, err := h2client.NewTransport(opts...)
	if err != nil {
		fail(err)
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	// Ctrl-C cancels the request (RST_STREAM(CANCEL)); so does the deadline.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	var body io.Reader
	switch {
	case *data == "-":
		body = os.Stdin // unknown length: streamed as it is read
	case *data != "":
		body = strings.NewReader(*data)
	}
	m := *method
	if m == "" {
		m = http.MethodGet
		if body != nil {
			m = http.MethodPost
		}
	}
	req, err := http.NewRequestWithContext(ctx, m, target, body)
	if err != nil {
		fail(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()

	fmt.Printf("%s %s\n", resp.Proto, resp.Status)
	printFields(resp.Header)
	fmt.Println()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		fail(err)
	}
	if len(resp.Trailer) > 0 { // filled in once the body has been read to the end
		fmt.Println()
		printFields(resp.Trailer)
	}
}

func printFields(h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Printf("%s: %s\n", k, v)
		}
	}
}

func fail(err error) {
	var e *h2client.Error
	if errors.As(err, &e) {
		// The library's view: which H2_E_* code, the HTTP/2 error code, who detected it and
		// whether the server may have processed the request.
		fmt.Fprintf(os.Stderr, "example: %s: %s (h2 error %d, origin %v, processed %v)\n",
			e.CodeName, e.Message, e.H2Error, e.Origin, e.Processed)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "example:", e.Unwrap())
		}
	} else {
		fmt.Fprintln(os.Stderr, "example:", err)
	}
	os.Exit(1)
}
