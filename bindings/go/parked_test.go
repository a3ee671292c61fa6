package h2client_test

// The streaming mode's waits park goroutines in Go's scheduler (h2_call_try_* and
// h2_call_notify on the netpoller-watched queue) instead of holding OS threads in blocking
// cgo calls: many waiting requests, large bodies in small reads, cancels, Close and the body
// idle timeout while parked. A call alone in flight waits in blocking calls (cheaper): the
// tests of one request at a time force parking (ParkEveryWait).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"h2client.example/h2client"
)

// 64 goroutines x 20 streaming requests complete, and 64 requests waiting at once (their
// heads delayed) hold no OS thread each.
func TestStreamingManyGoroutinesParked(t *testing.T) {
	tr := newTransport(t)
	c := &http.Client{Transport: tr}
	const goroutines, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := getBytes(c, plainURL, 100+997*((g*each+i)%67)); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// 64 requests whose heads come after 500 ms: while they wait, count the threads.
	before := threads()
	peak := 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := threads(); n > peak {
				peak = n
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	errs = make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := getE(c, plainURL+"/delay/500")
			errs <- err
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("OS threads: %d before, peak %d with %d requests waiting", before, peak, goroutines)
	if peak-before >= goroutines/2 && !h2client.BlockingStreams() {
		t.Errorf("the waiting requests took %d OS threads (%d -> %d): goroutines blocked in C?",
			peak-before, before, peak)
	}
}

func getE(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// A body of a few MiB arrives intact through small reads, over h2c and TLS (the window is
// reopened as it is read: far more than one window's worth).
func TestStreamingLargeBodySmallReads(t *testing.T) {
	defer h2client.ParkEveryWait()()
	const size = 3<<20 + 12345
	for _, base := range []string{plainURL, tlsURL} {
		tr := newTransport(t, h2client.WithCAFile(caFile))
		resp, err := (&http.Client{Transport: tr}).Get(fmt.Sprintf("%s/bytes/%d", base, size))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 0, size)
		buf := make([]byte, 1000)
		for {
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: after %d bytes: %v", base, len(got), err)
			}
		}
		resp.Body.Close()
		if err := checkPattern(got, size); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
	}
}

// startSlow starts a body of 1,000 bytes sent 10 at a time every 2 s, and reads the first
// 10: the next Read parks.
func startSlow(t *testing.T, c *http.Client, ctx context.Context) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", plainURL+"/slow-bytes/1000/10/2000", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	return resp
}

// A Read parked for body data returns at once when the context is cancelled.
func TestCancelParkedRead(t *testing.T) {
	defer h2client.ParkEveryWait()()
	c := &http.Client{Transport: newTransport(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := startSlow(t, c, ctx)
	defer resp.Body.Close()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := resp.Body.Read(make([]byte, 100))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the parked Read returned %v after it started (cancel at 100 ms)", took)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, h2client.ErrCanceled) {
		t.Fatalf("error %v: want context.Canceled and ErrCanceled", err)
	}
}

// A Read parked for body data returns at once when the body is closed from another goroutine.
func TestCloseDuringParkedRead(t *testing.T) {
	defer h2client.ParkEveryWait()()
	c := &http.Client{Transport: newTransport(t)}
	resp := startSlow(t, c, context.Background())
	time.AfterFunc(100*time.Millisecond, func() { resp.Body.Close() })
	start := time.Now()
	_, err := resp.Body.Read(make([]byte, 100))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the parked Read returned %v after it started (Close at 100 ms)", took)
	}
	if err == nil || err == io.EOF {
		t.Fatalf("Read after Close: %v", err)
	}
}

// A server that stalls mid-body: the body idle timeout fails the parked Read.
func TestBodyIdleTimeoutWhileParked(t *testing.T) {
	defer h2client.ParkEveryWait()()
	c := &http.Client{Transport: newTransport(t, h2client.WithBodyIdleTimeout(150*time.Millisecond))}
	resp := startSlow(t, c, context.Background())
	defer resp.Body.Close()
	start := time.Now()
	_, err := io.ReadAll(resp.Body)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the timeout came after %v (150 ms idle timeout)", took)
	}
	if !errors.Is(err, h2client.ErrTimeout) {
		t.Fatalf("error %v is not ErrTimeout", err)
	}
}

// A deadline while parked for the head.
func TestDeadlineWhileParkedForHead(t *testing.T) {
	defer h2client.ParkEveryWait()()
	c := &http.Client{Transport: newTransport(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", plainURL+"/delay/5000", nil)
	start := time.Now()
	_, err := c.Do(req)
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v (deadline 100 ms)", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v is not context.DeadlineExceeded", err)
	}
}
