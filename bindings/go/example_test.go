package h2client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"h2client.example/h2client"
)

// A Transport serves one authority; net/http's Client works on top of it unchanged.
func ExampleNewTransport() {
	tr, err := h2client.NewTransport("https://localhost:8443",
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
}
