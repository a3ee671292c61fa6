/*
 * h2get: a small curl-like HTTP/2 client over h2client's C API.
 *
 *   h2get [-X METHOD] [-H 'name: value']... [-d DATA | -d @FILE] [-o FILE] [-i] [-v]
 *         [--timeout MS] [-P PARALLEL] [--cacert FILE] [-k] [--cert FILE --key FILE] URL...
 *
 * http:// URLs use HTTP/2 over cleartext with prior knowledge, https:// URLs HTTP/2 over TLS
 * (ALPN h2); --cacert, -k, --cert and --key mean what they mean to curl. All URLs must share
 * scheme://host:port; they are fetched over ONE h2_client by a pool of up to PARALLEL threads
 * that each call the blocking h2_client_do. Bodies are written in URL order whatever the
 * completion order: each response is kept until every earlier one has been written. Exit
 * status: 0 if every request got a response (any HTTP status), 1 if any failed, 2 for usage
 * errors (unreadable or unusable certificate files included).
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2client.h"

#define DEFAULT_PARALLEL 8
#define MAX_PARALLEL 1024

static const char USAGE[] =
    "usage: h2get [-X METHOD] [-H 'name: value']... [-d DATA | -d @FILE] [-o FILE] [-i] [-v]\n"
    "             [--timeout MS] [-P PARALLEL] [--cacert FILE] [-k] [--cert FILE --key FILE]\n"
    "             URL...\n"
    "\n"
    "Fetches URLs over HTTP/2 and writes their bodies to stdout in URL order: http://\n"
    "URLs over cleartext with prior knowledge, https:// URLs over TLS (ALPN h2). All\n"
    "URLs must share scheme://host:port (one client).\n"
    "\n"
    "  -X, --request METHOD  request method (default GET, or POST with -d)\n"
    "  -H, --header 'N: V'   add a request header (repeatable)\n"
    "  -d, --data DATA       request body; @FILE reads it from FILE (@- from stdin);\n"
    "                        repeated -d values are joined with '&'\n"
    "  -o, --output FILE     write the output to FILE instead of stdout\n"
    "  -i, --include         write the status line and headers before each body\n"
    "  -v, --verbose         print connection, stream and request events to stderr\n"
    "      --timeout MS      per-request timeout in milliseconds (0 = none, the default)\n"
    "  -P, --parallel N      requests in flight at once (default 8)\n"
    "      --cacert FILE     https: trust the CA certificates in this PEM file instead\n"
    "                        of the system's store\n"
    "  -k, --insecure        https: accept any server certificate (no verification;\n"
    "                        for testing only)\n"
    "      --cert FILE       https: client certificate chain (PEM) for mutual TLS;\n"
    "                        needs --key\n"
    "      --key FILE        https: the client certificate's private key (PEM)\n"
    "  -h, --help            print this help\n"
    "\n"
    "Exit status: 0 if every request got a response (any HTTP status), 1 if one failed,\n"
    "2 for usage errors (including unreadable or unusable --cacert/--cert/--key files).\n";

/* ---- command line ---------------------------------------------------------------------- */

struct header {
    char *name; /* owned */
    const char *value;
    const char *arg; /* the -H argument, for messages */
};

static struct {
    const char *method;
    struct header *headers;
    size_t nheaders;
    uint8_t *body; /* owned */
    size_t body_len;
    int has_body;
    const char *output;
    int include;
    int verbose;
    uint32_t timeout_ms;
    unsigned long parallel;
    const char *cacert;
    int insecure;
    const char *cert;
    const char *key;
    const char **urls;
    size_t nurls;
} opt = {.parallel = DEFAULT_PARALLEL};

/* ---- per-URL work ---------------------------------------------------------------------- */

struct slot {
    const char *url;
    char *base; /* scheme://authority as given, for h2_client_new */
    char *origin; /* normalized scheme://host:port, for comparison */
    char *path;
    h2_request *req;
    /* Set by the worker (under work.lock): */
    int done;
    h2_result rc;
    h2_response *resp;
    char *error; /* h2_last_error_message's text when rc != H2_OK */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t next; /* next slot to fetch */
    struct slot *slots;
    size_t n;
    h2_client *client;
} work = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Serializes stderr lines: the event callback runs on library threads. */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static void errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&err_lock);
    fputs("h2get: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&err_lock);
    va_end(ap);
}

static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("h2get: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'h2get --help' for more information.\n", stderr);
    va_end(ap);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("h2get: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("h2get: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* The calling thread's last h2client error message, malloc'd. */
static char *last_error_message(void) {
    size_t len = h2_last_error_message(NULL, 0);
    char *msg = xmalloc(len + 1);
    h2_last_error_message(msg, len + 1);
    return msg;
}

/* ---- URLs ------------------------------------------------------------------------------ */

/*
 * Splits "scheme://authority/path?query#fragment" into the client's base URL, a normalized
 * origin used to check that all URLs share scheme://host:port, and the request path (the
 * fragment dropped, "/" if empty). Returns NULL on success, else what is wrong.
 */
static const char *split_url(struct slot *s) {
    const char *url = s->url;
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return "not an absolute URL (expected scheme://host[:port][/path])";
    for (const char *p = url; p < sep; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalpha(c) && !(p > url && (isdigit(c) || c == '+' || c == '-' || c == '.')))
            return "invalid scheme";
    }
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0)
        return "no host in URL";
    const char *rest = auth + auth_len;

    s->base = xstrndup(url, (size_t)(rest - url));

    /* Host and port, without any userinfo; IPv6 literals are bracketed. */
    const char *host = auth, *end = auth + auth_len;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            host = p + 1;
    const char *colon = NULL;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close)
            return "unterminated '[' in host";
        if (close + 1 < end) {
            if (close[1] != ':')
                return "invalid characters after ']' in host";
            colon = close + 1;
        }
    } else {
        for (const char *p = host; p < end; p++)
            if (*p == ':')
                colon = p;
    }
    const char *host_end = colon ? colon : end;
    if (host_end == host)
        return "no host in URL";
    unsigned long port = 0;
    int have_port = 0;
    if (colon && colon + 1 < end) {
        for (const char *p = colon + 1; p < end; p++)
            if (!isdigit((unsigned char)*p))
                return "invalid port";
        port = strtoul(colon + 1, NULL, 10);
        if (port > 65535)
            return "invalid port";
        have_port = 1;
    }
    size_t scheme_len = (size_t)(sep - url);
    if (!have_port) {
        if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
            port = 80, have_port = 1;
        else if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
            port = 443, have_port = 1;
    }
    size_t olen = scheme_len + 3 + (size_t)(host_end - host) + 8;
    s->origin = xmalloc(olen);
    snprintf(s->origin, olen, "%.*s://%.*s:%lu", (int)scheme_len, url,
             (int)(host_end - host), host, have_port ? port : 0);
    for (char *p = s->origin; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    /* Path: up to the fragment; a bare "?query" gets a leading "/". */
    size_t plen = strcspn(rest, "#");
    if (plen == 0) {
        s->path = xstrndup("/", 1);
    } else if (rest[0] == '?') {
        s->path = xmalloc(plen + 2);
        s->path[0] = '/';
        memcpy(s->path + 1, rest, plen);
        s->path[plen + 1] = '\0';
    } else {
        s->path = xstrndup(rest, plen);
    }
    return NULL;
}

/* ---- verbose output -------------------------------------------------------------------- */

static const char *h2_code_name(uint32_t code) {
    static const char *const names[] = {
        "NO_ERROR",         "PROTOCOL_ERROR", "INTERNAL_ERROR",     "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT", "STREAM_CLOSED",  "FRAME_SIZE_ERROR",   "REFUSED_STREAM",
        "CANCEL",           "COMPRESSION_ERROR", "CONNECT_ERROR",   "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
    };
    return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN_ERROR";
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Runs on library threads: formats one line and writes it under err_lock, nothing else. */
static void on_event(void *userdata, const h2_event *ev) {
    (void)userdata;
    char where[96] = "";
    if (ev->conn_id && ev->stream_id)
        snprintf(where, sizeof where, "[conn %" PRIu64 " stream %" PRIu32 "] ", ev->conn_id,
                 ev->stream_id);
    else if (ev->conn_id)
        snprintf(where, sizeof where, "[conn %" PRIu64 "] ", ev->conn_id);
    else if (ev->stream_id)
        snprintf(where, sizeof where, "[stream %" PRIu32 "] ", ev->stream_id);
    const char *msg = ev->message ? ev->message : "";

    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "* %s", where);
    switch (ev->kind) {
    case H2_EVENT_CONNECTED:
        fprintf(stderr, "%s%s\n", starts_with(msg, "connected") ? "" : "connected to ", msg);
        break;
    case H2_EVENT_CONNECT_FAILED:
        fprintf(stderr, "connect failed: %s\n", msg);
        break;
    case H2_EVENT_SETTINGS:
        if (starts_with(msg, "SETTINGS"))
            fprintf(stderr, "%s\n", msg);
        else
            fprintf(stderr, "SETTINGS max_concurrent_streams=%" PRIu64 " %s\n", ev->value, msg);
        break;
    case H2_EVENT_GOAWAY:
        fprintf(stderr, "GOAWAY %s last_stream_id=%" PRIu64 ": %s\n", h2_code_name(ev->h2_error),
                ev->value, msg);
        break;
    case H2_EVENT_CLOSED:
        if (ev->h2_error)
            fprintf(stderr, "connection closed (%s): %s\n", h2_code_name(ev->h2_error), msg);
        else
            fprintf(stderr, "connection closed: %s\n", msg);
        break;
    case H2_EVENT_STREAM_OPENED:
        fprintf(stderr, "opened %s\n", msg);
        break;
    case H2_EVENT_STREAM_CLOSED:
        fprintf(stderr, "closed status=%" PRIu64, ev->value);
        if (ev->h2_error)
            fprintf(stderr, " error=%s", h2_code_name(ev->h2_error));
        if (ev->value == 0 || ev->h2_error)
            fprintf(stderr, " (%s)", msg);
        fputc('\n', stderr);
        break;
    case H2_EVENT_RETRY:
        fprintf(stderr, "retrying (attempt %" PRIu64 "): %s\n", ev->value, msg);
        break;
    case H2_EVENT_RTT:
        fprintf(stderr, "RTT %" PRIu64 ".%03" PRIu64 " ms\n", ev->value / 1000,
                ev->value % 1000);
        break;
    default:
        fprintf(stderr, "event %" PRIu32 ": %s\n", ev->kind, msg);
        break;
    }
    pthread_mutex_unlock(&err_lock);
}

static void verbose_request(const struct slot *s) {
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "> %s %s\n", opt.method, s->path);
    for (size_t i = 0; i < opt.nheaders; i++)
        fprintf(stderr, "> %s: %s\n", opt.headers[i].name, opt.headers[i].value);
    if (opt.has_body)
        fprintf(stderr, "* request body: %zu bytes\n", opt.body_len);
    pthread_mutex_unlock(&err_lock);
}

static void write_fields(FILE *f, const char *prefix, const h2_response *resp, int trailers) {
    size_t n = trailers ? h2_response_trailer_count(resp) : h2_response_header_count(resp);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        h2_result rc = trailers
                           ? h2_response_trailer_at(resp, i, &name, &name_len, &value, &value_len)
                           : h2_response_header_at(resp, i, &name, &name_len, &value, &value_len);
        if (rc != H2_OK)
            continue;
        fputs(prefix, f);
        fwrite(name, 1, name_len, f);
        fputs(": ", f);
        fwrite(value, 1, value_len, f);
        fputc('\n', f);
    }
}

static void verbose_response(const struct slot *s, const h2_response *resp) {
    size_t len;
    h2_response_body(resp, &len);
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "< HTTP/2 %u\n", (unsigned)h2_response_status(resp));
    write_fields(stderr, "< ", resp, 0);
    fprintf(stderr, "* %s %s: %zu body bytes\n", opt.method, s->path, len);
    if (h2_response_trailer_count(resp) > 0) {
        fputs("* trailers:\n", stderr);
        write_fields(stderr, "< ", resp, 1);
    }
    pthread_mutex_unlock(&err_lock);
}

/* ---- workers --------------------------------------------------------------------------- */

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&work.lock);
        size_t i = work.next < work.n ? work.next++ : work.n;
        pthread_mutex_unlock(&work.lock);
        if (i == work.n)
            return NULL;
        struct slot *s = &work.slots[i];

        if (opt.verbose)
            verbose_request(s);
        h2_response *resp = NULL;
        h2_result rc = h2_client_do(work.client, s->req, &resp);
        char *error = rc == H2_OK ? NULL : last_error_message();
        if (rc == H2_OK && opt.verbose)
            verbose_response(s, resp);

        pthread_mutex_lock(&work.lock);
        s->rc = rc;
        s->resp = resp;
        s->error = error;
        s->done = 1;
        pthread_cond_broadcast(&work.cond);
        pthread_mutex_unlock(&work.lock);
    }
}

/* ---- option parsing helpers ------------------------------------------------------------ */

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Reads a whole file ("-" is stdin) into a malloc'd buffer. Returns 0 or an errno value. */
static int read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return errno;
    size_t cap = 65536, n = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    if (f != stdin)
        fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Appends a -d value (joined with '&' like curl when repeated). Returns 0 or exit status. */
static int add_data(const char *arg) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (arg[0] == '@') {
        int err = read_file(arg + 1, &data, &len);
        if (err) {
            usage_error("-d %s: %s", arg, strerror(err));
            return 2;
        }
    } else {
        len = strlen(arg);
        data = (uint8_t *)xstrndup(arg, len);
    }
    size_t sep = opt.has_body ? 1 : 0;
    opt.body = xrealloc(opt.body, opt.body_len + sep + len);
    if (sep)
        opt.body[opt.body_len] = '&';
    if (len)
        memcpy(opt.body + opt.body_len + sep, data, len);
    opt.body_len += sep + len;
    opt.has_body = 1;
    free(data);
    return 0;
}

static int add_header(const char *arg) {
    const char *colon = strchr(arg, ':');
    if (!colon) {
        usage_error("-H '%s': expected 'name: value'", arg);
        return 2;
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    opt.headers = xrealloc(opt.headers, (opt.nheaders + 1) * sizeof *opt.headers);
    opt.headers[opt.nheaders].name = xstrndup(arg, (size_t)(colon - arg));
    opt.headers[opt.nheaders].value = value;
    opt.headers[opt.nheaders].arg = arg;
    opt.nheaders++;
    return 0;
}

/* Applies option `name` (for messages) with letter `letter` and value `val`. */
static int apply_option(char letter, const char *name, const char *val) {
    unsigned long n;
    switch (letter) {
    case 'X':
        opt.method = val;
        return 0;
    case 'H':
        return add_header(val);
    case 'd':
        return add_data(val);
    case 'o':
        opt.output = val;
        return 0;
    case 'P':
        if (parse_ulong(val, 1, MAX_PARALLEL, &n) != 0) {
            usage_error("%s: invalid value '%s' (1..%d)", name, val, MAX_PARALLEL);
            return 2;
        }
        opt.parallel = n;
        return 0;
    case 'T':
        if (parse_ulong(val, 0, UINT32_MAX, &n) != 0) {
            usage_error("%s: invalid value '%s' (milliseconds)", name, val);
            return 2;
        }
        opt.timeout_ms = (uint32_t)n;
        return 0;
    case 'C':
        opt.cacert = val;
        return 0;
    case 'E':
        opt.cert = val;
        return 0;
    case 'K':
        opt.key = val;
        return 0;
    }
    return 2;
}

static const struct {
    const char *name;
    char letter;
    int has_value;
} LONG_OPTIONS[] = {
    {"request", 'X', 1}, {"header", 'H', 1},  {"data", 'd', 1},    {"output", 'o', 1},
    {"include", 'i', 0}, {"verbose", 'v', 0}, {"parallel", 'P', 1}, {"timeout", 'T', 1},
    {"cacert", 'C', 1},  {"insecure", 'k', 0}, {"cert", 'E', 1},     {"key", 'K', 1},
    {"help", 'h', 0},
};

/* Parses argv into `opt`. Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv) {
    opt.urls = xmalloc((size_t)argc * sizeof *opt.urls);
    int only_urls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_urls || a[0] != '-' || a[1] == '\0') {
            opt.urls[opt.nurls++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_urls = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            size_t k, nopts = sizeof LONG_OPTIONS / sizeof LONG_OPTIONS[0];
            for (k = 0; k < nopts; k++)
                if (strlen(LONG_OPTIONS[k].name) == nlen &&
                    strncmp(LONG_OPTIONS[k].name, name, nlen) == 0)
                    break;
            if (k == nopts) {
                usage_error("unknown option '%s'", a);
                return 2;
            }
            char letter = LONG_OPTIONS[k].letter;
            if (!LONG_OPTIONS[k].has_value) {
                if (eq) {
                    usage_error("option '--%s' takes no value", LONG_OPTIONS[k].name);
                    return 2;
                }
                if (letter == 'h') {
                    fputs(USAGE, stdout);
                    return 0;
                }
                if (letter == 'i')
                    opt.include = 1;
                else if (letter == 'k')
                    opt.insecure = 1;
                else
                    opt.verbose = 1;
                continue;
            }
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                usage_error("option '--%s' needs a value", LONG_OPTIONS[k].name);
                return 2;
            }
            char optname[32];
            snprintf(optname, sizeof optname, "--%s", LONG_OPTIONS[k].name);
            int rc = apply_option(letter, optname, val);
            if (rc != 0)
                return rc;
            continue;
        }
        /* Short options; flags may be grouped (-iv), a value may be attached (-XPOST). */
        for (const char *p = a + 1; *p; p++) {
            char c = *p;
            if (c == 'i') {
                opt.include = 1;
            } else if (c == 'v') {
                opt.verbose = 1;
            } else if (c == 'k') {
                opt.insecure = 1;
            } else if (c == 'h') {
                fputs(USAGE, stdout);
                return 0;
            } else if (strchr("XHdoP", c)) {
                const char *val = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val) {
                    usage_error("option '-%c' needs a value", c);
                    return 2;
                }
                char optname[3] = {'-', c, '\0'};
                int rc = apply_option(c, optname, val);
                if (rc != 0)
                    return rc;
                break;
            } else {
                usage_error("unknown option '-%c'", c);
                return 2;
            }
        }
    }
    if (opt.cert && !opt.key) {
        usage_error("--cert needs --key (the client certificate's private key)");
        return 2;
    }
    if (opt.key && !opt.cert) {
        usage_error("--key needs --cert (the client certificate)");
        return 2;
    }
    if (opt.nurls == 0) {
        usage_error("no URL given");
        return 2;
    }
    if (!opt.method)
        opt.method = opt.has_body ? "POST" : "GET";
    return -1;
}

/* ---- main ------------------------------------------------------------------------------ */

static int is_https(const char *url) {
    return strncasecmp(url, "https://", 8) == 0;
}

/* Reports a failed h2_config_set_* call: "h2get: H2_E_NAME: message". Returns 2. */
static int config_error(h2_result rc) {
    char *msg = last_error_message();
    errorf("%s: %s", h2_error_name(rc), msg);
    free(msg);
    return 2;
}

/* Applies --cacert, -k, --cert/--key to `cfg`. Returns 0, or 2 after printing why. */
static int configure_tls(h2_config *cfg) {
    h2_result rc;
    if (opt.cacert && (rc = h2_config_set_ca_file(cfg, opt.cacert)) != H2_OK)
        return config_error(rc);
    if (opt.insecure && (rc = h2_config_set_insecure_skip_verify(cfg, true)) != H2_OK)
        return config_error(rc);
    if (opt.cert && (rc = h2_config_set_client_cert_file(cfg, opt.cert, opt.key)) != H2_OK)
        return config_error(rc);
    if (!opt.verbose || !(opt.cacert || opt.insecure || opt.cert))
        return 0;
    if (!is_https(work.slots[0].url)) {
        fputs("* TLS: options ignored for a cleartext http:// URL\n", stderr);
        return 0;
    }
    if (opt.cacert)
        fprintf(stderr, "* TLS: trusting %s\n", opt.cacert);
    if (opt.insecure)
        fputs("* TLS: certificate verification DISABLED (-k)\n", stderr);
    if (opt.cert)
        fprintf(stderr, "* TLS: client certificate %s, key %s\n", opt.cert, opt.key);
    return 0;
}

/* Builds the request of one slot. Returns 0, or 2 after printing why. */
static int build_request(struct slot *s) {
    s->req = h2_request_new(opt.method, s->path);
    if (!s->req) {
        h2_error_info info;
        h2_result rc = h2_last_error(&info);
        char *msg = last_error_message();
        errorf("%s: %s: %s", s->url, h2_error_name(rc), msg);
        free(msg);
        return 2;
    }
    for (size_t i = 0; i < opt.nheaders; i++) {
        h2_result rc = h2_request_add_header(s->req, opt.headers[i].name, opt.headers[i].value);
        if (rc != H2_OK) {
            char *msg = last_error_message();
            errorf("-H '%s': %s: %s", opt.headers[i].arg, h2_error_name(rc), msg);
            free(msg);
            return 2;
        }
    }
    h2_result rc = H2_OK;
    if (opt.has_body && opt.body_len > 0)
        rc = h2_request_set_body(s->req, opt.body, opt.body_len);
    if (rc == H2_OK && opt.timeout_ms > 0)
        rc = h2_request_set_timeout_ms(s->req, opt.timeout_ms);
    if (rc != H2_OK) {
        char *msg = last_error_message();
        errorf("%s: %s: %s", s->url, h2_error_name(rc), msg);
        free(msg);
        return 2;
    }
    return 0;
}

/* Writes one finished slot to `out`; returns 0 if the request succeeded. */
static int emit(FILE *out, const struct slot *s) {
    if (s->rc != H2_OK) {
        errorf("%s: %s: %s", s->url, h2_error_name(s->rc), s->error ? s->error : "");
        return 1;
    }
    if (opt.include) {
        fprintf(out, "HTTP/2 %u\n", (unsigned)h2_response_status(s->resp));
        write_fields(out, "", s->resp, 0);
        fputc('\n', out);
    }
    size_t len;
    const uint8_t *body = h2_response_body(s->resp, &len);
    if (len)
        fwrite(body, 1, len, out);
    return 0;
}

static void cleanup(void) {
    for (size_t i = 0; i < work.n; i++) {
        struct slot *s = &work.slots[i];
        free(s->base);
        free(s->origin);
        free(s->path);
        free(s->error);
        h2_request_free(s->req);
        h2_response_free(s->resp);
    }
    free(work.slots);
    for (size_t i = 0; i < opt.nheaders; i++)
        free(opt.headers[i].name);
    free(opt.headers);
    free(opt.body);
    free(opt.urls);
    h2_client_free(work.client);
}

int main(int argc, char **argv) {
    int status = parse_args(argc, argv);
    if (status >= 0) {
        cleanup();
        return status;
    }

    work.n = opt.nurls;
    work.slots = xmalloc(work.n * sizeof *work.slots);
    memset(work.slots, 0, work.n * sizeof *work.slots);
    for (size_t i = 0; i < work.n; i++) {
        struct slot *s = &work.slots[i];
        s->url = opt.urls[i];
        const char *why = split_url(s);
        if (why) {
            usage_error("%s: %s", s->url, why);
            cleanup();
            return 2;
        }
        if (i > 0 && strcmp(s->origin, work.slots[0].origin) != 0) {
            usage_error("%s: not the same scheme://host:port as %s (%s vs %s); "
                        "all URLs must share one",
                        s->url, work.slots[0].url, s->origin, work.slots[0].origin);
            cleanup();
            return 2;
        }
    }

    h2_config *cfg = h2_config_new();
    if (!cfg) {
        fputs("h2get: out of memory\n", stderr);
        cleanup();
        return 1;
    }
    if (opt.verbose)
        h2_config_set_event_callback(cfg, on_event, NULL);
    if (configure_tls(cfg) != 0) {
        h2_config_free(cfg);
        cleanup();
        return 2;
    }
    work.client = h2_client_new(work.slots[0].base, cfg);
    h2_config_free(cfg);
    if (!work.client) {
        h2_error_info info;
        h2_result rc = h2_last_error(&info);
        char *msg = last_error_message();
        errorf("%s: %s: %s", work.slots[0].url, h2_error_name(rc), msg);
        free(msg);
        cleanup();
        return rc == H2_E_INVALID_URL || rc == H2_E_INVALID_ARGUMENT ? 2 : 1;
    }
    for (size_t i = 0; i < work.n; i++) {
        if (build_request(&work.slots[i]) != 0) {
            cleanup();
            return 2;
        }
    }

    FILE *out = stdout;
    if (opt.output && !(out = fopen(opt.output, "wb"))) {
        errorf("%s: %s", opt.output, strerror(errno));
        cleanup();
        return 1;
    }

    size_t nthreads = opt.parallel < work.n ? opt.parallel : work.n;
    pthread_t *threads = xmalloc(nthreads * sizeof *threads);
    size_t started = 0;
    for (; started < nthreads; started++) {
        int e = pthread_create(&threads[started], NULL, worker, NULL);
        if (e != 0) {
            errorf("pthread_create: %s (continuing with %zu threads)", strerror(e), started);
            break;
        }
    }
    if (started == 0)
        worker(NULL); /* no thread could be started: fetch everything from here */

    /* Write in URL order, each as soon as it and all earlier ones are done. */
    int failed = 0;
    for (size_t i = 0; i < work.n; i++) {
        struct slot *s = &work.slots[i];
        pthread_mutex_lock(&work.lock);
        while (!s->done)
            pthread_cond_wait(&work.cond, &work.lock);
        pthread_mutex_unlock(&work.lock);
        if (emit(out, s) != 0)
            failed = 1;
        else if (fflush(out) != 0)
            break; /* reported below */
        h2_response_free(s->resp);
        s->resp = NULL;
    }

    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);

    int write_failed = ferror(out) != 0;
    int write_errno = errno;
    if (out != stdout) {
        if (fclose(out) != 0 && !write_failed)
            write_failed = 1, write_errno = errno;
    } else if (fflush(stdout) != 0 && !write_failed) {
        write_failed = 1, write_errno = errno;
    }
    if (write_failed) {
        errorf("%s: write error: %s", opt.output ? opt.output : "stdout", strerror(write_errno));
        failed = 1;
    }
    cleanup();
    return failed ? 1 : 0;
}
