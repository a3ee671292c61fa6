package h2client_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"h2client.example/h2client"
)

// As net/http: gzip is asked for and decoded by default (Uncompressed, no Content-Encoding,
// ContentLength -1); WithAcceptEncoding("") adds deflate, br and zstd; WithDisableCompression
// hands the coded body over; a corrupt body fails the read with ErrDecode.
func TestTransparentDecompression(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			plainTr := newTransport(t, h2client.WithBufferedResponses(m.buffered))
			_, want := get(t, &http.Client{Transport: plainTr}, plainURL+"/encoded/identity/30000")

			def := &http.Client{Transport: plainTr}
			resp, body := get(t, def, plainURL+"/encoded/gzip/30000")
			if !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" ||
				resp.ContentLength != -1 || !bytes.Equal(body, want) {
				t.Fatalf("gzip by default: Uncompressed %v, Content-Encoding %q, ContentLength %d, body equal %v",
					resp.Uncompressed, resp.Header.Get("Content-Encoding"), resp.ContentLength, bytes.Equal(body, want))
			}
			// Only gzip is asked for by default: a br body would be the server's choice anyway
			// (the test server always sends what the path says), and it is decoded too.
			all := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered),
				h2client.WithAcceptEncoding(""))}
			for _, c := range []string{"br", "zstd", "deflate", "gzip,br"} {
				resp, body := get(t, all, plainURL+"/encoded/"+c+"/30000")
				if !resp.Uncompressed || !bytes.Equal(body, want) {
					t.Fatalf("%s: Uncompressed %v, body equal %v", c, resp.Uncompressed, bytes.Equal(body, want))
				}
			}
			off := &http.Client{Transport: newTransport(t, h2client.WithBufferedResponses(m.buffered),
				h2client.WithDisableCompression(true))}
			resp, body = get(t, off, plainURL+"/encoded/gzip/30000")
			if resp.Uncompressed || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
				t.Fatalf("off: Uncompressed %v, Content-Encoding %q", resp.Uncompressed, resp.Header.Get("Content-Encoding"))
			}
			// A request with its own Accept-Encoding gets the body as sent.
			req, _ := http.NewRequest("GET", plainURL+"/encoded/gzip/30000", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := def.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Uncompressed || !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
				t.Fatalf("own Accept-Encoding: Uncompressed %v", resp.Uncompressed)
			}
			// Corrupt: ErrDecode.
			resp, err = def.Get(plainURL + "/encoded/gzip/30000?corrupt")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, h2client.ErrDecode) {
				t.Fatalf("corrupt gzip: want ErrDecode, got %v", err)
			}
		})
	}
}
