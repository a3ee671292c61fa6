/*
 * lifetimes [-n ITERATIONS] URL
 *
 * Checks the promise a C program relies on to free its event userdata: once h2_client_free
 * has returned, no event callback of that client is running and none will start. Each
 * iteration mallocs a userdata, creates a client whose event callback sleeps 50 ms on
 * connection events (so a connection's Closed event is still being delivered while
 * h2_client_free runs) and writes into the userdata, sends GET /, frees the client, then
 * poisons and frees the userdata at once. A callback running after that touches freed memory:
 * AddressSanitizer reports it (make SANITIZE=address), and the poison check reports it in any
 * build. Exit status 0 if all iterations passed, 1 otherwise, 2 for usage errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "h2client.h"

#define ALIVE 0x600dcafeu
#define POISON 0xdeadbeefu

struct seen {
    volatile uint32_t magic; /* ALIVE while the userdata is live */
    volatile unsigned events;
};

/* Set (under no lock: a plain flag for the report) when a callback saw a dead userdata. */
static volatile int late_callback;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void on_event(void *userdata, const struct h2_event *ev) {
    struct seen *s = userdata;
    if (s->magic != ALIVE)
        late_callback = 1;
    if (ev->kind == H2_EVENT_CLOSED || ev->kind == H2_EVENT_CONNECTED)
        sleep_ms(50);
    if (s->magic != ALIVE)
        late_callback = 1;
    s->events++;
}

int main(int argc, char **argv) {
    int n = 10;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !url)
            url = argv[i];
        else
            url = NULL, i = argc;
    }
    if (!url || n <= 0) {
        fputs("usage: lifetimes [-n ITERATIONS] URL\n", stderr);
        return 2;
    }
    unsigned total = 0;
    int failed = 0;
    for (int i = 0; i < n && !failed; i++) {
        struct seen *s = calloc(1, sizeof *s);
        h2_config *cfg = h2_config_new();
        if (!s || !cfg) {
            fputs("lifetimes: out of memory\n", stderr);
            return 1;
        }
        s->magic = ALIVE;
        h2_config_set_event_callback(cfg, on_event, s);
        h2_client *c = h2_client_new(url, cfg);
        h2_config_free(cfg);
        if (!c) {
            fprintf(stderr, "lifetimes: h2_client_new failed (%d)\n", h2_last_error(NULL));
            return 1;
        }
        h2_request *req = h2_request_new("GET", "/");
        h2_response *resp = NULL;
        h2_result r = h2_client_do(c, req, &resp);
        if (r != H2_OK) {
            fprintf(stderr, "lifetimes: GET / failed: %s\n", h2_error_name(r));
            failed = 1;
        }
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(c);
        /* From here on the userdata is gone, as a C program would have it. */
        total += s->events;
        s->magic = POISON;
        free(s);
    }
    /* Long enough for a late Closed callback (50 ms asleep) to show itself. */
    sleep_ms(200);
    if (late_callback) {
        fputs("lifetimes: an event callback ran after h2_client_free returned\n", stderr);
        failed = 1;
    }
    if (total == 0) {
        fputs("lifetimes: no event was delivered\n", stderr);
        failed = 1;
    }
    if (!failed)
        printf("lifetimes: %d clients, %u events, none after h2_client_free\n", n, total);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
    return failed;
}
