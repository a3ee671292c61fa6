// h2gobench measures the Go binding: N GET requests over one h2client Transport through
// net/http's Client, from C goroutines at once, in streaming mode (goroutines parked until
// the call's notification; H2CLIENT_GO_STREAMING=blocking: blocking C calls) or buffered mode
// (the completion queue); or, for comparison, over net/http's own Transport (HTTP/2 over
// TLS, -mode nethttp). It prints wall time, requests per second,
// microseconds per request, CPU time, and the OS threads of the process (at the end, the peak
// sampled every 10 ms, and the runtime's threadcreate count).
//
//	h2gobench -url http://127.0.0.1:8080 [-path /] [-n 20000] [-c 1]
//	          [-mode streaming|buffered|nethttp] [-insecure] [-poller netpoll|thread] [-direct]
//	          [-cpuprofile FILE]
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"h2client.example/h2client"
)

func main() {
	base := flag.String("url", "", "server base URL, e.g. http://127.0.0.1:8080")
	path := flag.String("path", "/", "request path")
	n := flag.Int("n", 20000, "total requests")
	c := flag.Int("c", 1, "concurrent goroutines")
	mode := flag.String("mode", "streaming", "streaming, buffered (completion queue) or nethttp (net/http's Transport, HTTP/2 over TLS)")
	insecure := flag.Bool("insecure", false, "do not verify the server's certificate")
	poller := flag.String("poller", "netpoll", "buffered mode's queue poller: netpoll or thread")
	warmup := flag.Int("warmup", 200, "requests before measuring")
	direct := flag.Bool("direct", false, "call Transport.RoundTrip directly instead of through http.Client")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured part to this file")
	flag.Parse()
	if *base == "" || *n <= 0 || *c <= 0 || (*mode != "streaming" && *mode != "buffered" && *mode != "nethttp") {
		flag.Usage()
		os.Exit(2)
	}
	if *poller == "thread" {
		os.Setenv("H2CLIENT_GO_POLLER", "thread")
	}
	var tr http.RoundTripper
	if *mode == "nethttp" {
		tr = &http.Transport{
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: *insecure},
		}
	} else {
		opts := []h2client.Option{h2client.WithBufferedResponses(*mode == "buffered")}
		if *insecure {
			opts = append(opts, h2client.WithInsecureSkipVerify())
		}
		t, err := h2client.NewTransport(opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "h2gobench:", err)
			os.Exit(1)
		}
		defer t.Close()
		tr = t
	}
	client := &http.Client{Transport: tr}
	url := strings.TrimRight(*base, "/") + *path

	do := func(buf []byte) error {
		var resp *http.Response
		var err error
		if *direct {
			req, _ := http.NewRequest("GET", url, nil)
			resp, err = tr.RoundTrip(req)
		} else {
			resp, err = client.Get(url)
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		for {
			_, err := resp.Body.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if resp.ProtoMajor != 2 {
			return fmt.Errorf("protocol %s, not HTTP/2", resp.Proto)
		}
		return nil
	}
	buf := make([]byte, 32<<10)
	for i := 0; i < *warmup; i++ {
		if err := do(buf); err != nil {
			fmt.Fprintln(os.Stderr, "h2gobench: warmup:", err)
			os.Exit(1)
		}
	}

	var peak int64
	stopSampler := make(chan struct{})
	var samplerDone sync.WaitGroup
	samplerDone.Add(1)
	go func() {
		defer samplerDone.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if th := int64(threads()); th > atomic.LoadInt64(&peak) {
				atomic.StoreInt64(&peak, th)
			}
			select {
			case <-stopSampler:
				return
			case <-t.C:
			}
		}
	}()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "h2gobench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	threadsBefore := threads()
	createdBefore := pprof.Lookup("threadcreate").Count()
	cpuBefore := cpuTime()
	var failed int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < *c; g++ {
		count := *n / *c
		if g < *n%*c {
			count++
		}
		wg.Add(1)
		go func(count int) {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for i := 0; i < count; i++ {
				if err := do(buf); err != nil {
					atomic.AddInt64(&failed, 1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(count)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	close(stopSampler)
	samplerDone.Wait()

	p := *mode
	if *direct {
		p += "/RoundTrip"
	}
	if *mode == "buffered" {
		p += "/" + *poller
	}
	if *mode == "streaming" && os.Getenv("H2CLIENT_GO_STREAMING") == "blocking" {
		p += "/blocking"
	}
	fmt.Printf("h2gobench: %s %s c=%d n=%d: %.3f s, %.0f req/s, %.2f us/req wall, CPU %.3f s (%.2f us/req), "+
		"threads %d -> %d (peak %d, threadcreate +%d), GOMAXPROCS %d, failed %d\n",
		p, *path, *c, *n, elapsed.Seconds(), float64(*n)/elapsed.Seconds(),
		float64(elapsed.Microseconds())/float64(*n), cpu.Seconds(), float64(cpu.Microseconds())/float64(*n),
		threadsBefore, threads(), atomic.LoadInt64(&peak), pprof.Lookup("threadcreate").Count()-createdBefore,
		runtime.GOMAXPROCS(0), failed)
	if failed > 0 {
		fmt.Fprintln(os.Stderr, "h2gobench: first failure:", firstErr.Load())
		os.Exit(1)
	}
}

// threads is the process's OS thread count from /proc/self/status.
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			var n int
			fmt.Sscan(strings.TrimPrefix(line, "Threads:"), &n)
			return n
		}
	}
	return -1
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
