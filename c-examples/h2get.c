/*
 * h2get: a small curl-like HTTP/2 client over h2client's C API.
 *
 *   h2get [-X METHOD] [-H 'name: value']... [-d DATA | -d @FILE] [-o FILE] [-i] [-v]
 *         [--timeout MS] [-P PARALLEL] [--cacert FILE] [-k] [--cert FILE --key FILE]
 *         [-x PROXY] [--noproxy LIST] [-L [--max-redirs N]] [--resolve ...]
 *         [--connect-to ...] [--interface ADDR] [--unix-socket PATH] URL...
 *
 * http:// URLs use HTTP/2 over cleartext with prior knowledge, https:// URLs HTTP/2 over TLS
 * (ALPN h2); --cacert, -k, --cert, --key, -x/--proxy and --noproxy mean what they mean to
 * curl (h2_config_set_proxy, h2_config_set_no_proxy; without -x, the proxy environment
 * variables apply, as in curl). URLs may name any
 * origins; they are fetched over ONE h2_client made without a base URL, each request made
 * from its absolute URL (h2_request_new_url), so each origin gets its own connections.
 *
 * Data path: every request is a call from h2_client_start, and bodies are streamed: the
 * current URL's body is written to stdout (or -o FILE) as it arrives, taken piece by piece
 * with h2_call_read_view (no copy: each piece is written from the buffer the library read it
 * into), so a body of any size goes through in bounded memory. Output stays in URL order: up to
 * PARALLEL calls are in flight (the current one and the next ones), but a later call is read
 * only when its turn comes; until then the library holds at most one stream window of its
 * body (h2_config_set_initial_window_size, 4 MiB by default) and flow control pauses the
 * server. Memory is thus bounded by PARALLEL stream windows, whatever the body sizes; and
 * --timeout (h2_request_set_timeout_ms, the whole call) also counts the time a started URL
 * waits for its turn. A request body from -d @FILE (a regular file) is streamed from the file
 * with h2_call_write by one uploader thread per call, never read into memory whole, with a
 * content-length of the file's size (unless -H gives one); -d DATA and -d @- (stdin) are
 * buffered and sent with h2_request_set_body.
 *
 * -L follows redirects (h2_config_set_follow_redirects, up to --max-redirs, default 50 as in
 * curl); a request whose body is streamed from a file is not re-sent, its 3xx is the response.
 * -i prints the final response's head only.
 *
 * Ctrl-C: SIGINT is blocked in every thread and taken by a dedicated thread with sigwait,
 * which cancels every active call (h2_call_cancel). Blocked reads and writes then return
 * H2_E_CANCELED, h2get prints "h2get: URL: H2_E_CANCELED: ..." for each unfinished URL and
 * exits 130. A second Ctrl-C exits at once. (If SIGINT was ignored when h2get started, as for
 * background jobs of a non-interactive shell, it stays ignored.)
 *
 * Errors: one line each on stderr, "h2get: URL: H2_E_NAME: message" for a failure of one URL
 * (its request, or the URL itself: H2_E_INVALID_URL), "h2get: H2_E_NAME: message" for one
 * that no single URL has (options, certificate files, the output): H2_E_INVALID_ARGUMENT
 * for a bad option or value and for h2get's own files (-d @FILE, -o FILE, stdout), the
 * library's code for what it refused (H2_E_TLS for --cacert, ...). The name is the stable
 * part for scripts; a header that the library refuses is an option error ("-H '...': ...").
 *
 * Exit status: 0 if every request got a response (any HTTP status), 1 if any failed, 2 for
 * usage errors (unreadable or unusable certificate files included), 130 if interrupted.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "h2client.h"

#define DEFAULT_PARALLEL 8
/* --max-redirs default, as curl's. */
#define DEFAULT_MAX_REDIRS 50
#define MAX_PARALLEL 1024
/* Response body pieces taken (and written with one writev) at a time. */
#define VIEW_PIECES 64
/* Streamed request bodies are read from their files in pieces of this size. */
#define UPLOAD_PIECE (64 * 1024)
/* Exit status after SIGINT, as for a shell's child killed by it. */
#define EXIT_INTERRUPTED 130

static const char USAGE[] =
    "usage: h2get [-X METHOD] [-H 'name: value']... [-d DATA | -d @FILE] [-o FILE] [-i] [-v]\n"
    "             [--timeout MS] [-P PARALLEL] [--cacert FILE] [-k] [--cert FILE --key FILE]\n"
    "             [-x PROXY] [--noproxy LIST] [-L [--max-redirs N]] URL...\n"
    "\n"
    "Fetches URLs over HTTP/2 and writes their bodies to stdout in URL order, as they\n"
    "arrive: http:// URLs over cleartext with prior knowledge, https:// URLs over TLS\n"
    "(ALPN h2). URLs may name several origins (one client, connections per origin).\n"
    "\n"
    "  -X, --request METHOD  request method (default GET, or POST with -d)\n"
    "  -H, --header 'N: V'   add a request header (repeatable)\n"
    "  -d, --data DATA       request body; @FILE streams it from FILE (@- reads stdin);\n"
    "                        repeated -d values are joined with '&'\n"
    "  -o, --output FILE     write the output to FILE instead of stdout\n"
    "  -i, --include         write the status line and headers before each body\n"
    "  -v, --verbose         print connection, stream and request events to stderr\n"
    "      --timeout MS      per-request timeout in milliseconds (0 = none, the default)\n"
    "  -P, --parallel N      requests in flight at once (default 8)\n"
    "  -L, --location        follow redirects (301, 302, 303, 307, 308); not from https\n"
    "                        to http, and not for a body streamed from a file (-d @FILE)\n"
    "      --max-redirs N    most redirects followed per URL with -L (default 50);\n"
    "                        one more fails the URL with H2_E_TOO_MANY_REDIRECTS\n"
    "      --cacert FILE     https: trust the CA certificates in this PEM file instead\n"
    "                        of the system's store\n"
    "  -k, --insecure        https: accept any server certificate (no verification;\n"
    "                        for testing only)\n"
    "      --cert FILE       https: client certificate chain (PEM) for mutual TLS;\n"
    "                        needs --key\n"
    "      --key FILE        https: the client certificate's private key (PEM)\n"
    "  -x, --proxy URL       use this proxy: http://[user:pass@]host[:port] (CONNECT\n"
    "                        tunnel), https://, socks5:// or socks5h://; \"\" = none. Default:\n"
    "                        the environment (https_proxy, http_proxy, all_proxy,\n"
    "                        as curl)\n"
    "      --noproxy LIST    hosts, IPs, CIDR blocks (comma-separated) or * that bypass\n"
    "                        the proxy (overrides no_proxy/NO_PROXY)\n"
    "      --resolve HOST:PORT:ADDR[,ADDR]...  dial ADDR for HOST:PORT (repeatable)\n"
    "      --connect-to HOST1:PORT1:HOST2:PORT2  dial HOST2:PORT2 instead (repeatable)\n"
    "      --interface ADDR  bind connections to this local IP address\n"
    "      --unix-socket PATH  connect over this Unix socket (URLs still name the origin)\n"
    "  -h, --help            print this help\n"
    "\n"
    "Errors go to stderr, one line each: 'h2get: URL: H2_E_NAME: message' for a URL\n"
    "that failed (H2_E_INVALID_URL if it is malformed), 'h2get: H2_E_NAME: message'\n"
    "otherwise (H2_E_INVALID_ARGUMENT for options, -H headers and h2get's own files).\n"
    "\n"
    "Ctrl-C cancels the requests in flight. Exit status: 0 if every request got a\n"
    "response (any HTTP status), 1 if one failed, 2 for usage errors (including unreadable\n"
    "or unusable --cacert/--cert/--key files), 130 if interrupted.\n";

/* ---- command line ---------------------------------------------------------------------- */

struct header {
    char *name; /* owned */
    const char *value;
    const char *arg; /* the -H argument, for messages */
};

/*
 * The request body is a sequence of parts: bytes in memory (-d DATA, -d @-, the '&'
 * separators, non-regular files) and regular files streamed at send time (-d @FILE).
 * Adjacent in-memory bytes are kept in one part.
 */
struct body_part {
    uint8_t *data; /* owned; NULL for a file part */
    size_t len;    /* bytes in memory, or the file's size when the options were parsed */
    const char *path; /* file part: the file to stream */
};

static struct {
    const char *method;
    struct header *headers;
    size_t nheaders;
    struct body_part *parts;
    size_t nparts;
    uint64_t body_len; /* sum of the parts */
    int has_body;
    int stream_body; /* some part is a file: stream with h2_call_write */
    const char *output;
    int include;
    int verbose;
    uint32_t timeout_ms;
    unsigned long parallel;
    const char *cacert;
    int insecure;
    const char *proxy;   /* -x: NULL = the environment */
    const char *noproxy; /* --noproxy: NULL = the environment */
    const char *resolve[16];    /* --resolve entries */
    size_t nresolve;
    const char *connect_to[16]; /* --connect-to entries */
    size_t nconnect_to;
    const char *interface;      /* --interface: a local IP address */
    const char *unix_socket;    /* --unix-socket: every connection over this socket */
    const char *cert;
    const char *key;
    int location;
    uint32_t max_redirs;
    const char **urls;
    size_t nurls;
} opt = {.parallel = DEFAULT_PARALLEL, .max_redirs = DEFAULT_MAX_REDIRS};

/* ---- per-URL work ---------------------------------------------------------------------- */

struct slot {
    const char *url;
    h2_request *req; /* made from the whole URL: the library parses it */
    /* Set when the call is started (main thread); `call` is changed under ctl.lock, so
     * that the signal thread never cancels a freed call. */
    int started;
    h2_call *call;
    h2_result rc; /* != H2_OK: h2_client_start or the call failed; `error` says why */
    char *error;
    /* The uploader thread of a streamed body; it sets upload_error (malloc'd) if it had to
     * cancel the call (a file that cannot be read, or changed size). */
    pthread_t uploader;
    int has_uploader;
    char *upload_error;
    h2_result upload_rc; /* the H2_E_* name reported with upload_error */
};

static struct {
    struct slot *slots;
    size_t n;
    h2_client *client;
} work;

/* What the signal thread and the main thread share. */
static struct {
    pthread_mutex_t lock;
    atomic_int interrupted; /* set once by the signal thread */
    int quit; /* set by main (under lock) before it wakes the signal thread to end it */
    int active; /* whether the signal thread runs */
    pthread_t thread;
    sigset_t set; /* {SIGINT} */
} ctl = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

/* A usage error: "h2get: [URL: ]H2_E_NAME: message" (URL NULL for errors no single URL
 * has), then the --help hint. */
static void vusage_error(const char *url, h2_result code, const char *fmt, va_list ap) {
    if (url)
        fprintf(stderr, "h2get: %s: %s: ", url, h2_error_name(code));
    else
        fprintf(stderr, "h2get: %s: ", h2_error_name(code));
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'h2get --help' for more information.\n", stderr);
}

/* A bad option or option value: H2_E_INVALID_ARGUMENT, tied to no URL. */
static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vusage_error(NULL, H2_E_INVALID_ARGUMENT, fmt, ap);
    va_end(ap);
}

/* A usage error about one URL. */
static void url_usage_error(const char *url, h2_result code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vusage_error(url, code, fmt, ap);
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

static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc(len > 0 ? (size_t)len + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(s, len > 0 ? (size_t)len + 1 : 1, fmt, ap);
    va_end(ap);
    return s;
}

/* The calling thread's last h2client error message, malloc'd. */
static char *last_error_message(void) {
    size_t len = h2_last_error_message(NULL, 0);
    char *msg = xmalloc(len + 1);
    h2_last_error_message(msg, len + 1);
    return msg;
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
    case H2_EVENT_FLOW_STALL:
        fprintf(stderr, "request body waits for the server's flow-control window: %s\n", msg);
        break;
    case H2_EVENT_LIMIT:
        if (ev->h2_error)
            fprintf(stderr, "limit tripped (%s): %s\n", h2_code_name(ev->h2_error), msg);
        else
            fprintf(stderr, "limit tripped: %s\n", msg);
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

/* The path and query of the call's URL, as the library serializes it (h2_call_effective_url:
 * "scheme://host[:port]/path?query"): what it sends as :path. */
static const char *call_path(const h2_call *call) {
    const char *url = h2_call_effective_url(call);
    const char *authority = url ? strstr(url, "://") : NULL;
    const char *path = authority ? strchr(authority + 3, '/') : NULL;
    return path ? path : "/";
}

/* -v, once the call is started. */
static void verbose_request(const struct slot *s) {
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "> %s %s\n", opt.method, call_path(s->call));
    for (size_t i = 0; i < opt.nheaders; i++)
        fprintf(stderr, "> %s: %s\n", opt.headers[i].name, opt.headers[i].value);
    if (opt.has_body)
        fprintf(stderr, "* request body: %" PRIu64 " bytes%s\n", opt.body_len,
                opt.stream_body ? " (streamed)" : "");
    pthread_mutex_unlock(&err_lock);
}

/* Writes the call's response headers (or trailers) as "PREFIXname: value" lines. */
static void write_fields(FILE *f, const char *prefix, const h2_call *call, int trailers) {
    size_t n = trailers ? h2_call_trailer_count(call) : h2_call_header_count(call);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        h2_result rc = trailers
                           ? h2_call_trailer_at(call, i, &name, &name_len, &value, &value_len)
                           : h2_call_header_at(call, i, &name, &name_len, &value, &value_len);
        if (rc != H2_OK)
            continue;
        fputs(prefix, f);
        fwrite(name, 1, name_len, f);
        fputs(": ", f);
        fwrite(value, 1, value_len, f);
        fputc('\n', f);
    }
}

/* -v, once the head has arrived: the status line and headers. */
static void verbose_head(const h2_call *call) {
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "< HTTP/2 %u\n", (unsigned)h2_call_status(call));
    write_fields(stderr, "< ", call, 0);
    pthread_mutex_unlock(&err_lock);
}

/* -v, once the body has ended: its size and the trailers. */
static void verbose_end(const struct slot *s, uint64_t body_bytes) {
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "* %s %s: %" PRIu64 " body bytes\n", opt.method, call_path(s->call),
            body_bytes);
    if (h2_call_trailer_count(s->call) > 0) {
        fputs("* trailers:\n", stderr);
        write_fields(stderr, "< ", s->call, 1);
    }
    pthread_mutex_unlock(&err_lock);
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

/* Appends bytes to the body, to the last part if it is in memory. */
static void add_bytes(const uint8_t *data, size_t len) {
    struct body_part *last = opt.nparts ? &opt.parts[opt.nparts - 1] : NULL;
    if (!last || !last->data) {
        opt.parts = xrealloc(opt.parts, (opt.nparts + 1) * sizeof *opt.parts);
        last = &opt.parts[opt.nparts++];
        *last = (struct body_part){.data = xmalloc(1)};
    }
    last->data = xrealloc(last->data, last->len + len);
    if (len)
        memcpy(last->data + last->len, data, len);
    last->len += len;
    opt.body_len += len;
}

/*
 * Appends a -d value (joined with '&' like curl when repeated). @FILE of a regular file
 * becomes a file part, streamed when sent (its size now, for content-length); @- and other
 * files (pipes, devices: they can be read only once) are read into memory now. Returns 0 or
 * an exit status.
 */
static int add_data(const char *arg) {
    if (opt.has_body)
        add_bytes((const uint8_t *)"&", 1);
    opt.has_body = 1;
    if (arg[0] != '@') {
        add_bytes((const uint8_t *)arg, strlen(arg));
        return 0;
    }
    const char *path = arg + 1;
    struct stat st;
    if (strcmp(path, "-") != 0) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            usage_error("-d %s: %s", arg, strerror(errno));
            return 2;
        }
        int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
        fclose(f);
        if (regular) {
            opt.parts = xrealloc(opt.parts, (opt.nparts + 1) * sizeof *opt.parts);
            opt.parts[opt.nparts++] =
                (struct body_part){.len = (size_t)st.st_size, .path = path};
            opt.body_len += (uint64_t)st.st_size;
            opt.stream_body = 1;
            return 0;
        }
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int err = read_file(path, &data, &len);
    if (err) {
        usage_error("-d %s: %s", arg, strerror(err));
        return 2;
    }
    add_bytes(data, len);
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
    case 'M':
        if (parse_ulong(val, 0, UINT32_MAX, &n) != 0) {
            usage_error("%s: invalid value '%s' (a count)", name, val);
            return 2;
        }
        opt.max_redirs = (uint32_t)n;
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
    case 'x':
        opt.proxy = val;
        return 0;
    case 'N':
        opt.noproxy = val;
        return 0;
    case 'R':
    case 'G':
        if ((letter == 'R' ? opt.nresolve : opt.nconnect_to) >= 16) {
            usage_error("%s: at most 16 entries", name);
            return 2;
        }
        if (letter == 'R')
            opt.resolve[opt.nresolve++] = val;
        else
            opt.connect_to[opt.nconnect_to++] = val;
        return 0;
    case 'I':
        opt.interface = val;
        return 0;
    case 'U':
        opt.unix_socket = val;
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
    {"proxy", 'x', 1},   {"noproxy", 'N', 1}, {"location", 'L', 0},
    {"resolve", 'R', 1}, {"connect-to", 'G', 1}, {"interface", 'I', 1},
    {"unix-socket", 'U', 1}, {"max-redirs", 'M', 1}, {"help", 'h', 0},
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
                else if (letter == 'L')
                    opt.location = 1;
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
            } else if (c == 'L') {
                opt.location = 1;
            } else if (c == 'h') {
                fputs(USAGE, stdout);
                return 0;
            } else if (strchr("XHdoPx", c)) {
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
    if (opt.proxy && (rc = h2_config_set_proxy(cfg, opt.proxy)) != H2_OK)
        return config_error(rc);
    if (opt.noproxy && (rc = h2_config_set_no_proxy(cfg, opt.noproxy)) != H2_OK)
        return config_error(rc);
    for (size_t i = 0; i < opt.nresolve; i++)
        if ((rc = h2_config_add_resolve(cfg, opt.resolve[i])) != H2_OK)
            return config_error(rc);
    for (size_t i = 0; i < opt.nconnect_to; i++)
        if ((rc = h2_config_add_connect_to(cfg, opt.connect_to[i])) != H2_OK)
            return config_error(rc);
    if (opt.interface && (rc = h2_config_set_local_address(cfg, opt.interface)) != H2_OK)
        return config_error(rc);
    if (opt.unix_socket && (rc = h2_config_set_unix_socket(cfg, opt.unix_socket)) != H2_OK)
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
    s->req = h2_request_new_url(opt.method, s->url);
    if (!s->req) {
        h2_error_info info;
        h2_result rc = h2_last_error(&info);
        char *msg = last_error_message();
        if (rc == H2_E_INVALID_URL)
            url_usage_error(s->url, rc, "%s", msg);
        else
            errorf("%s: %s: %s", s->url, h2_error_name(rc), msg);
        free(msg);
        return 2;
    }
    for (size_t i = 0; i < opt.nheaders; i++) {
        h2_result rc = h2_request_add_header(s->req, opt.headers[i].name, opt.headers[i].value);
        if (rc != H2_OK) {
            char *msg = last_error_message();
            /* Every request would refuse it: an option error, not one URL's. */
            errorf("%s: -H '%s': %s", h2_error_name(rc), opt.headers[i].arg, msg);
            free(msg);
            return 2;
        }
    }
    h2_result rc = H2_OK;
    if (opt.stream_body) {
        /* Streamed with h2_call_write; announce the length as a buffered body would. */
        int has_length = 0;
        for (size_t i = 0; i < opt.nheaders; i++)
            has_length |= strcasecmp(opt.headers[i].name, "content-length") == 0;
        rc = h2_request_set_streaming_body(s->req, true);
        if (rc == H2_OK && !has_length) {
            char len[24];
            snprintf(len, sizeof len, "%" PRIu64, opt.body_len);
            rc = h2_request_add_header(s->req, "content-length", len);
        }
    } else if (opt.has_body && opt.body_len > 0) {
        rc = h2_request_set_body(s->req, opt.parts[0].data, opt.parts[0].len);
    }
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


/* ---- streamed request bodies: one uploader thread per call -------------------------------- */

/*
 * Sends the body parts of slot `arg` with h2_call_write, then h2_call_finish. A failed write
 * is the call's failure (reset, cancelled, timed out), which the main thread reports from the
 * response side. What only this thread knows (a file that cannot be read, or whose size
 * changed since the options were parsed: content-length announced it) goes into upload_error,
 * and the call is then cancelled so that the main thread stops waiting for it.
 */
static void *upload(void *arg) {
    struct slot *s = arg;
    h2_call *call = s->call; /* set before this thread was created */
    uint8_t *piece = xmalloc(UPLOAD_PIECE);
    char *problem = NULL;
    h2_result rc = H2_OK;
    for (size_t p = 0; p < opt.nparts && rc == H2_OK && !problem; p++) {
        const struct body_part *part = &opt.parts[p];
        if (part->data) {
            if (part->len)
                rc = h2_call_write(call, part->data, part->len);
            continue;
        }
        FILE *f = fopen(part->path, "rb");
        if (!f) {
            problem = xasprintf("-d @%s: %s", part->path, strerror(errno));
            break;
        }
        uint64_t left = part->len;
        while (left > 0 && rc == H2_OK) {
            size_t want = left < UPLOAD_PIECE ? (size_t)left : UPLOAD_PIECE;
            size_t got = fread(piece, 1, want, f);
            if (got == 0) {
                problem = ferror(f) ? xasprintf("-d @%s: read error: %s", part->path,
                                                strerror(errno ? errno : EIO))
                                    : xasprintf("-d @%s: the file shrank while it was sent",
                                                part->path);
                break;
            }
            rc = h2_call_write(call, piece, got);
            left -= got;
        }
        if (rc == H2_OK && !problem && fgetc(f) != EOF)
            problem = xasprintf("-d @%s: the file grew while it was sent", part->path);
        fclose(f);
    }
    if (problem) {
        /* read by the main thread after joining this one */
        s->upload_error = problem;
        s->upload_rc = H2_E_INVALID_ARGUMENT; /* a -d @FILE that could not be sent */
        h2_call_cancel(call);
    } else if (rc == H2_OK) {
        h2_call_finish(call); /* a failure here is the call's, reported by the reader */
    }
    free(piece);
    return NULL;
}

/* Waits for the slot's uploader, cancelling the call first if it has not ended (the
 * response is complete or we gave up on it: the rest of the upload is not needed). */
static void end_upload(struct slot *s) {
    if (!s->has_uploader)
        return;
    if (!h2_call_is_done(s->call))
        h2_call_cancel(s->call);
    pthread_join(s->uploader, NULL);
    s->has_uploader = 0;
}

/* Ends whatever is left of the slot's call (cancelling it if it has not ended) and frees it. */
static void release_slot(struct slot *s) {
    end_upload(s);
    pthread_mutex_lock(&ctl.lock);
    h2_call *call = s->call;
    s->call = NULL;
    pthread_mutex_unlock(&ctl.lock);
    h2_call_free(call);
}

/* ---- SIGINT ----------------------------------------------------------------------------- */

/*
 * The only thread that takes SIGINT (every other thread blocks it). Before the calls start,
 * SIGINT exits at once (the main thread may be reading -d @- from stdin); afterwards it
 * cancels every active call and the main thread winds down; a second SIGINT (2 s or more
 * later: one Ctrl-C may arrive twice) exits at once.
 * main ends this thread by setting `quit` and sending it a SIGINT of its own.
 */
static void *signal_thread(void *arg) {
    int *running = arg;
    struct timespec first = {0, 0}; /* when the calls were cancelled */
    for (;;) {
        int sig = 0;
        if (sigwait(&ctl.set, &sig) != 0)
            continue;
        pthread_mutex_lock(&ctl.lock);
        if (ctl.quit) {
            pthread_mutex_unlock(&ctl.lock);
            return NULL;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (atomic_load(&ctl.interrupted) && now.tv_sec - first.tv_sec < 2) {
            /* A duplicate (`kill -INT` of the process plus its process group, as timeout(1)
             * does), not a second Ctrl-C: the calls are already being cancelled. */
            pthread_mutex_unlock(&ctl.lock);
            continue;
        }
        if (!*running || atomic_load(&ctl.interrupted)) {
            static const char msg[] = "h2get: H2_E_CANCELED: interrupted\n";
            pthread_mutex_lock(&err_lock); /* not in the middle of another line */
            ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
            (void)ignored;
            _exit(EXIT_INTERRUPTED);
        }
        first = now;
        atomic_store(&ctl.interrupted, 1);
        for (size_t i = 0; i < work.n; i++)
            if (work.slots[i].call)
                h2_call_cancel(work.slots[i].call);
        pthread_mutex_unlock(&ctl.lock);
    }
}

/* Set (under ctl.lock) once the calls may start: SIGINT then cancels instead of exiting. */
static int calls_running;

/* Blocks SIGINT in this thread (and so in every thread created from now on, the library's
 * included) and starts the signal thread, unless SIGINT is ignored. */
static void start_signal_thread(void) {
    struct sigaction sa;
    if (sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return;
    sigemptyset(&ctl.set);
    sigaddset(&ctl.set, SIGINT);
    int e = pthread_sigmask(SIG_BLOCK, &ctl.set, NULL);
    if (e == 0)
        e = pthread_create(&ctl.thread, NULL, signal_thread, &calls_running);
    if (e != 0) {
        /* Without the thread, keep SIGINT's default action (it kills us). */
        fprintf(stderr, "h2get: cannot handle SIGINT: %s\n", strerror(e));
        pthread_sigmask(SIG_UNBLOCK, &ctl.set, NULL);
        return;
    }
    ctl.active = 1;
}

static void stop_signal_thread(void) {
    if (!ctl.active)
        return;
    pthread_mutex_lock(&ctl.lock);
    ctl.quit = 1;
    pthread_mutex_unlock(&ctl.lock);
    pthread_kill(ctl.thread, SIGINT);
    pthread_join(ctl.thread, NULL);
    ctl.active = 0;
}

/* ---- calls ------------------------------------------------------------------------------ */

/* Starts the slot's call (and its uploader), unless SIGINT came first. */
static void start_slot(struct slot *s) {
    pthread_mutex_lock(&ctl.lock);
    if (atomic_load(&ctl.interrupted)) {
        pthread_mutex_unlock(&ctl.lock);
        return;
    }
    s->started = 1;
    h2_result rc = h2_client_start(work.client, s->req, &s->call);
    if (opt.verbose && rc == H2_OK)
        verbose_request(s);
    pthread_mutex_unlock(&ctl.lock);
    if (rc != H2_OK) {
        s->rc = rc;
        s->error = last_error_message();
        return;
    }
    if (opt.stream_body) {
        int e = pthread_create(&s->uploader, NULL, upload, s);
        if (e == 0) {
            s->has_uploader = 1;
        } else {
            s->upload_error = xasprintf("cannot start the upload thread: %s", strerror(e));
            s->upload_rc = H2_E_CANCELED; /* h2get cancelled the call it could not feed */
            h2_call_cancel(s->call);
        }
    }
}

enum outcome { DONE, FAILED, INTERRUPTED, WRITE_ERROR };

/* errno of the failed write when run_slot returns WRITE_ERROR. */
static int output_errno;

/* Writes all the pieces with as few writev calls as the descriptor allows. Returns the byte
 * count, or UINT64_MAX with output_errno set. */
static uint64_t write_pieces(int fd, const h2_piece *pieces, size_t count) {
    struct iovec iov[VIEW_PIECES];
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        iov[i].iov_base = (void *)pieces[i].data;
        iov[i].iov_len = pieces[i].len;
        total += pieces[i].len;
    }
    struct iovec *v = iov;
    int left = (int)count;
    while (left > 0) {
        ssize_t w = writev(fd, v, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            output_errno = errno;
            return UINT64_MAX;
        }
        size_t k = (size_t)w;
        while (left > 0 && k >= v->iov_len) {
            k -= v->iov_len;
            v++;
            left--;
        }
        if (left > 0) {
            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= k;
        }
    }
    return total;
}

/*
 * The slot's turn: waits for the head, writes it with -i, streams the body to `out`, and
 * reports a failure as "h2get: URL: H2_E_NAME: message" (except a cancel by SIGINT, which
 * main reports with the other unfinished URLs, from s->rc and s->error).
 */
static enum outcome run_slot(FILE *out, struct slot *s) {
    if (s->rc != H2_OK) { /* h2_client_start failed */
        errorf("%s: %s: %s", s->url, h2_error_name(s->rc), s->error ? s->error : "");
        return FAILED;
    }
    h2_call *call = s->call;
    h2_result rc = h2_call_wait_headers(call);
    if (rc != H2_OK)
        goto failed;
    if (atomic_load(&ctl.interrupted))
        return INTERRUPTED;
    if (opt.verbose)
        verbose_head(call);
    if (opt.include) {
        fprintf(out, "HTTP/2 %u\n", (unsigned)h2_call_status(call));
        write_fields(out, "", call, 0);
        fputc('\n', out);
    }
    uint64_t total = 0;
    /* Whatever -i printed goes before the body, which bypasses stdio. */
    if (fflush(out) != 0) {
        output_errno = errno;
        return WRITE_ERROR;
    }
    for (;;) {
        /* The body pieces received so far, lent without a copy until the next read. */
        h2_piece pieces[VIEW_PIECES];
        size_t count = 0;
        rc = h2_call_read_view(call, pieces, VIEW_PIECES, &count);
        if (rc != H2_OK)
            goto failed;
        if (atomic_load(&ctl.interrupted))
            return INTERRUPTED; /* bytes buffered before the cancel: dropped */
        if (count == 0)
            break;
        /* Written at once: the body goes out as it arrives (e.g. into a pipe). */
        uint64_t n = write_pieces(fileno(out), pieces, count);
        if (n == UINT64_MAX)
            return WRITE_ERROR;
        total += n;
    }
    if (fflush(out) != 0) {
        output_errno = errno;
        return WRITE_ERROR;
    }
    if (opt.verbose)
        verbose_end(s, total);
    end_upload(s);
    if (s->upload_error) {
        errorf("%s: %s: %s", s->url, h2_error_name(s->upload_rc), s->upload_error);
        return FAILED;
    }
    return DONE;

failed:
    s->rc = rc;
    s->error = last_error_message();
    end_upload(s);
    if (s->upload_error) {
        errorf("%s: %s: %s", s->url, h2_error_name(s->upload_rc), s->upload_error);
        return FAILED;
    }
    if (rc == H2_E_CANCELED && atomic_load(&ctl.interrupted))
        return INTERRUPTED;
    errorf("%s: %s: %s", s->url, h2_error_name(rc), s->error);
    return FAILED;
}

/* After SIGINT: "h2get: URL: H2_E_CANCELED: ..." for a URL whose output is not complete (or
 * its own error, if it had failed before). */
static void report_unfinished(struct slot *s) {
    h2_error_info info;
    if (s->rc != H2_OK) {
        errorf("%s: %s: %s", s->url, h2_error_name(s->rc), s->error ? s->error : "");
    } else if (s->call && h2_call_error(s->call, &info) != H2_OK) {
        errorf("%s: %s: %s", s->url, h2_error_name(info.code), info.message);
    } else {
        errorf("%s: %s: interrupted by SIGINT %s", s->url, h2_error_name(H2_E_CANCELED),
               s->started ? "before the response was written" : "before the request was sent");
    }
}

static void cleanup(void) {
    for (size_t i = 0; i < work.n; i++) {
        struct slot *s = &work.slots[i];
        release_slot(s);
        free(s->error);
        free(s->upload_error);
        h2_request_free(s->req);
    }
    stop_signal_thread();
    free(work.slots);
    for (size_t i = 0; i < opt.nheaders; i++)
        free(opt.headers[i].name);
    free(opt.headers);
    for (size_t i = 0; i < opt.nparts; i++)
        free(opt.parts[i].data);
    free(opt.parts);
    free(opt.urls);
    h2_client_free(work.client);
    h2_global_cleanup(); /* every object is freed: stop the library's threads */
}

int main(int argc, char **argv) {
    /* First, before any other thread exists: SIGINT goes to the signal thread only. */
    start_signal_thread();

    int status = parse_args(argc, argv);
    if (status >= 0) {
        cleanup();
        return status;
    }

    struct slot *slots = xmalloc(opt.nurls * sizeof *slots);
    memset(slots, 0, opt.nurls * sizeof *slots);
    pthread_mutex_lock(&ctl.lock); /* the signal thread reads work.slots */
    work.slots = slots;
    work.n = opt.nurls;
    pthread_mutex_unlock(&ctl.lock);
    /* The requests first: a bad URL (or -H) is reported before anything else is set up. */
    for (size_t i = 0; i < work.n; i++) {
        work.slots[i].url = opt.urls[i];
        if (build_request(&work.slots[i]) != 0) {
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
    /* --max-redirs 0 with -L follows none, as in curl. */
    if (opt.location)
        h2_config_set_follow_redirects(cfg, opt.max_redirs);
    if (configure_tls(cfg) != 0) {
        h2_config_free(cfg);
        cleanup();
        return 2;
    }
    /* No base URL: every request names its origin. */
    work.client = h2_client_new(NULL, cfg);
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

    FILE *out = stdout;
    if (opt.output && !(out = fopen(opt.output, "wb"))) {
        errorf("%s: -o %s: %s", h2_error_name(H2_E_INVALID_ARGUMENT), opt.output,
               strerror(errno));
        cleanup();
        return 1;
    }

    /* From here on SIGINT cancels the calls. */
    pthread_mutex_lock(&ctl.lock);
    calls_running = 1;
    pthread_mutex_unlock(&ctl.lock);

    /*
     * Slot i's turn: slots i .. i+PARALLEL-1 are started (their responses arrive meanwhile,
     * up to one stream window each), slot i's body is streamed to `out`, then its call is
     * freed and the next one starts.
     */
    int failed = 0, write_failed = 0;
    size_t next = 0, i;
    enum outcome outcome = DONE;
    for (i = 0; i < work.n; i++) {
        while (next < work.n && next < i + opt.parallel)
            start_slot(&work.slots[next++]);
        if (atomic_load(&ctl.interrupted))
            break;
        outcome = run_slot(out, &work.slots[i]);
        if (outcome == INTERRUPTED || outcome == WRITE_ERROR)
            break;
        if (outcome == FAILED)
            failed = 1;
        release_slot(&work.slots[i]);
    }
    int write_errno = output_errno;
    if (outcome == WRITE_ERROR)
        write_failed = 1;

    int interrupted = i < work.n && atomic_load(&ctl.interrupted);
    if (interrupted)
        for (size_t j = i; j < work.n; j++)
            report_unfinished(&work.slots[j]);

    if (!write_failed && ferror(out))
        write_failed = 1, write_errno = errno;
    if (out != stdout) {
        if (fclose(out) != 0 && !write_failed)
            write_failed = 1, write_errno = errno;
    } else if (fflush(stdout) != 0 && !write_failed) {
        write_failed = 1, write_errno = errno;
    }
    if (write_failed) {
        /* The output is h2get's own file (-o FILE or stdout), tied to no single URL. */
        errorf("%s: %s%s: write error: %s", h2_error_name(H2_E_INVALID_ARGUMENT),
               opt.output ? "-o " : "", opt.output ? opt.output : "stdout",
               strerror(write_errno));
        failed = 1;
    }
    cleanup();
    return interrupted ? EXIT_INTERRUPTED : failed ? 1 : 0;
}
