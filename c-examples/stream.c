/*
 * stream download URL FILE
 * stream upload URL FILE
 *
 * Streaming in both directions with h2_client_start, in bounded memory whatever the size.
 *
 * download: GETs URL and writes the body to FILE ("-" for stdout) as it arrives, with
 *   h2_call_read. The library holds at most one stream window of unread body
 *   (h2_call_buffered); the server is paused by flow control whenever we fall behind.
 *
 * upload: POSTs FILE's content to URL as a streamed request body (h2_request_set_streaming_body;
 *   the file is read in 64 KiB pieces and written with h2_call_write, which blocks while the
 *   server's flow-control window is closed), then a trailer x-upload-fnv1a with the FNV-1a
 *   hash of what was sent, then h2_call_finish. A second thread reads the response at the
 *   same time, counting and hashing it: an endpoint that streams the body back (/echo) stops
 *   reading the upload once its response window is full, so the response must be read while
 *   the upload goes on. For a URL whose path starts with /echo, the response must equal what
 *   was sent (length and FNV-1a), and the echoed trailer x-echo-trailer-x-upload-fnv1a must
 *   carry the hash.
 *
 * Either way the request is made from the whole URL (h2_request_new_url) and sent by a client
 * without a base URL: the library parses the URL (a bad one fails with H2_E_INVALID_URL).
 *
 * Progress goes to stderr about once a second; a summary line at the end:
 *
 *   stream: download: 50000000 bytes in 0.040 s (1250.0 MB/s), at most 4194304 bytes buffered
 *   stream: upload: 67108864 bytes sent, 67108864 bytes echoed in 0.200 s (335.5 MB/s), ...
 *
 * Exit status: 0 on success (download: status 200; upload: a 2xx status and, for /echo, a
 * verified echo), 1 on failure, 2 for usage errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "h2client.h"

#define UPLOAD_PIECE (64 * 1024)
#define DOWNLOAD_BUF (256 * 1024)
#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)
#define TRAILER "x-upload-fnv1a"
#define ECHOED_TRAILER "x-echo-trailer-" TRAILER

static void usage(FILE *out) {
    fputs("usage: stream download URL FILE   (FILE '-' is stdout)\n"
          "       stream upload URL FILE     (e.g. to http://HOST:PORT/echo)\n",
          out);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static double mb_per_s(uint64_t bytes, double secs) {
    return secs > 0 ? (double)bytes / 1e6 / secs : 0.0;
}

/* Prints "stream: PREFIX: ERROR_NAME: message" for the call's error (or the thread's last). */
static void call_failed(const char *what, h2_call *call, h2_result rc) {
    h2_error_info info;
    if (!call || h2_call_error(call, &info) == H2_OK)
        h2_last_error(&info);
    fprintf(stderr, "stream: %s: %s: %s\n", what, h2_error_name(rc), info.message);
}

/*
 * Whether the call's URL (as the library serializes it, "scheme://host[:port]/path?query",
 * from h2_call_effective_url) has a path starting with /echo: the test server's echo.
 */
static int is_echo(const h2_call *call) {
    const char *url = h2_call_effective_url(call);
    const char *authority = url ? strstr(url, "://") : NULL;
    const char *path = authority ? strchr(authority + 3, '/') : NULL;
    return path && strncmp(path, "/echo", 5) == 0;
}

/* A request for `method` on URL and a client without a base URL to send it; 0, or -1 after
 * printing why (a bad URL: H2_E_INVALID_URL) with both NULL. */
static int prepare(const char *method, const char *url, h2_client **client, h2_request **req) {
    *req = h2_request_new_url(method, url);
    *client = *req ? h2_client_new(NULL, NULL) : NULL;
    if (*client)
        return 0;
    h2_error_info err;
    h2_last_error(&err);
    fprintf(stderr, "stream: %s: %s: %s\n", url, h2_error_name(err.code), err.message);
    h2_request_free(*req);
    *req = NULL;
    return -1;
}

/* ---- download ---------------------------------------------------------------------------- */

static int download(const char *url, const char *file) {
    int status = 1;
    int to_stdout = strcmp(file, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(file, "wb");
    if (!out) {
        fprintf(stderr, "stream: %s: %s\n", file, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(DOWNLOAD_BUF);
    h2_client *client = NULL;
    h2_request *req = NULL;
    h2_call *call = NULL;
    if (!buf || prepare("GET", url, &client, &req) != 0)
        goto done;

    double t0 = now_s(), last = t0;
    h2_result rc = h2_client_start(client, req, &call);
    if (rc == H2_OK)
        rc = h2_call_wait_headers(call);
    if (rc != H2_OK) {
        call_failed(url, call, rc);
        goto done;
    }
    if (h2_call_status(call) != 200) {
        fprintf(stderr, "stream: %s: HTTP status %u\n", url, (unsigned)h2_call_status(call));
        goto done;
    }
    const char *cl = h2_call_header(call, "content-length");
    fprintf(stderr, "stream: download: %s: status 200, content-length %s\n", url,
            cl ? cl : "(none)");

    uint64_t total = 0;
    size_t max_buffered = 0;
    for (;;) {
        size_t n = 0;
        rc = h2_call_read(call, buf, DOWNLOAD_BUF, &n);
        if (rc != H2_OK) {
            call_failed(url, call, rc);
            fprintf(stderr, "stream: download: failed after %" PRIu64 " bytes\n", total);
            goto done;
        }
        if (n == 0)
            break;
        if (fwrite(buf, 1, n, out) != n) {
            fprintf(stderr, "stream: %s: write error: %s\n", file, strerror(errno));
            goto done;
        }
        total += n;
        size_t b = h2_call_buffered(call);
        if (b > max_buffered)
            max_buffered = b;
        double t = now_s();
        if (t - last >= 1.0) {
            last = t;
            fprintf(stderr, "stream: download: %" PRIu64 " bytes, %.1f MB/s\n", total,
                    mb_per_s(total, t - t0));
        }
    }
    if (fflush(out) != 0) {
        fprintf(stderr, "stream: %s: write error: %s\n", file, strerror(errno));
        goto done;
    }
    double secs = now_s() - t0;
    fprintf(stderr,
            "stream: download: %" PRIu64 " bytes in %.3f s (%.1f MB/s), at most %zu bytes "
            "buffered\n",
            total, secs, mb_per_s(total, secs), max_buffered);
    status = 0;

done:
    h2_call_free(call);
    h2_request_free(req);
    h2_client_free(client);
    free(buf);
    if (!to_stdout && fclose(out) != 0 && status == 0) {
        fprintf(stderr, "stream: %s: write error: %s\n", file, strerror(errno));
        status = 1;
    }
    return status;
}

/* ---- upload ------------------------------------------------------------------------------ */

struct reader {
    h2_call *call;
    const char *url;
    _Atomic uint64_t received; /* read by the progress lines of the writing thread */
    uint64_t hash;
    h2_result rc;
    unsigned status;
    char trailer[128]; /* the echoed x-upload-fnv1a trailer, "" if none */
};

/* The response side of an upload: head, then the body (counted and hashed), then trailers. */
static void *read_response(void *arg) {
    struct reader *r = arg;
    uint8_t *buf = malloc(DOWNLOAD_BUF);
    r->hash = FNV_OFFSET;
    if (!buf) {
        r->rc = H2_E_INTERNAL;
        h2_call_cancel(r->call); /* the writer then stops too */
        return NULL;
    }
    r->rc = h2_call_wait_headers(r->call);
    if (r->rc == H2_OK)
        r->status = h2_call_status(r->call);
    while (r->rc == H2_OK) {
        size_t n = 0;
        r->rc = h2_call_read(r->call, buf, DOWNLOAD_BUF, &n);
        if (r->rc != H2_OK || n == 0)
            break;
        r->hash = fnv1a(r->hash, buf, n);
        atomic_fetch_add(&r->received, n);
    }
    if (r->rc == H2_OK) {
        const char *t = h2_call_trailer(r->call, ECHOED_TRAILER);
        snprintf(r->trailer, sizeof r->trailer, "%s", t ? t : "");
    }
    free(buf);
    return NULL;
}

static int upload(const char *url, const char *file) {
    FILE *in = fopen(file, "rb");
    if (!in) {
        fprintf(stderr, "stream: %s: %s\n", file, strerror(errno));
        return 1;
    }
    int status = 1, reader_started = 0;
    uint8_t *piece = malloc(UPLOAD_PIECE);
    h2_client *client = NULL;
    h2_request *req = NULL;
    h2_call *call = NULL;
    struct reader r = {.url = url};
    pthread_t reader;
    if (!piece || prepare("POST", url, &client, &req) != 0)
        goto done;
    h2_result rc = h2_request_set_streaming_body(req, true);
    if (rc == H2_OK)
        rc = h2_client_start(client, req, &call);
    if (rc != H2_OK) {
        call_failed(url, call, rc);
        goto done;
    }
    r.call = call;
    int e = pthread_create(&reader, NULL, read_response, &r);
    if (e != 0) {
        fprintf(stderr, "stream: pthread_create: %s\n", strerror(e));
        goto done;
    }
    reader_started = 1;

    double t0 = now_s(), last = t0;
    uint64_t sent = 0, hash = FNV_OFFSET;
    int write_failed = 0;
    for (;;) {
        size_t n = fread(piece, 1, UPLOAD_PIECE, in);
        if (n == 0) {
            if (ferror(in)) {
                fprintf(stderr, "stream: %s: read error\n", file);
                h2_call_cancel(call);
                write_failed = 1;
            }
            break;
        }
        rc = h2_call_write(call, piece, n);
        if (rc != H2_OK) {
            call_failed("upload: h2_call_write", call, rc);
            write_failed = 1;
            break;
        }
        sent += n;
        hash = fnv1a(hash, piece, n);
        double t = now_s();
        if (t - last >= 1.0) {
            last = t;
            fprintf(stderr, "stream: upload: %" PRIu64 " bytes sent, %" PRIu64
                            " received, %.1f MB/s\n",
                    sent, atomic_load(&r.received), mb_per_s(sent, t - t0));
        }
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    if (!write_failed) {
        rc = h2_call_add_trailer(call, TRAILER, hex);
        if (rc == H2_OK)
            rc = h2_call_finish(call);
        if (rc != H2_OK) {
            call_failed("upload: h2_call_finish", call, rc);
            write_failed = 1;
        }
    }
    pthread_join(reader, NULL);
    reader_started = 0;
    double secs = now_s() - t0;
    if (r.rc != H2_OK) {
        call_failed("upload: response", call, r.rc);
        goto done;
    }
    if (write_failed)
        goto done;

    uint64_t received = atomic_load(&r.received);
    fprintf(stderr,
            "stream: upload: %" PRIu64 " bytes sent, %" PRIu64 " bytes received in %.3f s "
            "(%.1f MB/s), status %u\n",
            sent, received, secs, mb_per_s(sent, secs), r.status);
    if (r.status < 200 || r.status > 299) {
        fprintf(stderr, "stream: %s: HTTP status %u\n", url, r.status);
        goto done;
    }
    if (is_echo(call)) {
        if (received != sent || r.hash != hash) {
            fprintf(stderr,
                    "stream: upload: echo MISMATCH: sent %" PRIu64 " bytes (fnv1a %s), got "
                    "%" PRIu64 " bytes (fnv1a %016" PRIx64 ")\n",
                    sent, hex, received, r.hash);
            goto done;
        }
        if (strcmp(r.trailer, hex) != 0) {
            fprintf(stderr, "stream: upload: trailer %s: sent %s, echoed '%s'\n", TRAILER, hex,
                    r.trailer);
            goto done;
        }
        fprintf(stderr,
                "stream: upload: echo verified: %" PRIu64 " bytes, fnv1a %s, trailer "
                "echoed\n",
                sent, hex);
    }
    status = 0;

done:
    if (reader_started) { /* only on the early exits above: stop the reader first */
        h2_call_cancel(call);
        pthread_join(reader, NULL);
    }
    h2_call_free(call);
    h2_request_free(req);
    h2_client_free(client);
    free(piece);
    fclose(in);
    return status;
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 4) {
        usage(stderr);
        return 2;
    }
    int status;
    if (strcmp(argv[1], "download") == 0)
        status = download(argv[2], argv[3]);
    else if (strcmp(argv[1], "upload") == 0)
        status = upload(argv[2], argv[3]);
    else
        status = -1;
    if (status >= 0) {
        h2_global_cleanup(); /* download/upload freed every object: stop the library's threads */
        return status;
    }
    fprintf(stderr, "stream: unknown mode '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
