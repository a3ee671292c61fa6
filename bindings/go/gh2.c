/* C helpers of the Go binding: see gh2.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gh2.h"
#include "_cgo_export.h" /* gh2GoLog, gh2GoInformational */

h2_result gh2_config_set(h2_config *cfg, int opt, uint64_t v, h2_error_info *err) {
    uint32_t v32 = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    h2_result rc;
    switch (opt) {
    case GH2_CONNECT_TIMEOUT: rc = h2_config_set_connect_timeout_ms(cfg, v32); break;
    case GH2_REQUEST_TIMEOUT: rc = h2_config_set_request_timeout_ms(cfg, v32); break;
    case GH2_HEADERS_TIMEOUT: rc = h2_config_set_headers_timeout_ms(cfg, v32); break;
    case GH2_BODY_IDLE_TIMEOUT: rc = h2_config_set_body_idle_timeout_ms(cfg, v32); break;
    case GH2_IDLE_TIMEOUT: rc = h2_config_set_idle_timeout_ms(cfg, v32); break;
    case GH2_KEEPALIVE_INTERVAL: rc = h2_config_set_keepalive_interval_ms(cfg, v32); break;
    case GH2_KEEPALIVE_TIMEOUT: rc = h2_config_set_keepalive_timeout_ms(cfg, v32); break;
    case GH2_SETTINGS_TIMEOUT: rc = h2_config_set_settings_timeout_ms(cfg, v32); break;
    case GH2_WRITE_TIMEOUT: rc = h2_config_set_write_timeout_ms(cfg, v32); break;
    case GH2_MAX_CONNECTIONS: rc = h2_config_set_max_connections(cfg, v32); break;
    case GH2_MAX_CONCURRENT_STREAMS: rc = h2_config_set_max_concurrent_streams(cfg, v32); break;
    case GH2_INITIAL_WINDOW_SIZE: rc = h2_config_set_initial_window_size(cfg, v32); break;
    case GH2_CONNECTION_WINDOW_SIZE: rc = h2_config_set_connection_window_size(cfg, v32); break;
    case GH2_MAX_FRAME_SIZE: rc = h2_config_set_max_frame_size(cfg, v32); break;
    case GH2_MAX_HEADER_LIST_SIZE: rc = h2_config_set_max_header_list_size(cfg, v32); break;
    case GH2_HEADER_TABLE_SIZE: rc = h2_config_set_header_table_size(cfg, v32); break;
    case GH2_MAX_RESPONSE_BODY: rc = h2_config_set_max_response_body(cfg, v); break;
    case GH2_MAX_RETRIES: rc = h2_config_set_max_retries(cfg, v32); break;
    case GH2_INSECURE_SKIP_VERIFY: rc = h2_config_set_insecure_skip_verify(cfg, v != 0); break;
    case GH2_TLS_VERSIONS: rc = h2_config_set_tls_versions(cfg, v32); break;
    case GH2_MAX_CONNECTIONS_PER_ORIGIN:
        rc = h2_config_set_max_connections_per_origin(cfg, v32);
        break;
    case GH2_MAX_CONTINUATION_FRAMES: rc = h2_config_set_max_continuation_frames(cfg, v32); break;
    case GH2_MAX_EMPTY_DATA_FRAMES: rc = h2_config_set_max_empty_data_frames(cfg, v32); break;
    case GH2_MAX_PENDING_ACKS: rc = h2_config_set_max_pending_acks(cfg, v32); break;
    case GH2_MAX_GLITCHES: rc = h2_config_set_max_glitches(cfg, v32); break;
    case GH2_MAX_RESETS_PER_SECOND: rc = h2_config_set_max_resets_per_second(cfg, v32); break;
    case GH2_MAX_INFORMATIONAL_RESPONSES:
        rc = h2_config_set_max_informational_responses(cfg, v32);
        break;
    default: rc = H2_E_INVALID_ARGUMENT; break;
    }
    if (rc != H2_OK)
        h2_last_error(err);
    return rc;
}

h2_result gh2_config_set_bytes(h2_config *cfg, int opt, const char *a, const char *b, size_t len,
                               h2_error_info *err) {
    h2_result rc;
    switch (opt) {
    case GH2_CA_FILE: rc = h2_config_set_ca_file(cfg, a); break;
    case GH2_CA_PEM: rc = h2_config_set_ca_pem(cfg, (const uint8_t *)a, len); break;
    case GH2_CLIENT_CERT_FILE: rc = h2_config_set_client_cert_file(cfg, a, b); break;
    case GH2_RESOLVE: rc = h2_config_add_resolve(cfg, a); break;
    case GH2_CONNECT_TO: rc = h2_config_add_connect_to(cfg, a); break;
    case GH2_LOCAL_ADDRESS: rc = h2_config_set_local_address(cfg, a); break;
    case GH2_UNIX_SOCKET: rc = h2_config_set_unix_socket(cfg, a); break;
    /* The library checks the value; the Go side adds the field itself (packRequest), so the
     * config's own user agent is then cleared. */
    case GH2_USER_AGENT:
        rc = h2_config_set_user_agent(cfg, a);
        if (rc == H2_OK)
            rc = h2_config_set_user_agent(cfg, NULL);
        break;
    case GH2_ACCEPT_ENCODING: rc = h2_config_set_accept_encoding(cfg, a); break;
    default: rc = H2_E_INVALID_ARGUMENT; break;
    }
    if (rc != H2_OK)
        h2_last_error(err);
    return rc;
}

h2_client *gh2_client_new(h2_config *cfg, const char *proxy, h2_error_info *err) {
    h2_client *c = NULL;
    /* No user agent from the library: packRequest adds the Transport's (net/http's rules). */
    if (h2_config_set_proxy(cfg, proxy) == H2_OK && h2_config_set_no_proxy(cfg, "") == H2_OK &&
        h2_config_set_user_agent(cfg, NULL) == H2_OK)
        c = h2_client_new(NULL, cfg);
    if (!c)
        h2_last_error(err);
    return c;
}

h2_result gh2_origin_stats(const h2_client *client, const char *origin, h2_stats *out,
                           h2_error_info *err) {
    h2_result rc = h2_client_origin_stats(client, origin, out);
    if (rc != H2_OK)
        h2_last_error(err);
    return rc;
}

h2_queue *gh2_queue_new(h2_error_info *err) {
    h2_queue *q = h2_queue_new();
    if (!q)
        h2_last_error(err);
    return q;
}

static void informational(void *userdata, const h2_response *head);

/* Builds a request from packed strings (method, absolute URL, headers); NULL (with err filled)
 * on failure. */
static h2_request *build(const char *strs, size_t nheaders, const uint8_t *body, size_t body_len,
                         int streaming, uintptr_t hook, h2_error_info *err) {
    const char *method = strs;
    const char *url = method + strlen(method) + 1;
    h2_request *req = h2_request_new_url(method, url);
    if (!req) {
        h2_last_error(err);
        return NULL;
    }
    const char *p = url + strlen(url) + 1;
    for (size_t i = 0; i < nheaders; i++) {
        const char *name = p;
        const char *value = name + strlen(name) + 1;
        p = value + strlen(value) + 1;
        if (h2_request_add_header(req, name, value) != H2_OK)
            goto fail;
    }
    if (body_len > 0 && h2_request_set_body(req, body, body_len) != H2_OK)
        goto fail;
    if (streaming && h2_request_set_streaming_body(req, true) != H2_OK)
        goto fail;
    if (hook != 0 &&
        h2_request_set_informational_callback(req, informational, (void *)hook) != H2_OK)
        goto fail;
    return req;
fail:
    h2_last_error(err);
    h2_request_free(req);
    return NULL;
}

h2_result gh2_start(h2_client *client, const char *strs, size_t nheaders, const uint8_t *body,
                    size_t body_len, int streaming, uintptr_t hook, h2_queue *q, uint64_t tag,
                    gh2_out *out) {
    out->call = NULL;
    h2_request *req = build(strs, nheaders, body, body_len, streaming, hook, &out->err);
    if (!req)
        return out->err.code;
    h2_result rc = h2_client_start(client, req, &out->call);
    if (rc == H2_OK && q && (rc = h2_call_notify(out->call, q, tag)) != H2_OK) {
        h2_call_free(out->call); /* cannot happen: a started call accepts a notification */
        out->call = NULL;
    }
    if (rc != H2_OK)
        h2_last_error(&out->err);
    h2_request_free(req);
    return rc;
}

h2_result gh2_submit(h2_client *client, h2_queue *q, uint64_t tag, const char *strs,
                     size_t nheaders, const uint8_t *body, size_t body_len, uintptr_t hook,
                     gh2_out *out) {
    out->call = NULL;
    h2_request *req = build(strs, nheaders, body, body_len, 0, hook, &out->err);
    if (!req)
        return out->err.code;
    h2_result rc = h2_client_submit(client, req, q, tag, &out->call);
    if (rc != H2_OK)
        h2_last_error(&out->err);
    h2_request_free(req);
    return rc;
}

/* ---- packing header lists for Go ---------------------------------------------------------- */

typedef h2_result (*field_at)(const void *obj, size_t i, const char **name, size_t *name_len,
                              const char **value, size_t *value_len);

static h2_result call_header_at(const void *o, size_t i, const char **n, size_t *nl,
                                const char **v, size_t *vl) {
    return h2_call_header_at((const h2_call *)o, i, n, nl, v, vl);
}
static h2_result call_trailer_at(const void *o, size_t i, const char **n, size_t *nl,
                                 const char **v, size_t *vl) {
    return h2_call_trailer_at((const h2_call *)o, i, n, nl, v, vl);
}
static h2_result resp_header_at(const void *o, size_t i, const char **n, size_t *nl,
                                const char **v, size_t *vl) {
    return h2_response_header_at((const h2_response *)o, i, n, nl, v, vl);
}
static h2_result resp_trailer_at(const void *o, size_t i, const char **n, size_t *nl,
                                 const char **v, size_t *vl) {
    return h2_response_trailer_at((const h2_response *)o, i, n, nl, v, vl);
}

static void put32(uint8_t *p, size_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Bytes needed to pack fields 0..count-1. */
static uint64_t packed_size(field_at at, const void *o, size_t count) {
    uint64_t need = 0;
    for (size_t i = 0; i < count; i++) {
        size_t nl = 0, vl = 0;
        if (at(o, i, NULL, &nl, NULL, &vl) == H2_OK)
            need += 8 + nl + vl;
    }
    return need;
}

/* Packs the fields into buf (which must hold packed_size bytes); returns the bytes written. */
static uint64_t pack(field_at at, const void *o, size_t count, uint8_t *buf) {
    uint8_t *p = buf;
    for (size_t i = 0; i < count; i++) {
        const char *n, *v;
        size_t nl = 0, vl = 0;
        if (at(o, i, &n, &nl, &v, &vl) != H2_OK)
            continue;
        put32(p, nl);
        put32(p + 4, vl);
        memcpy(p + 8, n, nl);
        memcpy(p + 8 + nl, v, vl);
        p += 8 + nl + vl;
    }
    return (uint64_t)(p - buf);
}

/* Packs if it fits; returns the bytes needed either way. */
static uint64_t pack_fit(field_at at, const void *o, size_t count, uint8_t *buf, size_t cap) {
    uint64_t need = packed_size(at, o, count);
    if (need <= cap && need > 0)
        pack(at, o, count, buf);
    return need;
}

uint64_t gh2_pack_headers(const h2_call *c, uint8_t *buf, size_t cap, uint32_t *count) {
    size_t k = h2_call_header_count(c);
    *count = (uint32_t)k;
    return pack_fit(call_header_at, c, k, buf, cap);
}

uint64_t gh2_pack_trailers(const h2_call *c, uint8_t *buf, size_t cap, uint32_t *count) {
    size_t k = h2_call_trailer_count(c);
    *count = (uint32_t)k;
    return pack_fit(call_trailer_at, c, k, buf, cap);
}

/* ---- request information ------------------------------------------------------------------ */

static void info_begin(gh2_out *out) {
    memset(&out->info, 0, sizeof out->info);
    out->info.struct_size = sizeof out->info;
}

h2_result gh2_call_info(const h2_call *c, gh2_out *out) {
    info_begin(out);
    h2_result rc = h2_call_info(c, &out->info);
    if (rc != H2_OK)
        h2_last_error(&out->err);
    return rc;
}

uint64_t gh2_peer_certs(const h2_call *c, const h2_response *resp, uint8_t *buf, size_t cap) {
    uint64_t need = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *p = buf;
        for (size_t i = 0;; i++) {
            size_t len = 0;
            const uint8_t *der = resp ? h2_response_peer_certificate(resp, i, &len)
                                      : h2_call_peer_certificate(c, i, &len);
            if (!der)
                break;
            if (pass == 0) {
                need += 4 + len;
            } else {
                put32(p, len);
                memcpy(p + 4, der, len);
                p += 4 + len;
            }
        }
        if (need == 0 || need > cap)
            break;
    }
    return need;
}

/* ---- streaming calls ---------------------------------------------------------------------- */

/* On H2_E_AGAIN from a try function: arms the notification (H2_E_AGAIN), or fails. */
static h2_result arm(h2_call *c, h2_queue *q, uint64_t tag, gh2_out *out) {
    h2_result rc = h2_call_notify(c, q, tag);
    if (rc != H2_OK) {
        h2_last_error(&out->err);
        return rc;
    }
    return H2_E_AGAIN;
}

/*
 * After h2_call_wait_headers or h2_call_try_wait_headers returned rc: the head packed into
 * buf, or on H2_E_AGAIN (from the try, q non-NULL) the notification armed, or the error.
 */
static h2_result head_out(h2_result rc, h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf,
                          size_t cap, gh2_out *out) {
    if (rc == H2_E_AGAIN && q != NULL)
        return arm(c, q, tag, out);
    if (rc != H2_OK) {
        h2_last_error(&out->err);
        return rc;
    }
    out->status = h2_call_status(c);
    out->decoded = h2_call_decoded(c);
    out->n = gh2_pack_headers(c, buf, cap, &out->count);
    if (out->want_info) {
        info_begin(out);
        h2_call_info(c, &out->info);
    }
    return H2_OK;
}

h2_result gh2_wait_head(h2_call *c, uint8_t *buf, size_t cap, gh2_out *out) {
    return head_out(h2_call_wait_headers(c), c, NULL, 0, buf, cap, out);
}

h2_result gh2_try_head(h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf, size_t cap,
                       gh2_out *out) {
    return head_out(h2_call_try_wait_headers(c), c, q, tag, buf, cap, out);
}

typedef h2_result (*read_fn)(h2_call *c, uint8_t *buf, size_t cap, size_t *n);

/*
 * A read with rd (h2_call_read, or h2_call_try_read with q non-NULL: then H2_E_AGAIN arms
 * the notification), and if the call has ended with nothing left to read, a second read into
 * the rest of the buffer to see the end of the body (so Go can return the data with io.EOF
 * and skip a crossing). Any bytes the second read gets are kept: nothing is ever lost.
 */
static h2_result read_out(read_fn rd, h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf,
                          size_t cap, gh2_out *out) {
    size_t n = 0;
    out->eof = 0;
    out->trailers = 0;
    h2_result rc = rd(c, buf, cap, &n);
    out->n = n;
    if (rc == H2_E_AGAIN && q != NULL)
        return arm(c, q, tag, out);
    if (rc != H2_OK) {
        h2_last_error(&out->err);
        return rc;
    }
    if (n > 0) {
        if (n == cap || !h2_call_is_done(c) || h2_call_buffered(c) != 0)
            return H2_OK;
        size_t m = 0;
        if (rd(c, buf + n, cap - n, &m) != H2_OK)
            return H2_OK; /* not yet, or the call's error: the next read reports it */
        out->n = n + m;
        if (m > 0)
            return H2_OK;
    }
    out->eof = 1;
    out->trailers = (uint32_t)h2_call_trailer_count(c);
    return H2_OK;
}

h2_result gh2_read(h2_call *c, uint8_t *buf, size_t cap, gh2_out *out) {
    return read_out(h2_call_read, c, NULL, 0, buf, cap, out);
}

/* gh2_read with h2_call_try_read: the second read (to see the end of the body) never waits. */
h2_result gh2_try_read(h2_call *c, h2_queue *q, uint64_t tag, uint8_t *buf, size_t cap,
                       gh2_out *out) {
    return read_out(h2_call_try_read, c, q, tag, buf, cap, out);
}

h2_result gh2_write(h2_call *c, const uint8_t *data, size_t len, h2_error_info *err) {
    h2_result rc = h2_call_write(c, data, len);
    if (rc != H2_OK)
        h2_last_error(err);
    return rc;
}

h2_result gh2_finish(h2_call *c, const char *trailers, size_t ntrailers, h2_error_info *err) {
    const char *p = trailers;
    h2_result rc;
    for (size_t i = 0; i < ntrailers; i++) {
        const char *name = p;
        const char *value = name + strlen(name) + 1;
        p = value + strlen(value) + 1;
        if ((rc = h2_call_add_trailer(c, name, value)) != H2_OK)
            goto fail;
    }
    if ((rc = h2_call_finish(c)) == H2_OK)
        return H2_OK;
fail:
    h2_last_error(err);
    return rc;
}

/* ---- submitted (buffered) calls ----------------------------------------------------------- */

h2_result gh2_take(h2_call *c, gh2_out *out) {
    out->resp = NULL;
    h2_result rc = h2_call_response(c, &out->resp);
    if (rc != H2_OK) {
        h2_last_error(&out->err);
        return rc;
    }
    h2_response *r = out->resp;
    size_t nh = h2_response_header_count(r), nt = h2_response_trailer_count(r);
    out->status = h2_response_status(r);
    out->decoded = h2_response_decoded(r);
    out->count = (uint32_t)nh;
    out->trailers = (uint32_t)nt;
    out->n = packed_size(resp_header_at, r, nh) + packed_size(resp_trailer_at, r, nt);
    size_t len = 0;
    h2_response_body(r, &len);
    out->body_len = len;
    if (out->want_info) {
        info_begin(out);
        h2_response_info(r, &out->info);
    }
    return H2_OK;
}

void gh2_copy_response(h2_response *resp, h2_call *c, uint8_t *fields, size_t fields_cap,
                       uint8_t *body, size_t body_len) {
    size_t nh = h2_response_header_count(resp), nt = h2_response_trailer_count(resp);
    if (packed_size(resp_header_at, resp, nh) + packed_size(resp_trailer_at, resp, nt) <=
        fields_cap) {
        uint64_t k = pack(resp_header_at, resp, nh, fields);
        pack(resp_trailer_at, resp, nt, fields + k);
    }
    size_t len = 0;
    const uint8_t *b = h2_response_body(resp, &len);
    if (b && len == body_len && len > 0)
        memcpy(body, b, len);
    h2_response_free(resp);
    h2_call_free(c);
}

/* ---- callbacks into Go (library threads) -------------------------------------------------- */

/* An informational (1xx) head for the request whose hook id is `userdata`: its fields packed
 * (on the stack when small) and handed to Go, which copies them. */
static void informational(void *userdata, const h2_response *head) {
    size_t n = h2_response_header_count(head);
    uint64_t need = packed_size(resp_header_at, head, n);
    uint8_t small[2048];
    uint8_t *buf = small;
    if (need > sizeof small && (buf = malloc(need)) == NULL)
        return;
    uint64_t len = pack(resp_header_at, head, n, buf);
    gh2GoInformational((uintptr_t)userdata, h2_response_status(head), buf, len, (uint32_t)n);
    if (buf != small)
        free(buf);
}

static void log_line(void *userdata, uint32_t level, const char *target, const char *message) {
    gh2GoLog((uintptr_t)userdata, level, (char *)target, (char *)message);
}

h2_result gh2_set_log(uint32_t level, uintptr_t handle) {
    if (level == H2_LOG_OFF || handle == 0)
        return h2_set_log_callback(H2_LOG_OFF, NULL, NULL);
    return h2_set_log_callback(level, log_line, (void *)handle);
}
