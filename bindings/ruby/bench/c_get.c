/*
 * The C side of bench/overhead.rb: what Ruby's Client#get does for one request, in C.
 *
 *   c_get URL PATH N
 *
 * One client for URL; 1000 warm-up requests, then N sequential GETs of PATH, each:
 * h2_request_new, h2_client_do, the status, every header field and trailer (h2_*_at), the
 * body, the effective URL, the redirect count, whether it was decoded, h2_response_free,
 * h2_request_free. Prints one line:
 *
 *   c_get: N requests, wall W us, cpu C us, failed F
 *
 * W and C are per request over the N requests only (no start-up, no warm-up), C being the
 * CPU time of the whole process (the library's threads included), as overhead.rb measures
 * Ruby's. Uses only functions every version of the header has, so the same source builds
 * against a library from before the packed functions.
 */
#define _POSIX_C_SOURCE 200809L
#include <h2client.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Touches what a binding copies out, so that nothing is skipped. */
static size_t consume(const h2_response *resp) {
    size_t sum = h2_response_status(resp);
    size_t n = h2_response_header_count(resp);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        if (h2_response_header_at(resp, i, &name, &name_len, &value, &value_len) == H2_OK) {
            sum += name_len + value_len + (unsigned char)name[0];
        }
    }
    n = h2_response_trailer_count(resp);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        if (h2_response_trailer_at(resp, i, &name, &name_len, &value, &value_len) == H2_OK) {
            sum += name_len + value_len;
        }
    }
    size_t len = 0;
    const uint8_t *body = h2_response_body(resp, &len);
    sum += len + (len ? body[len - 1] : 0);
    const char *url = h2_response_effective_url(resp);
    sum += url ? (unsigned char)url[0] : 0;
    sum += h2_response_redirect_count(resp) + h2_response_decoded(resp);
    return sum;
}

static size_t run(h2_client *client, const char *path, long n, long *failed) {
    size_t sum = 0;
    for (long i = 0; i < n; i++) {
        h2_request *req = h2_request_new("GET", path);
        h2_response *resp = NULL;
        if (req && h2_client_do(client, req, &resp) == H2_OK) {
            sum += consume(resp);
        } else {
            (*failed)++;
        }
        h2_response_free(resp);
        h2_request_free(req);
    }
    return sum;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: c_get URL PATH N\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "c_get: N must be positive\n");
        return 2;
    }
    h2_client *client = h2_client_new(argv[1], NULL);
    if (!client) {
        char msg[256];
        h2_last_error_message(msg, sizeof msg);
        fprintf(stderr, "c_get: %s\n", msg);
        return 1;
    }
    long failed = 0;
    size_t sum = run(client, argv[2], 1000, &failed);
    failed = 0;
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    sum += run(client, argv[2], n, &failed);
    double wall = now(CLOCK_MONOTONIC) - w0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("c_get: %ld requests, wall %.2f us, cpu %.2f us, failed %ld (%zu)\n", n,
           wall * 1e6 / (double)n, cpu * 1e6 / (double)n, failed, sum % 10);
    h2_client_free(client);
    h2_global_cleanup();
    return failed ? 1 : 0;
}
