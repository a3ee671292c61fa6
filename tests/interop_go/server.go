// Command server is h2client's Go interop peer: Go's net/http HTTPS server (standard library
// only; HTTP/2 is selected by ALPN, as net/http does by default) serving the interop tests'
// static files and two handlers:
//
//	/echo    the request body, echoed (200, application/octet-stream)
//	/header  the value of the request's x-big header (200)
//	/...     files from -docroot (http.FileServer)
//
// It listens on -addr (default 127.0.0.1:0, a free port) and prints "LISTENING <port>" on
// stdout once it accepts connections. tests/interop_go.rs builds and starts it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	cert := flag.String("cert", "", "PEM certificate chain")
	key := flag.String("key", "", "PEM private key")
	docroot := flag.String("docroot", ".", "directory of the static files")
	flag.Parse()
	if *cert == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "usage: server -cert CERT -key KEY [-docroot DIR] [-addr ADDR]")
		os.Exit(2)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("X-Big")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(v)))
		io.WriteString(w, v)
	})
	mux.Handle("/", http.FileServer(http.Dir(*docroot)))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, MaxHeaderBytes: 1 << 20}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(srv.ServeTLS(ln, *cert, *key))
}
