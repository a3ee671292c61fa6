/*
 * h2bench: an HTTP/2 load generator with h2load's interface and output, over h2client's
 * public C API. Its figures can be put line by line next to h2load's (nghttp2) to compare
 * the library with nghttp2 on the same server, same flags, same machine.
 *
 *   h2bench [-n N | -D SECONDS [--warm-up-time SECONDS]] [-c C] [-m M] [-t T]
 *           [-H 'name: value']... [-d FILE] [-w BITS] [-W BITS] [--blocking] [--json FILE]
 *           URL...
 *
 * Default mode: the non-blocking queue API. Each of T driver threads owns one h2_queue
 * shared by its clients; it keeps up to M calls in flight per client with h2_client_submit
 * and handles completions with h2_queue_poll, resubmitting until done. --blocking: each
 * client gets M threads that each loop on the blocking h2_client_do (-t is ignored).
 * Each client is its own h2_client limited to ONE connection (max_connections = 1) with
 * max_concurrent_streams = M, like one h2load client. The library does its I/O on its own
 * runtime threads (H2CLIENT_WORKER_THREADS, default one per CPU); -t counts only the threads
 * that drive the clients. See usage() for the exact meaning of every figure.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "h2client.h"

/* h2load keeps at most this many request-time samples (reservoir sampling beyond). */
#define MAX_SAMPLES 1000000
/* Completions taken per h2_queue_poll. */
#define POLL_BATCH 256

static const char USAGE[] =
    "usage: h2bench [OPTIONS] URL...\n"
    "\n"
    "HTTP/2 benchmark over h2client's C API with h2load's options and output, so that\n"
    "`h2load FLAGS URL` and `h2bench FLAGS URL` can be compared line by line. http:// is\n"
    "HTTP/2 over cleartext with prior knowledge (h2c), https:// is HTTP/2 over TLS. Requests\n"
    "cycle over the URLs (each client on its own), which must share scheme://host:port.\n"
    "\n"
    "Options (same meaning and defaults as h2load's):\n"
    "  -n, --requests=N      total requests (default 1; K/M/G suffixes = 2^10/2^20/2^30)\n"
    "  -c, --clients=C       clients (default 1); each is its own h2_client limited to ONE\n"
    "                        connection (max_connections 1)\n"
    "  -m, --max-concurrent-streams=M\n"
    "                        requests in flight per client (default 1); also the client's\n"
    "                        max_concurrent_streams\n"
    "  -t, --threads=T       threads driving the clients (default 1); clients are spread\n"
    "                        over them as h2load does. These are h2bench's threads: the\n"
    "                        library does its socket I/O on its own runtime threads\n"
    "                        (H2CLIENT_WORKER_THREADS, default one per CPU)\n"
    "  -D, --duration=SECS   run for SECS (suffixes ms/s/m/h) instead of -n requests\n"
    "      --warm-up-time=SECS\n"
    "                        with -D: requests before this are not counted\n"
    "  -H, --header='name: value'\n"
    "                        add a request header (repeatable); 'user-agent' replaces\n"
    "                        h2bench's, ':method' the method, 'host'/':authority' :authority\n"
    "  -d, --data=FILE       POST the contents of FILE as the body of every request\n"
    "  -w, --window-bits=N   stream receive window 2^N-1 (default 30; 1..31)\n"
    "  -W, --connection-window-bits=N\n"
    "                        connection receive window 2^N-1 (default 30; 16..31)\n"
    "\n"
    "h2bench only:\n"
    "      --blocking        use the blocking h2_client_do: each client gets M threads, each\n"
    "                        looping on h2_client_do (C*M threads in all; -t is ignored)\n"
    "      --json=FILE       also write the figures as JSON to FILE\n"
    "  -h, --help            this help\n"
    "\n"
    "Output: as h2load's. `requests:` total, started, done; succeeded = a response with a\n"
    "status below 400; failed = status >= 400 or no response; errored = no response (a\n"
    "library error: reset, connection, timeout...); timeout = errors that were timeouts.\n"
    "Requests a client never sent because its connection failed count as failed and errored.\n"
    "req/s in `finished` counts responses of any status, as h2load's. MB/s and `traffic\n"
    "total` are bytes read from the sockets (h2_client_stats bytes_received); `data` is the\n"
    "response bodies. Header bytes are not exposed by the C API: `headers` is not printed.\n"
    "time for request: submit (h2_client_submit or the call of h2_client_do) to completion\n"
    "(taken from the queue, or h2_client_do returned), responses of any status.\n"
    "time to 1st byte: per client, from its first submit to its first response (h2load\n"
    "measures from connect() to the first byte read). `time for connect` is not printed: the\n"
    "C API tells it only through an event callback, which would cost every stream events.\n"
    "req/s (last row): per client, responses / (last completion - first submit).\n"
    "https:// certificates are not verified (as with h2load): this is a load generator.\n"
    "With -D, a request counts if it was submitted after the warm-up and completed before\n"
    "the end; calls in flight at the end are cancelled and not counted (started = done), and\n"
    "bytes are those read during the measured period.\n";

/* ---- options ------------------------------------------------------------------------- */

struct opts {
    uint64_t nreqs;
    size_t nclients, max_streams, nthreads;
    double duration, warm_up;
    bool blocking;
    const char *json_path;
    const char *data_path;
    unsigned window_bits, conn_window_bits;
    char **headers; /* "name: value" */
    size_t nheaders;
    char **urls;
    size_t nurls;
};

static struct opts opt = {
    .nreqs = 1, .nclients = 1, .max_streams = 1, .nthreads = 1,
    .window_bits = 30, .conn_window_bits = 30,
};

static h2_request **requests;  /* one per URL (h2_request_new_url), built once, shared read-only */
static size_t nrequests;
static bool tls_scheme;

/* ---- time ------------------------------------------------------------------------------ */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Absolute phase boundaries for -D (ns, CLOCK_MONOTONIC); 0 in -n mode. */
static int64_t t_begin, t_main_start, t_main_end;
static bool timing_mode;

static void sleep_until(int64_t t) {
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* ---- h2load's number formatting (src/util.cc) ----------------------------------------- */

/* util::dtos: two decimals, rounded. */
static void dtos(char *buf, size_t len, double n) {
    long long m = llround(100. * n);
    snprintf(buf, len, "%lld.%02lld", m / 100, m % 100);
}

/* util::utos_funit: 1024-based G/M/K with two decimals. */
static void utos_funit(char *buf, size_t len, uint64_t n) {
    const char *u = NULL;
    int b = 0;
    if (n >= (1u << 30)) {
        u = "G", b = 30;
    } else if (n >= (1u << 20)) {
        u = "M", b = 20;
    } else if (n >= (1u << 10)) {
        u = "K", b = 10;
    }
    if (!u) {
        snprintf(buf, len, "%" PRIu64, n);
        return;
    }
    char d[64];
    dtos(d, sizeof d, (double)n / (double)(1ull << b));
    snprintf(buf, len, "%.40s%s", d, u);
}

/* util::format_duration(std::chrono::microseconds). */
static void format_duration_us(char *buf, size_t len, int64_t us) {
    char d[64];
    if (us >= 1000000) {
        dtos(d, sizeof d, (double)us / 1000000.);
        snprintf(buf, len, "%.40ss", d);
    } else if (us >= 1000) {
        dtos(d, sizeof d, (double)us / 1000.);
        snprintf(buf, len, "%.40sms", d);
    } else {
        snprintf(buf, len, "%" PRId64 "us", us);
    }
}

/* util::format_duration(double seconds). */
static void format_duration_s(char *buf, size_t len, double t) {
    char d[64];
    if (t >= 1.) {
        dtos(d, sizeof d, t);
        snprintf(buf, len, "%.40ss", d);
    } else if (t >= 0.001) {
        dtos(d, sizeof d, t * 1000.);
        snprintf(buf, len, "%.40sms", d);
    } else {
        snprintf(buf, len, "%" PRId64 "us", (int64_t)(t * 1000000.));
    }
}

/* ---- statistics ------------------------------------------------------------------------ */

/* Counters and request-time samples of one thread (reservoir sampling, as h2load's). */
struct stats {
    uint64_t started, done, success, status_success, failed, errored, timedout;
    uint64_t status[6];
    uint64_t body_bytes;
    double *samples; /* seconds */
    size_t nsamples, max_samples;
    uint64_t nseen;
    uint64_t rng;
};

static void stats_init(struct stats *s, size_t max_samples, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->max_samples = max_samples;
    /* Untouched pages of this allocation cost no RSS: it grows as samples come in. */
    s->samples = malloc(max_samples * sizeof(double));
    if (!s->samples) {
        fprintf(stderr, "h2bench: out of memory\n");
        exit(1);
    }
    s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

static void stats_reset_counters(struct stats *s) {
    s->started = s->done = s->success = s->status_success = 0;
    s->failed = s->errored = s->timedout = s->body_bytes = 0;
    memset(s->status, 0, sizeof s->status);
    s->nsamples = 0;
    s->nseen = 0;
}

static uint64_t xorshift(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void stats_sample(struct stats *s, double t) {
    ++s->nseen;
    if (s->nsamples < s->max_samples) {
        s->samples[s->nsamples++] = t;
        return;
    }
    uint64_t i = xorshift(&s->rng) % s->nseen;
    if (i < s->max_samples) {
        s->samples[i] = t;
    }
}

/* One response (any status) that took `seconds`. */
static void stats_response(struct stats *s, int status, size_t body_len, double seconds) {
    ++s->done;
    ++s->success;
    if (status >= 200 && status < 300) {
        ++s->status[2];
        ++s->status_success;
    } else if (status < 400) {
        if (status >= 300) ++s->status[3];
        ++s->status_success;
    } else {
        if (status < 600) ++s->status[status / 100];
        ++s->failed;
    }
    s->body_bytes += body_len;
    stats_sample(s, seconds);
}

static void stats_error(struct stats *s, h2_result code) {
    ++s->done;
    ++s->failed;
    ++s->errored;
    if (code == H2_E_TIMEOUT) ++s->timedout;
}

struct sdstat {
    double min, max, mean, sd, within_sd;
    size_t n;
};

/* h2load's compute_time_stat: population sd unless the values are a sample. (h2load also
 * sorts them, for nothing that it prints; not sorting spares h2bench's CPU figures.) */
static struct sdstat compute_stat(const double *v, size_t n, bool sampling) {
    struct sdstat r = {0};
    if (n == 0) return r;
    double a = 0, q = 0;
    r.min = v[0];
    r.max = v[0];
    for (size_t i = 0; i < n; ++i) {
        if (v[i] < r.min) r.min = v[i];
        if (v[i] > r.max) r.max = v[i];
        double na = a + (v[i] - a) / (double)(i + 1);
        q += (v[i] - a) * (v[i] - na);
        a = na;
    }
    r.n = n;
    r.mean = a;
    r.sd = sqrt(q / (double)(sampling && n > 1 ? n - 1 : n));
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
        if (r.mean - r.sd <= v[i] && v[i] <= r.mean + r.sd) ++m;
    }
    r.within_sd = (double)m / (double)n * 100.;
    return r;
}

/* ---- clients ----------------------------------------------------------------------------- */

struct slot {
    h2_call *call;
    int64_t t_submit;
};

struct client {
    size_t id;
    h2_client *h;
    uint64_t req_todo;    /* -n: requests for this client; -D: unbounded */
    uint64_t req_started; /* submissions (all phases) */
    uint64_t req_done;    /* completions (all phases) */
    size_t reqidx;        /* next URL */
    _Atomic bool abandoned; /* connection-level failure: send nothing more */
    bool err_printed;
    /* queue mode */
    struct slot *slots;
    size_t *free_slots, nfree, inflight;
    /* figures */
    int64_t t_first_submit, t_first_done, t_last_done;
    uint64_t req_success; /* responses (any status) counted, for the per-client req/s */
    uint64_t bytes_base;  /* bytes_received at the start of the measured period */
    uint64_t bytes;       /* bytes_received during the measured period */
    /* blocking mode */
    _Atomic uint64_t claimed;
    pthread_mutex_t lock;
};

static struct client *clients;

static h2_client *make_client(void) {
    h2_config *cfg = h2_config_new();
    if (!cfg) return NULL;
    h2_result rc = h2_config_set_max_connections(cfg, 1);
    if (rc == H2_OK) rc = h2_config_set_max_concurrent_streams(cfg, (uint32_t)opt.max_streams);
    if (rc == H2_OK)
        rc = h2_config_set_initial_window_size(cfg, (uint32_t)((1ull << opt.window_bits) - 1));
    if (rc == H2_OK)
        rc = h2_config_set_connection_window_size(cfg,
                                                  (uint32_t)((1ull << opt.conn_window_bits) - 1));
    if (rc == H2_OK && tls_scheme) {
        /* A benchmark of local servers: self-signed certificates are the rule. */
        rc = h2_config_set_insecure_skip_verify(cfg, true);
    }
    /* No base URL: each request names its URL (all of one origin, see parse_args). */
    h2_client *c = rc == H2_OK ? h2_client_new(NULL, cfg) : NULL;
    h2_config_free(cfg);
    return c;
}

/* Connection-level failures end a client, as h2load abandons a client whose connection
 * failed; stream-level ones (reset, refused, timeout, too large) are counted and it goes on. */
static bool is_connection_error(h2_result code) {
    switch (code) {
    case H2_E_CONNECT:
    case H2_E_CONNECTION:
    case H2_E_TLS:
    case H2_E_GOAWAY:
    case H2_E_PROTOCOL:
    case H2_E_CLOSED:
    case H2_E_INTERNAL:
    case H2_E_FORKED:
    case H2_E_INVALID_ARGUMENT:
    case H2_E_INVALID_URL:
        return true;
    default:
        return false;
    }
}

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void report_error(struct client *cl, h2_result code, const char *msg) {
    pthread_mutex_lock(&print_lock);
    if (!cl->err_printed) {
        cl->err_printed = true;
        fprintf(stderr, "client #%zu: %s: %s\n", cl->id, h2_error_name(code),
                msg && *msg ? msg : h2_strerror(code));
    }
    pthread_mutex_unlock(&print_lock);
}

/* ---- progress (h2load: thread #0 every 10% of its requests) -------------------------------- */

static void report_progress(uint64_t done, uint64_t todo) {
    if (timing_mode || todo == 0) return;
    uint64_t interval = todo / 10 > 0 ? todo / 10 : 1;
    if (done % interval == 0) {
        printf("progress: %" PRIu64 "%% done\n", done * 100 / todo);
        fflush(stdout);
    }
}

/* ---- queue mode ---------------------------------------------------------------------------- */

struct driver {
    size_t id;
    pthread_t thread;
    struct client *clients;
    size_t nclients;
    uint64_t req_todo;
    uint64_t progress_done; /* completions of thread #0 for the progress lines */
    h2_queue *q;
    struct stats st;
};

static bool in_measured_period(int64_t t_submit, int64_t t_done) {
    if (!timing_mode) return true;
    return t_submit >= t_main_start && t_done <= t_main_end;
}

static uint64_t client_bytes(struct client *cl) {
    h2_stats st;
    if (h2_client_stats(cl->h, &st) != H2_OK) return 0;
    return st.bytes_received;
}

/* Submits the client's next request into a free slot. Returns false if nothing was sent. */
static bool submit_next(struct driver *d, struct client *cl) {
    if (cl->abandoned || cl->nfree == 0) return false;
    if (!timing_mode && cl->req_started >= cl->req_todo) return false;
    size_t slot = cl->free_slots[--cl->nfree];
    const h2_request *req = requests[cl->reqidx];
    if (++cl->reqidx == nrequests) cl->reqidx = 0;
    uint64_t tag = ((uint64_t)cl->id << 32) | (uint64_t)slot;
    h2_call *call = NULL;
    int64_t t = now_ns();
    h2_result rc = h2_client_submit(cl->h, req, d->q, tag, &call);
    ++cl->req_started;
    if (cl->t_first_submit == 0) cl->t_first_submit = t;
    if (rc != H2_OK) {
        char msg[256];
        h2_last_error_message(msg, sizeof msg);
        report_error(cl, rc, msg);
        h2_call_free(call);
        cl->free_slots[cl->nfree++] = slot;
        ++cl->req_done;
        if (!timing_mode || t >= t_main_start) {
            ++d->st.started;
            stats_error(&d->st, rc);
        }
        cl->abandoned = true;
        return false;
    }
    cl->slots[slot].call = call;
    cl->slots[slot].t_submit = t;
    ++cl->inflight;
    if (!timing_mode) ++d->st.started;
    return true;
}

static void handle_completion(struct driver *d, const h2_completion *c, int64_t t_done) {
    size_t cid = (size_t)(c->tag >> 32);
    size_t slot = (size_t)(c->tag & 0xffffffffu);
    struct client *cl = &clients[cid];
    struct slot *s = &cl->slots[slot];
    int64_t t_submit = s->t_submit;
    bool counted = in_measured_period(t_submit, t_done);

    int status = 0;
    size_t body_len = 0;
    h2_result rc = c->result;
    if (rc == H2_OK) {
        h2_response *resp = NULL;
        rc = h2_call_response(c->call, &resp);
        if (rc == H2_OK) {
            status = h2_response_status(resp);
            h2_response_body(resp, &body_len);
            h2_response_free(resp);
        }
    }
    if (rc != H2_OK) {
        h2_error_info info;
        h2_call_error(c->call, &info);
        report_error(cl, rc, info.message);
        if (is_connection_error(rc)) cl->abandoned = true;
    }
    h2_call_free(c->call);
    s->call = NULL;
    cl->free_slots[cl->nfree++] = slot;
    --cl->inflight;
    ++cl->req_done;
    if (cl->t_first_done == 0 && rc == H2_OK) cl->t_first_done = t_done;

    if (counted) {
        if (timing_mode) ++d->st.started;
        if (rc == H2_OK) {
            stats_response(&d->st, status, body_len, (double)(t_done - t_submit) / 1e9);
            ++cl->req_success;
        } else {
            stats_error(&d->st, rc);
        }
        cl->t_last_done = t_done;
        if (d->id == 0) report_progress(++d->progress_done, d->req_todo);
    }
}

/* -D: the warm-up is over: what was counted so far is forgotten. */
static void start_main_period(struct driver *d) {
    stats_reset_counters(&d->st);
    for (size_t i = 0; i < d->nclients; ++i) {
        struct client *cl = &d->clients[i];
        cl->req_success = 0;
        cl->bytes_base = client_bytes(cl);
    }
}

static void *driver_main(void *arg) {
    struct driver *d = arg;
    h2_completion comps[POLL_BATCH];
    bool main_started = !timing_mode || opt.warm_up <= 0;

    for (size_t i = 0; i < d->nclients; ++i) {
        struct client *cl = &d->clients[i];
        while (submit_next(d, cl)) {
        }
    }

    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < d->nclients && !busy; ++i) {
            if (d->clients[i].inflight > 0) busy = true;
        }
        if (!busy) break;

        int timeout = -1;
        if (timing_mode) {
            int64_t now = now_ns();
            int64_t next = main_started ? t_main_end : t_main_start;
            int64_t left = next - now;
            timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        }
        size_t n = h2_queue_poll(d->q, comps, POLL_BATCH, timeout);
        int64_t now = now_ns();
        if (timing_mode && !main_started && now >= t_main_start) {
            main_started = true;
            start_main_period(d);
        }
        for (size_t i = 0; i < n; ++i) {
            handle_completion(d, &comps[i], now);
        }
        if (timing_mode && now >= t_main_end) break;
        for (size_t i = 0; i < n; ++i) {
            struct client *cl = &clients[comps[i].tag >> 32];
            submit_next(d, cl);
        }
        if (n == 0 && timeout == -1) {
            /* An error: poll failed without waiting. */
            char msg[256];
            h2_last_error_message(msg, sizeof msg);
            fprintf(stderr, "h2_queue_poll failed: %s\n", msg);
            break;
        }
    }

    for (size_t i = 0; i < d->nclients; ++i) {
        struct client *cl = &d->clients[i];
        if (timing_mode) {
            cl->bytes = client_bytes(cl) - cl->bytes_base;
            /* Calls in flight at the end are cancelled and not counted. */
            for (size_t s = 0; s < opt.max_streams; ++s) {
                if (cl->slots[s].call) {
                    h2_call_free(cl->slots[s].call);
                    cl->slots[s].call = NULL;
                    --cl->inflight;
                }
            }
        } else {
            cl->bytes = client_bytes(cl);
        }
    }
    return NULL;
}

/* ---- blocking mode --------------------------------------------------------------------------- */

struct bthread {
    pthread_t thread;
    struct client *cl;
    struct stats st;
    size_t id;
};

static _Atomic uint64_t blocking_progress;

static void *bthread_main(void *arg) {
    struct bthread *b = arg;
    struct client *cl = b->cl;
    bool main_started = !timing_mode || opt.warm_up <= 0;
    for (;;) {
        uint64_t k = atomic_fetch_add(&cl->claimed, 1);
        if (!timing_mode && k >= cl->req_todo) break;
        if (cl->abandoned) {
            if (timing_mode) break;
            continue; /* counted as never sent at the end */
        }
        const h2_request *req = requests[k % nrequests];
        int64_t t_submit = now_ns();
        if (timing_mode && t_submit >= t_main_end) break;
        if (timing_mode && !main_started && t_submit >= t_main_start) {
            main_started = true;
            stats_reset_counters(&b->st);
        }
        h2_response *resp = NULL;
        h2_result rc = h2_client_do(cl->h, req, &resp);
        int64_t t_done = now_ns();
        int status = 0;
        size_t body_len = 0;
        if (rc == H2_OK) {
            status = h2_response_status(resp);
            h2_response_body(resp, &body_len);
            h2_response_free(resp);
        } else {
            char msg[256];
            h2_last_error_message(msg, sizeof msg);
            report_error(cl, rc, msg);
            if (is_connection_error(rc)) cl->abandoned = true;
        }
        bool counted = in_measured_period(t_submit, t_done);
        pthread_mutex_lock(&cl->lock);
        ++cl->req_started;
        ++cl->req_done;
        if (cl->t_first_submit == 0 || t_submit < cl->t_first_submit) cl->t_first_submit = t_submit;
        if (rc == H2_OK && (cl->t_first_done == 0 || t_done < cl->t_first_done)) {
            cl->t_first_done = t_done;
        }
        if (counted) {
            if (rc == H2_OK) ++cl->req_success;
            if (t_done > cl->t_last_done) cl->t_last_done = t_done;
        }
        pthread_mutex_unlock(&cl->lock);
        if (counted) {
            ++b->st.started;
            if (rc == H2_OK) {
                stats_response(&b->st, status, body_len, (double)(t_done - t_submit) / 1e9);
            } else {
                stats_error(&b->st, rc);
            }
            if (!timing_mode) {
                report_progress(atomic_fetch_add(&blocking_progress, 1) + 1, opt.nreqs);
            }
        }
    }
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------------------ */

static void die_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "h2bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'h2bench --help'.\n");
    exit(2);
}

/* A count with an optional K/M/G suffix (1024-based, as h2load's). */
static uint64_t parse_count(const char *s, const char *what) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-') die_usage("bad %s", what);
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') {
        mul = 1ull << 10, ++end;
    } else if (*end == 'm' || *end == 'M') {
        mul = 1ull << 20, ++end;
    } else if (*end == 'g' || *end == 'G') {
        mul = 1ull << 30, ++end;
    }
    if (*end) die_usage("bad %s", what);
    return (uint64_t)v * mul;
}

/* Seconds with an optional unit: 10, 10s, 500ms, 2m, 1h. */
static double parse_seconds(const char *s, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v)) die_usage("bad %s", what);
    if (!strcmp(end, "") || !strcmp(end, "s")) return v;
    if (!strcmp(end, "ms")) return v / 1000.;
    if (!strcmp(end, "m")) return v * 60.;
    if (!strcmp(end, "h")) return v * 3600.;
    die_usage("bad %s", what);
    return 0;
}

/*
 * The length of URL's "scheme://authority" prefix (0 without "://"). Only compared between
 * the URLs, to keep a run on one origin (parse_args); the library parses the URLs themselves.
 */
static size_t origin_len(const char *url) {
    const char *p = strstr(url, "://");
    return p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "h2bench: -d: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        if (!buf) {
            fprintf(stderr, "h2bench: out of memory\n");
            exit(1);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "h2bench: -d: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static void build_requests(void) {
    const char *method = opt.data_path ? "POST" : "GET";
    uint8_t *body = NULL;
    size_t body_len = 0;
    if (opt.data_path) body = read_file(opt.data_path, &body_len);
    bool has_ua = false;
    for (size_t i = 0; i < opt.nheaders; ++i) {
        if (!strncasecmp(opt.headers[i], ":method:", 8)) {
            const char *v = opt.headers[i] + 8;
            while (*v == ' ' || *v == '\t') ++v;
            method = v;
        }
        if (!strncasecmp(opt.headers[i], "user-agent:", 11)) has_ua = true;
    }
    char ua[128];
    snprintf(ua, sizeof ua, "h2bench h2client/%s", h2_version());

    nrequests = opt.nurls;
    requests = calloc(nrequests, sizeof *requests);
    for (size_t i = 0; i < nrequests; ++i) {
        h2_request *r = h2_request_new_url(method, opt.urls[i]);
        if (!r) {
            char msg[256];
            h2_last_error_message(msg, sizeof msg);
            fprintf(stderr, "h2bench: bad request (%s %s): %s\n", method, opt.urls[i], msg);
            exit(2);
        }
        if (!has_ua && h2_request_add_header(r, "user-agent", ua) != H2_OK) exit(1);
        for (size_t k = 0; k < opt.nheaders; ++k) {
            const char *h = opt.headers[k];
            if (!strncasecmp(h, ":method:", 8)) continue;
            const char *colon = strchr(h[0] == ':' ? h + 1 : h, ':');
            if (!colon) die_usage("-H: expected 'name: value', got %s", h);
            char *name = strndup(h, (size_t)(colon - h));
            const char *value = colon + 1;
            while (*value == ' ' || *value == '\t') ++value;
            const char *n = name;
            if (!strcasecmp(name, ":authority")) n = "host";
            if (h2_request_add_header(r, n, value) != H2_OK) {
                char msg[256];
                h2_last_error_message(msg, sizeof msg);
                fprintf(stderr, "h2bench: -H %s: %s\n", h, msg);
                exit(2);
            }
            free(name);
        }
        if (body && h2_request_set_body(r, body, body_len) != H2_OK) {
            fprintf(stderr, "h2bench: cannot set the body\n");
            exit(1);
        }
        requests[i] = r;
    }
    free(body);
}

static void parse_args(int argc, char **argv) {
    enum { OPT_WARMUP = 256, OPT_BLOCKING, OPT_JSON };
    static const struct option longopts[] = {
        {"requests", required_argument, NULL, 'n'},
        {"clients", required_argument, NULL, 'c'},
        {"max-concurrent-streams", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'D'},
        {"warm-up-time", required_argument, NULL, OPT_WARMUP},
        {"header", required_argument, NULL, 'H'},
        {"data", required_argument, NULL, 'd'},
        {"window-bits", required_argument, NULL, 'w'},
        {"connection-window-bits", required_argument, NULL, 'W'},
        {"blocking", no_argument, NULL, OPT_BLOCKING},
        {"json", required_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool n_given = false;
    int c;
    while ((c = getopt_long(argc, argv, "n:c:m:t:D:H:d:w:W:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            opt.nreqs = parse_count(optarg, "-n");
            n_given = true;
            break;
        case 'c':
            opt.nclients = (size_t)parse_count(optarg, "-c");
            break;
        case 'm':
            opt.max_streams = (size_t)parse_count(optarg, "-m");
            break;
        case 't':
            opt.nthreads = (size_t)parse_count(optarg, "-t");
            break;
        case 'D':
            opt.duration = parse_seconds(optarg, "-D");
            break;
        case OPT_WARMUP:
            opt.warm_up = parse_seconds(optarg, "--warm-up-time");
            break;
        case 'H':
            opt.headers = realloc(opt.headers, (opt.nheaders + 1) * sizeof *opt.headers);
            opt.headers[opt.nheaders++] = optarg;
            break;
        case 'd':
            opt.data_path = optarg;
            break;
        case 'w':
            opt.window_bits = (unsigned)parse_count(optarg, "-w");
            if (opt.window_bits < 1 || opt.window_bits > 31) die_usage("-w: %s", "1..31");
            break;
        case 'W':
            opt.conn_window_bits = (unsigned)parse_count(optarg, "-W");
            if (opt.conn_window_bits < 16 || opt.conn_window_bits > 31)
                die_usage("-W: %s", "16..31");
            break;
        case OPT_BLOCKING:
            opt.blocking = true;
            break;
        case OPT_JSON:
            opt.json_path = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            exit(0);
        default:
            fprintf(stderr, "Try 'h2bench --help'.\n");
            exit(2);
        }
    }
    if (optind >= argc) die_usage("%s", "no URL given");
    opt.urls = argv + optind;
    opt.nurls = (size_t)(argc - optind);
    if (opt.nclients == 0) die_usage("%s", "-c: must be at least 1");
    if (opt.max_streams == 0 || opt.max_streams > 0xffffffffu)
        die_usage("%s", "-m: must be at least 1");
    if (opt.nthreads == 0) die_usage("%s", "-t: must be at least 1");
    if (opt.warm_up > 0 && opt.duration <= 0) die_usage("%s", "--warm-up-time needs -D");
    timing_mode = opt.duration > 0;
    if (timing_mode && n_given) {
        fprintf(stderr, "h2bench: -n is ignored with -D\n");
    }
    if (!timing_mode) {
        if (opt.nreqs < opt.nclients)
            die_usage("%s", "-n: the number of requests must be greater than or equal to the "
                            "number of clients.");
    }
    if (!opt.blocking && opt.nclients < opt.nthreads) {
        fprintf(stderr, "-t: warning: the number of threads is greater than the number of "
                        "clients; using %zu threads\n", opt.nclients);
        opt.nthreads = opt.nclients;
    }

    /* Each client has ONE connection (max_connections 1), as an h2load client: every URL must
     * name the first one's origin. */
    size_t olen = origin_len(opt.urls[0]);
    for (size_t i = 1; i < opt.nurls; ++i) {
        if (origin_len(opt.urls[i]) != olen || strncasecmp(opt.urls[i], opt.urls[0], olen))
            die_usage("all URLs must share scheme://host:port (%s)", opt.urls[i]);
    }
    tls_scheme = !strncasecmp(opt.urls[0], "https://", 8);
}

/* ---- output ------------------------------------------------------------------------------------ */

static void print_sd_row(const char *title, struct sdstat s) {
    char a[64], b[64], c[64], d[64], e[64];
    format_duration_s(a, sizeof a, s.min);
    format_duration_s(b, sizeof b, s.max);
    format_duration_s(c, sizeof c, s.mean);
    format_duration_s(d, sizeof d, s.sd);
    dtos(e, sizeof e, s.within_sd);
    printf("%s%10s  %10s  %10s  %10s%9s%%\n", title, a, b, c, d, e);
}

static void json_stat(FILE *f, const char *name, struct sdstat s, double scale, bool last) {
    fprintf(f,
            "  \"%s\": {\"min\": %.3f, \"max\": %.3f, \"mean\": %.3f, \"sd\": %.3f, "
            "\"within_sd\": %.2f, \"samples\": %zu}%s\n",
            name, s.min * scale, s.max * scale, s.mean * scale, s.sd * scale, s.within_sd, s.n,
            last ? "" : ",");
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    build_requests();
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t nthreads_eff = opt.blocking ? opt.nclients * opt.max_streams : opt.nthreads;
    size_t max_samples_per_thread = MAX_SAMPLES / nthreads_eff;
    if (max_samples_per_thread < 256) max_samples_per_thread = 256;
    if (!timing_mode && max_samples_per_thread > opt.nreqs) max_samples_per_thread = (size_t)opt.nreqs;
    if (max_samples_per_thread == 0) max_samples_per_thread = 1;

    clients = calloc(opt.nclients, sizeof *clients);
    for (size_t i = 0; i < opt.nclients; ++i) {
        struct client *cl = &clients[i];
        cl->id = i;
        cl->h = make_client();
        if (!cl->h) {
            char msg[256];
            h2_last_error_message(msg, sizeof msg);
            fprintf(stderr, "h2bench: cannot create a client: %s\n", msg);
            return 1;
        }
        pthread_mutex_init(&cl->lock, NULL);
        if (!opt.blocking) {
            cl->slots = calloc(opt.max_streams, sizeof *cl->slots);
            cl->free_slots = malloc(opt.max_streams * sizeof *cl->free_slots);
            for (size_t s = 0; s < opt.max_streams; ++s) {
                cl->free_slots[s] = opt.max_streams - 1 - s;
            }
            cl->nfree = opt.max_streams;
        }
        cl->req_todo = UINT64_MAX;
    }

    printf("starting benchmark...\n");

    struct driver *drivers = NULL;
    struct bthread *bthreads = NULL;
    size_t nstats = 0;

    if (!opt.blocking) {
        drivers = calloc(opt.nthreads, sizeof *drivers);
        size_t per = opt.nclients / opt.nthreads, rem = opt.nclients % opt.nthreads;
        uint64_t rper = opt.nreqs / opt.nthreads, rrem = opt.nreqs % opt.nthreads;
        size_t next = 0;
        for (size_t i = 0; i < opt.nthreads; ++i) {
            struct driver *d = &drivers[i];
            d->id = i;
            d->nclients = per + (i < rem ? 1 : 0);
            d->clients = &clients[next];
            next += d->nclients;
            d->q = h2_queue_new();
            if (!d->q) {
                fprintf(stderr, "h2bench: h2_queue_new failed\n");
                return 1;
            }
            stats_init(&d->st, max_samples_per_thread, i + 1);
            if (timing_mode) {
                printf("spawning thread #%zu: %zu total client(s). Timing-based test with %gs of "
                       "warm-up time and %gs of main duration for measurements.\n",
                       i, d->nclients, opt.warm_up, opt.duration);
            } else {
                d->req_todo = rper + (i < rrem ? 1 : 0);
                uint64_t cper = d->req_todo / d->nclients, crem = d->req_todo % d->nclients;
                for (size_t k = 0; k < d->nclients; ++k) {
                    d->clients[k].req_todo = cper + (k < crem ? 1 : 0);
                }
                printf("spawning thread #%zu: %zu total client(s). %" PRIu64 " total requests\n",
                       i, d->nclients, d->req_todo);
            }
        }
        nstats = opt.nthreads;
    } else {
        bthreads = calloc(nthreads_eff, sizeof *bthreads);
        uint64_t cper = opt.nreqs / opt.nclients, crem = opt.nreqs % opt.nclients;
        for (size_t i = 0; i < opt.nclients; ++i) {
            if (!timing_mode) clients[i].req_todo = cper + (i < crem ? 1 : 0);
            for (size_t k = 0; k < opt.max_streams; ++k) {
                struct bthread *b = &bthreads[i * opt.max_streams + k];
                b->cl = &clients[i];
                b->id = i * opt.max_streams + k;
                stats_init(&b->st, max_samples_per_thread, b->id + 1);
            }
        }
        if (timing_mode) {
            printf("spawning %zu blocking thread(s): %zu total client(s), %zu thread(s) each. "
                   "Timing-based test with %gs of warm-up time and %gs of main duration for "
                   "measurements.\n",
                   nthreads_eff, opt.nclients, opt.max_streams, opt.warm_up, opt.duration);
        } else {
            printf("spawning %zu blocking thread(s): %zu total client(s), %zu thread(s) each. "
                   "%" PRIu64 " total requests\n",
                   nthreads_eff, opt.nclients, opt.max_streams, opt.nreqs);
        }
        nstats = nthreads_eff;
    }
    printf("Application protocol: %s\n", tls_scheme ? "h2" : "h2c");

    t_begin = now_ns();
    t_main_start = t_begin + (int64_t)(opt.warm_up * 1e9);
    t_main_end = t_main_start + (int64_t)(opt.duration * 1e9);

    if (!opt.blocking) {
        for (size_t i = 0; i < opt.nthreads; ++i) {
            if (pthread_create(&drivers[i].thread, NULL, driver_main, &drivers[i])) {
                fprintf(stderr, "h2bench: pthread_create failed\n");
                return 1;
            }
        }
        for (size_t i = 0; i < opt.nthreads; ++i) pthread_join(drivers[i].thread, NULL);
    } else {
        for (size_t i = 0; i < nthreads_eff; ++i) {
            if (pthread_create(&bthreads[i].thread, NULL, bthread_main, &bthreads[i])) {
                fprintf(stderr, "h2bench: pthread_create failed\n");
                return 1;
            }
        }
        if (timing_mode) {
            /* The blocking threads cannot watch the clock while they wait in h2_client_do:
             * this thread reads the byte counters at the period's bounds. */
            sleep_until(t_main_start);
            for (size_t i = 0; i < opt.nclients; ++i) clients[i].bytes_base = client_bytes(&clients[i]);
            sleep_until(t_main_end);
            for (size_t i = 0; i < opt.nclients; ++i) {
                clients[i].bytes = client_bytes(&clients[i]) - clients[i].bytes_base;
            }
        }
        for (size_t i = 0; i < nthreads_eff; ++i) pthread_join(bthreads[i].thread, NULL);
        if (!timing_mode) {
            for (size_t i = 0; i < opt.nclients; ++i) clients[i].bytes = client_bytes(&clients[i]);
        }
    }
    int64_t t_end = now_ns();
    if (timing_mode) {
        printf("Main benchmark duration is over. Stopping all clients.\n");
    }

    /* Totals. */
    struct stats tot;
    memset(&tot, 0, sizeof tot);
    size_t nsamples = 0;
    bool sampling = false;
    for (size_t i = 0; i < nstats; ++i) {
        struct stats *s = opt.blocking ? &bthreads[i].st : &drivers[i].st;
        tot.started += s->started;
        tot.done += s->done;
        tot.success += s->success;
        tot.status_success += s->status_success;
        tot.failed += s->failed;
        tot.errored += s->errored;
        tot.timedout += s->timedout;
        tot.body_bytes += s->body_bytes;
        for (int k = 0; k < 6; ++k) tot.status[k] += s->status[k];
        nsamples += s->nsamples;
        if (s->nseen > s->nsamples) sampling = true;
    }
    uint64_t bytes_total = 0;
    for (size_t i = 0; i < opt.nclients; ++i) bytes_total += clients[i].bytes;
    uint64_t req_todo = timing_mode ? tot.done : opt.nreqs;
    /* As h2load: requests never sent (abandoned clients) are failed and errored. */
    uint64_t not_issued = req_todo - tot.status_success - tot.failed;
    tot.failed += not_issued;
    tot.errored += not_issued;

    double *all = malloc((nsamples ? nsamples : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < nstats; ++i) {
        struct stats *s = opt.blocking ? &bthreads[i].st : &drivers[i].st;
        memcpy(all + k, s->samples, s->nsamples * sizeof *all);
        k += s->nsamples;
    }
    struct sdstat req_stat = compute_stat(all, nsamples, sampling);
    free(all);

    double *ttfb = malloc(opt.nclients * sizeof *ttfb), *rps = malloc(opt.nclients * sizeof *rps);
    size_t nttfb = 0, nrps = 0;
    for (size_t i = 0; i < opt.nclients; ++i) {
        struct client *cl = &clients[i];
        if (cl->t_first_submit && cl->t_first_done) {
            ttfb[nttfb++] = (double)(cl->t_first_done - cl->t_first_submit) / 1e9;
        }
        int64_t start = timing_mode ? t_main_start : cl->t_first_submit;
        int64_t end = timing_mode ? t_main_end : cl->t_last_done;
        if (start && end > start) {
            double t = (double)(end - start) / 1e9;
            if (t > 1e-9) rps[nrps++] = (double)cl->req_success / t;
        }
    }
    struct sdstat ttfb_stat = compute_stat(ttfb, nttfb, false);
    struct sdstat rps_stat = compute_stat(rps, nrps, false);
    free(ttfb);
    free(rps);

    int64_t dur_us = (t_end - t_begin) / 1000;
    double secs = timing_mode ? opt.duration : (double)dur_us / 1e6;
    double reqps = secs > 0 ? (double)tot.success / secs : 0;
    uint64_t bps = secs > 0 ? (uint64_t)((double)bytes_total / secs) : 0;

    char fin[64], bpsbuf[64], tb[64], db[64];
    format_duration_us(fin, sizeof fin, dur_us);
    utos_funit(bpsbuf, sizeof bpsbuf, bps);
    utos_funit(tb, sizeof tb, bytes_total);
    utos_funit(db, sizeof db, tot.body_bytes);
    printf("\nfinished in %s, %.2f req/s, %sB/s\n", fin, reqps, bpsbuf);
    printf("requests: %" PRIu64 " total, %" PRIu64 " started, %" PRIu64 " done, %" PRIu64
           " succeeded, %" PRIu64 " failed, %" PRIu64 " errored, %" PRIu64 " timeout\n",
           req_todo, tot.started, tot.done, tot.status_success, tot.failed, tot.errored,
           tot.timedout);
    printf("status codes: %" PRIu64 " 2xx, %" PRIu64 " 3xx, %" PRIu64 " 4xx, %" PRIu64 " 5xx\n",
           tot.status[2], tot.status[3], tot.status[4], tot.status[5]);
    printf("traffic: %sB (%" PRIu64 ") total, %sB (%" PRIu64 ") data\n", tb, bytes_total, db,
           tot.body_bytes);
    printf("                     min         max         mean         sd        +/- sd\n");
    print_sd_row("time for request: ", req_stat);
    print_sd_row("time to 1st byte: ", ttfb_stat);
    {
        char e[64];
        dtos(e, sizeof e, rps_stat.within_sd);
        printf("req/s           : %10.2f  %10.2f  %10.2f  %10.2f%9s%%\n", rps_stat.min,
               rps_stat.max, rps_stat.mean, rps_stat.sd, e);
    }

    if (opt.json_path) {
        FILE *f = fopen(opt.json_path, "w");
        if (!f) {
            fprintf(stderr, "h2bench: --json: cannot open %s: %s\n", opt.json_path,
                    strerror(errno));
        } else {
            fprintf(f, "{\n");
            fprintf(f, "  \"tool\": \"h2bench\",\n  \"library_version\": \"%s\",\n", h2_version());
            fprintf(f, "  \"mode\": \"%s\",\n", opt.blocking ? "blocking" : "queue");
            fprintf(f,
                    "  \"clients\": %zu,\n  \"max_concurrent_streams\": %zu,\n"
                    "  \"threads\": %zu,\n",
                    opt.nclients, opt.max_streams, nthreads_eff);
            fprintf(f, "  \"duration_s\": %.6f,\n  \"warm_up_s\": %.6f,\n",
                    timing_mode ? opt.duration : 0., opt.warm_up);
            fprintf(f, "  \"finished_s\": %.6f,\n", (double)dur_us / 1e6);
            fprintf(f, "  \"req_per_s\": %.2f,\n  \"bytes_per_s\": %" PRIu64 ",\n", reqps, bps);
            fprintf(f,
                    "  \"requests\": {\"total\": %" PRIu64 ", \"started\": %" PRIu64
                    ", \"done\": %" PRIu64 ", \"succeeded\": %" PRIu64 ", \"failed\": %" PRIu64
                    ", \"errored\": %" PRIu64 ", \"timeout\": %" PRIu64 "},\n",
                    req_todo, tot.started, tot.done, tot.status_success, tot.failed,
                    tot.errored, tot.timedout);
            fprintf(f,
                    "  \"status_codes\": {\"2xx\": %" PRIu64 ", \"3xx\": %" PRIu64
                    ", \"4xx\": %" PRIu64 ", \"5xx\": %" PRIu64 "},\n",
                    tot.status[2], tot.status[3], tot.status[4], tot.status[5]);
            fprintf(f, "  \"traffic\": {\"total_bytes\": %" PRIu64 ", \"data_bytes\": %" PRIu64
                       "},\n", bytes_total, tot.body_bytes);
            json_stat(f, "time_for_request_us", req_stat, 1e6, false);
            json_stat(f, "time_to_1st_byte_us", ttfb_stat, 1e6, false);
            json_stat(f, "client_req_per_s", rps_stat, 1, true);
            fprintf(f, "}\n");
            fclose(f);
        }
    }

    for (size_t i = 0; i < opt.nclients; ++i) {
        h2_client_free(clients[i].h);
        free(clients[i].slots);
        free(clients[i].free_slots);
        pthread_mutex_destroy(&clients[i].lock);
    }
    for (size_t i = 0; i < nstats; ++i) {
        struct stats *s = opt.blocking ? &bthreads[i].st : &drivers[i].st;
        free(s->samples);
        if (!opt.blocking) h2_queue_free(drivers[i].q);
    }
    for (size_t i = 0; i < nrequests; ++i) h2_request_free(requests[i]);
    free(requests);
    free(opt.headers);
    free(clients);
    free(drivers);
    free(bthreads);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
    return 0;
}
