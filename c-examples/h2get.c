/*
 * h2get: a curl-like HTTP/2 client over h2client's C API. It takes curl's options, with curl's
 * meaning, output and exit codes (the README's h2get section has the table, checked by
 * c-examples/curl-diff.sh, which runs the same commands with curl and h2get):
 *
 *   h2get [-X METHOD] [-H 'name: value']... [-d DATA] [--data-binary DATA] [--data-raw DATA]
 *         [-T FILE] [-I] [-i] [-o FILE | -O]... [-D FILE] [-w FORMAT] [-s] [-S] [-f] [-v]
 *         [-L [--max-redirs N]] [-m SECONDS] [--connect-timeout SECONDS] [--timeout MS]
 *         [-A UA] [-u USER:PASSWORD] [-e URL] [--compressed] [-4|-6] [--cacert FILE] [-k]
 *         [--cert FILE --key FILE] [-x PROXY] [--noproxy LIST] [--resolve ...]
 *         [--connect-to ...] [--interface ADDR|NAME] [--unix-socket PATH] [-P N] URL...
 *
 * Options are parsed with getopt_long, anywhere on the command line, as curl does; the n-th
 * -o/-O goes with the n-th URL, the others write to stdout. http:// URLs use HTTP/2 over
 * cleartext with prior knowledge, https:// URLs HTTP/2 over TLS (ALPN h2); a URL without
 * "scheme://" gets http://, as curl guesses. URLs may name any origins; they are fetched over
 * ONE h2_client made without a base URL, each request made from its absolute URL
 * (h2_request_new_url), so each origin gets its own connections.
 *
 * Data path: every request is a call from h2_client_start, and bodies are streamed: the
 * current URL's body is written to its output as it arrives, taken piece by piece with
 * h2_call_read_view (no copy: each piece is written from the buffer the library read it
 * into), so a body of any size goes through in bounded memory. Output stays in URL order: up
 * to PARALLEL calls are in flight (the current one and the next ones), but a later call is
 * read only when its turn comes; until then the library holds at most one stream window of
 * its body (h2_config_set_initial_window_size, 4 MiB by default) and flow control pauses the
 * server. Memory is thus bounded by PARALLEL stream windows, whatever the body sizes; and
 * -m/--timeout (h2_request_set_timeout_ms, the whole call) also counts the time a started URL
 * waits for its turn. A request body from --data-binary @FILE or -T FILE (a regular file) is
 * streamed from the file with h2_call_write by one uploader thread per call, never read into
 * memory whole, with a content-length of the file's size (unless -H gives one); other bodies
 * (-d, whose @FILE loses its CR and LF bytes as in curl, stdin, pipes) are buffered and sent
 * with h2_request_set_body.
 *
 * -L follows redirects (h2_config_set_follow_redirects, up to --max-redirs, default 50 as in
 * curl); a request whose body is streamed from a file is not re-sent, its 3xx is the
 * response. -i, -I and -D show the final response's head only (curl shows every hop's).
 *
 * -v sends the library's log (h2_set_log_callback, up to H2_LOG_DEBUG) to stderr in curl -v's
 * shape: "* Connected to ...", the TLS version, cipher and ALPN, "> " request lines (the
 * pseudo-headers as "* [HTTP/2] [STREAM] [:name: value]", then "> METHOD PATH HTTP/2",
 * "> Host: ..." and every field sent) and "< " response lines.
 *
 * Ctrl-C: SIGINT is blocked in every thread and taken by a dedicated thread with sigwait,
 * which cancels every active call (h2_call_cancel). Blocked reads and writes then return
 * H2_E_CANCELED, h2get prints "h2get: URL: H2_E_CANCELED: ..." for each unfinished URL and
 * exits 130. A second Ctrl-C exits at once. (If SIGINT was ignored when h2get started, as for
 * background jobs of a non-interactive shell, it stays ignored.)
 *
 * Errors: one line each on stderr (none with -s, unless -S), "h2get: URL: H2_E_NAME: message"
 * for a failure of one URL, "h2get: URL: HTTP 404: ..." for -f, "h2get: H2_E_NAME: message"
 * for one that no single URL has: H2_E_INVALID_ARGUMENT for a bad option or value and for
 * h2get's own files (-d @FILE, -T FILE, -o FILE, stdout), the library's code for what it
 * refused (H2_E_TLS for --cacert, ...). The name is the stable part for scripts; a header that
 * the library refuses is an option error ("-H '...': ...").
 *
 * Exit status: curl's code for the last URL (0 if it got a response, whatever its status,
 * unless -f), or for the first URL that failed with --fail-early; 2 for usage errors; 130 if
 * interrupted. curl_code() maps the library's H2_E_* codes to curl's.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
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

/* curl's exit codes (libcurl's CURLcode numbers, as the curl tool returns them). */
enum {
    CURL_OK = 0,
    CURL_UNSUPPORTED_PROTOCOL = 1,
    CURL_USAGE = 2, /* CURLE_FAILED_INIT: the curl tool's code for a bad command line */
    CURL_URL_MALFORMAT = 3,
    CURL_COULDNT_RESOLVE_PROXY = 5,
    CURL_COULDNT_RESOLVE_HOST = 6,
    CURL_COULDNT_CONNECT = 7,
    CURL_HTTP2 = 16,
    CURL_HTTP_RETURNED_ERROR = 22,
    CURL_WRITE_ERROR = 23,
    CURL_READ_ERROR = 26,
    CURL_OPERATION_TIMEDOUT = 28,
    CURL_SSL_CONNECT_ERROR = 35,
    CURL_ABORTED_BY_CALLBACK = 42,
    CURL_BAD_FUNCTION_ARGUMENT = 43,
    CURL_INTERFACE_FAILED = 45,
    CURL_TOO_MANY_REDIRECTS = 47,
    CURL_RECV_ERROR = 56,
    CURL_SSL_CERTPROBLEM = 58,
    CURL_PEER_FAILED_VERIFICATION = 60,
    CURL_BAD_CONTENT_ENCODING = 61,
    CURL_FILESIZE_EXCEEDED = 63,
    CURL_SSL_CACERT_BADFILE = 77,
    CURL_HTTP2_STREAM = 92,
    CURL_PROXY = 97,
};

static const char USAGE[] =
    "usage: h2get [options...] URL...\n"
    "\n"
    "Fetches URLs over HTTP/2 with curl's options, output and exit codes: http:// URLs\n"
    "over cleartext with prior knowledge, https:// URLs over TLS (ALPN h2). Several URLs\n"
    "are fetched concurrently (one client, connections per origin) and written in URL order.\n"
    "\n"
    "  -X, --request METHOD     request method (default GET; POST with data, PUT with -T)\n"
    "  -H, --header 'N: V'      add a header; 'N:' removes one h2get adds, 'N;' sends N empty\n"
    "  -d, --data DATA          POST DATA (application/x-www-form-urlencoded); @FILE reads it\n"
    "                           from FILE (@- stdin) without CR and LF; repeated: joined by &\n"
    "      --data-binary DATA   the same, @FILE sent as it is (streamed from the file)\n"
    "      --data-raw DATA      the same, '@' not special\n"
    "  -T, --upload-file FILE   PUT FILE (- = stdin); a URL ending in / gets FILE's name\n"
    "  -I, --head               HEAD request; write the response head\n"
    "  -i, --include            write the response head before the body\n"
    "  -o, --output FILE        write the next URL's output to FILE (- = stdout)\n"
    "  -O, --remote-name        write the next URL's output to a file named as its last\n"
    "                           path segment\n"
    "  -D, --dump-header FILE   write the response heads to FILE (- = stdout)\n"
    "  -w, --write-out FORMAT   write FORMAT after each transfer (%{http_code}, ...; @FILE)\n"
    "  -s, --silent             no error messages\n"
    "  -S, --show-error         error messages even with -s\n"
    "  -f, --fail               HTTP status >= 400: no body, exit 22\n"
    "      --fail-with-body     HTTP status >= 400: exit 22 after the body\n"
    "      --fail-early         stop at the first URL that fails, exit with its code\n"
    "  -v, --verbose            connection, TLS, request and response lines on stderr\n"
    "  -L, --location           follow redirects (301, 302, 303, 307, 308); not from https\n"
    "                           to http, and not for a body streamed from a file\n"
    "      --max-redirs N       most redirects followed with -L (default 50; -1: no limit)\n"
    "  -m, --max-time SECONDS   per-URL time limit (fractions allowed; 0 = none)\n"
    "      --connect-timeout SECONDS  connect time limit, TLS included (default 10)\n"
    "      --timeout MS         per-URL time limit in milliseconds (0 = none, the default)\n"
    "      --compressed         accepted (the body is written decoded)\n"
    "  -A, --user-agent UA      user-agent (default h2get/VERSION; \"\" = none)\n"
    "  -u, --user USER:PASSWORD  HTTP Basic authentication\n"
    "  -e, --referer URL        referer header\n"
    "  -4, --ipv4 / -6, --ipv6  connect to IPv4 (IPv6) addresses only\n"
    "      --http2, --http2-prior-knowledge  accepted (h2get always speaks HTTP/2)\n"
    "      --cacert FILE        https: trust the CA certificates in this PEM file instead of\n"
    "                           the system's store\n"
    "  -k, --insecure           https: accept any server certificate (testing only)\n"
    "  -E, --cert FILE          https: client certificate chain (PEM); needs --key\n"
    "      --key FILE           https: the client certificate's private key (PEM)\n"
    "  -x, --proxy URL          proxy: http://[user:pass@]host[:port] (CONNECT), https://,\n"
    "                           socks5://, socks5h://; \"\" = none. Default: the environment\n"
    "                           (https_proxy, http_proxy, all_proxy, as curl)\n"
    "      --noproxy LIST       hosts, IPs, CIDR blocks or * that bypass the proxy\n"
    "      --resolve HOST:PORT:ADDR[,ADDR]...  dial ADDR for HOST:PORT (repeatable)\n"
    "      --connect-to HOST1:PORT1:HOST2:PORT2  dial HOST2:PORT2 instead (repeatable)\n"
    "      --interface ADDR|NAME  bind connections to this local IP address (or the\n"
    "                           first address of this network interface)\n"
    "      --unix-socket PATH   connect over this Unix socket (URLs still name the origin)\n"
    "  -P, --parallel-max N     requests in flight at once (default 8); -Z, --parallel and\n"
    "  -N, --no-buffer          are accepted (h2get always is both)\n"
    "      --url URL            a URL, as a plain argument is\n"
    "  -h, --help               print this help\n"
    "\n"
    "Errors go to stderr, one line each: 'h2get: URL: H2_E_NAME: message' for a URL that\n"
    "failed, 'h2get: URL: HTTP 404: ...' for -f, 'h2get: H2_E_NAME: message' otherwise.\n"
    "Exit status: curl's code for the last URL (0: a response, whatever its status, unless\n"
    "-f; 3 bad URL, 6 host not resolved, 7 no connection, 16 HTTP/2 error, 22 -f and HTTP\n"
    ">= 400, 23 output, 26 input file, 28 timeout, 35 TLS, 47 too many redirects, 56\n"
    "receiving, 60 untrusted certificate, 92 stream reset, ...), 2 for usage errors, 130\n"
    "if interrupted (Ctrl-C cancels the requests in flight).\n";

/* ---- command line ---------------------------------------------------------------------- */

/* One -H argument: "name: value" adds, "name:" removes a header h2get adds itself (and
 * sends nothing), "name;" sends the header with an empty value. */
struct header {
    char *name;        /* owned */
    const char *value; /* NULL: a removal */
    const char *arg;   /* the -H argument, for messages */
};

/* A header field of every request, in the order sent (curl's: its own headers, then the
 * -H ones, then content-length and content-type). */
struct field {
    const char *name;
    const char *value;
    const char *arg; /* the -H argument it came from, or NULL */
};

/*
 * The request body is a sequence of parts: bytes in memory (-d DATA, -d @FILE, @-, the '&'
 * separators, non-regular files) and regular files streamed at send time (--data-binary
 * @FILE, -T FILE). Adjacent in-memory bytes are kept in one part.
 */
struct body_part {
    uint8_t *data;    /* owned; NULL for a file part */
    size_t len;       /* bytes in memory, or the file's size when the options were parsed */
    const char *path; /* file part: the file to stream */
    const char *opt;  /* file part: the option that named it ("--data-binary", "-T") */
};

/* Where the n-th URL's output goes: -o PATH (PATH "-" is stdout) or -O. */
struct output {
    const char *path;
    int remote; /* -O */
};

enum fail_mode { FAIL_NONE, FAIL_QUIET, FAIL_WITH_BODY };

static struct {
    const char *method; /* -X */
    int head;           /* -I */
    struct header *headers;
    size_t nheaders;
    struct body_part *parts;
    size_t nparts;
    uint64_t body_len; /* sum of the parts */
    int has_body;
    int has_data;      /* -d and its variants: POST, form content-type */
    const char *upload; /* -T FILE */
    int stream_body;   /* some part is a file: stream with h2_call_write */
    struct output *outputs;
    size_t noutputs;
    const char *dump_header; /* -D */
    char *write_out;         /* -w (owned: a copy, or @FILE's text) */
    int include;
    int verbose;
    int silent, show_error;
    enum fail_mode fail;
    int fail_early;
    uint32_t timeout_ms;
    uint32_t connect_timeout_ms; /* 0: the library's default */
    int compressed;
    const char *user_agent; /* -A; NULL: h2get/VERSION */
    const char *user;       /* -u */
    const char *referer;    /* -e */
    char *referer_copy;     /* -e URL;auto: URL */
    int ip_version;         /* -4, -6: 4 or 6; 0: any */
    unsigned long parallel;
    const char *cacert;
    int insecure;
    const char *proxy;   /* -x: NULL = the environment */
    const char *noproxy; /* --noproxy: NULL = the environment */
    const char *resolve[16];    /* --resolve entries */
    size_t nresolve;
    const char *connect_to[16]; /* --connect-to entries */
    size_t nconnect_to;
    const char *interface;      /* --interface: a local IP address or an interface name */
    const char *unix_socket;    /* --unix-socket: every connection over this socket */
    const char *cert;
    const char *key;
    int location;
    uint32_t max_redirs;
    const char **urls;
    size_t nurls;
    /* Built once the options are parsed. */
    struct field *fields;
    size_t nfields;
    char *authorization; /* "Basic ..." for -u */
    char *default_agent;  /* "h2get/VERSION" */
    char *content_length; /* the buffered or streamed body's length, as sent */
    char *body_error;     /* -d @FILE or -T FILE could not be read: every URL fails (26) */
} opt = {.parallel = DEFAULT_PARALLEL, .max_redirs = DEFAULT_MAX_REDIRS};

/* ---- per-URL work ---------------------------------------------------------------------- */

struct slot {
    const char *given; /* the URL as given (%{url}) */
    char *url;         /* as fetched: "http://" added if it had no scheme, -T's file name */
    size_t index;      /* %{urlnum} */
    h2_request *req;   /* made from the whole URL: the library parses it */
    /* Its output: out_name is -o's path, -O's name (malloc'd in remote_name), or NULL for
     * stdout; `out` is opened when the response head arrives. */
    const char *out_name;
    char *remote_name;
    FILE *out;
    /* Set when the call is started (main thread); `call` is changed under ctl.lock, so
     * that the signal thread never cancels a freed call. */
    int started;
    h2_call *call;
    h2_result rc; /* != H2_OK: the URL, h2_client_start or the call failed; `error` says why */
    char *error;
    int code;     /* curl's exit code for this URL */
    uint16_t status;
    uint64_t size_download, size_header;
    /* The uploader thread of a streamed body; it sets upload_error (malloc'd) if it had to
     * cancel the call (a file that cannot be read, or changed size). */
    pthread_t uploader;
    int has_uploader;
    char *upload_error;
};

static struct {
    struct slot *slots;
    size_t n;
    h2_client *client;
    FILE *dump; /* -D's file, or stdout */
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

/* Serializes stderr lines: the log callback runs on library threads. */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether error messages are shown: not with -s, unless -S. */
static int show_errors(void) {
    return !opt.silent || opt.show_error;
}

static void errorf(const char *fmt, ...) {
    if (!show_errors())
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&err_lock);
    fputs("h2get: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&err_lock);
    va_end(ap);
}

/* A warning: "h2get: warning: ...", not with -s. */
static void warnf(const char *fmt, ...) {
    if (opt.silent)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&err_lock);
    fputs("h2get: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&err_lock);
    va_end(ap);
}

/* A bad option or option value: "h2get: H2_E_INVALID_ARGUMENT: message", then the --help
 * hint (always shown: -s may not have been parsed yet). */
static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "h2get: %s: ", h2_error_name(H2_E_INVALID_ARGUMENT));
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

static char *xstrdup(const char *s) {
    return xstrndup(s, strlen(s));
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

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- curl's exit codes ------------------------------------------------------------------ */

/*
 * curl's exit code for a failure of the library's `code` with message `msg`. Where one
 * H2_E_* code covers failures that curl tells apart, the message decides (its wording is the
 * library's: "could not resolve host", "cannot bind to local address", "certificate ...",
 * "SOCKS", "unsupported scheme", "proxy ...: ").
 */
static int curl_code(h2_result code, const char *msg) {
    int proxy = starts_with(msg, "proxy ");
    switch (code) {
    case H2_OK:
        return CURL_OK;
    case H2_E_INVALID_URL:
        return strstr(msg, "unsupported scheme") ? CURL_UNSUPPORTED_PROTOCOL : CURL_URL_MALFORMAT;
    case H2_E_RESOLVE:
        return proxy ? CURL_COULDNT_RESOLVE_PROXY : CURL_COULDNT_RESOLVE_HOST;
    case H2_E_CONNECT:
        /* --interface's failure is 45. */
        if (strstr(msg, "cannot bind to local address") && opt.interface)
            return CURL_INTERFACE_FAILED;
        return CURL_COULDNT_CONNECT;
    case H2_E_TIMEOUT:
        return CURL_OPERATION_TIMEDOUT;
    case H2_E_PROTOCOL:
        return CURL_HTTP2;
    case H2_E_STREAM_RESET:
    case H2_E_GOAWAY: /* curl: "stream N was not closed cleanly before end of the connection" */
        return CURL_HTTP2_STREAM;
    case H2_E_TLS:
        if (strstr(msg, "certificate verify failed") || strstr(msg, "certificate name mismatch"))
            return CURL_PEER_FAILED_VERIFICATION;
        return CURL_SSL_CONNECT_ERROR;
    case H2_E_TOO_MANY_REDIRECTS:
        return CURL_TOO_MANY_REDIRECTS;
    case H2_E_PROXY:
        return strstr(msg, "SOCKS") ? CURL_PROXY : CURL_RECV_ERROR;
    case H2_E_BODY_TOO_LARGE:
        return CURL_FILESIZE_EXCEEDED;
#ifdef H2_E_DECODE
    case H2_E_DECODE: /* --compressed: a body that cannot be decoded */
        return CURL_BAD_CONTENT_ENCODING;
#endif
    case H2_E_CANCELED:
        return CURL_ABORTED_BY_CALLBACK;
    case H2_E_CONNECTION:
    case H2_E_REFUSED: /* curl retries a refused stream, then: "Connection died" (56) */
    case H2_E_HEADERS_TOO_LARGE:
    case H2_E_CLOSED:
        return CURL_RECV_ERROR;
    default: /* H2_E_INVALID_ARGUMENT (a request refused when sent), H2_E_INTERNAL, ... */
        return CURL_BAD_FUNCTION_ARGUMENT;
    }
}

/* ---- verbose output: the library's log, as curl -v shows it ----------------------------- */

/*
 * The log callback runs on library threads, several at once; everything below runs under
 * err_lock. The library logs, at H2_LOG_INFO, "TLS handshake with HOST (ADDR) done: VERSION /
 * CIPHER, ALPN PROTO" and then "conn N: connected to ADDR"; at H2_LOG_DEBUG, each field of a
 * request ("conn N stream S: > :method: GET", ...) before "conn N stream S: stream opened:
 * ...", and each field of a response ("conn N stream S: < :status: 200") as it is decoded.
 * A handshake's line is kept until its connection's line (matched by ADDR), and a request's
 * fields until the stream's next line, so that each is printed as one block, as curl does.
 */

/* A finished TLS handshake whose connection has not been logged yet. */
struct tls_note {
    char *addr, *host, *version_cipher, *alpn;
    struct tls_note *next;
};

/* The fields of a request being logged: "name: value\n" lines. */
struct req_note {
    uint64_t conn;
    uint32_t stream;
    char *text;
    size_t len;
    struct req_note *next;
};

static struct {
    struct tls_note *tls;
    struct req_note *reqs;
} vlog;

static void free_tls_note(struct tls_note *t) {
    free(t->addr);
    free(t->host);
    free(t->version_cipher);
    free(t->alpn);
    free(t);
}

/* Prints a request's fields as curl -v does: each field as "* [HTTP/2] [S] [name: value]",
 * then "> METHOD PATH HTTP/2", "> Host: AUTHORITY", the other fields and "> ". */
static void print_request(const struct req_note *r) {
    const char *method = "", *path = "", *authority = NULL;
    size_t mlen = 0, plen = 0, alen = 0;
    for (const char *line = r->text; *line;) {
        const char *end = strchr(line, '\n');
        int n = (int)(end - line);
        fprintf(stderr, "* [HTTP/2] [%" PRIu32 "] [%.*s]\n", r->stream, n, line);
        if (starts_with(line, ":method: "))
            method = line + 9, mlen = (size_t)(end - method);
        else if (starts_with(line, ":path: "))
            path = line + 7, plen = (size_t)(end - path);
        else if (starts_with(line, ":authority: "))
            authority = line + 12, alen = (size_t)(end - authority);
        line = end + 1;
    }
    fprintf(stderr, "> %.*s %.*s HTTP/2\n", (int)mlen, method, (int)plen, path);
    if (authority)
        fprintf(stderr, "> Host: %.*s\n", (int)alen, authority);
    for (const char *line = r->text; *line;) {
        const char *end = strchr(line, '\n');
        /* "name: " of an empty value is "name:", as curl prints it. */
        int n = (int)(end - line);
        if (n >= 2 && line[n - 1] == ' ' && line[n - 2] == ':')
            n--;
        if (line[0] != ':')
            fprintf(stderr, "> %.*s\n", n, line);
        line = end + 1;
    }
    fputs("> \n", stderr);
}

/* Prints and forgets the request fields noted for (conn, stream), if any. */
static void flush_request(uint64_t conn, uint32_t stream) {
    for (struct req_note **p = &vlog.reqs; *p; p = &(*p)->next) {
        struct req_note *r = *p;
        if (r->conn == conn && r->stream == stream) {
            print_request(r);
            *p = r->next;
            free(r->text);
            free(r);
            return;
        }
    }
}

static void note_request_field(uint64_t conn, uint32_t stream, const char *field) {
    struct req_note *r = vlog.reqs;
    while (r && !(r->conn == conn && r->stream == stream))
        r = r->next;
    if (!r) {
        r = xmalloc(sizeof *r);
        *r = (struct req_note){.conn = conn, .stream = stream, .text = xstrdup("")};
        r->next = vlog.reqs;
        vlog.reqs = r;
    }
    size_t n = strlen(field);
    r->text = xrealloc(r->text, r->len + n + 2);
    memcpy(r->text + r->len, field, n);
    r->len += n;
    r->text[r->len++] = '\n';
    r->text[r->len] = '\0';
}

/* "TLS handshake with HOST (ADDR) done: VERSION / CIPHER, ALPN PROTO": noted. */
static int note_tls(const char *msg) {
    const char *host = msg + strlen("TLS handshake with ");
    const char *open = strstr(host, " (");
    const char *done = open ? strstr(open, ") done: ") : NULL;
    const char *alpn = done ? strstr(done, ", ALPN ") : NULL;
    if (!alpn)
        return 0;
    struct tls_note *t = xmalloc(sizeof *t);
    t->host = xstrndup(host, (size_t)(open - host));
    t->addr = xstrndup(open + 2, (size_t)(done - open - 2));
    t->version_cipher = xstrndup(done + 8, (size_t)(alpn - done - 8));
    t->alpn = xstrdup(alpn + 7);
    t->next = vlog.tls;
    vlog.tls = t;
    return 1;
}

/* "conn N: connected to ADDR": "* Connected to HOST (IP) port PORT (#N)", then the TLS
 * session's lines if it had a handshake. */
static void print_connected(uint64_t conn, const char *addr) {
    struct tls_note *t = NULL;
    for (struct tls_note **p = &vlog.tls; *p; p = &(*p)->next) {
        if (strcmp((*p)->addr, addr) == 0) {
            t = *p;
            *p = t->next;
            break;
        }
    }
    const char *colon = strrchr(addr, ':');
    if (colon && addr[0] != '/') {
        const char *ip = addr;
        size_t iplen = (size_t)(colon - addr);
        if (ip[0] == '[' && iplen >= 2)
            ip++, iplen -= 2;
        /* h2c: the log names no host; the address stands for it. */
        if (t)
            fprintf(stderr, "* Connected to %s (%.*s) port %s (#%" PRIu64 ")\n", t->host,
                    (int)iplen, ip, colon + 1, conn);
        else
            fprintf(stderr, "* Connected to %.*s (%.*s) port %s (#%" PRIu64 ")\n", (int)iplen,
                    ip, (int)iplen, ip, colon + 1, conn);
    } else {
        fprintf(stderr, "* Connected to %s (#%" PRIu64 ")\n", addr, conn);
    }
    if (t) {
        fprintf(stderr, "* SSL connection using %s\n", t->version_cipher);
        fprintf(stderr, "* ALPN: server accepted %s\n", t->alpn);
        free_tls_note(t);
    }
    fputs("* using HTTP/2\n", stderr);
}

static void on_log(void *userdata, uint32_t level, const char *target, const char *msg) {
    (void)userdata;
    if (strcmp(target, "h2client") != 0)
        return; /* rustls's own details */
    pthread_mutex_lock(&err_lock);
    unsigned long long conn = 0;
    unsigned stream = 0;
    int n = 0;
    if (sscanf(msg, "conn %llu stream %u: %n", &conn, &stream, &n) == 2 && n > 0) {
        const char *rest = msg + n;
        if (rest[0] == '>' && rest[1] == ' ') {
            note_request_field(conn, stream, rest + 2);
        } else if (rest[0] == '<' && rest[1] == ' ') {
            flush_request(conn, stream);
            if (starts_with(rest + 2, ":status: "))
                fprintf(stderr, "< HTTP/2 %s \n", rest + 2 + 9);
            else
                fprintf(stderr, "%s\n", rest);
        } else {
            /* "stream opened: GET /", "stream closed: ...": the request goes out first. */
            flush_request(conn, stream);
            fprintf(stderr, "* [HTTP/2] [%u] %s\n", stream, rest);
        }
    } else if (sscanf(msg, "conn %llu: %n", &conn, &n) == 1 && n > 0 &&
               starts_with(msg + n, "connected to ")) {
        print_connected(conn, msg + n + strlen("connected to "));
    } else if (!(level == H2_LOG_INFO && starts_with(msg, "TLS handshake with ") &&
                 note_tls(msg))) {
        fprintf(stderr, "* %s\n", msg);
    }
    pthread_mutex_unlock(&err_lock);
}

/* After the last client is freed and logging is off. */
static void free_verbose_notes(void) {
    while (vlog.tls) {
        struct tls_note *t = vlog.tls;
        vlog.tls = t->next;
        free_tls_note(t);
    }
    while (vlog.reqs) {
        struct req_note *r = vlog.reqs;
        vlog.reqs = r->next;
        free(r->text);
        free(r);
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

/* Seconds, fractions allowed ("2", "0.5", "1.25"), as milliseconds rounded up (0 stays 0).
 * Returns 0, or -1 for anything else (negative, not a number, too large). */
static int parse_seconds(const char *s, uint32_t *ms) {
    char *end;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0) || v * 1000.0 > (double)(UINT32_MAX - 1))
        return -1;
    *ms = (uint32_t)ceil(v * 1000.0);
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

/* Appends a file part, streamed when sent (its size now, for content-length). */
static void add_file_part(const char *path, off_t size, const char *option) {
    opt.parts = xrealloc(opt.parts, (opt.nparts + 1) * sizeof *opt.parts);
    opt.parts[opt.nparts++] =
        (struct body_part){.len = (size_t)size, .path = path, .opt = option};
    opt.body_len += (uint64_t)size;
    opt.stream_body = 1;
}

/* Whether `path` names a regular file (whose size is then in *size); -1 with errno set if
 * it cannot be opened. */
static int regular_file(const char *path, off_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    fclose(f);
    *size = regular ? st.st_size : 0;
    return regular;
}

enum data_mode { DATA_PLAIN, DATA_BINARY, DATA_RAW };

/* A body file that cannot be read fails every URL with curl's 26 (curl opens it for each
 * transfer), each with its -w output. Takes `msg`; returns 0 (parsing goes on). */
static int body_error(char *msg) {
    if (opt.body_error)
        free(msg);
    else
        opt.body_error = msg;
    return 0;
}

/*
 * Appends a -d (DATA_PLAIN), --data-binary (DATA_BINARY) or --data-raw (DATA_RAW) value,
 * joined with '&' like curl when repeated. @FILE (@- for stdin): -d reads it now and drops
 * its CR and LF bytes, as curl does; --data-binary streams a regular file as it is when the
 * request is sent (other files, which can be read only once, are read now). Returns 0, or
 * curl's 26 after printing why a file could not be read.
 */
static int add_data(const char *option, const char *arg, enum data_mode mode) {
    if (opt.has_body)
        add_bytes((const uint8_t *)"&", 1);
    opt.has_body = 1;
    opt.has_data = 1;
    if (mode == DATA_RAW || arg[0] != '@') {
        add_bytes((const uint8_t *)arg, strlen(arg));
        return 0;
    }
    const char *path = arg + 1;
    if (mode == DATA_BINARY && strcmp(path, "-") != 0) {
        off_t size;
        int regular = regular_file(path, &size);
        if (regular > 0) {
            add_file_part(path, size, option);
            return 0;
        }
        if (regular < 0)
            return body_error(xasprintf("%s %s: %s", option, arg, strerror(errno)));
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int err = read_file(path, &data, &len);
    if (err)
        return body_error(xasprintf("%s %s: %s", option, arg, strerror(err)));
    if (mode == DATA_PLAIN) {
        size_t kept = 0;
        for (size_t i = 0; i < len; i++)
            if (data[i] != '\r' && data[i] != '\n')
                data[kept++] = data[i];
        len = kept;
    }
    add_bytes(data, len);
    free(data);
    return 0;
}

/* -T FILE: the body (streamed from a regular file; "-" and other files read now). Returns 0
 * or curl's 26. */
static int set_upload(const char *path) {
    opt.upload = path;
    opt.has_body = 1;
    if (strcmp(path, "-") != 0) {
        off_t size;
        int regular = regular_file(path, &size);
        if (regular > 0) {
            add_file_part(path, size, "-T");
            return 0;
        }
        if (regular < 0)
            return body_error(xasprintf("-T %s: %s", path, strerror(errno)));
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int err = read_file(path, &data, &len);
    if (err)
        return body_error(xasprintf("-T %s: %s", path, strerror(err)));
    add_bytes(data, len);
    free(data);
    return 0;
}

static int is_blank(const char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* -H: "name: value", "name:" (remove), "name;" (send empty). */
static int add_header(const char *arg) {
    const char *colon = strchr(arg, ':');
    const char *semi = colon ? NULL : strchr(arg, ';');
    if (!colon && !(semi && semi > arg && is_blank(semi + 1))) {
        usage_error("-H '%s': expected 'name: value' (or 'name:' to remove, 'name;' for an "
                    "empty value)",
                    arg);
        return CURL_USAGE;
    }
    const char *end = colon ? colon : semi;
    const char *value = "";
    if (colon) {
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (*value == '\0')
            value = NULL; /* "name:": a removal */
    }
    opt.headers = xrealloc(opt.headers, (opt.nheaders + 1) * sizeof *opt.headers);
    struct header *h = &opt.headers[opt.nheaders++];
    h->name = xstrndup(arg, (size_t)(end - arg));
    h->arg = arg;
    h->value = NULL;
    if (value) {
        /* curl drops trailing blanks too (the library refuses them). */
        size_t n = strlen(value);
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
            n--;
        /* Owned through `name`'s allocation: name, NUL, value, NUL. */
        size_t nlen = strlen(h->name);
        h->name = xrealloc(h->name, nlen + 1 + n + 1);
        memcpy(h->name + nlen + 1, value, n);
        h->name[nlen + 1 + n] = '\0';
        h->value = h->name + nlen + 1;
    }
    return 0;
}

/* Whether -H names header `name` (to add, empty or remove): h2get then adds none itself. */
static int custom_header(const char *name) {
    for (size_t i = 0; i < opt.nheaders; i++)
        if (strcasecmp(opt.headers[i].name, name) == 0)
            return 1;
    return 0;
}

static void add_field(const char *name, const char *value, const char *arg) {
    opt.fields = xrealloc(opt.fields, (opt.nfields + 1) * sizeof *opt.fields);
    opt.fields[opt.nfields++] = (struct field){.name = name, .value = value, .arg = arg};
}

static char *base64(const char *s) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = abc[(v >> 18) & 63];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/*
 * The header fields of every request, in curl's order: authorization (-u), user-agent,
 * accept, referer (-e), the -H headers, content-length and content-type (-d). A header that
 * -H names (to set, empty or remove) replaces h2get's own.
 */
static void build_fields(void) {
    if (opt.user && !custom_header("authorization")) {
        char *b64 = base64(opt.user);
        opt.authorization = xasprintf("Basic %s", b64);
        free(b64);
        add_field("authorization", opt.authorization, NULL);
    }
    opt.default_agent = xasprintf("h2get/%s", h2_version());
    const char *agent = opt.user_agent ? opt.user_agent : opt.default_agent;
    if (*agent && !custom_header("user-agent"))
        add_field("user-agent", agent, NULL);
    if (!custom_header("accept"))
        add_field("accept", "*/*", NULL);
    if (opt.referer && *opt.referer && !custom_header("referer"))
        add_field("referer", opt.referer, NULL);
    for (size_t i = 0; i < opt.nheaders; i++)
        if (opt.headers[i].value)
            add_field(opt.headers[i].name, opt.headers[i].value, opt.headers[i].arg);
    if (opt.has_body && !custom_header("content-length")) {
        opt.content_length = xasprintf("%" PRIu64, opt.body_len);
        add_field("content-length", opt.content_length, NULL);
    }
    if (opt.has_data && !custom_header("content-type"))
        add_field("content-type", "application/x-www-form-urlencoded", NULL);
}

/* ---- the command line ------------------------------------------------------------------- */

enum {
    OPT_TIMEOUT = 256,
    OPT_MAX_REDIRS,
    OPT_CONNECT_TIMEOUT,
    OPT_COMPRESSED,
    OPT_RESOLVE,
    OPT_CONNECT_TO,
    OPT_NOPROXY,
    OPT_DATA_ASCII,
    OPT_DATA_BINARY,
    OPT_DATA_RAW,
    OPT_HTTP2,
    OPT_CACERT,
    OPT_KEY,
    OPT_UNIX_SOCKET,
    OPT_INTERFACE,
    OPT_FAIL_WITH_BODY,
    OPT_FAIL_EARLY,
    OPT_PARALLEL_MAX,
    OPT_URL,
    OPT_BASIC,
};

static const struct option LONG_OPTIONS[] = {
    {"request", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"data-ascii", required_argument, NULL, OPT_DATA_ASCII},
    {"data-binary", required_argument, NULL, OPT_DATA_BINARY},
    {"data-raw", required_argument, NULL, OPT_DATA_RAW},
    {"upload-file", required_argument, NULL, 'T'},
    {"head", no_argument, NULL, 'I'},
    {"include", no_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"remote-name", no_argument, NULL, 'O'},
    {"dump-header", required_argument, NULL, 'D'},
    {"write-out", required_argument, NULL, 'w'},
    {"silent", no_argument, NULL, 's'},
    {"show-error", no_argument, NULL, 'S'},
    {"fail", no_argument, NULL, 'f'},
    {"fail-with-body", no_argument, NULL, OPT_FAIL_WITH_BODY},
    {"fail-early", no_argument, NULL, OPT_FAIL_EARLY},
    {"verbose", no_argument, NULL, 'v'},
    {"location", no_argument, NULL, 'L'},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"max-time", required_argument, NULL, 'm'},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"user-agent", required_argument, NULL, 'A'},
    {"user", required_argument, NULL, 'u'},
    {"basic", no_argument, NULL, OPT_BASIC},
    {"referer", required_argument, NULL, 'e'},
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"http2-prior-knowledge", no_argument, NULL, OPT_HTTP2},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"cert", required_argument, NULL, 'E'},
    {"key", required_argument, NULL, OPT_KEY},
    {"proxy", required_argument, NULL, 'x'},
    {"noproxy", required_argument, NULL, OPT_NOPROXY},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
    {"interface", required_argument, NULL, OPT_INTERFACE},
    {"unix-socket", required_argument, NULL, OPT_UNIX_SOCKET},
    {"parallel", no_argument, NULL, 'Z'},
    {"parallel-max", required_argument, NULL, OPT_PARALLEL_MAX},
    {"no-buffer", no_argument, NULL, 'N'},
    {"url", required_argument, NULL, OPT_URL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* '-' first: arguments that are not options come back in order as option 1 (whatever
 * POSIXLY_CORRECT says); ':' next: a missing value is ':', not '?'. */
static const char SHORT_OPTIONS[] = "-:X:H:d:T:Iio:OD:w:sSfvLm:A:u:e:46kE:x:P:ZNh";

static void add_output(const char *path, int remote) {
    opt.outputs = xrealloc(opt.outputs, (opt.noutputs + 1) * sizeof *opt.outputs);
    opt.outputs[opt.noutputs++] = (struct output){.path = path, .remote = remote};
}

/* Applies option `c` (as getopt_long returned it) with value `val`; `name` is how it was
 * written, for messages. Returns -1 to go on, else an exit status. */
static int apply_option(int c, const char *name, const char *val) {
    unsigned long n;
    int rc;
    switch (c) {
    case 1:
    case OPT_URL:
        opt.urls[opt.nurls++] = val;
        return -1;
    case 'X':
        opt.method = val;
        return -1;
    case 'H':
        return add_header(val) ? CURL_USAGE : -1;
    /* The option names are literals: a streamed part keeps its option's for messages. */
    case 'd':
        rc = add_data("-d", val, DATA_PLAIN);
        return rc ? rc : -1;
    case OPT_DATA_ASCII:
        rc = add_data("--data-ascii", val, DATA_PLAIN);
        return rc ? rc : -1;
    case OPT_DATA_BINARY:
        rc = add_data("--data-binary", val, DATA_BINARY);
        return rc ? rc : -1;
    case OPT_DATA_RAW:
        rc = add_data("--data-raw", val, DATA_RAW);
        return rc ? rc : -1;
    case 'T':
        if (opt.upload) {
            usage_error("-T: only one file may be uploaded");
            return CURL_USAGE;
        }
        rc = set_upload(val);
        return rc ? rc : -1;
    case 'I':
        opt.head = 1;
        return -1;
    case 'i':
        opt.include = 1;
        return -1;
    case 'o':
        add_output(val, 0);
        return -1;
    case 'O':
        add_output(NULL, 1);
        return -1;
    case 'D':
        opt.dump_header = val;
        return -1;
    case 'w': {
        free(opt.write_out);
        opt.write_out = NULL;
        if (val[0] != '@') {
            opt.write_out = xstrdup(val);
            return -1;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        int err = read_file(val + 1, &data, &len);
        if (err) {
            usage_error("%s %s: %s", name, val, strerror(err));
            return CURL_USAGE;
        }
        opt.write_out = xstrndup((const char *)data, len);
        free(data);
        return -1;
    }
    case 's':
        opt.silent = 1;
        return -1;
    case 'S':
        opt.show_error = 1;
        return -1;
    case 'f':
        opt.fail = FAIL_QUIET;
        return -1;
    case OPT_FAIL_WITH_BODY:
        opt.fail = FAIL_WITH_BODY;
        return -1;
    case OPT_FAIL_EARLY:
        opt.fail_early = 1;
        return -1;
    case 'v':
        opt.verbose = 1;
        return -1;
    case 'L':
        opt.location = 1;
        return -1;
    case OPT_MAX_REDIRS:
        if (strcmp(val, "-1") == 0) {
            opt.max_redirs = UINT32_MAX; /* curl's "no limit" */
            return -1;
        }
        if (parse_ulong(val, 0, UINT32_MAX, &n) != 0) {
            usage_error("%s: invalid value '%s' (a count, or -1)", name, val);
            return CURL_USAGE;
        }
        opt.max_redirs = (uint32_t)n;
        return -1;
    case 'm':
        if (parse_seconds(val, &opt.timeout_ms) != 0) {
            usage_error("%s: invalid value '%s' (seconds)", name, val);
            return CURL_USAGE;
        }
        return -1;
    case OPT_CONNECT_TIMEOUT:
        if (parse_seconds(val, &opt.connect_timeout_ms) != 0) {
            usage_error("%s: invalid value '%s' (seconds)", name, val);
            return CURL_USAGE;
        }
        return -1;
    case OPT_TIMEOUT:
        if (parse_ulong(val, 0, UINT32_MAX, &n) != 0) {
            usage_error("%s: invalid value '%s' (milliseconds)", name, val);
            return CURL_USAGE;
        }
        opt.timeout_ms = (uint32_t)n;
        return -1;
    case OPT_COMPRESSED:
        opt.compressed = 1;
        return -1;
    case 'A':
        opt.user_agent = val;
        return -1;
    case 'u':
        if (!strchr(val, ':')) {
            usage_error("%s '%s': give the password too ('user:password'); h2get does not "
                        "prompt for it",
                        name, val);
            return CURL_USAGE;
        }
        opt.user = val;
        return -1;
    case 'e': {
        /* curl's "URL;auto" also sets the referer of redirects; h2get sends URL only. */
        const char *semi = strstr(val, ";auto");
        opt.referer = val;
        if (semi && semi[5] == '\0') {
            free(opt.referer_copy);
            opt.referer = opt.referer_copy = xstrndup(val, (size_t)(semi - val));
        }
        return -1;
    }
    case '4':
        opt.ip_version = 4;
        return -1;
    case '6':
        opt.ip_version = 6;
        return -1;
    case OPT_HTTP2: /* --http2, --http2-prior-knowledge: what h2get always does */
    case OPT_BASIC: /* the only authentication h2get has */
    case 'Z':       /* --parallel: h2get always is */
    case 'N':       /* --no-buffer: h2get never buffers the body */
        return -1;
    case OPT_CACERT:
        opt.cacert = val;
        return -1;
    case 'k':
        opt.insecure = 1;
        return -1;
    case 'E':
        opt.cert = val;
        return -1;
    case OPT_KEY:
        opt.key = val;
        return -1;
    case 'x':
        opt.proxy = val;
        return -1;
    case OPT_NOPROXY:
        opt.noproxy = val;
        return -1;
    case OPT_RESOLVE:
    case OPT_CONNECT_TO:
        if ((c == OPT_RESOLVE ? opt.nresolve : opt.nconnect_to) >= 16) {
            usage_error("%s: at most 16 entries", name);
            return CURL_USAGE;
        }
        if (c == OPT_RESOLVE)
            opt.resolve[opt.nresolve++] = val;
        else
            opt.connect_to[opt.nconnect_to++] = val;
        return -1;
    case OPT_INTERFACE:
        opt.interface = val;
        return -1;
    case OPT_UNIX_SOCKET:
        opt.unix_socket = val;
        return -1;
    case 'P':
    case OPT_PARALLEL_MAX:
        if (parse_ulong(val, 1, MAX_PARALLEL, &n) != 0) {
            usage_error("%s: invalid value '%s' (1..%d)", name, val, MAX_PARALLEL);
            return CURL_USAGE;
        }
        opt.parallel = n;
        return -1;
    case 'h':
        fputs(USAGE, stdout);
        return 0;
    }
    usage_error("unexpected option %d", c);
    return CURL_USAGE;
}

/* Parses argv into `opt` with getopt_long. Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv) {
    opt.urls = xmalloc((size_t)argc * sizeof *opt.urls);
    opterr = 0; /* the messages are ours */
    for (;;) {
        int index = -1;
        int c = getopt_long(argc, argv, SHORT_OPTIONS, LONG_OPTIONS, &index);
        if (c == -1)
            break;
        const char *written = argv[optind - 1]; /* the last argument getopt looked at */
        if (c == '?') {
            if (optopt && !starts_with(written, "--"))
                usage_error("unknown option '-%c'", optopt);
            else
                usage_error("unknown option '%s'", written);
            return CURL_USAGE;
        }
        if (c == ':') {
            if (starts_with(written, "--"))
                usage_error("option '%s' needs a value", written);
            else
                usage_error("option '-%c' needs a value", optopt);
            return CURL_USAGE;
        }
        char name[48];
        if (index >= 0)
            snprintf(name, sizeof name, "--%s", LONG_OPTIONS[index].name);
        else
            snprintf(name, sizeof name, "-%c", c);
        int rc = apply_option(c, name, optarg);
        if (rc >= 0)
            return rc;
    }
    /* After "--", the rest are URLs. */
    for (int i = optind; i < argc; i++)
        opt.urls[opt.nurls++] = argv[i];

    if (opt.cert && !opt.key) {
        usage_error("--cert needs --key (the client certificate's private key)");
        return CURL_USAGE;
    }
    if (opt.key && !opt.cert) {
        usage_error("--key needs --cert (the client certificate)");
        return CURL_USAGE;
    }
    if (opt.head && opt.has_body) {
        usage_error("-I (HEAD) cannot send a body (%s)", opt.upload ? "-T" : "-d");
        return CURL_USAGE;
    }
    if (opt.upload && opt.has_data) {
        usage_error("-T and -d cannot be used together");
        return CURL_USAGE;
    }
    if (opt.nurls == 0) {
        usage_error("no URL given");
        return CURL_USAGE;
    }
    if (opt.noutputs > opt.nurls)
        warnf("more -o/-O options (%zu) than URLs (%zu): the last ones are not used",
              opt.noutputs, opt.nurls);
    if (!opt.method)
        opt.method = opt.head ? "HEAD" : opt.upload ? "PUT" : opt.has_body ? "POST" : "GET";
    build_fields();
    return -1;
}

/* ---- setting up: URLs, outputs, the config, the requests ------------------------------- */

/* Whether `url` starts with "scheme://" (a letter, then letters, digits, '+', '-', '.'). */
static int has_scheme(const char *url) {
    if (!isalpha((unsigned char)url[0]))
        return 0;
    const char *p = url + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return starts_with(p, "://");
}

/* Where the path of `url` (with a scheme) starts, and where it ends (at '?', '#' or the end). */
static const char *path_of(const char *url, const char **end) {
    const char *authority = strstr(url, "://") + 3;
    const char *stop = authority + strcspn(authority, "?#");
    const char *path = authority + strcspn(authority, "/?#");
    *end = stop;
    return path;
}

/* The URL to fetch for the n-th URL given: http:// added when it has no scheme (curl's
 * guess), and for -T FILE, FILE's name added when the URL's path is empty or ends in '/'. */
static char *fetch_url(const char *given) {
    char *url = has_scheme(given) ? xstrdup(given) : xasprintf("http://%s", given);
    if (opt.upload && strcmp(opt.upload, "-") != 0) {
        const char *end, *path = path_of(url, &end);
        if (path == end || end[-1] == '/') {
            const char *base = strrchr(opt.upload, '/');
            base = base ? base + 1 : opt.upload;
            /* The path is kept before the name, the query and fragment after it. */
            char *with = xasprintf("%.*s%s%s%s", (int)(end - url), url, path == end ? "/" : "",
                                   base, end);
            free(url);
            url = with;
        }
    }
    return url;
}

/* -O's file name: the last segment of the URL's path (curl's rule: the URL as given, not
 * decoded); NULL if it is empty. */
static char *remote_name(const char *url) {
    const char *end, *path = path_of(url, &end);
    const char *slash = path;
    for (const char *p = path; p < end; p++)
        if (*p == '/')
            slash = p + 1;
    return slash < end ? xstrndup(slash, (size_t)(end - slash)) : NULL;
}

static int is_https(const char *url) {
    return strncasecmp(url, "https://", 8) == 0;
}

/* Reports a failed h2_config_set_* call: "h2get: H2_E_NAME: message". Returns `code`. */
static int config_error(h2_result rc, int code) {
    char *msg = last_error_message();
    errorf("%s: %s", h2_error_name(rc), msg);
    free(msg);
    return code;
}

/* --interface NAME: the first address of that network interface (IPv4 first, unless -6;
 * no IPv6 link-local address, which would need a scope), in `buf`. Returns 0 or -1. */
static int interface_address(const char *name, char *buf, size_t len) {
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0)
        return -1;
    int found = -1;
    for (int pass = 0; pass < 2 && found != 0; pass++) {
        int family = (pass == 0) == (opt.ip_version != 6) ? AF_INET : AF_INET6;
        for (struct ifaddrs *a = all; a && found != 0; a = a->ifa_next) {
            if (!a->ifa_addr || a->ifa_addr->sa_family != family || strcmp(a->ifa_name, name))
                continue;
            const void *ip = &((struct sockaddr_in *)a->ifa_addr)->sin_addr;
            if (family == AF_INET6) {
                const struct in6_addr *ip6 = &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
                if (IN6_IS_ADDR_LINKLOCAL(ip6))
                    continue;
                ip = ip6;
            }
            if (inet_ntop(family, ip, buf, (socklen_t)len))
                found = 0;
        }
    }
    freeifaddrs(all);
    return found;
}

/* --interface: an IP address as it is, "if!NAME" or NAME an interface's address,
 * "host!ADDR" the address. Returns 0, or curl's 45 after printing why. */
static int configure_interface(h2_config *cfg) {
    const char *want = opt.interface;
    if (starts_with(want, "host!"))
        want += 5;
    else if (starts_with(want, "if!"))
        want += 3;
    unsigned char bin[sizeof(struct in6_addr)];
    char addr[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, want, bin) == 1 || inet_pton(AF_INET6, want, bin) == 1) {
        snprintf(addr, sizeof addr, "%s", want);
    } else if (interface_address(want, addr, sizeof addr) != 0) {
        errorf("%s: --interface %s: no such IP address or network interface (with an "
               "address%s)",
               h2_error_name(H2_E_INVALID_ARGUMENT), opt.interface,
               opt.ip_version == 6 ? "" : " of either family");
        return CURL_INTERFACE_FAILED;
    }
    h2_result rc = h2_config_set_local_address(cfg, addr);
    return rc == H2_OK ? 0 : config_error(rc, CURL_INTERFACE_FAILED);
}

/* Applies the options to `cfg`. Returns 0, or an exit status after printing why. */
static int configure(h2_config *cfg) {
    h2_result rc;
    /* The user-agent is one of h2get's own request headers (build_fields). */
    if ((rc = h2_config_set_user_agent(cfg, NULL)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    /* --max-redirs 0 with -L follows none, as in curl. */
    if (opt.location && (rc = h2_config_set_follow_redirects(cfg, opt.max_redirs)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    /* curl -L follows a redirect from https to http too. */
    if (opt.location && (rc = h2_config_set_redirect_https_to_http(cfg, 1)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    if (opt.connect_timeout_ms &&
        (rc = h2_config_set_connect_timeout_ms(cfg, opt.connect_timeout_ms)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    if (opt.cacert && (rc = h2_config_set_ca_file(cfg, opt.cacert)) != H2_OK)
        return config_error(rc, CURL_SSL_CACERT_BADFILE);
    if (opt.insecure && (rc = h2_config_set_insecure_skip_verify(cfg, true)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    if (opt.cert && (rc = h2_config_set_client_cert_file(cfg, opt.cert, opt.key)) != H2_OK)
        return config_error(rc, CURL_SSL_CERTPROBLEM);
    if (opt.proxy && (rc = h2_config_set_proxy(cfg, opt.proxy)) != H2_OK) {
        /* curl: 7 for a scheme it does not know ("Unsupported proxy scheme"), else 5. */
        char *msg = last_error_message();
        int code = strstr(msg, "unsupported proxy scheme") ? CURL_COULDNT_CONNECT
                                                            : CURL_COULDNT_RESOLVE_PROXY;
        free(msg);
        return config_error(rc, code);
    }
    if (opt.noproxy && (rc = h2_config_set_no_proxy(cfg, opt.noproxy)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    for (size_t i = 0; i < opt.nresolve; i++)
        if ((rc = h2_config_add_resolve(cfg, opt.resolve[i])) != H2_OK)
            return config_error(rc, CURL_USAGE);
    for (size_t i = 0; i < opt.nconnect_to; i++)
        if ((rc = h2_config_add_connect_to(cfg, opt.connect_to[i])) != H2_OK)
            return config_error(rc, CURL_USAGE);
    if (opt.interface) {
        int code = configure_interface(cfg);
        if (code)
            return code;
    }
    if (opt.ip_version &&
        (rc = h2_config_set_ip_version(cfg, opt.ip_version == 4 ? H2_IP_V4 : H2_IP_V6)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    if (opt.unix_socket && (rc = h2_config_set_unix_socket(cfg, opt.unix_socket)) != H2_OK)
        return config_error(rc, CURL_USAGE);
    /* --compressed: every coding the library decodes is asked for and the body is written
     * decoded, as curl does. H2_E_DECODE comes with h2_config_set_accept_encoding: with an
     * older library none is asked for (no accept-encoding is sent), and the body written is
     * the same. */
#ifdef H2_E_DECODE
    if (opt.compressed && (rc = h2_config_set_accept_encoding(cfg, "")) != H2_OK)
        return config_error(rc, CURL_USAGE);
#endif
    if (!opt.verbose || !is_https(work.slots[0].url))
        return 0;
    if (opt.cacert)
        fprintf(stderr, "*  CAfile: %s\n", opt.cacert);
    if (opt.insecure)
        fputs("* TLS: certificate verification DISABLED (-k)\n", stderr);
    if (opt.cert)
        fprintf(stderr, "* TLS: client certificate %s, key %s\n", opt.cert, opt.key);
    return 0;
}

/* Sets up slot `s` for URL number `i`: its URL, output and request. A URL the library
 * refuses fails this slot only (curl's 3, or 1 for an unsupported scheme); -O without a file
 * name too (23). Returns 0, or an exit status for an error of the options (-X, -H). */
static int prepare_slot(struct slot *s, size_t i) {
    s->index = i;
    s->given = opt.urls[i];
    s->url = fetch_url(s->given);
    if (opt.body_error) {
        s->rc = H2_E_INVALID_ARGUMENT;
        s->error = xstrdup(opt.body_error);
        s->code = CURL_READ_ERROR;
        return 0;
    }
    if (i < opt.noutputs) {
        const struct output *o = &opt.outputs[i];
        if (o->remote) {
            s->remote_name = remote_name(s->url);
            s->out_name = s->remote_name;
            if (!s->remote_name) {
                s->rc = H2_E_INVALID_ARGUMENT;
                s->error = xstrdup("-O: the URL has no file name (its path is empty or ends "
                                   "with '/'): use -o FILE");
                s->code = CURL_WRITE_ERROR;
                return 0;
            }
        } else if (strcmp(o->path, "-") != 0) {
            s->out_name = o->path;
        }
    }
    s->req = h2_request_new_url(opt.method, s->url);
    if (!s->req) {
        h2_error_info info;
        h2_result rc = h2_last_error(&info);
        char *msg = last_error_message();
        if (rc != H2_E_INVALID_URL) { /* -X: the method */
            usage_error("-X '%s': %s", opt.method, msg);
            free(msg);
            return CURL_USAGE;
        }
        s->rc = rc;
        s->error = msg;
        s->code = curl_code(rc, msg);
        return 0;
    }
    for (size_t f = 0; f < opt.nfields; f++) {
        const struct field *fd = &opt.fields[f];
        h2_result rc = h2_request_add_header(s->req, fd->name, fd->value);
        if (rc != H2_OK) {
            char *msg = last_error_message();
            /* Every request would refuse it: an option error, not one URL's. */
            if (fd->arg)
                errorf("%s: -H '%s': %s", h2_error_name(rc), fd->arg, msg);
            else
                errorf("%s: %s: '%s': %s", h2_error_name(rc), fd->name, fd->value, msg);
            free(msg);
            return CURL_USAGE;
        }
    }
    h2_result rc = H2_OK;
    if (opt.stream_body)
        rc = h2_request_set_streaming_body(s->req, true);
    else if (opt.has_body && opt.body_len > 0)
        rc = h2_request_set_body(s->req, opt.parts[0].data, opt.parts[0].len);
    if (rc == H2_OK && opt.timeout_ms > 0)
        rc = h2_request_set_timeout_ms(s->req, opt.timeout_ms);
    if (rc != H2_OK) {
        char *msg = last_error_message();
        errorf("%s: %s: %s", s->url, h2_error_name(rc), msg);
        free(msg);
        return CURL_USAGE;
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
        const char *at = strcmp(part->opt, "-T") == 0 ? "" : "@";
        FILE *f = fopen(part->path, "rb");
        if (!f) {
            problem = xasprintf("%s %s%s: %s", part->opt, at, part->path, strerror(errno));
            break;
        }
        uint64_t left = part->len;
        while (left > 0 && rc == H2_OK) {
            size_t want = left < UPLOAD_PIECE ? (size_t)left : UPLOAD_PIECE;
            size_t got = fread(piece, 1, want, f);
            if (got == 0) {
                problem = ferror(f) ? xasprintf("%s %s%s: read error: %s", part->opt, at,
                                                part->path, strerror(errno ? errno : EIO))
                                    : xasprintf("%s %s%s: the file shrank while it was sent",
                                                part->opt, at, part->path);
                break;
            }
            rc = h2_call_write(call, piece, got);
            left -= got;
        }
        if (rc == H2_OK && !problem && fgetc(f) != EOF)
            problem = xasprintf("%s %s%s: the file grew while it was sent", part->opt, at,
                                part->path);
        fclose(f);
    }
    if (problem) {
        /* read by the main thread after joining this one */
        s->upload_error = problem;
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

/* Starts the slot's call (and its uploader), unless SIGINT came first or the slot failed
 * before (its URL). */
static void start_slot(struct slot *s) {
    if (s->rc != H2_OK)
        return;
    pthread_mutex_lock(&ctl.lock);
    if (atomic_load(&ctl.interrupted)) {
        pthread_mutex_unlock(&ctl.lock);
        return;
    }
    s->started = 1;
    h2_result rc = h2_client_start(work.client, s->req, &s->call);
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
            h2_call_cancel(s->call);
        }
    }
}

/* DONE: the URL has its response (s->code 0, or 22 for -f); FAILED: it failed (s->code);
 * INTERRUPTED: SIGINT; STDOUT_FAILED: writing to stdout failed, nothing more can be written. */
enum outcome { DONE, FAILED, INTERRUPTED, STDOUT_FAILED };

/* Writes all the pieces with as few writev calls as the descriptor allows. Returns 0, or an
 * errno value. */
static int write_pieces(int fd, const h2_piece *pieces, size_t count) {
    struct iovec iov[VIEW_PIECES];
    for (size_t i = 0; i < count; i++) {
        iov[i].iov_base = (void *)pieces[i].data;
        iov[i].iov_len = pieces[i].len;
    }
    struct iovec *v = iov;
    int left = (int)count;
    while (left > 0) {
        ssize_t w = writev(fd, v, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
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
    return 0;
}

/* The response head as curl writes it for HTTP/2 (-i, -I, -D): "HTTP/2 200 \r\n", each
 * field as "name: value\r\n", then "\r\n". Malloc'd; its length in *len. */
static char *format_head(const h2_call *call, size_t *len) {
    char *text = xasprintf("HTTP/2 %u \r\n", (unsigned)h2_call_status(call));
    size_t n = strlen(text);
    size_t count = h2_call_header_count(call);
    for (size_t i = 0; i < count; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        if (h2_call_header_at(call, i, &name, &name_len, &value, &value_len) != H2_OK)
            continue;
        text = xrealloc(text, n + name_len + value_len + 5);
        memcpy(text + n, name, name_len);
        n += name_len;
        memcpy(text + n, ": ", 2);
        n += 2;
        memcpy(text + n, value, value_len);
        n += value_len;
        memcpy(text + n, "\r\n", 2);
        n += 2;
    }
    text = xrealloc(text, n + 3);
    memcpy(text + n, "\r\n", 3);
    *len = n + 2;
    return text;
}

/* Whether the call's response is one that -L follows: 301, 302, 303, 307 or 308 with a
 * location. */
static int is_redirect(const h2_call *call) {
    unsigned st = h2_call_status(call);
    return (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) &&
           h2_call_header(call, "location");
}

/* Writes `len` bytes to `f` and flushes it. Returns 0 or an errno value. */
static int write_flush(FILE *f, const void *data, size_t len) {
    if ((len && fwrite(data, 1, len, f) != len) || fflush(f) != 0)
        return errno ? errno : EIO;
    return 0;
}

/* The slot's output, opened now if it is a file (created once the response head says there
 * is something to write, as curl does: -f on a 404 leaves no file). NULL with errno set if
 * it cannot be opened. */
static FILE *slot_output(struct slot *s) {
    if (!s->out_name)
        return stdout;
    if (!s->out)
        s->out = fopen(s->out_name, "wb");
    return s->out;
}

/* A failure of the slot's output (or -D's file), curl's 23. Returns FAILED, or
 * STDOUT_FAILED when the output was stdout. */
static enum outcome output_failed(struct slot *s, const char *what, int err, int is_stdout) {
    s->code = CURL_WRITE_ERROR;
    free(s->error);
    s->error = xasprintf("%s: %s: %s", what, is_stdout ? "write error" : "cannot write",
                         strerror(err));
    errorf("%s: %s: %s", s->url, h2_error_name(H2_E_INVALID_ARGUMENT), s->error);
    if (s->call)
        h2_call_cancel(s->call);
    return is_stdout ? STDOUT_FAILED : FAILED;
}

/*
 * The slot's turn: waits for the head; writes it to -D's file, and with -i or -I to the
 * output; streams the body to the output (not with -I, nor with -f for a status >= 400);
 * sets s->code; reports a failure as "h2get: URL: H2_E_NAME: message" (except a cancel by
 * SIGINT, which main reports with the other unfinished URLs, from s->rc and s->error).
 */
static enum outcome run_slot(struct slot *s) {
    if (s->rc != H2_OK) { /* the URL, -O or h2_client_start failed */
        if (!s->code)
            s->code = curl_code(s->rc, s->error ? s->error : "");
        errorf("%s: %s: %s", s->url, h2_error_name(s->rc), s->error ? s->error : "");
        return FAILED;
    }
    h2_call *call = s->call;
    h2_result rc = h2_call_wait_headers(call);
    if (rc != H2_OK)
        goto failed;
    if (atomic_load(&ctl.interrupted))
        return INTERRUPTED;
    s->status = h2_call_status(call);
    if (opt.verbose) {
        pthread_mutex_lock(&err_lock);
        fputs("< \n", stderr); /* the end of the head, whose fields the log has shown */
        pthread_mutex_unlock(&err_lock);
    }
    size_t head_len;
    char *head = format_head(call, &head_len);
    s->size_header = head_len;
    int err;
    if (work.dump && (err = write_flush(work.dump, head, head_len)) != 0) {
        free(head);
        return output_failed(s, work.dump == stdout ? "stdout" : opt.dump_header, err,
                             work.dump == stdout);
    }
    int http_failed = opt.fail != FAIL_NONE && s->status >= 400;
    /* -L --max-redirs 0: a redirect is an error, as one more than N is (the library, told
     * to follow none, made the 3xx the response). */
    int too_many = opt.location && opt.max_redirs == 0 && is_redirect(call);
    int write_body = !opt.head && !too_many && !(http_failed && opt.fail == FAIL_QUIET);
    FILE *out = NULL;
    if (write_body || opt.include || opt.head) {
        out = slot_output(s);
        if (!out) {
            free(head);
            return output_failed(s, s->out_name, errno, 0);
        }
    }
    if (out && (opt.include || opt.head) && (err = write_flush(out, head, head_len)) != 0) {
        free(head);
        return output_failed(s, s->out_name ? s->out_name : "stdout", err, out == stdout);
    }
    free(head);
    if (!write_body && !opt.head) {
        h2_call_cancel(call); /* -f, --max-redirs 0: the body is not wanted */
    } else {
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
            if (!write_body)
                continue;
            /* Written at once: the body goes out as it arrives (e.g. into a pipe). */
            if ((err = write_pieces(fileno(out), pieces, count)) != 0)
                return output_failed(s, s->out_name ? s->out_name : "stdout", err,
                                     out == stdout);
            for (size_t i = 0; i < count; i++)
                s->size_download += pieces[i].len;
        }
    }
    if (s->out) {
        int failed = fclose(s->out) != 0;
        s->out = NULL;
        if (failed)
            return output_failed(s, s->out_name, errno, 0);
    }
    end_upload(s);
    if (s->upload_error) {
        s->code = CURL_READ_ERROR;
        s->error = xstrdup(s->upload_error);
        errorf("%s: %s: %s", s->url, h2_error_name(H2_E_INVALID_ARGUMENT), s->upload_error);
        return FAILED;
    }
    if (too_many) {
        s->code = CURL_TOO_MANY_REDIRECTS;
        s->error = xstrdup("Maximum (0) redirects followed");
        errorf("%s: %s: a redirect to %s, and --max-redirs is 0", s->url,
               h2_error_name(H2_E_TOO_MANY_REDIRECTS), h2_call_header(call, "location"));
        return FAILED;
    }
    if (http_failed) {
        s->code = CURL_HTTP_RETURNED_ERROR;
        s->error = xasprintf("The requested URL returned error: %u", (unsigned)s->status);
        errorf("%s: HTTP %u: the requested URL returned error (--fail)", s->url,
               (unsigned)s->status);
        return FAILED;
    }
    return DONE;

failed:
    s->rc = rc;
    s->error = last_error_message();
    end_upload(s);
    if (s->upload_error) {
        s->code = CURL_READ_ERROR;
        errorf("%s: %s: %s", s->url, h2_error_name(H2_E_INVALID_ARGUMENT), s->upload_error);
        return FAILED;
    }
    if (rc == H2_E_CANCELED && atomic_load(&ctl.interrupted))
        return INTERRUPTED;
    s->code = curl_code(rc, s->error);
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

/* ---- -w/--write-out ---------------------------------------------------------------------- */

/* %header{NAME}: the response's NAME fields, joined with ", " as curl does. */
static void write_header_values(FILE *f, const h2_call *call, const char *name, size_t len) {
    size_t count = call ? h2_call_header_count(call) : 0;
    int first = 1;
    for (size_t i = 0; i < count; i++) {
        const char *n, *v;
        size_t nl, vl;
        if (h2_call_header_at(call, i, &n, &nl, &v, &vl) != H2_OK || nl != len ||
            strncasecmp(n, name, len) != 0)
            continue;
        if (!first)
            fputs(", ", f);
        fwrite(v, 1, vl, f);
        first = 0;
    }
}

/* The %{NAME} variables that come from h2_call_info (times in seconds since the request
 * started, as curl prints them; addresses and sizes). Returns 0, or -1 for one it does not
 * know. Before the call has any, the numbers are 0 and the addresses empty. */
static int write_info_variable(FILE *f, const struct slot *s, const char *name, size_t len) {
#define IS(v) (len == sizeof(v) - 1 && strncmp(name, v, len) == 0)
    h2_request_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    if (!s->call || h2_call_info(s->call, &i) != H2_OK) {
        memset(&i, 0, sizeof i);
    }
    uint64_t us;
    if (IS("time_namelookup"))
        us = i.time_namelookup_us;
    else if (IS("time_connect"))
        us = i.time_connect_us;
    else if (IS("time_appconnect"))
        us = i.time_tls_us;
    else if (IS("time_pretransfer"))
        us = i.time_headers_sent_us;
    else if (IS("time_posttransfer"))
        us = i.time_request_sent_us;
    else if (IS("time_starttransfer"))
        us = i.time_first_byte_us;
    else if (IS("time_total"))
        us = i.time_total_us;
    else if (IS("time_redirect"))
        us = i.time_redirect_us;
    else {
        if (IS("remote_ip"))
            fputs(i.remote_address && !i.unix_socket ? i.remote_address : "", f);
        else if (IS("remote_port"))
            fprintf(f, "%u", (unsigned)i.remote_port);
        else if (IS("local_ip"))
            fputs(i.local_address ? i.local_address : "", f);
        else if (IS("local_port"))
            fprintf(f, "%u", (unsigned)i.local_port);
        else if (IS("num_connects"))
            fputs(s->call && i.connection_id && !i.reused ? "1" : "0", f);
        else if (IS("size_request"))
            fprintf(f, "%" PRIu64, i.header_bytes_sent + i.body_bytes_sent);
        else if (IS("size_upload"))
            fprintf(f, "%" PRIu64, i.body_bytes_sent);
        else
            return -1;
        return 0;
    }
    fprintf(f, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    return 0;
#undef IS
}

/* The value of %{NAME} for slot `s` into `f`. Returns 0, or -1 for a variable h2get does not
 * know. */
static int write_variable(FILE *f, const struct slot *s, const char *name, size_t len) {
#define IS(v) (len == sizeof(v) - 1 && strncmp(name, v, len) == 0)
    const h2_call *call = s->call;
    int head = s->status != 0;
    const char *effective = call ? h2_call_effective_url(call) : NULL;
    if (!effective)
        effective = s->url;
    if (IS("http_code") || IS("response_code"))
        fprintf(f, "%03u", (unsigned)s->status);
    else if (IS("http_version"))
        fputs(head ? "2" : "0", f);
    else if (IS("size_download"))
        fprintf(f, "%" PRIu64, s->size_download);
    else if (IS("size_header"))
        fprintf(f, "%" PRIu64, s->size_header);
    else if (IS("url_effective"))
        fputs(effective, f);
    else if (IS("url"))
        fputs(s->given, f);
    else if (IS("urlnum"))
        fprintf(f, "%zu", s->index);
    else if (IS("num_redirects"))
        fprintf(f, "%" PRIu32, call ? h2_call_redirect_count(call) : 0);
    else if (IS("num_headers"))
        fprintf(f, "%zu", head ? h2_call_header_count(call) : (size_t)0);
    else if (IS("content_type"))
        write_header_values(f, head ? call : NULL, "content-type", 12);
    else if (IS("exitcode"))
        fprintf(f, "%d", s->code);
    else if (IS("errormsg"))
        fputs(s->code && s->error ? s->error : "", f);
    else if (IS("filename_effective"))
        fputs(s->out_name ? s->out_name : "", f);
    else if (IS("method"))
        fputs(opt.method, f);
    else if (IS("scheme"))
        fputs(is_https(effective) ? "HTTPS" : "HTTP", f);
    else
        return write_info_variable(f, s, name, len);
    return 0;
#undef IS
}

/*
 * Writes -w's format for slot `s` to stdout, as curl does: %{NAME} variables, %header{NAME},
 * %{stdout} and %{stderr} to switch streams, %% for %, \n \r \t; anything else as it is. An
 * unknown variable is left out with a warning.
 */
static void write_out(const struct slot *s) {
    FILE *f = stdout;
    for (const char *p = opt.write_out; *p;) {
        if (p[0] == '%' && p[1] == '%') {
            fputc('%', f);
            p += 2;
        } else if (p[0] == '%' && (p[1] == '{' || starts_with(p + 1, "header{"))) {
            int is_header = p[1] != '{';
            const char *name = p + (is_header ? 8 : 2);
            const char *close = strchr(name, '}');
            if (!close) {
                fputs(p, f);
                break;
            }
            size_t len = (size_t)(close - name);
            if (is_header)
                write_header_values(f, s->status ? s->call : NULL, name, len);
            else if (len == 6 && strncmp(name, "stdout", 6) == 0)
                fflush(f), f = stdout;
            else if (len == 6 && strncmp(name, "stderr", 6) == 0)
                fflush(f), f = stderr;
            else if (write_variable(f, s, name, len) != 0)
                warnf("unknown --write-out variable: '%.*s'", (int)len, name);
            p = close + 1;
        } else if (p[0] == '\\' && (p[1] == 'n' || p[1] == 'r' || p[1] == 't')) {
            fputc(p[1] == 'n' ? '\n' : p[1] == 'r' ? '\r' : '\t', f);
            p += 2;
        } else if (p[0] == '\\' && p[1]) {
            fputc(p[0], f);
            fputc(p[1], f);
            p += 2;
        } else {
            fputc(*p++, f);
        }
    }
    fflush(stdout);
    fflush(stderr);
}

/* ---- main ------------------------------------------------------------------------------ */

static void cleanup(void) {
    for (size_t i = 0; i < work.n; i++) {
        struct slot *s = &work.slots[i];
        release_slot(s);
        if (s->out)
            fclose(s->out);
        free(s->error);
        free(s->upload_error);
        free(s->url);
        free(s->remote_name);
        h2_request_free(s->req);
    }
    stop_signal_thread();
    free(work.slots);
    if (work.dump && work.dump != stdout)
        fclose(work.dump);
    for (size_t i = 0; i < opt.nheaders; i++)
        free(opt.headers[i].name);
    free(opt.headers);
    for (size_t i = 0; i < opt.nparts; i++)
        free(opt.parts[i].data);
    free(opt.parts);
    free(opt.urls);
    free(opt.outputs);
    free(opt.write_out);
    free(opt.referer_copy);
    free(opt.fields);
    free(opt.authorization);
    free(opt.default_agent);
    free(opt.content_length);
    free(opt.body_error);
    h2_client_free(work.client);
    if (opt.verbose) {
        h2_set_log_callback(H2_LOG_OFF, NULL, NULL);
        free_verbose_notes();
    }
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
    if (opt.verbose)
        h2_set_log_callback(H2_LOG_DEBUG, on_log, NULL);

    struct slot *slots = xmalloc(opt.nurls * sizeof *slots);
    memset(slots, 0, opt.nurls * sizeof *slots);
    pthread_mutex_lock(&ctl.lock); /* the signal thread reads work.slots */
    work.slots = slots;
    work.n = opt.nurls;
    pthread_mutex_unlock(&ctl.lock);
    /* The requests first: an option the library refuses (-X, -H) is reported before
     * anything else is set up; a bad URL fails that URL only, in its turn. */
    for (size_t i = 0; i < work.n; i++) {
        if ((status = prepare_slot(&work.slots[i], i)) != 0) {
            cleanup();
            return status;
        }
    }

    h2_config *cfg = h2_config_new();
    if (!cfg) {
        fputs("h2get: out of memory\n", stderr);
        cleanup();
        return CURL_BAD_FUNCTION_ARGUMENT;
    }
    if ((status = configure(cfg)) != 0) {
        h2_config_free(cfg);
        cleanup();
        return status;
    }
    /* No base URL: every request names its origin. */
    work.client = h2_client_new(NULL, cfg);
    h2_config_free(cfg);
    if (!work.client) {
        h2_error_info info;
        h2_result rc = h2_last_error(&info);
        char *msg = last_error_message();
        errorf("%s: %s", h2_error_name(rc), msg);
        free(msg);
        cleanup();
        return rc == H2_E_INVALID_URL || rc == H2_E_INVALID_ARGUMENT ? CURL_USAGE
                                                                      : curl_code(rc, "");
    }

    if (opt.dump_header) {
        work.dump = strcmp(opt.dump_header, "-") == 0 ? stdout : fopen(opt.dump_header, "wb");
        if (!work.dump) {
            errorf("%s: -D %s: %s", h2_error_name(H2_E_INVALID_ARGUMENT), opt.dump_header,
                   strerror(errno));
            cleanup();
            return CURL_WRITE_ERROR;
        }
    }

    /* From here on SIGINT cancels the calls. */
    pthread_mutex_lock(&ctl.lock);
    calls_running = 1;
    pthread_mutex_unlock(&ctl.lock);

    /*
     * Slot i's turn: slots i .. i+PARALLEL-1 are started (their responses arrive meanwhile,
     * up to one stream window each), slot i's body is streamed to its output, -w is
     * written, then its call is freed and the next one starts. The exit status is the last
     * URL's code, as curl's (with --fail-early, the first failure's).
     */
    int code = 0, stdout_failed = 0;
    size_t next = 0, i;
    for (i = 0; i < work.n; i++) {
        while (next < work.n && next < i + opt.parallel)
            start_slot(&work.slots[next++]);
        if (atomic_load(&ctl.interrupted))
            break;
        struct slot *s = &work.slots[i];
        enum outcome outcome = run_slot(s);
        if (outcome == INTERRUPTED)
            break;
        code = s->code;
        if (outcome == STDOUT_FAILED) {
            stdout_failed = 1;
            i++;
            break;
        }
        if (opt.write_out)
            write_out(s);
        release_slot(s);
        if (opt.fail_early && code != 0) {
            i++;
            break;
        }
    }

    int interrupted = atomic_load(&ctl.interrupted) && i < work.n;
    if (interrupted)
        for (size_t j = i; j < work.n; j++)
            report_unfinished(&work.slots[j]);

    if (!stdout_failed && (ferror(stdout) || fflush(stdout) != 0)) {
        /* The output is h2get's own, tied to no single URL. */
        errorf("%s: stdout: write error: %s", h2_error_name(H2_E_INVALID_ARGUMENT),
               strerror(errno));
        stdout_failed = 1;
    }
    cleanup();
    return interrupted ? EXIT_INTERRUPTED : stdout_failed ? CURL_WRITE_ERROR : code;
}
