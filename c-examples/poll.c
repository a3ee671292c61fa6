/*
 * poll [-n REQUESTS] [-c CONCURRENCY] [-t HEADERS_TIMEOUT_MS] URL
 *
 * An event loop without a thread per request: REQUESTS (default 1000) requests for URL
 * (one request made with h2_request_new_url, sent by a client without a base URL) go through
 * ONE completion queue (h2_client_submit), at most CONCURRENCY (default 100) in flight. The
 * loop sleeps in epoll_wait on the queue's eventfd (h2_queue_fd, readable while completions
 * are pending), takes the completions with h2_queue_poll(..., 0), checks each response and
 * tops the window up again. A response is ok if its status is 200 and, if its URL's path is
 * /bytes/K (the test server's), its body is K bytes of the /bytes pattern (byte i ==
 * 'a' + i % 26). Prints
 *
 *   poll: 1000 requests, 1000 ok, 0 failed in 0.123 s (8130 req/s)
 *
 * then, if bodies were checked, "poll: 1000 bodies checked against the /bytes pattern", then
 * the client's counters (h2_client_stats), and exits 0 only if every request was ok (1
 * otherwise, 2 for usage errors, a bad URL among them). -t sets a per-request headers timeout
 * (h2_request_set_headers_timeout_ms).
 */
#define _GNU_SOURCE /* epoll_create1's EPOLL_CLOEXEC */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "h2client.h"

/* How many failures are described individually before only counting. */
#define MAX_PRINTED 5
/* Completions taken per h2_queue_poll. */
#define BATCH 64

static void usage(FILE *out) {
    fputs("usage: poll [-n REQUESTS] [-c CONCURRENCY] [-t HEADERS_TIMEOUT_MS] URL\n"
          "  -n REQUESTS     requests to send (default 1000)\n"
          "  -c CONCURRENCY  most requests in flight at once (default 100)\n"
          "  -t MS           per-request time-to-headers timeout (default none)\n",
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned printed;
/* Responses whose body was checked against the /bytes pattern. */
static unsigned long bodies_checked;

/*
 * The body length the test server's /bytes/K sends, K, if `url` (a URL as the library
 * serializes it, "scheme://host[:port]/path?query", from h2_response_effective_url) has that
 * path; else -1 (no body check).
 */
static long long bytes_len(const char *url) {
    const char *authority = url ? strstr(url, "://") : NULL;
    const char *path = authority ? strchr(authority + 3, '/') : NULL;
    unsigned long k;
    if (path && strncmp(path, "/bytes/", 7) == 0 && parse_num(path + 7, 0, 1UL << 31, &k) == 0)
        return (long long)k;
    return -1;
}

/* Tags: the request's sequence number in the low 32 bits, its slot in main's
 * `calls` (the calls in flight) in the high bits. */
#define TAG(slot, seq) (((uint64_t)(slot) << 32) | (uint64_t)(seq))
#define TAG_SLOT(tag) ((size_t)((tag) >> 32))
#define TAG_SEQ(tag) ((unsigned long)((tag)&0xffffffffu))

static void report(uint64_t tag, const char *what, const char *detail) {
    if (printed++ < MAX_PRINTED)
        fprintf(stderr, "poll: request %lu: %s%s%s\n", TAG_SEQ(tag), what, detail ? ": " : "",
                detail ? detail : "");
}

/*
 * Checks one completion: status 200 and, for the test server's /bytes/K, the /bytes pattern
 * of that length. Takes the response out of the call and frees both. Returns 1 if ok.
 */
static int check_completion(const h2_completion *c) {
    int ok = 0;
    if (c->result != H2_OK) {
        h2_error_info info;
        h2_call_error(c->call, &info);
        report(c->tag, h2_error_name(c->result), info.message);
        h2_call_free(c->call);
        return 0;
    }
    h2_response *resp = NULL;
    h2_result rc = h2_call_response(c->call, &resp);
    h2_call_free(c->call);
    if (rc != H2_OK) {
        char msg[256];
        h2_last_error_message(msg, sizeof msg);
        report(c->tag, "h2_call_response failed", msg);
        return 0;
    }
    size_t len;
    const uint8_t *body = h2_response_body(resp, &len);
    long long expect_len = bytes_len(h2_response_effective_url(resp));
    char why[128];
    if (h2_response_status(resp) != 200) {
        snprintf(why, sizeof why, "status %u", (unsigned)h2_response_status(resp));
        report(c->tag, "bad response", why);
    } else if (expect_len >= 0 && len != (size_t)expect_len) {
        snprintf(why, sizeof why, "body is %zu bytes, expected %lld", len, expect_len);
        report(c->tag, "bad response", why);
    } else {
        ok = 1;
        bodies_checked += expect_len >= 0;
        for (size_t i = 0; expect_len >= 0 && i < len; i++) {
            if (body[i] != 'a' + i % 26) {
                snprintf(why, sizeof why, "body byte %zu is 0x%02x, expected '%c'", i, body[i],
                         (char)('a' + i % 26));
                report(c->tag, "bad response", why);
                ok = 0;
                break;
            }
        }
    }
    h2_response_free(resp);
    return ok;
}

int main(int argc, char **argv) {
    unsigned long total = 1000, concurrency = 100, headers_timeout = 0;
    int o;
    opterr = 0;
    while ((o = getopt(argc, argv, ":n:c:t:h")) != -1) {
        switch (o) {
        case 'n':
            if (parse_num(optarg, 0, 1000000000, &total) != 0) {
                fprintf(stderr, "poll: -n: invalid request count '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (parse_num(optarg, 1, 1000000, &concurrency) != 0) {
                fprintf(stderr, "poll: -c: invalid concurrency '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (parse_num(optarg, 0, UINT32_MAX, &headers_timeout) != 0) {
                fprintf(stderr, "poll: -t: invalid timeout '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "poll: option -%c needs a value\n", optopt);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "poll: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[optind];
    if (total > 0 && concurrency > total)
        concurrency = total;

    /* The library parses the URL: a bad one is H2_E_INVALID_URL here. */
    h2_request *req = h2_request_new_url("GET", url);
    if (!req || (headers_timeout && h2_request_set_headers_timeout_ms(
                                        req, (uint32_t)headers_timeout) != H2_OK)) {
        h2_error_info err;
        h2_last_error(&err);
        fprintf(stderr, "poll: %s: %s: %s\n", url, h2_error_name(err.code), err.message);
        h2_request_free(req);
        return 2;
    }
    /* No base URL: the request names its origin. */
    h2_client *client = h2_client_new(NULL, NULL);
    if (!client) {
        h2_error_info err;
        h2_last_error(&err);
        fprintf(stderr, "poll: h2_client_new: %s: %s\n", h2_error_name(err.code), err.message);
        h2_request_free(req);
        return 1;
    }
    h2_queue *q = h2_queue_new();
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!q || epfd < 0) {
        fprintf(stderr, "poll: cannot create the queue or the epoll instance: %s\n",
                q ? strerror(errno) : "h2_queue_new failed");
        if (epfd >= 0)
            close(epfd);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(client);
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, h2_queue_fd(q), &ev) != 0) {
        fprintf(stderr, "poll: epoll_ctl: %s\n", strerror(errno));
        close(epfd);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(client);
        return 1;
    }

    /* The calls in flight, by slot, so that they can be freed whatever happens; free_slots
     * is a stack of the unused ones. */
    h2_call **calls = calloc(concurrency, sizeof *calls);
    size_t *free_slots = malloc(concurrency * sizeof *free_slots);
    if (!calls || !free_slots) {
        fputs("poll: out of memory\n", stderr);
        free(calls);
        free(free_slots);
        close(epfd);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(client);
        return 1;
    }
    size_t nfree = concurrency;
    for (size_t i = 0; i < concurrency; i++)
        free_slots[i] = concurrency - 1 - i;

    unsigned long submitted = 0, finished = 0, ok = 0, failed = 0, in_flight = 0;
    unsigned long wakeups = 0, max_in_flight = 0;
    int loop_error = 0;
    double t0 = now_s();
    while (finished < total) {
        /* Top up: keep `concurrency` requests in flight. */
        while (in_flight < concurrency && submitted < total) {
            h2_call *call = NULL;
            size_t slot = free_slots[--nfree];
            uint64_t tag = TAG(slot, submitted++);
            h2_result rc = h2_client_submit(client, req, q, tag, &call);
            if (rc != H2_OK) { /* no call, no completion: count it here */
                char msg[256];
                h2_last_error_message(msg, sizeof msg);
                report(tag, h2_error_name(rc), msg);
                free_slots[nfree++] = slot;
                failed++;
                finished++;
                continue;
            }
            calls[slot] = call;
            in_flight++;
        }
        if (in_flight > max_in_flight)
            max_in_flight = in_flight;
        if (finished == total)
            break;

        struct epoll_event got;
        int k = epoll_wait(epfd, &got, 1, -1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "poll: epoll_wait: %s\n", strerror(errno));
            loop_error = 1;
            break;
        }
        wakeups++;
        /* Level-triggered: take everything pending; the fd then stops being readable. */
        h2_completion done[BATCH];
        size_t n;
        while ((n = h2_queue_poll(q, done, BATCH, 0)) > 0) {
            for (size_t i = 0; i < n; i++) {
                size_t slot = TAG_SLOT(done[i].tag);
                calls[slot] = NULL; /* check_completion frees it */
                free_slots[nfree++] = slot;
                if (check_completion(&done[i]))
                    ok++;
                else
                    failed++;
                finished++;
                in_flight--;
            }
        }
    }
    double secs = now_s() - t0;

    printf("poll: %lu requests, %lu ok, %lu failed in %.3f s (%.0f req/s)\n", total, ok,
           failed + (total - finished), secs, secs > 0 ? (double)finished / secs : 0.0);
    if (printed > MAX_PRINTED)
        fprintf(stderr, "poll: (%u more failures not shown)\n", printed - MAX_PRINTED);
    if (bodies_checked > 0)
        printf("poll: %lu bodies checked against the /bytes pattern\n", bodies_checked);

    h2_stats st;
    if (h2_client_stats(client, &st) == H2_OK)
        printf("poll: %lu epoll wakeups, at most %lu in flight; client: %" PRIu64
               " connections opened, %" PRIu64 " completed, %" PRIu64 " failed, %" PRIu64
               " bytes received\n",
               wakeups, max_in_flight, st.connections_opened, st.requests_completed,
               st.requests_failed, st.bytes_received);

    /* Only after a loop error can calls still be in flight: free (cancel) them. */
    for (size_t i = 0; i < concurrency; i++)
        h2_call_free(calls[i]);
    free(calls);
    free(free_slots);
    close(epfd);
    h2_queue_free(q);
    h2_request_free(req);
    h2_client_free(client);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
    return !loop_error && ok == total && fflush(stdout) == 0 ? 0 : 1;
}
