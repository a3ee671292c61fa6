/*
 * threads [-t THREADS] [-n REQUESTS_PER_THREAD] [-p PATH] [-c N] URL
 *
 * THREADS pthreads share ONE h2_client and ONE h2_request: each sends the request
 * REQUESTS_PER_THREAD times with the blocking h2_client_do (a request is never modified by
 * sending it, so any number of threads may send it at once). The library multiplexes them
 * over its connections (opening more when the server's SETTINGS_MAX_CONCURRENT_STREAMS is
 * reached). Prints
 *
 *   threads: 64 threads x 1000 requests: 64000 ok, 0 failed in 1.234 s (51860 req/s)
 *
 * and exits 0 only if no request failed (2 for usage errors, a bad URL among them). The
 * request is for URL (h2_request_new_url, on a client without a base URL); with -p PATH, for
 * PATH on a client whose base URL is URL (h2_request_new; any path in URL is then ignored).
 * -c N checks that every body is N bytes with byte i == 'a' + i % 26 (the test server's
 * /bytes/N); a bad body counts as a failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "h2client.h"

/* Failure buckets: one per H2_E_* code below this bound, plus "bad body". */
#define MAX_CODE 64
#define BAD_BODY MAX_CODE
#define BUCKETS (MAX_CODE + 1)
/* How many individual failure messages are printed before only counting. */
#define MAX_PRINTED 5

static struct {
    h2_client *client;
    const h2_request *req;
    unsigned long requests;
    long check_len; /* -1: no body check */
    pthread_mutex_t lock;
    unsigned printed;
} shared = {.check_len = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

struct worker {
    pthread_t thread;
    unsigned long ok;
    unsigned long failed[BUCKETS];
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: threads [-t THREADS] [-n REQUESTS_PER_THREAD] [-p PATH] [-c N] URL\n"
            "  -t THREADS   threads sharing one client (default 8)\n"
            "  -n REQUESTS  blocking requests per thread (default 100)\n"
            "  -p PATH      request PATH on URL's origin (default: URL itself)\n"
            "  -c N         check that each body is /bytes/N's pattern\n");
}

/* Parses a decimal number in [min, max]; returns 0 on success. */
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

static void report(const char *what, const char *message) {
    pthread_mutex_lock(&shared.lock);
    if (shared.printed < MAX_PRINTED) {
        shared.printed++;
        fprintf(stderr, "threads: %s: %s\n", what, message);
    }
    pthread_mutex_unlock(&shared.lock);
}

static int body_ok(const h2_response *resp, char *why, size_t why_len) {
    size_t len;
    const uint8_t *body = h2_response_body(resp, &len);
    if (h2_response_status(resp) != 200) {
        snprintf(why, why_len, "status %u", (unsigned)h2_response_status(resp));
        return 0;
    }
    if (len != (size_t)shared.check_len) {
        snprintf(why, why_len, "body is %zu bytes, expected %ld", len, shared.check_len);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (body[i] != 'a' + i % 26) {
            snprintf(why, why_len, "body byte %zu is 0x%02x, expected '%c'", i, body[i],
                     (char)('a' + i % 26));
            return 0;
        }
    }
    return 1;
}

static void *run(void *arg) {
    struct worker *w = arg;
    for (unsigned long i = 0; i < shared.requests; i++) {
        h2_response *resp = NULL;
        h2_result rc = h2_client_do(shared.client, shared.req, &resp);
        if (rc != H2_OK) {
            char msg[512];
            h2_last_error_message(msg, sizeof msg);
            w->failed[rc < MAX_CODE ? rc : MAX_CODE - 1]++;
            char what[64];
            snprintf(what, sizeof what, "request failed: %s", h2_error_name(rc));
            report(what, msg);
            continue;
        }
        char why[128];
        if (shared.check_len >= 0 && !body_ok(resp, why, sizeof why)) {
            w->failed[BAD_BODY]++;
            report("bad response", why);
        } else {
            w->ok++;
        }
        h2_response_free(resp);
    }
    return NULL;
}

int main(int argc, char **argv) {
    unsigned long nthreads = 8, requests = 100, check = 0;
    const char *path = NULL;
    int opt, do_check = 0;

    opterr = 0;
    while ((opt = getopt(argc, argv, ":t:n:p:c:h")) != -1) {
        switch (opt) {
        case 't':
            if (parse_num(optarg, 1, 100000, &nthreads) != 0) {
                fprintf(stderr, "threads: -t: invalid thread count '%s'\n", optarg);
                return 2;
            }
            break;
        case 'n':
            if (parse_num(optarg, 0, 1000000000, &requests) != 0) {
                fprintf(stderr, "threads: -n: invalid request count '%s'\n", optarg);
                return 2;
            }
            break;
        case 'p':
            path = optarg;
            break;
        case 'c':
            if (parse_num(optarg, 0, 1UL << 30, &check) != 0) {
                fprintf(stderr, "threads: -c: invalid length '%s'\n", optarg);
                return 2;
            }
            do_check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "threads: option -%c needs a value\n", optopt);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "threads: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[optind];

    shared.requests = requests;
    shared.check_len = do_check ? (long)check : -1;
    /* The library parses the URL: as the base URL for -p PATH, else as the request's. */
    shared.client = h2_client_new(path ? url : NULL, NULL);
    h2_request *req = NULL;
    if (shared.client)
        req = path ? h2_request_new("GET", path) : h2_request_new_url("GET", url);
    if (!req) {
        h2_error_info err;
        h2_last_error(&err);
        fprintf(stderr, "threads: %s: %s: %s\n", shared.client && path ? path : url,
                h2_error_name(err.code), err.message);
        h2_client_free(shared.client);
        h2_global_cleanup();
        return 2;
    }
    shared.req = req;

    struct worker *workers = calloc(nthreads, sizeof *workers);
    if (!workers) {
        fprintf(stderr, "threads: out of memory\n");
        h2_request_free(req);
        h2_client_free(shared.client);
        h2_global_cleanup();
        return 1;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long started = 0;
    for (; started < nthreads; started++) {
        int e = pthread_create(&workers[started].thread, NULL, run, &workers[started]);
        if (e != 0) {
            fprintf(stderr, "threads: pthread_create: %s\n", strerror(e));
            break;
        }
    }
    for (unsigned long i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    unsigned long ok = 0, failed = 0, by_bucket[BUCKETS] = {0};
    int setup_failed = started < nthreads; /* a thread that could not be created */
    for (unsigned long i = 0; i < started; i++) {
        ok += workers[i].ok;
        for (int b = 0; b < BUCKETS; b++) {
            failed += workers[i].failed[b];
            by_bucket[b] += workers[i].failed[b];
        }
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("threads: %lu threads x %lu requests: %lu ok, %lu failed in %.3f s (%.0f req/s)\n",
           nthreads, requests, ok, failed, secs, secs > 0 ? (double)(ok + failed) / secs : 0.0);
    for (int b = 0; b < BUCKETS; b++) {
        if (by_bucket[b])
            printf("threads:   %s: %lu\n", b == BAD_BODY ? "bad body" : h2_error_name((h2_result)b),
                   by_bucket[b]);
    }

    free(workers);
    h2_request_free(req);
    h2_client_free(shared.client);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
    return failed == 0 && !setup_failed && fflush(stdout) == 0 ? 0 : 1;
}
