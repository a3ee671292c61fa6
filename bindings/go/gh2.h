/*
 * C helpers of the Go binding (compiled by cgo with the package). Each one does in a single
 * C call what would otherwise take several cgo crossings, and captures the library's
 * thread-local last error (h2_last_error) in the same C call: a goroutine may move to another
 * OS thread between two cgo calls, so reading the last error in a later call would be wrong.
 *
 * Strings from Go are packed NUL-terminated one after another ("method\0url\0name\0value\0...",
 * the URL absolute);
 * header lists going to Go are packed as [u32le name_len][u32le value_len][name][value]....
 */
#ifndef GH2_H
#define GH2_H

#include <stddef.h>
#include <stdint.h>
#include <h2client.h>

/* Outputs of a helper, living in Go memory (it holds no Go pointers). */
typedef struct gh2_out {
    h2_error_info err; /* filled when a helper fails */
    h2_call *call;     /* gh2_start, gh2_submit */
    h2_response *resp; /* gh2_take */
    uint64_t n;        /* bytes read; bytes of packed fields written or needed */
    uint64_t body_len; /* gh2_take */
    uint32_t status;
    uint32_t count;    /* headers packed */
    uint32_t trailers; /* trailers packed (gh2_take) or pending at end of body (gh2_read) */
    uint32_t eof;      /* gh2_read: the body ended after these bytes */
    uint32_t want_info; /* in: gh2_wait_head and gh2_take also fill `info` */
    uint32_t decoded;   /* gh2_wait_head, gh2_take: the library decoded the body */
    h2_request_info info; /* gh2_wait_head, gh2_take (with want_info), gh2_call_info; its
                           * strings point into the call or response */
} gh2_out;

enum {
    GH2_CONNECT_TIMEOUT = 1,
    GH2_REQUEST_TIMEOUT,
    GH2_HEADERS_TIMEOUT,
    GH2_BODY_IDLE_TIMEOUT,
    GH2_IDLE_TIMEOUT,
    GH2_KEEPALIVE_INTERVAL,
    GH2_KEEPALIVE_TIMEOUT,
    GH2_SETTINGS_TIMEOUT,
    GH2_WRITE_TIMEOUT,
    GH2_MAX_CONNECTIONS,
    GH2_MAX_CONCURRENT_STREAMS,
    GH2_INITIAL_WINDOW_SIZE,
    GH2_CONNECTION_WINDOW_SIZE,
    GH2_MAX_FRAME_SIZE,
    GH2_MAX_HEADER_LIST_SIZE,
    GH2_HEADER_TABLE_SIZE,
    GH2_MAX_RESPONSE_BODY,
    GH2_MAX_RETRIES,
    GH2_INSECURE_SKIP_VERIFY,
    GH2_TLS_VERSIONS,
    GH2_CA_FILE,
    GH2_CA_PEM,
    GH2_CLIENT_CERT_FILE,
    GH2_MAX_CONNECTIONS_PER_ORIGIN,
    GH2_RESOLVE,
    GH2_CONNECT_TO,
    GH2_LOCAL_ADDRESS,
    GH2_MAX_CONTINUATION_FRAMES,
    GH2_MAX_EMPTY_DATA_FRAMES,
    GH2_MAX_PENDING_ACKS,
    GH2_MAX_GLITCHES,
    GH2_MAX_RESETS_PER_SECOND,
    GH2_MAX_INFORMATIONAL_RESPONSES,
    GH2_UNIX_SOCKET,
    GH2_USER_AGENT,
    GH2_ACCEPT_ENCODING,
};

h2_result gh2_config_set(h2_config *cfg, int opt, uint64_t value, h2_error_info *err);
h2_result gh2_config_set_bytes(h2_config *cfg, int opt, const char *a, const char *b, size_t len,
                               h2_error_info *err);
/* A client without a base URL (any origin) whose connections go through the proxy `proxy`
 * ("" = direct, never the environment's), ignoring the environment's no_proxy list (the Go
 * side has decided already). Sets both on `cfg`. */
h2_client *gh2_client_new(h2_config *cfg, const char *proxy, h2_error_info *err);
h2_result gh2_origin_stats(const h2_client *client, const char *origin, h2_stats *out,
                           h2_error_info *err);
h2_queue *gh2_queue_new(h2_error_info *err);

/* `hook`: 0, or the id of the request's informational-response hook (informational.go), given
 * to h2_request_set_informational_callback as its userdata. gh2_start with a queue `q` also
 * arms the call's notification for its head (h2_call_notify with `tag`). */
h2_result gh2_start(h2_client *client, const char *strs, size_t nheaders, const uint8_t *body,
                    size_t body_len, int streaming, uintptr_t hook, h2_queue *q, uint64_t tag,
                    gh2_out *out);
h2_result gh2_submit(h2_client *client, h2_queue *q, uint64_t tag, const char *strs,
                     size_t nheaders, const uint8_t *body, size_t body_len, uintptr_t hook,
                     gh2_out *out);

h2_result gh2_wait_head(h2_call *c, uint8_t *buf, size_t cap, gh2_out *out);
uint64_t gh2_pack_headers(const h2_call *c, uint8_t *buf, size_t cap, uint32_t *count);
uint64_t gh2_pack_trailers(const h2_call *c, uint8_t *buf, size_t cap, uint32_t *count);
h2_result gh2_read(h2_call *c, uint8_t *buf, size_t cap, gh2_out *out);
/* The non-blocking forms of gh2_wait_head and gh2_read (the default mode): they never block.
 * When nothing is there yet they arm a readiness notification with `tag` on `q`
 * (h2_call_notify) and return H2_E_AGAIN; the caller parks until the tag comes out of the
 * queue, then calls again. */
h2_result gh2_try_head(h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf, size_t cap,
                       gh2_out *out);
h2_result gh2_try_read(h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf, size_t cap,
                       gh2_out *out);
h2_result gh2_write(h2_call *c, const uint8_t *data, size_t len, h2_error_info *err);
h2_result gh2_finish(h2_call *c, const char *trailers, size_t ntrailers, h2_error_info *err);

h2_result gh2_take(h2_call *c, gh2_out *out);
/* h2_set_log_callback with the Go trampoline (log.go) and `handle` (a cgo.Handle) as userdata;
 * level H2_LOG_OFF or handle 0 turns logging off. */
h2_result gh2_set_log(uint32_t level, uintptr_t handle);

/* h2_call_info into out->info (zeroed first, struct_size set). */
h2_result gh2_call_info(const h2_call *c, gh2_out *out);
/* The server's certificates on the connection of `resp` (when not NULL) or of the call `c`,
 * packed as [u32le len][DER]...: writes them if they fit in `cap`; returns the bytes needed. */
uint64_t gh2_peer_certs(const h2_call *c, const h2_response *resp, uint8_t *buf, size_t cap);

void gh2_copy_response(h2_response *resp, h2_call *c, uint8_t *fields, size_t fields_cap,
                       uint8_t *body, size_t body_len);

#endif
