package h2client_test

import (
	"io"
	"net/http"
	"testing"

	"h2client.example/h2client"
)

// go test -run - -bench . -benchmem: one GET of / per iteration, through http.Client.
func benchGet(b *testing.B, buffered, parallel bool) {
	tr, err := h2client.NewTransport(h2client.WithBufferedResponses(buffered))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	one := func(buf []byte) {
		resp, err := c.Get(plainURL + "/")
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		resp.Body.Close()
	}
	one(make([]byte, 4096))
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(32) // 32 x GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 4096)
			for pb.Next() {
				one(buf)
			}
		})
		return
	}
	buf := make([]byte, 4096)
	for i := 0; i < b.N; i++ {
		one(buf)
	}
}

func BenchmarkGetStreaming(b *testing.B)         { benchGet(b, false, false) }
func BenchmarkGetBuffered(b *testing.B)          { benchGet(b, true, false) }
func BenchmarkGetStreamingParallel(b *testing.B) { benchGet(b, false, true) }
func BenchmarkGetBufferedParallel(b *testing.B)  { benchGet(b, true, true) }
