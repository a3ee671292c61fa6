/*
 * cancel [-d DELAY_MS] [-l LIMIT_MS] URL
 *
 * Shows h2_call_cancel from another thread unblocking a call. URL names the server
 * (scheme://host:port; any path is ignored), which must have the test server's endpoints.
 * Two calls are started with h2_client_start, and DELAY_MS (default 200) after each start a
 * second thread calls h2_call_cancel on it while this thread is blocked:
 *
 *   1. GET /delay/5000: blocked in h2_call_wait_headers (the server answers after 5 s);
 *   2. GET /wait-reset: the head arrives at once, then blocked in h2_call_read (the server
 *      sends no body and waits for the client to reset the stream).
 *
 * Each blocked function must return H2_E_CANCELED, and within LIMIT_MS (default 1000) of the
 * start. For each call it prints a line like
 *
 *   cancel: GET /delay/5000: h2_call_wait_headers returned H2_E_CANCELED after 201 ms
 *   (1 ms after h2_call_cancel); origin local, processed maybe: ...
 *
 * The stream is reset with RST_STREAM(CANCEL), which the test server logs with
 * H2TESTSERVER_LOG=1 ("stream StreamId(N): reset by client"). Then GET / must succeed on the
 * same connection (a cancel resets a stream, not the connection). Exit status 0 if all of
 * that held, 1 otherwise, 2 for usage errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "h2client.h"

static void usage(FILE *out) {
    fputs("usage: cancel [-d DELAY_MS] [-l LIMIT_MS] URL\n"
          "  -d MS  cancel this long after the start (default 200)\n"
          "  -l MS  the blocked call must return within this long of the start "
          "(default 1000)\n",
          out);
}

static int parse_num(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct canceller {
    h2_call *call;
    unsigned long delay_ms;
    double cancelled_at; /* now_ms() of the h2_call_cancel */
    h2_result rc;
};

/* The other thread: sleeps, then cancels. */
static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    struct timespec ts = {.tv_sec = (time_t)(c->delay_ms / 1000),
                          .tv_nsec = (long)(c->delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    c->cancelled_at = now_ms();
    c->rc = h2_call_cancel(c->call);
    return NULL;
}

static const char *origin_name(uint8_t o) {
    return o == H2_ORIGIN_LOCAL ? "local" : o == H2_ORIGIN_REMOTE ? "remote" : "transport";
}

static const char *processed_name(uint8_t p) {
    return p == H2_PROCESSED_NO ? "no" : p == H2_PROCESSED_YES ? "yes" : "maybe";
}

/*
 * Starts GET `path`, cancels it from another thread after `delay_ms`, and checks that the
 * blocking function returned H2_E_CANCELED within `limit_ms`. `in_body`: wait for the head
 * first (it must be 200), then block in h2_call_read. Returns 1 if all went as expected.
 */
static int scenario(h2_client *client, const char *path, int in_body, unsigned long delay_ms,
                    unsigned long limit_ms) {
    h2_request *req = h2_request_new("GET", path);
    h2_call *call = NULL;
    double t0 = now_ms();
    h2_result rc = req ? h2_client_start(client, req, &call) : H2_E_INVALID_ARGUMENT;
    h2_request_free(req); /* the call keeps what it needs */
    if (rc != H2_OK) {
        char msg[256];
        h2_last_error_message(msg, sizeof msg);
        fprintf(stderr, "cancel: GET %s: %s: %s\n", path, h2_error_name(rc), msg);
        return 0;
    }
    const char *fn = "h2_call_wait_headers";
    if (in_body) {
        rc = h2_call_wait_headers(call);
        if (rc != H2_OK || h2_call_status(call) != 200) {
            fprintf(stderr, "cancel: GET %s: expected a 200 head first, got %s (status %u)\n",
                    path, h2_error_name(rc), (unsigned)h2_call_status(call));
            h2_call_free(call);
            return 0;
        }
        fn = "h2_call_read";
    }

    struct canceller c = {.call = call, .delay_ms = delay_ms};
    pthread_t thread;
    int e = pthread_create(&thread, NULL, cancel_later, &c);
    if (e != 0) {
        fprintf(stderr, "cancel: pthread_create: %s\n", strerror(e));
        h2_call_free(call);
        return 0;
    }
    uint8_t buf[4096];
    size_t n = 0;
    rc = in_body ? h2_call_read(call, buf, sizeof buf, &n) : h2_call_wait_headers(call);
    double t1 = now_ms();
    pthread_join(thread, NULL);

    h2_error_info info;
    h2_call_error(call, &info);
    h2_result waited = h2_call_wait(call); /* the call has ended: returns at once */
    int ok = rc == H2_E_CANCELED && c.rc == H2_OK && t1 - t0 <= (double)limit_ms &&
             waited == H2_E_CANCELED && h2_call_is_done(call);
    printf("cancel: GET %s: %s returned %s after %.0f ms (%.0f ms after h2_call_cancel); "
           "origin %s, processed %s: %s\n",
           path, fn, h2_error_name(rc), t1 - t0, t1 - c.cancelled_at, origin_name(info.origin),
           processed_name(info.processed), info.message);
    if (rc == H2_OK && in_body)
        printf("cancel: GET %s: (read %zu bytes)\n", path, n);
    if (!ok)
        printf("cancel: GET %s: FAILED: expected H2_E_CANCELED within %lu ms (h2_call_wait "
               "then: %s)\n",
               path, limit_ms, h2_error_name(waited));
    h2_call_free(call);
    return ok;
}

int main(int argc, char **argv) {
    unsigned long delay_ms = 200, limit_ms = 1000;
    int o;
    opterr = 0;
    while ((o = getopt(argc, argv, ":d:l:h")) != -1) {
        switch (o) {
        case 'd':
        case 'l':
            if (parse_num(optarg, 0, 600000, o == 'd' ? &delay_ms : &limit_ms) != 0) {
                fprintf(stderr, "cancel: -%c: invalid milliseconds '%s'\n", o, optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "cancel: option -%c needs a value\n", optopt);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "cancel: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[optind];
    h2_client *client = h2_client_new(url, NULL);
    if (!client) {
        h2_error_info err;
        h2_last_error(&err);
        fprintf(stderr, "cancel: %s: %s: %s\n", url, h2_error_name(err.code), err.message);
        return 2;
    }
    int good = scenario(client, "/delay/5000", 0, delay_ms, limit_ms);
    good += scenario(client, "/wait-reset", 1, delay_ms, limit_ms);
    printf("cancel: %d of 2 blocked calls returned H2_E_CANCELED within %lu ms\n", good,
           limit_ms);

    /*
     * A cancel resets one stream, not the connection: a request afterwards goes over the same
     * connection. It also keeps the connection open until the server has handled the
     * RST_STREAMs (h2testserver does not always log a reset that arrives together with the
     * GOAWAY and the close of h2_client_free).
     */
    h2_request *req = h2_request_new("GET", "/");
    h2_response *resp = NULL;
    h2_result rc = req ? h2_client_do(client, req, &resp) : H2_E_INVALID_ARGUMENT;
    h2_request_free(req);
    h2_stats st;
    memset(&st, 0, sizeof st);
    h2_client_stats(client, &st);
    int after_ok = rc == H2_OK && h2_response_status(resp) == 200 && st.connections_opened == 1;
    printf("cancel: then GET /: %s, status %u; %llu connection(s) opened, %llu request(s) "
           "completed, %llu failed\n",
           h2_error_name(rc), (unsigned)h2_response_status(resp),
           (unsigned long long)st.connections_opened, (unsigned long long)st.requests_completed,
           (unsigned long long)st.requests_failed);
    if (!after_ok)
        printf("cancel: FAILED: expected GET / to succeed on the same connection\n");
    h2_response_free(resp);
    h2_client_free(client);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
    return good == 2 && after_ok && fflush(stdout) == 0 ? 0 : 1;
}
