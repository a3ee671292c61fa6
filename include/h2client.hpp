/*
 * h2client.hpp: the C++17 binding of h2client, header-only, over the C API of h2client.h.
 *
 *     #include "h2client.hpp"
 *
 *     h2::Client client("http://127.0.0.1:8080", h2::Config().request_timeout_ms(5000));
 *     h2::Response r = client.get("/index.html", {{"accept", "text/html"}});
 *     std::cout << r.status() << " " << r.header("content-type").value_or("?") << "\n"
 *               << r.body();
 *
 *     h2::Client any;                                   // no base URL: requests name a URL
 *     h2::Response e = any.get("https://example.com/"); // each origin, its own connections
 *
 * Link exactly as for the C API (-lh2client, or pkg-config h2client); nothing else is needed.
 *
 * OBJECTS. Every C handle has one owning C++ type: h2::Config (h2_config), h2::Client
 * (h2_client), h2::Request (h2_request), h2::Response (h2_response), h2::Call (h2_call),
 * h2::Queue (h2_queue). They are move-only (copying is deleted), free their handle in the
 * destructor, and a moved-from object holds no handle: it is safe to destroy or assign to, and
 * using it fails with H2_E_INVALID_ARGUMENT (the C API's NULL checks) instead of crashing.
 * get() gives the C handle to mix with the C API; release() gives up ownership of it (not on
 * Client, whose event-callback state lives with it). Not bound: h2_client_submit_cb (use a
 * Queue; a C callback would need userdata that outlives an h2_call_free racing with it) and
 * h2_last_error_message (h2::Error carries the same text).
 *
 * ORIGINS. One Client serves every origin (scheme, host, port), each over its own connections
 * (Config::max_connections_per_origin of them, Config::max_connections in all). A Client made
 * with a base URL (`Client(url)`, `Client::create(url)`) sends path requests
 * (`Request(method, "/path")`) to that origin; one made without (`Client()`,
 * `Client(config)`, `Client::create()`) has none, and a path request sent on it fails with
 * H2_E_INVALID_ARGUMENT. A request made from an absolute URL, `Request::url(method,
 * "https://host/path?q")`, goes to its URL's origin on any Client. The convenience methods
 * (get, post, request and their try_ twins) take either: a target starting with '/' (or "*")
 * is a path, anything else an absolute URL. Config::add_resolve, add_connect_to and
 * local_address choose where connections go (curl's --resolve, --connect-to, --interface);
 * the URL's host still names the origin. Client::origin_stats(url) gives one origin's
 * counters, Client::stats() their sum.
 *
 * ERRORS. Each fallible operation comes twice:
 *   - `X(...)` returns the value and throws h2::Error on failure (only when the code is
 *     compiled with exceptions; see below);
 *   - `try_X(...)` (and the static `create(...)` factories instead of throwing constructors)
 *     never throws an h2::Error: it returns an h2::Result<T>, which holds either the value or
 *     the h2::Error, like std::expected: `ok()` / `explicit operator bool`, `value()`,
 *     `operator*`, `operator->`, `error()`, `value_or()`. Result<void> has no value.
 * h2::Error derives from std::runtime_error and carries the whole h2_error_info of the failure
 * (code, HTTP/2 error code, processed, origin, GOAWAY last stream id, retries, message) read
 * right after the failing C call on the same thread, so nothing is lost between threads.
 * Its what() is "H2_E_NAME: message"; message() is the library's text alone.
 * Builders never throw: h2::Config and h2::Request keep the first failure of their builder
 * methods (an invalid header, an unreadable CA file, an out-of-range duration); `ok()` and
 * `error()` tell, and creating a client from such a config or sending such a request fails
 * with that error. Memory exhaustion still raises std::bad_alloc from the standard library.
 *
 * WITHOUT EXCEPTIONS (-fno-exceptions). H2_CPP_EXCEPTIONS is 1 when the compiler has
 * exceptions enabled, else 0 (define it to 0 yourself to get the non-throwing subset only).
 * With 0 the throwing members (`get`, `write`, the Client and Queue constructors, ...) are not
 * declared; everything else works: the create() factories, every try_X, the builders, the
 * accessors. Result::value() on a failed result then prints the error and calls std::abort().
 * Event callbacks that throw are ignored (their exception is swallowed), as nothing may
 * unwind into the library.
 *
 * QUEUE COMPLETIONS AND OWNERSHIP. Client::submit(req, queue, tag) starts a call whose whole
 * response is buffered and whose completion goes to `queue`. Two ownership modes:
 *   - `Call submit(...)`: YOU own the call (to cancel it early, for example). Keep the Call
 *     alive until its completion came out of Queue::poll (destroying it earlier cancels the
 *     request and withdraws its completion: poll never reports it). Match completions to
 *     your Calls by tag, or by Completion::handle == Call::get().
 *   - `void submit_detached(...)`: the QUEUE owns the call. Queue::poll frees it once its
 *     completion is taken, and the Queue's destructor frees (cancels) those still in flight.
 *     Completion::handle is then nullptr. Queue::cancel_detached() cancels them all.
 * Either way Queue::poll takes each completed call's outcome into its h2::Completion:
 * `{tag, handle, result, response}` where `response` is a Result<Response>: the buffered
 * response (any HTTP status) or the Error the call failed with. (So Call::response() of a
 * call whose completion was polled fails: the response was moved to the Completion.) A
 * Completion is self-contained: it stays valid after its Call or Queue is destroyed.
 * poll reads each completed call through its handle, so do not destroy a Call you own while
 * ANOTHER thread may be polling its queue: destroy it on the polling thread, or once its
 * completion has been polled (as with h2_call_free in the C API).
 *
 * THREADS. As in the C API: a Client may be used from any number of threads at once (its
 * request methods are const); Config, Request and Response are plain values (share them
 * between threads for reading only); Call::cancel() may be called from any thread while
 * another thread is blocked in the same Call, the other Call methods from one thread at a
 * time (except that one thread may write the body while another reads the response); a Queue
 * may be polled from several threads. Blocking functions must not be called from
 * an event callback (they fail with H2_E_WRONG_THREAD).
 *
 * EVENT CALLBACK. Config::on_event(fn) calls fn(const h2::Event&) on a library thread for the
 * connection and stream events of each client created from the config (H2_EVENT_*). Each
 * client gets its own copy of fn; calls for one client never overlap, and none is running or
 * starts once the Client's destructor has returned (h2_client_free guarantees it; events the
 * library still emits then are dropped). The destructor waits for a call in progress: do not
 * destroy a Client from its own callback, nor while holding a lock that its callback takes.
 *
 * INFORMATIONAL RESPONSES. Config::on_informational(fn) (each client from the config) and
 * Request::on_informational(fn) (that request, instead of its client's) call
 * fn(const h2::ResponseView&) with each 1xx head, such as 103 Early Hints, before the final
 * response, on a library thread. The ResponseView (status, headers, header) is valid only
 * during the call and cannot be copied or kept: take fields() for owned copies. A request's
 * callback is kept by the Calls sending it (start, submit, submit_detached), so a temporary
 * Request is fine. Calls of one callback never overlap. Exceptions it throws are ignored.
 *
 * LOGGING. h2::set_log_callback(level, fn) sends the library's diagnostics, for every client of
 * the process, to fn(h2::LogLevel, std::string_view target, std::string_view message) on
 * whatever thread logs; the handler is kept until replaced (LogLevel::off or an empty function
 * turns logging off), and exceptions it throws are ignored.
 *
 * REQUEST INFORMATION. Response::info() and Call::info() (try_info() without exceptions) return
 * an h2::RequestInfo, as curl's curl_easy_getinfo: the times since the call started
 * (std::chrono::microseconds: name lookup, connect, TLS, headers and request sent, first byte,
 * total), bytes, reuse, the connection's addresses, the TLS session. It is a value: its
 * strings are copies (not views), so it outlives the Response or Call. peer_certificates()
 * returns the server's certificates as DER byte strings (owned copies too), leaf first.
 *
 * OTHER OPTIONS. Config::accept_encoding (transparent decompression; Response::decoded),
 * Config::unix_socket (curl's --unix-socket), Config::user_agent (default
 * "h2client/<version>"; Config::no_user_agent sends none; a request's own user-agent header
 * wins), the defence limits (max_continuation_frames, max_empty_data_frames,
 * max_pending_acks, max_glitches, max_resets_per_second, max_informational_responses), and
 * Client::close_idle_connections() (Go's CloseIdleConnections).
 */

#ifndef H2CLIENT_HPP
#define H2CLIENT_HPP

#include "h2client.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#ifndef H2_CPP_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
/** 1 if the throwing half of the API is available (exceptions enabled), else 0. */
#define H2_CPP_EXCEPTIONS 1
#else
#define H2_CPP_EXCEPTIONS 0
#endif
#endif

/** The C++ binding of h2client. */
namespace h2 {

/** Whether the server may have processed a failed request (h2_error_info.processed). */
enum class Processed : uint8_t {
    no = H2_PROCESSED_NO,       ///< certainly not (never sent, refused, above GOAWAY): safe to retry
    maybe = H2_PROCESSED_MAYBE, ///< the server may have processed it
    yes = H2_PROCESSED_YES,     ///< a response head arrived
};

/** Who detected a failure (h2_error_info.origin). */
enum class Origin : uint8_t {
    local = H2_ORIGIN_LOCAL,         ///< h2client (a check, a timeout, the caller)
    remote = H2_ORIGIN_REMOTE,       ///< the server (RST_STREAM, GOAWAY)
    transport = H2_ORIGIN_TRANSPORT, ///< TCP or TLS
};

/** TLS 1.2, for Config::tls_versions. */
inline constexpr uint32_t tls_1_2 = H2_TLS_1_2;
/** TLS 1.3, for Config::tls_versions. */
inline constexpr uint32_t tls_1_3 = H2_TLS_1_3;

/** A Queue::poll timeout that waits until a completion arrives. */
inline constexpr std::chrono::milliseconds forever{-1};

/** The name of an H2_E_* code ("H2_E_TIMEOUT", "H2_OK"); "H2_E_UNKNOWN" for unknown codes. */
inline const char *error_name(h2_result code) noexcept { return h2_error_name(code); }

/** The library's version at run time, e.g. "0.1.0" (H2CLIENT_VERSION_STRING is the header's). */
inline const char *version() noexcept { return h2_version(); }

/**
 * Shuts the library down (h2_global_cleanup): stops its runtime and joins its threads.
 * Optional; call it once, after every Client, Call and Queue has been destroyed. Afterwards
 * new clients and requests fail with H2_E_CLOSED. Returns H2_OK, H2_E_WRONG_THREAD when
 * called from a library callback (nothing is shut down), or H2_E_TIMEOUT when a thread did
 * not finish within 5 s (see h2client.h).
 */
inline h2_result global_cleanup() noexcept { return h2_global_cleanup(); }

/**
 * Calls h2::global_cleanup() when destroyed. Declare it in main() before any other h2 object,
 * so that it is destroyed after all of them:
 * @code
 * int main() {
 *     h2::GlobalCleanup cleanup;
 *     h2::Client client("http://127.0.0.1:8080");
 *     ...
 * } // client destroyed, then the library shut down
 * @endcode
 */
class GlobalCleanup {
public:
    GlobalCleanup() = default;
    ~GlobalCleanup() { global_cleanup(); }
    GlobalCleanup(const GlobalCleanup &) = delete;
    GlobalCleanup &operator=(const GlobalCleanup &) = delete;
};

// ---- Logging --------------------------------------------------------------------------------

/** How much of the library's diagnostics set_log_callback delivers (the H2_LOG_* levels);
 *  each level includes the ones before it. */
enum class LogLevel : uint32_t {
    off = H2_LOG_OFF,     ///< nothing (the default)
    error = H2_LOG_ERROR, ///< a connection or request failed
    warn = H2_LOG_WARN,   ///< a failed connection attempt, a defence limit tripped
    info = H2_LOG_INFO,   ///< connections opened and closed, TLS handshakes, GOAWAY, retries
    debug = H2_LOG_DEBUG, ///< SETTINGS, streams, every header field (credentials too)
    trace = H2_LOG_TRACE, ///< PING round trips, flow-control stalls, rustls's details
};

/**
 * The type of set_log_callback's handler: (level, target, message). `target` names the source
 * ("h2client", or a module of rustls such as "rustls::client::hs"); `message` is one line
 * without a newline. Both views are valid only during the call.
 */
using LogHandler = std::function<void(LogLevel, std::string_view target, std::string_view message)>;

namespace detail {

/** The process's log handler. Never destroyed: library threads may log while the program's
 *  static objects are being destroyed. */
struct LogState {
    std::mutex setting;                     ///< serializes set_log_callback
    std::mutex m;                           ///< guards fn
    std::shared_ptr<const LogHandler> fn;   ///< the handler; each call holds its own reference
};

inline LogState &log_state() {
    static LogState *state = new LogState;
    return *state;
}

inline void log_trampoline(void *, uint32_t level, const char *target, const char *message) noexcept {
    std::shared_ptr<const LogHandler> fn;
    {
        LogState &st = log_state();
        std::lock_guard<std::mutex> g(st.m);
        fn = st.fn;
    }
    if (!fn || !*fn)
        return;
#if H2_CPP_EXCEPTIONS
    try {
        (*fn)(static_cast<LogLevel>(level), target ? target : "", message ? message : "");
    } catch (...) {
        // Nothing may unwind into the library: the exception is dropped (documented).
    }
#else
    (*fn)(static_cast<LogLevel>(level), target ? target : "", message ? message : "");
#endif
}

} // namespace detail

/**
 * Sends the library's diagnostics at `level` and below to `fn`, for every client of the
 * process (h2_set_log_callback; logging is process-wide), replacing the handler set before.
 * LogLevel::off or an empty `fn` turns logging off (the default; then logging costs the
 * library one atomic load per log site). Returns H2_OK (or the C call's error code).
 *
 * `fn` is called on whatever thread logs: the library's threads and the callers' threads in
 * the middle of a call, several at once. It must be thread-safe and quick, and must not call
 * blocking functions of the library (they fail with H2_E_WRONG_THREAD there). What the library
 * logs from inside `fn` is dropped. Exceptions it throws are ignored: nothing unwinds into C.
 *
 * Lifetime: the handler is kept (copied into shared storage) until it is replaced. Once this
 * function returns, the previous handler is not running on another thread and will not be
 * called again; it is destroyed here, or, when replaced from inside itself, when that call
 * returns. Calling set_log_callback from inside the handler is allowed as long as no other
 * thread calls it at the same time (that thread would wait for the handler, which would wait
 * for it).
 */
inline h2_result set_log_callback(LogLevel level, LogHandler fn) {
    detail::LogState &st = detail::log_state();
    std::lock_guard<std::mutex> serial(st.setting);
    std::shared_ptr<const LogHandler> old;
    if (level == LogLevel::off || !fn) {
        h2_result rc = h2_set_log_callback(H2_LOG_OFF, nullptr, nullptr);
        std::lock_guard<std::mutex> g(st.m);
        old = std::move(st.fn); // destroyed after `g` is released
        return rc;
    }
    auto next = std::make_shared<const LogHandler>(std::move(fn));
    {
        std::lock_guard<std::mutex> g(st.m);
        old = std::exchange(st.fn, std::move(next));
    }
    return h2_set_log_callback(static_cast<uint32_t>(level), &detail::log_trampoline, nullptr);
}

// ---- Error ----------------------------------------------------------------------------------

/**
 * A failure: everything h2client knows about it (the C h2_error_info). Thrown by the throwing
 * API, held by a failed Result<T>. Copyable. what() is "H2_E_NAME: message".
 */
class Error : public std::runtime_error {
public:
    /** An error from a complete h2_error_info record. */
    explicit Error(const h2_error_info &info) : std::runtime_error(describe(info)), info_(info) {
        info_.message[sizeof info_.message - 1] = '\0';
    }

    /**
     * An error detected by this binding before anything was sent (origin local, processed
     * no), e.g. a string with a NUL byte: `code` (an H2_E_* code) and `message`.
     */
    Error(h2_result code, std::string_view message) : Error(make_info(code, message)) {}

    /**
     * The calling thread's last error (h2_last_error), for a C call that just failed with
     * `rc`. If the record does not carry `rc` (it always should), an error with code `rc`
     * and h2_strerror's text is made instead.
     */
    static Error last(h2_result rc) {
        h2_error_info info;
        std::memset(&info, 0, sizeof info);
        if (h2_last_error(&info) != rc || rc == H2_OK)
            return Error(rc, h2_strerror(rc));
        return Error(info);
    }

    /**
     * The calling thread's last error, for a C constructor that just returned NULL (which
     * records why); H2_E_INTERNAL if nothing was recorded.
     */
    static Error last() {
        h2_error_info info;
        std::memset(&info, 0, sizeof info);
        if (h2_last_error(&info) == H2_OK)
            return Error(H2_E_INTERNAL, "the library returned NULL without recording an error");
        return Error(info);
    }

    /** The H2_E_* code. */
    h2_result code() const noexcept { return info_.code; }
    /** The code's name as in h2client.h, e.g. "H2_E_STREAM_RESET" (h2_error_name). */
    const char *code_name() const noexcept { return h2_error_name(info_.code); }
    /** A short description of the code, e.g. "timed out" (h2_strerror). */
    const char *code_description() const noexcept { return h2_strerror(info_.code); }
    /** The HTTP/2 error code (RFC 9113 §7) from RST_STREAM or GOAWAY, or 0. */
    uint32_t h2_error() const noexcept { return info_.h2_error; }
    /** Whether the server may have processed the request. */
    Processed processed() const noexcept { return static_cast<Processed>(info_.processed); }
    /** Who detected the failure. */
    Origin origin() const noexcept { return static_cast<Origin>(info_.origin); }
    /** GOAWAY's last stream id when a GOAWAY caused the failure, else 0. */
    uint32_t goaway_last_stream_id() const noexcept { return info_.goaway_last_stream_id; }
    /** How many times the request was retried before it failed. */
    uint32_t retries() const noexcept { return info_.retries; }
    /** The library's message (at most 255 bytes), without the code name. */
    const char *message() const noexcept { return info_.message; }
    /** The whole C record. */
    const h2_error_info &info() const noexcept { return info_; }

private:
    static h2_error_info make_info(h2_result code, std::string_view message) noexcept {
        h2_error_info info;
        std::memset(&info, 0, sizeof info);
        info.code = code;
        info.processed = H2_PROCESSED_NO;
        info.origin = H2_ORIGIN_LOCAL;
        size_t n = message.size() < sizeof info.message - 1 ? message.size() : sizeof info.message - 1;
        std::memcpy(info.message, message.data(), n);
        return info;
    }
    static std::string describe(const h2_error_info &info) {
        std::string s = h2_error_name(info.code);
        s += ": ";
        const void *nul = std::memchr(info.message, '\0', sizeof info.message);
        s.append(info.message, nul ? static_cast<size_t>(static_cast<const char *>(nul) - info.message)
                                   : sizeof info.message);
        return s;
    }

    h2_error_info info_;
};

namespace detail {

/** Prints `what` and aborts: the no-exceptions answer to an unchecked failure. */
[[noreturn]] inline void fatal(const char *what) noexcept {
    std::fprintf(stderr, "h2client.hpp: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

/** Throws `e` (with exceptions) or aborts with its message (without). */
[[noreturn]] inline void raise(const Error &e) {
#if H2_CPP_EXCEPTIONS
    throw e;
#else
    fatal(e.what());
#endif
}

/**
 * A NUL-terminated copy of a string_view for the C API (on the stack when short). A view
 * containing a NUL byte is refused (ok() false): the C side would silently truncate it.
 */
class CStr {
public:
    explicit CStr(std::string_view s) {
        if (s.find('\0') != std::string_view::npos)
            return;
        if (s.size() < sizeof small_) {
            std::memcpy(small_, s.data(), s.size());
            small_[s.size()] = '\0';
            p_ = small_;
        } else {
            big_.assign(s.data(), s.size());
            p_ = big_.c_str();
        }
    }
    CStr(const CStr &) = delete;
    CStr &operator=(const CStr &) = delete;
    bool ok() const noexcept { return p_ != nullptr; }
    const char *c_str() const noexcept { return p_; }

private:
    char small_[256];
    std::string big_;
    const char *p_ = nullptr;
};

/** The error for a string argument with a NUL byte in it. */
inline Error nul_error(const char *what) {
    return Error(H2_E_INVALID_ARGUMENT, std::string(what) + " contains a NUL byte");
}

/** A duration in milliseconds as the C API's uint32_t, or false if out of range. */
inline bool to_ms(std::chrono::milliseconds d, uint32_t *out) noexcept {
    if (d.count() < 0 || static_cast<unsigned long long>(d.count()) > UINT32_MAX)
        return false;
    *out = static_cast<uint32_t>(d.count());
    return true;
}

} // namespace detail

// ---- Result ---------------------------------------------------------------------------------

/**
 * The outcome of a non-throwing operation: a T or the Error it failed with (like
 * std::expected<T, Error>). Test it with ok() or `if (result)`, then use value(), `*`, `->`;
 * error() on a failure. value() on a failure throws the Error (without exceptions: prints it
 * and aborts).
 */
template <class T>
class [[nodiscard]] Result {
public:
    /** A success holding `value`. */
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    /** A failure holding `error`. */
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    /** Whether it holds a value. */
    bool ok() const noexcept { return v_.index() == 0; }
    /** Whether it holds a value. */
    explicit operator bool() const noexcept { return ok(); }

    /** The value; throws the Error if it failed. */
    T &value() & {
        check();
        return *std::get_if<0>(&v_);
    }
    /** The value; throws the Error if it failed. */
    const T &value() const & {
        check();
        return *std::get_if<0>(&v_);
    }
    /** The value, moved out; throws the Error if it failed. */
    T value() && {
        check();
        return std::move(*std::get_if<0>(&v_));
    }
    /** The value, or `fallback` if it failed. */
    template <class U>
    T value_or(U &&fallback) const & {
        return ok() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
    }
    /** The value (moved out), or `fallback` if it failed. */
    template <class U>
    T value_or(U &&fallback) && {
        return ok() ? std::move(*std::get_if<0>(&v_)) : static_cast<T>(std::forward<U>(fallback));
    }

    /** The value (precondition: ok(); checked: throws the Error otherwise). */
    T &operator*() & { return value(); }
    /** The value (precondition: ok(); checked). */
    const T &operator*() const & { return value(); }
    /** The value, moved out (precondition: ok(); checked). */
    T operator*() && { return std::move(*this).value(); }
    /** Member access to the value (precondition: ok(); checked). */
    T *operator->() { return &value(); }
    /** Member access to the value (precondition: ok(); checked). */
    const T *operator->() const { return &value(); }

    /** The error. Precondition: !ok() (aborts otherwise). */
    const Error &error() const {
        if (ok())
            detail::fatal("h2::Result::error() called on a success");
        return *std::get_if<1>(&v_);
    }

private:
    void check() const {
        if (!ok())
            detail::raise(*std::get_if<1>(&v_));
    }

    std::variant<T, Error> v_;
};

/** The outcome of a non-throwing operation without a value: success or an Error. */
template <>
class [[nodiscard]] Result<void> {
public:
    /** A success. */
    Result() noexcept = default;
    /** A failure holding `error`. */
    Result(Error error) : e_(std::move(error)) {}

    /** Whether it succeeded. */
    bool ok() const noexcept { return !e_.has_value(); }
    /** Whether it succeeded. */
    explicit operator bool() const noexcept { return ok(); }
    /** Throws the Error if it failed (without exceptions: prints it and aborts). */
    void value() const {
        if (e_)
            detail::raise(*e_);
    }
    /** The error. Precondition: !ok() (aborts otherwise). */
    const Error &error() const {
        if (!e_)
            detail::fatal("h2::Result::error() called on a success");
        return *e_;
    }

private:
    std::optional<Error> e_;
};

namespace detail {
/** Result<void> for a C result code, with the thread's error record on failure. */
inline Result<void> check(h2_result rc) {
    if (rc == H2_OK)
        return {};
    return Error::last(rc);
}
} // namespace detail

// ---- header lists ---------------------------------------------------------------------------

/** Header fields given to a request: owned (name, value) pairs, e.g. {{"accept", "*\/\*"}}. */
using Fields = std::vector<std::pair<std::string, std::string>>;

/**
 * Header fields of a response or call: (name, value) views into the object they came from,
 * valid as long as it lives (see each accessor). Names are lowercase. Use as
 * `for (auto [name, value] : response.headers())`.
 */
using FieldViews = std::vector<std::pair<std::string_view, std::string_view>>;

/** A client's counters and state (the C h2_stats; see h2client.h for each field). */
using Stats = h2_stats;

namespace detail {
template <class H, class Count, class At>
FieldViews field_views(H *h, Count count, At at) {
    FieldViews out;
    size_t n = count(h);
    out.reserve(n);
    for (size_t i = 0; i < n; i++) {
        const char *name = nullptr, *value = nullptr;
        size_t name_len = 0, value_len = 0;
        if (at(h, i, &name, &name_len, &value, &value_len) == H2_OK)
            out.emplace_back(std::string_view(name, name_len), std::string_view(value, value_len));
    }
    return out;
}

template <class H, class Find>
std::optional<std::string_view> find_field(H *h, std::string_view name, Find find) {
    CStr n(name);
    if (!n.ok() || !h)
        return std::nullopt;
    const char *v = find(h, n.c_str());
    if (!v)
        return std::nullopt;
    return std::string_view(v);
}
} // namespace detail

// ---- Event ----------------------------------------------------------------------------------

/** One connection or stream event (the C h2_event), valid only during the callback. */
struct Event {
    uint32_t kind;             ///< an H2_EVENT_* constant (ignore unknown ones)
    uint32_t stream_id;        ///< the stream, or 0
    uint64_t conn_id;          ///< the connection's process-unique number, or 0
    uint64_t value;            ///< meaning depends on the kind (see each H2_EVENT_*)
    uint32_t h2_error;         ///< an HTTP/2 error code when one applies, else 0
    std::string_view message;  ///< a human-readable description
};

/** The type of Config::on_event callbacks. */
using EventHandler = std::function<void(const Event &)>;

namespace detail {

/** One client's event callback: the C userdata, owned by the Client. h2_client_free returns
 *  only after the client's last callback returned, so the Client frees it right after. */
struct EventHook {
    std::mutex m;  ///< calls for one client never overlap
    EventHandler fn;
};

inline void event_trampoline(void *userdata, const h2_event *ev) {
    auto *hook = static_cast<EventHook *>(userdata);
    if (!hook || !ev)
        return;
    std::lock_guard<std::mutex> g(hook->m);
    if (!hook->fn)
        return;
    Event e{ev->kind, ev->stream_id, ev->conn_id, ev->value, ev->h2_error,
            std::string_view(ev->message ? ev->message : "")};
#if H2_CPP_EXCEPTIONS
    try {
        hook->fn(e);
    } catch (...) {
        // Nothing may unwind into the library: the exception is dropped (documented).
    }
#else
    hook->fn(e);
#endif
}

} // namespace detail

// ---- Informational responses ----------------------------------------------------------------

/**
 * An informational (1xx) response head, such as 103 Early Hints or 100 Continue, lent to an
 * informational callback (Config::on_informational, Request::on_informational): status and
 * header fields, no body. It is valid ONLY during the callback, as are the views it hands out;
 * copy what you need (fields() makes owned copies). It does not own the head and cannot be
 * copied, moved or turned into an h2::Response (which would free it).
 */
class ResponseView {
public:
    /** A view of `head`, which must outlive it (the library's, during a callback). */
    explicit ResponseView(const h2_response *head) noexcept : h_(head) {}
    ResponseView(const ResponseView &) = delete;
    ResponseView &operator=(const ResponseView &) = delete;

    /** The status, e.g. 103 (0 for a null head). */
    uint16_t status() const noexcept { return h2_response_status(h_); }
    /** The header fields in the order received (lowercase names); valid during the callback. */
    FieldViews headers() const {
        return detail::field_views(h_, h2_response_header_count, h2_response_header_at);
    }
    /** The first value of header `name` (case-insensitive), or nullopt; valid during the callback. */
    std::optional<std::string_view> header(std::string_view name) const {
        return detail::find_field(h_, name, h2_response_header);
    }
    /** Owned copies of the header fields, to keep after the callback. */
    Fields fields() const {
        Fields out;
        for (auto [name, value] : headers())
            out.emplace_back(std::string(name), std::string(value));
        return out;
    }
    /** The C head (valid during the callback; never free it). */
    const h2_response *get() const noexcept { return h_; }

private:
    const h2_response *h_;
};

/** The type of informational callbacks: called with each 1xx head before the final response. */
using InformationalHandler = std::function<void(const ResponseView &)>;

namespace detail {

/**
 * One informational callback, shared by whatever must keep it alive: the Client (a config's),
 * or the Request and the calls sending it (a request's). The C userdata is not a pointer to it
 * but its id in a registry, so that a library callback racing with the end of its call (which
 * h2_call_free does not wait for) finds nothing instead of freed memory.
 */
struct InfoHook {
    uint64_t id = 0;
    std::mutex m; ///< calls of one hook never overlap
    InformationalHandler fn;
    ~InfoHook();
};

/** The live hooks by id. Never destroyed: library threads may still call in during exit. */
struct InfoRegistry {
    std::mutex m;
    uint64_t next = 0;
    std::unordered_map<uint64_t, std::weak_ptr<InfoHook>> hooks;
};

inline InfoRegistry &info_registry() {
    static InfoRegistry *registry = new InfoRegistry;
    return *registry;
}

inline InfoHook::~InfoHook() {
    InfoRegistry &r = info_registry();
    std::lock_guard<std::mutex> g(r.m);
    r.hooks.erase(id);
}

/** A registered hook for `fn`. */
inline std::shared_ptr<InfoHook> make_info_hook(InformationalHandler fn) {
    auto hook = std::make_shared<InfoHook>();
    hook->fn = std::move(fn);
    InfoRegistry &r = info_registry();
    std::lock_guard<std::mutex> g(r.m);
    hook->id = ++r.next;
    r.hooks.emplace(hook->id, hook);
    return hook;
}

/** The C userdata naming a hook. */
inline void *info_userdata(const InfoHook &hook) noexcept {
    return reinterpret_cast<void *>(static_cast<uintptr_t>(hook.id));
}

inline void info_trampoline(void *userdata, const h2_response *head) noexcept {
    std::shared_ptr<InfoHook> hook;
    {
        InfoRegistry &r = info_registry();
        std::lock_guard<std::mutex> g(r.m);
        auto it = r.hooks.find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(userdata)));
        if (it != r.hooks.end())
            hook = it->second.lock();
    }
    if (!hook || !head)
        return;
    std::lock_guard<std::mutex> g(hook->m);
    if (!hook->fn)
        return;
    ResponseView view(head);
#if H2_CPP_EXCEPTIONS
    try {
        hook->fn(view);
    } catch (...) {
        // Nothing may unwind into the library: the exception is dropped (documented).
    }
#else
    hook->fn(view);
#endif
}

/** A config's callbacks and the lock that serializes client creation from it. */
struct ConfigHooks {
    std::mutex m;
    EventHandler events;
    InformationalHandler informational;
};

} // namespace detail

// ---- Config ---------------------------------------------------------------------------------

/**
 * Options for a Client (h2_config): one builder method per h2_config_set_* / h2_config_add_*
 * function, each returning the config, so they chain:
 * `h2::Config().request_timeout_ms(5000).max_retries(1)`.
 * Builder methods never throw; the first one that fails (out-of-range value, unreadable CA
 * file, ...) is kept (ok(), error()) and creating a client from the config fails with it.
 * A config is copied into each client made from it: reuse or destroy it afterwards freely.
 * Durations are std::chrono::milliseconds (implicit from seconds; negative or above
 * UINT32_MAX ms is an error) or plain uint32_t milliseconds with the _ms variant; 0 has the
 * meaning documented in h2client.h ("no limit" for most timeouts).
 */
class Config {
public:
    /** A config with every option at its default (h2_config_new). */
    Config() : h_(h2_config_new()) {
        if (!h_)
            err_ = Error::last();
    }
    ~Config() { h2_config_free(h_); }
    /** Takes `o`'s config; `o` is left empty. */
    Config(Config &&o) noexcept
        : h_(std::exchange(o.h_, nullptr)), err_(std::move(o.err_)), hooks_(std::move(o.hooks_)) {}
    /** Takes `o`'s config; `o` is left empty. */
    Config &operator=(Config &&o) noexcept {
        if (this != &o) {
            h2_config_free(h_);
            h_ = std::exchange(o.h_, nullptr);
            err_ = std::move(o.err_);
            hooks_ = std::move(o.hooks_);
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;

    /** Whether every builder call so far succeeded (and the config exists). */
    bool ok() const noexcept { return h_ && !err_; }
    /** The first builder failure, or nullptr. */
    const Error *error() const noexcept { return err_ ? &*err_ : nullptr; }
    /** The C handle (owned by this object). */
    h2_config *get() const noexcept { return h_; }

    /** TCP connect timeout, DNS and TLS handshake included (default 10 s; > 0). */
    Config &connect_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_connect_timeout_ms, t); }
    /** Whole-request timeout (default 0 = none). Expiry: H2_E_TIMEOUT, stream reset. */
    Config &request_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_request_timeout_ms, t); }
    /** Time to the final response head (default 0 = none). */
    Config &headers_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_headers_timeout_ms, t); }
    /** Longest gap without DATA once the head arrived (default 0 = none). */
    Config &body_idle_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_body_idle_timeout_ms, t); }
    /** A connection without streams this long is closed (default 90 s; 0 = never). */
    Config &idle_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_idle_timeout_ms, t); }
    /** PING after this long without receiving anything (default 30 s; 0 = no keepalive). */
    Config &keepalive_interval(std::chrono::milliseconds t) & { return dur(h2_config_set_keepalive_interval_ms, t); }
    /** An unacknowledged keepalive PING fails the connection after this long (default 15 s). */
    Config &keepalive_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_keepalive_timeout_ms, t); }
    /** The server must acknowledge our SETTINGS within this long (default 10 s). */
    Config &settings_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_settings_timeout_ms, t); }
    /** A socket accepting nothing this long fails the connection (default 30 s). */
    Config &write_timeout(std::chrono::milliseconds t) & { return dur(h2_config_set_write_timeout_ms, t); }

    /** connect_timeout in milliseconds. */
    Config &connect_timeout_ms(uint32_t ms) & { return set(h2_config_set_connect_timeout_ms, ms); }
    /** request_timeout in milliseconds. */
    Config &request_timeout_ms(uint32_t ms) & { return set(h2_config_set_request_timeout_ms, ms); }
    /** headers_timeout in milliseconds. */
    Config &headers_timeout_ms(uint32_t ms) & { return set(h2_config_set_headers_timeout_ms, ms); }
    /** body_idle_timeout in milliseconds. */
    Config &body_idle_timeout_ms(uint32_t ms) & { return set(h2_config_set_body_idle_timeout_ms, ms); }
    /** idle_timeout in milliseconds. */
    Config &idle_timeout_ms(uint32_t ms) & { return set(h2_config_set_idle_timeout_ms, ms); }
    /** keepalive_interval in milliseconds. */
    Config &keepalive_interval_ms(uint32_t ms) & { return set(h2_config_set_keepalive_interval_ms, ms); }
    /** keepalive_timeout in milliseconds. */
    Config &keepalive_timeout_ms(uint32_t ms) & { return set(h2_config_set_keepalive_timeout_ms, ms); }
    /** settings_timeout in milliseconds. */
    Config &settings_timeout_ms(uint32_t ms) & { return set(h2_config_set_settings_timeout_ms, ms); }
    /** write_timeout in milliseconds. */
    Config &write_timeout_ms(uint32_t ms) & { return set(h2_config_set_write_timeout_ms, ms); }

    /**
     * Most connections the client opens in all, over every origin (default 256; > 0). Beyond
     * it, requests wait for a stream slot or for one of the client's connections to close.
     */
    Config &max_connections(uint32_t n) & { return set(h2_config_set_max_connections, n); }
    /**
     * Most connections to one origin (scheme, host, port; default 256; > 0). Beyond it, that
     * origin's requests wait for a stream slot; max_connections caps the whole client too.
     */
    Config &max_connections_per_origin(uint32_t n) & {
        return set(h2_config_set_max_connections_per_origin, n);
    }
    /** Our cap on concurrent streams per connection (default 1000; > 0). */
    Config &max_concurrent_streams(uint32_t n) & { return set(h2_config_set_max_concurrent_streams, n); }
    /** Receive window of each stream (default 4 MiB; 1..=2^31-1). */
    Config &initial_window_size(uint32_t n) & { return set(h2_config_set_initial_window_size, n); }
    /** Receive window of each connection (default 1 GiB; 65535..=2^31-1). */
    Config &connection_window_size(uint32_t n) & { return set(h2_config_set_connection_window_size, n); }
    /** Largest frame the server may send us (default 16384; 16384..=16777215). */
    Config &max_frame_size(uint32_t n) & { return set(h2_config_set_max_frame_size, n); }
    /** Largest response header list (RFC 7541 size; default 256 KiB; >= 1024). */
    Config &max_header_list_size(uint32_t n) & { return set(h2_config_set_max_header_list_size, n); }
    /** HPACK table the server may use towards us (default 4096; <= 1 MiB). */
    Config &header_table_size(uint32_t n) & { return set(h2_config_set_header_table_size, n); }
    /** Largest response body buffered by Client::send and submit (default 1 GiB). */
    Config &max_response_body(uint64_t n) & { return set(h2_config_set_max_response_body, n); }
    /** Retries of requests the server provably did not process (default 3; <= 10). */
    Config &max_retries(uint32_t n) & { return set(h2_config_set_max_retries, n); }
    /** Most redirects followed per request (default 0 = none; see h2_config_set_follow_redirects). */
    Config &follow_redirects(uint32_t max) & { return set(h2_config_set_follow_redirects, max); }
    /** Follow redirects from https to http (default false). */
    Config &redirect_https_to_http(bool allow = true) & {
        return record(h2_config_set_redirect_https_to_http(h_, allow ? 1 : 0));
    }
    /** CONTINUATION frames accepted per response header block (default 0 = derived). */
    Config &max_continuation_frames(uint32_t n) & { return set(h2_config_set_max_continuation_frames, n); }
    /** Empty DATA frames a server may send per connection per minute (default 100; > 0). */
    Config &max_empty_data_frames(uint32_t n) & { return set(h2_config_set_max_empty_data_frames, n); }
    /** PING/SETTINGS acknowledgements allowed to wait for the socket (default 1000; > 0). */
    Config &max_pending_acks(uint32_t n) & { return set(h2_config_set_max_pending_acks, n); }
    /** Pointless frames (RST_STREAM, PRIORITY, unknown) per connection per minute (default 1000). */
    Config &max_glitches(uint32_t n) & { return set(h2_config_set_max_glitches, n); }
    /** Stream resets we send per connection per second before it takes no new streams (default 200). */
    Config &max_resets_per_second(uint32_t n) & { return set(h2_config_set_max_resets_per_second, n); }
    /** Informational (1xx) responses accepted before a final response (default 16; > 0).
     *  More: the stream is reset, the request fails with H2_E_PROTOCOL. */
    Config &max_informational_responses(uint32_t n) & {
        return set(h2_config_set_max_informational_responses, n);
    }

    /** https: trust only the CA certificates of this PEM file (read now; H2_E_TLS if unusable). */
    Config &ca_file(std::string_view path) & {
        detail::CStr p(path);
        if (!p.ok())
            return fail(detail::nul_error("ca_file path"));
        return record(h2_config_set_ca_file(h_, p.c_str()));
    }
    /** https: trust only the CA certificates of this PEM text (copied). */
    Config &ca_pem(std::string_view pem) & {
        return record(h2_config_set_ca_pem(h_, reinterpret_cast<const uint8_t *>(pem.data()), pem.size()));
    }
    /** FOR TESTING ONLY: with true, https clients accept ANY server certificate. */
    Config &insecure_skip_verify(bool insecure = true) & {
        return record(h2_config_set_insecure_skip_verify(h_, insecure));
    }
    /** https: client certificate chain and private key (PEM files, read now) for mutual TLS. */
    Config &client_cert_file(std::string_view cert_path, std::string_view key_path) & {
        detail::CStr c(cert_path), k(key_path);
        if (!c.ok() || !k.ok())
            return fail(detail::nul_error("client_cert_file path"));
        return record(h2_config_set_client_cert_file(h_, c.c_str(), k.c_str()));
    }
    /** Proxy URL (http://, https://, socks5://, socks5h://; credentials in the URL); "" = none
     *  (without this call: the environment, read when the client is created). */
    Config &proxy(std::string_view url) & {
        detail::CStr u(url);
        if (!u.ok())
            return fail(detail::nul_error("proxy URL"));
        return record(h2_config_set_proxy(h_, u.c_str()));
    }
    /** Hosts, IPs, CIDR blocks (comma-separated) or "*" that bypass the proxy (overrides
     *  no_proxy / NO_PROXY). */
    Config &no_proxy(std::string_view list) & {
        detail::CStr l(list);
        if (!l.ok())
            return fail(detail::nul_error("no_proxy list"));
        return record(h2_config_set_no_proxy(h_, l.c_str()));
    }
    /**
     * Adds a name resolution override, as curl's --resolve: "HOST:PORT:ADDR[,ADDR]..." (IPv6
     * addresses in brackets). Connections to HOST:PORT dial these addresses without asking
     * DNS; the URL's host still names the origin (:authority, TLS SNI, the certificate check).
     * The first matching entry wins; not applied through a proxy. A malformed entry:
     * H2_E_INVALID_ARGUMENT.
     */
    Config &add_resolve(std::string_view entry) & {
        detail::CStr e(entry);
        if (!e.ok())
            return fail(detail::nul_error("resolve entry"));
        return record(h2_config_add_resolve(h_, e.c_str()));
    }
    /**
     * Adds a connection target override, as curl's --connect-to: "HOST1:PORT1:HOST2:PORT2".
     * Connections to HOST1:PORT1 go to HOST2:PORT2 instead (an empty HOST1 or PORT1 matches
     * any, an empty HOST2 or PORT2 keeps the original); the URL's host still names the origin.
     * Applied before the add_resolve entries; the first match wins; not applied through a
     * proxy. A malformed entry: H2_E_INVALID_ARGUMENT.
     */
    Config &add_connect_to(std::string_view entry) & {
        detail::CStr e(entry);
        if (!e.ok())
            return fail(detail::nul_error("connect_to entry"));
        return record(h2_config_add_connect_to(h_, e.c_str()));
    }
    /**
     * Binds every connection's socket to this local IP address before connecting (curl's
     * --interface with an address; default: the system chooses). Not an IP address:
     * H2_E_INVALID_ARGUMENT; an address the machine does not have fails each connection with
     * H2_E_CONNECT naming it.
     */
    Config &local_address(std::string_view addr) & {
        detail::CStr a(addr);
        if (!a.ok())
            return fail(detail::nul_error("local address"));
        return record(h2_config_set_local_address(h_, a.c_str()));
    }
    /** Allowed TLS versions: h2::tls_1_2, h2::tls_1_3 or both OR-ed (the default). */
    Config &tls_versions(uint32_t versions) & { return record(h2_config_set_tls_versions(h_, versions)); }

    /**
     * Calls `fn` for the connection and stream events of each client later created from this
     * config (an empty function removes it). It runs on a library thread: it must return
     * quickly and must not call blocking functions. Each client copies `fn`; the calls for one
     * client never overlap and stop when the Client is destroyed. Exceptions it throws are
     * ignored.
     */
    Config &on_event(EventHandler fn) & {
        hooks().events = std::move(fn);
        return *this;
    }
    /**
     * Calls `fn` with each informational (1xx) response head, such as 103 Early Hints, that
     * precedes a final response, for the requests of each client later created from this
     * config that have no callback of their own (Request::on_informational); an empty
     * function removes it (1xx heads are then skipped). The head is a ResponseView, valid only
     * during the call. It runs on a library thread while that connection's reader waits: it
     * must return quickly and must not call blocking functions. Each client copies `fn`; the
     * calls for one client never overlap and stop when the Client is destroyed. Exceptions it
     * throws are ignored.
     */
    Config &on_informational(InformationalHandler fn) & {
        hooks().informational = std::move(fn);
        return *this;
    }
    /**
     * The user-agent sent with every request that sets none (default "h2client/<version>").
     * A value with control characters or surrounding spaces: H2_E_INVALID_ARGUMENT.
     */
    Config &user_agent(std::string_view ua) & {
        detail::CStr u(ua);
        if (!u.ok())
            return fail(detail::nul_error("user agent"));
        return record(h2_config_set_user_agent(h_, u.c_str()));
    }
    /** Sends no user-agent with requests that set none (instead of "h2client/<version>"). */
    Config &no_user_agent() & { return record(h2_config_set_user_agent(h_, nullptr)); }
    /**
     * Transparent decompression (curl's --compressed, Go's gzip): requests that set no
     * accept-encoding send `list` ("" = "gzip, deflate, br, zstd") and their bodies arrive
     * decoded (Response::decoded(); content-encoding and content-length removed). Off by
     * default. A corrupt body fails with H2_E_DECODE.
     */
    Config &accept_encoding(std::string_view list = "") & {
        detail::CStr l(list);
        if (!l.ok())
            return fail(detail::nul_error("accept-encoding"));
        return record(h2_config_set_accept_encoding(h_, l.c_str()));
    }
    /**
     * Sends every connection over the Unix domain socket at `path` instead of TCP, as curl's
     * --unix-socket. Request URLs still name the origin: http:// speaks h2c on the socket,
     * https:// TLS with the URL's host for SNI and the certificate check, :authority is the
     * URL's. No proxy, name resolution (add_resolve, add_connect_to) or local_address
     * applies. "" = TCP (the default). A path over 107 bytes: H2_E_INVALID_ARGUMENT; a socket
     * nobody listens on fails each connection with H2_E_CONNECT naming it.
     */
    Config &unix_socket(std::string_view path) & {
        detail::CStr p(path);
        if (!p.ok())
            return fail(detail::nul_error("unix socket path"));
        return record(h2_config_set_unix_socket(h_, p.c_str()));
    }

    // Rvalue overloads, so that `Config cfg = Config().x().y();` moves the temporary.
    /** @copydoc connect_timeout */
    Config &&connect_timeout(std::chrono::milliseconds t) && { return std::move(connect_timeout(t)); }
    /** @copydoc request_timeout */
    Config &&request_timeout(std::chrono::milliseconds t) && { return std::move(request_timeout(t)); }
    /** @copydoc headers_timeout */
    Config &&headers_timeout(std::chrono::milliseconds t) && { return std::move(headers_timeout(t)); }
    /** @copydoc body_idle_timeout */
    Config &&body_idle_timeout(std::chrono::milliseconds t) && { return std::move(body_idle_timeout(t)); }
    /** @copydoc idle_timeout */
    Config &&idle_timeout(std::chrono::milliseconds t) && { return std::move(idle_timeout(t)); }
    /** @copydoc keepalive_interval */
    Config &&keepalive_interval(std::chrono::milliseconds t) && { return std::move(keepalive_interval(t)); }
    /** @copydoc keepalive_timeout */
    Config &&keepalive_timeout(std::chrono::milliseconds t) && { return std::move(keepalive_timeout(t)); }
    /** @copydoc settings_timeout */
    Config &&settings_timeout(std::chrono::milliseconds t) && { return std::move(settings_timeout(t)); }
    /** @copydoc write_timeout */
    Config &&write_timeout(std::chrono::milliseconds t) && { return std::move(write_timeout(t)); }
    /** @copydoc connect_timeout_ms */
    Config &&connect_timeout_ms(uint32_t ms) && { return std::move(connect_timeout_ms(ms)); }
    /** @copydoc request_timeout_ms */
    Config &&request_timeout_ms(uint32_t ms) && { return std::move(request_timeout_ms(ms)); }
    /** @copydoc headers_timeout_ms */
    Config &&headers_timeout_ms(uint32_t ms) && { return std::move(headers_timeout_ms(ms)); }
    /** @copydoc body_idle_timeout_ms */
    Config &&body_idle_timeout_ms(uint32_t ms) && { return std::move(body_idle_timeout_ms(ms)); }
    /** @copydoc idle_timeout_ms */
    Config &&idle_timeout_ms(uint32_t ms) && { return std::move(idle_timeout_ms(ms)); }
    /** @copydoc keepalive_interval_ms */
    Config &&keepalive_interval_ms(uint32_t ms) && { return std::move(keepalive_interval_ms(ms)); }
    /** @copydoc keepalive_timeout_ms */
    Config &&keepalive_timeout_ms(uint32_t ms) && { return std::move(keepalive_timeout_ms(ms)); }
    /** @copydoc settings_timeout_ms */
    Config &&settings_timeout_ms(uint32_t ms) && { return std::move(settings_timeout_ms(ms)); }
    /** @copydoc write_timeout_ms */
    Config &&write_timeout_ms(uint32_t ms) && { return std::move(write_timeout_ms(ms)); }
    /** @copydoc max_connections */
    Config &&max_connections(uint32_t n) && { return std::move(max_connections(n)); }
    /** @copydoc max_connections_per_origin */
    Config &&max_connections_per_origin(uint32_t n) && { return std::move(max_connections_per_origin(n)); }
    /** @copydoc max_concurrent_streams */
    Config &&max_concurrent_streams(uint32_t n) && { return std::move(max_concurrent_streams(n)); }
    /** @copydoc initial_window_size */
    Config &&initial_window_size(uint32_t n) && { return std::move(initial_window_size(n)); }
    /** @copydoc connection_window_size */
    Config &&connection_window_size(uint32_t n) && { return std::move(connection_window_size(n)); }
    /** @copydoc max_frame_size */
    Config &&max_frame_size(uint32_t n) && { return std::move(max_frame_size(n)); }
    /** @copydoc max_header_list_size */
    Config &&max_header_list_size(uint32_t n) && { return std::move(max_header_list_size(n)); }
    /** @copydoc header_table_size */
    Config &&header_table_size(uint32_t n) && { return std::move(header_table_size(n)); }
    /** @copydoc max_response_body */
    Config &&max_response_body(uint64_t n) && { return std::move(max_response_body(n)); }
    /** @copydoc max_retries */
    Config &&max_retries(uint32_t n) && { return std::move(max_retries(n)); }
    /** @copydoc follow_redirects */
    Config &&follow_redirects(uint32_t max) && { return std::move(follow_redirects(max)); }
    /** @copydoc redirect_https_to_http */
    Config &&redirect_https_to_http(bool allow = true) && { return std::move(redirect_https_to_http(allow)); }
    /** @copydoc max_continuation_frames */
    Config &&max_continuation_frames(uint32_t n) && { return std::move(max_continuation_frames(n)); }
    /** @copydoc max_empty_data_frames */
    Config &&max_empty_data_frames(uint32_t n) && { return std::move(max_empty_data_frames(n)); }
    /** @copydoc max_pending_acks */
    Config &&max_pending_acks(uint32_t n) && { return std::move(max_pending_acks(n)); }
    /** @copydoc max_glitches */
    Config &&max_glitches(uint32_t n) && { return std::move(max_glitches(n)); }
    /** @copydoc max_resets_per_second */
    Config &&max_resets_per_second(uint32_t n) && { return std::move(max_resets_per_second(n)); }
    /** @copydoc max_informational_responses */
    Config &&max_informational_responses(uint32_t n) && { return std::move(max_informational_responses(n)); }
    /** @copydoc ca_file */
    Config &&ca_file(std::string_view path) && { return std::move(ca_file(path)); }
    /** @copydoc ca_pem */
    Config &&ca_pem(std::string_view pem) && { return std::move(ca_pem(pem)); }
    /** @copydoc insecure_skip_verify */
    Config &&insecure_skip_verify(bool insecure = true) && { return std::move(insecure_skip_verify(insecure)); }
    /** @copydoc client_cert_file */
    Config &&client_cert_file(std::string_view cert_path, std::string_view key_path) && {
        return std::move(client_cert_file(cert_path, key_path));
    }
    /** @copydoc proxy */
    Config &&proxy(std::string_view url) && { return std::move(proxy(url)); }
    /** @copydoc no_proxy */
    Config &&no_proxy(std::string_view list) && { return std::move(no_proxy(list)); }
    /** @copydoc add_resolve */
    Config &&add_resolve(std::string_view entry) && { return std::move(add_resolve(entry)); }
    /** @copydoc add_connect_to */
    Config &&add_connect_to(std::string_view entry) && { return std::move(add_connect_to(entry)); }
    /** @copydoc local_address */
    Config &&local_address(std::string_view addr) && { return std::move(local_address(addr)); }
    /** @copydoc tls_versions */
    Config &&tls_versions(uint32_t versions) && { return std::move(tls_versions(versions)); }
    /** @copydoc on_event */
    Config &&on_event(EventHandler fn) && { return std::move(on_event(std::move(fn))); }
    /** @copydoc on_informational */
    Config &&on_informational(InformationalHandler fn) && { return std::move(on_informational(std::move(fn))); }
    /** @copydoc user_agent */
    Config &&user_agent(std::string_view ua) && { return std::move(user_agent(ua)); }
    /** @copydoc no_user_agent */
    Config &&no_user_agent() && { return std::move(no_user_agent()); }
    /** @copydoc accept_encoding */
    Config &&accept_encoding(std::string_view list = "") && { return std::move(accept_encoding(list)); }
    /** @copydoc unix_socket */
    Config &&unix_socket(std::string_view path) && { return std::move(unix_socket(path)); }

private:
    friend class Client;

    Config &fail(Error e) {
        if (!err_)
            err_ = std::move(e);
        return *this;
    }
    detail::ConfigHooks &hooks() {
        if (!hooks_)
            hooks_ = std::make_shared<detail::ConfigHooks>();
        return *hooks_;
    }
    Config &record(h2_result rc) {
        if (rc != H2_OK && !err_)
            err_ = Error::last(rc);
        return *this;
    }
    template <class V>
    Config &set(h2_result (*setter)(h2_config *, V), V v) {
        return record(setter(h_, v));
    }
    Config &dur(h2_result (*setter)(h2_config *, uint32_t), std::chrono::milliseconds t) {
        uint32_t ms;
        if (!detail::to_ms(t, &ms))
            return fail(Error(H2_E_INVALID_ARGUMENT, "duration out of range (0..=4294967295 ms)"));
        return record(setter(h_, ms));
    }

    h2_config *h_ = nullptr;
    std::optional<Error> err_;
    std::shared_ptr<detail::ConfigHooks> hooks_;
};

// ---- Request --------------------------------------------------------------------------------

/**
 * A request (h2_request): method, path or absolute URL, headers, optional body and timeouts,
 * built by chaining: `h2::Request("POST", "/upload").header("x-a", "1").body(data).timeout_ms(500)`
 * or `h2::Request::url("GET", "https://example.com/a?b=c").header("accept", "text/html")`.
 * A request can be sent any number of times, from several threads at once. Builder methods
 * never throw: the first failure (invalid method, path, URL, header name or value) is kept
 * (ok(), error()) and sending the request fails with it.
 */
class Request {
public:
    /**
     * A request for `path` (origin form, e.g. "/a?b=c", or "*") with `method` (e.g. "GET"),
     * sent to the client's base URL. A client made without a base URL refuses it: sending it
     * there fails with H2_E_INVALID_ARGUMENT (use Request::url).
     */
    Request(std::string_view method, std::string_view path) {
        detail::CStr m(method), p(path);
        if (!m.ok() || !p.ok()) {
            err_ = detail::nul_error("request method or path");
            return;
        }
        h_ = h2_request_new(m.c_str(), p.c_str());
        if (!h_)
            err_ = Error::last();
    }
    /**
     * A request for the absolute URL `absolute_url` ("http://..." for HTTP/2 over cleartext
     * with prior knowledge, "https://..." over TLS) with `method` (h2_request_new_url). Any
     * Client sends it to the URL's origin, whatever its base URL. The URL is parsed by the
     * WHATWG rules (the fragment is dropped; userinfo becomes an `authorization: Basic`
     * header). A bad URL is kept as the request's error (H2_E_INVALID_URL naming the part), a
     * bad method as H2_E_INVALID_ARGUMENT, as for the constructor.
     */
    static Request url(std::string_view method, std::string_view absolute_url) {
        Request r;
        detail::CStr m(method), u(absolute_url);
        if (!m.ok() || !u.ok()) {
            r.err_ = detail::nul_error("request method or URL");
            return r;
        }
        r.h_ = h2_request_new_url(m.c_str(), u.c_str());
        if (!r.h_)
            r.err_ = Error::last();
        return r;
    }
    ~Request() { h2_request_free(h_); }
    /** Takes `o`'s request; `o` is left empty. */
    Request(Request &&o) noexcept
        : h_(std::exchange(o.h_, nullptr)), err_(std::move(o.err_)), info_(std::move(o.info_)) {}
    /** Takes `o`'s request; `o` is left empty. */
    Request &operator=(Request &&o) noexcept {
        if (this != &o) {
            h2_request_free(h_);
            h_ = std::exchange(o.h_, nullptr);
            err_ = std::move(o.err_);
            info_ = std::move(o.info_);
        }
        return *this;
    }
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;

    /** Whether it exists and every builder call succeeded. */
    bool ok() const noexcept { return h_ && !err_; }
    /** The first builder failure, or nullptr. */
    const Error *error() const noexcept { return err_ ? &*err_ : nullptr; }
    /** The C handle (owned by this object). */
    h2_request *get() const noexcept { return h_; }
    /**
     * Gives up ownership of the C handle (free it with h2_request_free). A callback set with
     * on_informational stays with this object: once it is destroyed, the C request's 1xx
     * heads reach no callback.
     */
    h2_request *release() noexcept { return std::exchange(h_, nullptr); }

    /**
     * Adds a header (the name is lowercased; see h2_request_add_header for what is refused:
     * invalid names or values, connection-specific headers; `host` sets :authority).
     */
    Request &header(std::string_view name, std::string_view value) & {
        if (err_)
            return *this;
        detail::CStr n(name), v(value);
        if (!n.ok() || !v.ok())
            return fail(detail::nul_error("header name or value"));
        return record(h2_request_add_header(h_, n.c_str(), v.c_str()));
    }
    /** Adds each of `fields`, in order. */
    Request &headers(const Fields &fields) & {
        for (const auto &f : fields)
            header(f.first, f.second);
        return *this;
    }
    /** Sets the body to a copy of `data` (empty removes it); content-length is added. */
    Request &body(std::string_view data) & { return body(data.data(), data.size()); }
    /** Sets the body to a copy of `len` bytes at `data`. */
    Request &body(const void *data, size_t len) & {
        if (err_)
            return *this;
        return record(h2_request_set_body(h_, static_cast<const uint8_t *>(data), len));
    }
    /** This request's whole-request timeout (0 = the client's). */
    Request &timeout(std::chrono::milliseconds t) & { return dur(h2_request_set_timeout_ms, t); }
    /** This request's whole-request timeout in milliseconds (0 = the client's). */
    Request &timeout_ms(uint32_t ms) & { return set(h2_request_set_timeout_ms, ms); }
    /** This request's time-to-response-headers timeout (0 = the client's). */
    Request &headers_timeout(std::chrono::milliseconds t) & { return dur(h2_request_set_headers_timeout_ms, t); }
    /** headers_timeout in milliseconds. */
    Request &headers_timeout_ms(uint32_t ms) & { return set(h2_request_set_headers_timeout_ms, ms); }
    /** This request's body idle timeout (0 = the client's). */
    Request &body_idle_timeout(std::chrono::milliseconds t) & {
        return dur(h2_request_set_body_idle_timeout_ms, t);
    }
    /** body_idle_timeout in milliseconds. */
    Request &body_idle_timeout_ms(uint32_t ms) & { return set(h2_request_set_body_idle_timeout_ms, ms); }
    /**
     * Marks the body as streamed: Client::start sends HEADERS without END_STREAM and the body
     * is written with Call::write and ended with Call::finish. Such a request cannot be sent
     * with Client::send, and it is not retried once part of its body went out.
     */
    Request &streaming_body(bool streaming = true) & {
        if (err_)
            return *this;
        return record(h2_request_set_streaming_body(h_, streaming));
    }
    /**
     * Calls `fn` with each informational (1xx) response head to this request, such as 103
     * Early Hints, before the final response, instead of the client's callback
     * (Config::on_informational); an empty function goes back to the client's. The head is a
     * ResponseView, valid only during the call. It runs on a library thread while that
     * connection's reader waits: it must return quickly and must not call blocking functions.
     * Calls of one request never overlap, even when it is sent several times at once.
     * Exceptions it throws are ignored. `fn` is kept by the request and by the calls sending
     * it: a Call from start() or submit() keeps it after the Request is destroyed.
     */
    Request &on_informational(InformationalHandler fn) & {
        if (err_)
            return *this;
        if (!fn) {
            h2_result rc = h2_request_set_informational_callback(h_, nullptr, nullptr);
            if (rc == H2_OK)
                info_.reset();
            return record(rc);
        }
        auto hook = detail::make_info_hook(std::move(fn));
        h2_result rc = h2_request_set_informational_callback(h_, &detail::info_trampoline, detail::info_userdata(*hook));
        if (rc == H2_OK)
            info_ = std::move(hook);
        return record(rc);
    }

    /** @copydoc header */
    Request &&header(std::string_view name, std::string_view value) && { return std::move(header(name, value)); }
    /** @copydoc headers */
    Request &&headers(const Fields &fields) && { return std::move(headers(fields)); }
    /** @copydoc body(std::string_view) */
    Request &&body(std::string_view data) && { return std::move(body(data)); }
    /** @copydoc body(const void*, size_t) */
    Request &&body(const void *data, size_t len) && { return std::move(body(data, len)); }
    /** @copydoc timeout */
    Request &&timeout(std::chrono::milliseconds t) && { return std::move(timeout(t)); }
    /** @copydoc timeout_ms */
    Request &&timeout_ms(uint32_t ms) && { return std::move(timeout_ms(ms)); }
    /** @copydoc headers_timeout */
    Request &&headers_timeout(std::chrono::milliseconds t) && { return std::move(headers_timeout(t)); }
    /** @copydoc headers_timeout_ms */
    Request &&headers_timeout_ms(uint32_t ms) && { return std::move(headers_timeout_ms(ms)); }
    /** @copydoc body_idle_timeout */
    Request &&body_idle_timeout(std::chrono::milliseconds t) && { return std::move(body_idle_timeout(t)); }
    /** @copydoc body_idle_timeout_ms */
    Request &&body_idle_timeout_ms(uint32_t ms) && { return std::move(body_idle_timeout_ms(ms)); }
    /** @copydoc streaming_body */
    Request &&streaming_body(bool streaming = true) && { return std::move(streaming_body(streaming)); }
    /** @copydoc on_informational */
    Request &&on_informational(InformationalHandler fn) && { return std::move(on_informational(std::move(fn))); }

private:
    friend class Client;
    Request() noexcept = default;

    Request &fail(Error e) {
        if (!err_)
            err_ = std::move(e);
        return *this;
    }
    Request &record(h2_result rc) {
        if (rc != H2_OK && !err_)
            err_ = Error::last(rc);
        return *this;
    }
    Request &set(h2_result (*setter)(h2_request *, uint32_t), uint32_t ms) {
        if (err_)
            return *this;
        return record(setter(h_, ms));
    }
    Request &dur(h2_result (*setter)(h2_request *, uint32_t), std::chrono::milliseconds t) {
        uint32_t ms;
        if (!detail::to_ms(t, &ms))
            return fail(Error(H2_E_INVALID_ARGUMENT, "duration out of range (0..=4294967295 ms)"));
        return set(setter, ms);
    }

    h2_request *h_ = nullptr;
    std::optional<Error> err_;
    std::shared_ptr<detail::InfoHook> info_; // on_informational's callback, or null
};

// ---- Request information --------------------------------------------------------------------

/**
 * What is known of one request (the C h2_request_info, as curl's curl_easy_getinfo), from
 * Response::info() and Call::info(): times, bytes, its connection and TLS session. A
 * self-contained value: its strings are copies, valid after the Response or Call is gone.
 *
 * Times count from the start of the call (the first request of a redirect chain), rounded up
 * to the microsecond; zero means "not (yet) happened". For a completed response they never
 * decrease in this order: time_namelookup, time_connect, time_tls (when not zero),
 * time_headers_sent, time_first_byte, time_total; time_request_sent may come after
 * time_first_byte when the server answers before the body is all sent. The connect-phase
 * times (namelookup, connect, tls) belong to the request that opened the connection: on a
 * reused connection they are zero. Strings the C struct has as NULL (not applicable, e.g. the
 * TLS ones for h2c) are empty.
 */
struct RequestInfo {
    /** The host name was resolved (through a proxy, the proxy's; over a Unix socket, when
     *  dialling began); zero on a reused connection. */
    std::chrono::microseconds time_namelookup{0};
    /** The TCP (or Unix socket) connection was established (through a proxy, to the proxy). */
    std::chrono::microseconds time_connect{0};
    /** The TLS handshake with the origin completed; zero for h2c and on a reused connection. */
    std::chrono::microseconds time_tls{0};
    /** The request's HEADERS frame was queued for the socket. */
    std::chrono::microseconds time_headers_sent{0};
    /** The request's last frame was queued for the socket; zero while the body is being sent. */
    std::chrono::microseconds time_request_sent{0};
    /** The first response header block arrived (a 1xx included). */
    std::chrono::microseconds time_first_byte{0};
    /** The exchange ended (response complete, failed or cancelled); zero while in flight. */
    std::chrono::microseconds time_total{0};
    /** The time spent on redirects before the final request started; zero without any. */
    std::chrono::microseconds time_redirect{0};

    uint64_t header_bytes_sent = 0;      ///< HPACK-encoded request header blocks (trailers too)
    uint64_t body_bytes_sent = 0;        ///< request DATA payloads
    uint64_t header_bytes_received = 0;  ///< HPACK-encoded response header blocks (1xx, trailers too)
    uint64_t body_bytes_received = 0;    ///< response DATA payloads without padding

    uint64_t connection_id = 0;  ///< the connection's number, as in Event::conn_id (0: none yet)
    uint32_t stream_id = 0;      ///< the request's stream on it (0: not written yet)
    uint32_t retries = 0;        ///< retries (the server provably did not process the attempt)
    uint32_t redirect_count = 0; ///< redirects followed
    /** The request is not its connection's first stream (as curl counts reuse: one that waited
     *  for a connection another request opened counts too). */
    bool reused = false;
    std::string effective_url;   ///< the URL of the request (after redirects, the last one)

    /** The address dialled, as text without port: an IP address (the proxy's through a proxy)
     *  or, with unix_socket set, the socket's path; empty before a connection. */
    std::string remote_address;
    uint16_t remote_port = 0;    ///< the port dialled (0 over a Unix socket)
    std::string local_address;   ///< our address (empty over a Unix socket)
    uint16_t local_port = 0;     ///< our port (0 over a Unix socket)
    bool unix_socket = false;    ///< the connection is over a Unix socket

    uint16_t tls_version = 0;          ///< IANA number: 0x0303 (TLS 1.2), 0x0304 (TLS 1.3); 0 for h2c
    std::string tls_version_name;      ///< "TLSv1.2", "TLSv1.3"
    uint16_t tls_cipher_suite = 0;     ///< IANA number, e.g. 0x1301
    std::string tls_cipher_suite_name; ///< IANA name, e.g. "TLS_AES_128_GCM_SHA256"
    std::string alpn;                  ///< the protocol ALPN selected: "h2" over TLS
    std::string tls_server_name;       ///< the SNI sent (the URL's host); empty for an IP address
    bool tls_resumed = false;          ///< the TLS session was resumed
    size_t peer_certificate_count = 0; ///< how many certificates the server sent

    /** Whether the request's connection is over TLS. */
    bool tls() const noexcept { return tls_version != 0; }
};

/**
 * The server's certificates, DER-encoded, leaf first then the chain as the server sent it
 * (Response::peer_certificates, Call::peer_certificates): owned copies.
 */
using Certificates = std::vector<std::string>;

namespace detail {
/** The C struct's string, or "" for NULL. */
inline std::string c_string(const char *s) { return s ? std::string(s) : std::string(); }

/** The RequestInfo of `get(h, &info)` (h2_response_info or h2_call_info), or its Error. */
template <class H, class Get>
Result<RequestInfo> request_info(H *h, Get get) {
    h2_request_info c;
    std::memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    h2_result rc = get(h, &c);
    if (rc != H2_OK)
        return Error::last(rc);
    using us = std::chrono::microseconds;
    RequestInfo i;
    i.time_namelookup = us(c.time_namelookup_us);
    i.time_connect = us(c.time_connect_us);
    i.time_tls = us(c.time_tls_us);
    i.time_headers_sent = us(c.time_headers_sent_us);
    i.time_request_sent = us(c.time_request_sent_us);
    i.time_first_byte = us(c.time_first_byte_us);
    i.time_total = us(c.time_total_us);
    i.time_redirect = us(c.time_redirect_us);
    i.header_bytes_sent = c.header_bytes_sent;
    i.body_bytes_sent = c.body_bytes_sent;
    i.header_bytes_received = c.header_bytes_received;
    i.body_bytes_received = c.body_bytes_received;
    i.connection_id = c.connection_id;
    i.stream_id = c.stream_id;
    i.retries = c.retries;
    i.redirect_count = c.redirect_count;
    i.reused = c.reused;
    i.effective_url = c_string(c.effective_url);
    i.remote_address = c_string(c.remote_address);
    i.remote_port = c.remote_port;
    i.local_address = c_string(c.local_address);
    i.local_port = c.local_port;
    i.unix_socket = c.unix_socket;
    i.tls_version = c.tls_version;
    i.tls_version_name = c_string(c.tls_version_name);
    i.tls_cipher_suite = c.tls_cipher_suite;
    i.tls_cipher_suite_name = c_string(c.tls_cipher_suite_name);
    i.alpn = c_string(c.alpn);
    i.tls_server_name = c_string(c.tls_server_name);
    i.tls_resumed = c.tls_resumed;
    i.peer_certificate_count = c.peer_certificate_count;
    return i;
}

/** Copies the certificates `cert(h, index, &len)` returns until it returns NULL. */
template <class H, class Cert>
Certificates certificates(H *h, Cert cert) {
    Certificates out;
    if (!h)
        return out;
    for (size_t i = 0;; i++) {
        size_t len = 0;
        const uint8_t *der = cert(h, i, &len);
        if (!der)
            break;
        out.emplace_back(reinterpret_cast<const char *>(der), len);
    }
    return out;
}
} // namespace detail

// ---- Response -------------------------------------------------------------------------------

/**
 * A complete response (h2_response): status, headers, body, trailers. Immutable; the views it
 * hands out (headers, body) stay valid as long as it lives. A default-constructed or
 * moved-from Response is empty (status 0, no headers, empty body).
 */
class Response {
public:
    /** An empty response. */
    Response() noexcept = default;
    /** Takes ownership of a C response (e.g. from h2_client_do). */
    explicit Response(h2_response *r) noexcept : h_(r) {}
    ~Response() { h2_response_free(h_); }
    /** Takes `o`'s response; `o` is left empty. */
    Response(Response &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    /** Takes `o`'s response; `o` is left empty. */
    Response &operator=(Response &&o) noexcept {
        if (this != &o) {
            h2_response_free(h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    Response(const Response &) = delete;
    Response &operator=(const Response &) = delete;

    /** The HTTP status, e.g. 200 (0 if empty). */
    uint16_t status() const noexcept { return h2_response_status(h_); }
    /** The URL the response answered (after redirects; empty if empty). */
    std::string_view effective_url() const noexcept {
        const char *u = h_ ? h2_response_effective_url(h_) : nullptr;
        return u ? std::string_view(u) : std::string_view();
    }
    /** Redirects followed to get the response. */
    uint32_t redirect_count() const noexcept { return h_ ? h2_response_redirect_count(h_) : 0; }
    /** Whether the library decoded the body (Config::accept_encoding). */
    bool decoded() const noexcept { return h_ && h2_response_decoded(h_); }
    /** The headers in the order received (pseudo-headers excluded). */
    FieldViews headers() const {
        return detail::field_views(h_, h2_response_header_count, h2_response_header_at);
    }
    /** The first value of header `name` (case-insensitive), or nullopt. */
    std::optional<std::string_view> header(std::string_view name) const {
        return detail::find_field(h_, name, h2_response_header);
    }
    /** The trailers (fields after the body). */
    FieldViews trailers() const {
        return detail::field_views(h_, h2_response_trailer_count, h2_response_trailer_at);
    }
    /** The first value of trailer `name`, or nullopt. */
    std::optional<std::string_view> trailer(std::string_view name) const {
        return detail::find_field(h_, name, h2_response_trailer);
    }
    /** The body (not NUL-terminated; binary-safe). */
    std::string_view body() const noexcept {
        return std::string_view(reinterpret_cast<const char *>(body_data()), body_size());
    }
    /** The body's bytes (never nullptr). */
    const uint8_t *body_data() const noexcept {
        static const uint8_t empty[1] = {0};
        const uint8_t *p = h_ ? h2_response_body(h_, nullptr) : nullptr;
        return p ? p : empty;
    }
    /** The body's length. */
    size_t body_size() const noexcept {
        size_t len = 0;
        if (h_)
            h2_response_body(h_, &len);
        return len;
    }
    /**
     * What is known of the request that got the response (after redirects, the last one):
     * times, bytes, connection, TLS session (h2_response_info). H2_E_INVALID_ARGUMENT if empty.
     */
    Result<RequestInfo> try_info() const { return detail::request_info(h_, h2_response_info); }
#if H2_CPP_EXCEPTIONS
    /** As try_info; throws Error (only for an empty response). */
    RequestInfo info() const { return try_info().value(); }
#endif
    /**
     * The certificates the server presented on the response's connection, DER-encoded, leaf
     * first (owned copies); empty for h2c and for an empty response.
     */
    Certificates peer_certificates() const {
        return detail::certificates(h_, h2_response_peer_certificate);
    }

    /** Whether it holds a response. */
    explicit operator bool() const noexcept { return h_ != nullptr; }
    /** The C handle (owned by this object). */
    h2_response *get() const noexcept { return h_; }
    /** Gives up ownership of the C handle (free it with h2_response_free). */
    h2_response *release() noexcept { return std::exchange(h_, nullptr); }

private:
    h2_response *h_ = nullptr;
};

// ---- Call -----------------------------------------------------------------------------------

/**
 * A request/response exchange in flight (h2_call), from Client::start (streamed: write the
 * body, read the response as it arrives) or Client::submit (buffered: the response comes
 * through a Queue). Destroying a Call that has not ended cancels it (RST_STREAM(CANCEL)).
 * cancel() may be called from any thread at any time, e.g. while another thread is blocked
 * in read(); as in the C API, one thread may write the body while another reads the response,
 * otherwise use a Call from one thread at a time, and never destroy or move it while another
 * thread uses it. A default-constructed or moved-from Call is empty: its methods fail with
 * H2_E_INVALID_ARGUMENT.
 */
class Call {
public:
    /** An empty call. */
    Call() noexcept = default;
    /** Takes ownership of a C call. */
    explicit Call(h2_call *c) noexcept : h_(c) {}
    ~Call() { h2_call_free(h_); }
    /** Takes `o`'s call; `o` is left empty. */
    Call(Call &&o) noexcept : h_(std::exchange(o.h_, nullptr)), keep_(std::move(o.keep_)) {}
    /** Frees (cancels) the current call and takes `o`'s; `o` is left empty. */
    Call &operator=(Call &&o) noexcept {
        if (this != &o) {
            h2_call_free(h_);
            h_ = std::exchange(o.h_, nullptr);
            keep_ = std::move(o.keep_);
        }
        return *this;
    }
    Call(const Call &) = delete;
    Call &operator=(const Call &) = delete;

    /** Writes request body bytes (streaming_body requests); blocks only on flow control. */
    Result<void> try_write(const void *data, size_t len) {
        return detail::check(h2_call_write(h_, static_cast<const uint8_t *>(data), len));
    }
    /** Writes request body bytes. */
    Result<void> try_write(std::string_view data) { return try_write(data.data(), data.size()); }
    /** Adds a trailer to send after the body (before finish()). */
    Result<void> try_add_trailer(std::string_view name, std::string_view value) {
        detail::CStr n(name), v(value);
        if (!n.ok() || !v.ok())
            return detail::nul_error("trailer name or value");
        return detail::check(h2_call_add_trailer(h_, n.c_str(), v.c_str()));
    }
    /** Ends the request body (END_STREAM, with the trailers if any). Does not block. */
    Result<void> try_finish() { return detail::check(h2_call_finish(h_)); }
    /** Blocks until the final response head has arrived (1xx skipped). */
    Result<void> try_wait_headers() { return detail::check(h2_call_wait_headers(h_)); }
    /** Blocks until the call has ended (response complete, failed or cancelled). */
    Result<void> try_wait() { return detail::check(h2_call_wait(h_)); }
    /**
     * Reads up to `cap` body bytes into `buf`, blocking until some arrive; 0 at the end of the
     * body (Client::start calls). Reading is what reopens the stream's receive window.
     */
    Result<size_t> try_read(void *buf, size_t cap) {
        size_t n = 0;
        h2_result rc = h2_call_read(h_, static_cast<uint8_t *>(buf), cap, &n);
        if (rc != H2_OK)
            return Error::last(rc);
        return n;
    }
    /**
     * Lends up to `max` received body pieces without copying them (h2_call_read_view): fills
     * `pieces`, returns their count, 0 at the end of the body. They stay valid until the next
     * read on this call.
     */
    Result<size_t> try_read_view(h2_piece *pieces, size_t max) {
        size_t n = 0;
        h2_result rc = h2_call_read_view(h_, pieces, max, &n);
        if (rc != H2_OK)
            return Error::last(rc);
        return n;
    }
    /** Reads the rest of the body into a string (memory grows with the body). */
    Result<std::string> try_read_all() {
        std::string out;
        size_t n = 0;
        do {
            size_t old = out.size();
            out.resize(old + 65536);
            h2_result rc = h2_call_read(h_, reinterpret_cast<uint8_t *>(&out[old]), 65536, &n);
            out.resize(old + (rc == H2_OK ? n : 0));
            if (rc != H2_OK)
                return Error::last(rc);
        } while (n > 0);
        return out;
    }
    /**
     * Takes the buffered response of a completed submitted call (once). Queue::poll already
     * does this for the calls whose completions it returns.
     */
    Result<Response> try_response() {
        h2_response *r = nullptr;
        h2_result rc = h2_call_response(h_, &r);
        if (rc != H2_OK)
            return Error::last(rc);
        return Response(r);
    }

#if H2_CPP_EXCEPTIONS
    /** Writes request body bytes; throws Error. */
    void write(const void *data, size_t len) { try_write(data, len).value(); }
    /** Writes request body bytes; throws Error. */
    void write(std::string_view data) { try_write(data).value(); }
    /** Adds a trailer to send after the body; throws Error. */
    void add_trailer(std::string_view name, std::string_view value) { try_add_trailer(name, value).value(); }
    /** Ends the request body; throws Error. */
    void finish() { try_finish().value(); }
    /** Blocks until the final response head; throws Error (e.g. H2_E_CANCELED). */
    void wait_headers() { try_wait_headers().value(); }
    /** Blocks until the call has ended; throws its Error if it failed. */
    void wait() { try_wait().value(); }
    /** Reads up to `cap` body bytes (0 at the end); throws Error. */
    size_t read(void *buf, size_t cap) { return try_read(buf, cap).value(); }
    /** Lends up to `max` received body pieces (0 at the end); throws Error. */
    size_t read_view(h2_piece *pieces, size_t max) { return try_read_view(pieces, max).value(); }
    /** Reads the rest of the body; throws Error. */
    std::string read_all() { return try_read_all().value(); }
    /** Takes the buffered response of a completed submitted call; throws Error. */
    Response response() { return try_response().value(); }
#endif

    /** Whether the call has ended. Does not block. */
    bool is_done() const noexcept { return h2_call_is_done(h_); }
    /** The response status, 0 until the head has arrived. */
    uint16_t status() const noexcept { return h2_call_status(h_); }
    /** The URL of the call's response (the last one redirected to, once final). */
    std::string_view effective_url() const noexcept {
        const char *u = h_ ? h2_call_effective_url(h_) : nullptr;
        return u ? std::string_view(u) : std::string_view();
    }
    /** Redirects the call has followed so far. */
    uint32_t redirect_count() const noexcept { return h_ ? h2_call_redirect_count(h_) : 0; }
    /** Whether the library decodes the body (Config::accept_encoding; known once the head is in). */
    bool decoded() const noexcept { return h_ && h2_call_decoded(h_); }
    /** The response headers (empty until the head has arrived); valid while the call lives. */
    FieldViews headers() const { return detail::field_views(h_, h2_call_header_count, h2_call_header_at); }
    /** The first value of response header `name`, or nullopt. */
    std::optional<std::string_view> header(std::string_view name) const {
        return detail::find_field(h_, name, h2_call_header);
    }
    /** The trailers, once the body has ended. */
    FieldViews trailers() const { return detail::field_views(h_, h2_call_trailer_count, h2_call_trailer_at); }
    /** The first value of trailer `name`, or nullopt. */
    std::optional<std::string_view> trailer(std::string_view name) const {
        return detail::find_field(h_, name, h2_call_trailer);
    }
    /** Body bytes received and not yet read (at most one stream window). */
    size_t buffered() const noexcept { return h2_call_buffered(h_); }
    /**
     * What is known of the call's request so far (h2_call_info), at any time: what is not
     * known yet is zero or empty (no connection before its HEADERS are written, no
     * time_first_byte before the head, no time_total in flight); after the call ended, failed
     * or not, its final values. H2_E_INVALID_ARGUMENT if empty.
     */
    Result<RequestInfo> try_info() const { return detail::request_info(h_, h2_call_info); }
#if H2_CPP_EXCEPTIONS
    /** As try_info; throws Error (only for an empty call). */
    RequestInfo info() const { return try_info().value(); }
#endif
    /**
     * The certificates the server presented on the connection of the call's request,
     * DER-encoded, leaf first (owned copies); empty for h2c, before the request was written to
     * a connection, and for an empty call.
     */
    Certificates peer_certificates() const { return detail::certificates(h_, h2_call_peer_certificate); }
    /**
     * Cancels the call from any thread at any time (RST_STREAM(CANCEL)); blocked functions
     * return H2_E_CANCELED. Harmless after the end.
     */
    void cancel() const noexcept { h2_call_cancel(h_); }
    /** The error the call failed with, or nullopt if it has not failed (yet). */
    std::optional<Error> error() const {
        h2_error_info info;
        std::memset(&info, 0, sizeof info);
        if (!h_ || h2_call_error(h_, &info) == H2_OK)
            return std::nullopt;
        return Error(info);
    }

    /** Whether it holds a call. */
    explicit operator bool() const noexcept { return h_ != nullptr; }
    /** The C handle (owned by this object). */
    h2_call *get() const noexcept { return h_; }
    /** Gives up ownership of the C handle (free it with h2_call_free). The request's
     *  informational callback, if any, is kept only while this object lives. */
    h2_call *release() noexcept { return std::exchange(h_, nullptr); }

private:
    friend class Client;
    Call(h2_call *c, std::shared_ptr<void> keep) noexcept : h_(c), keep_(std::move(keep)) {}

    h2_call *h_ = nullptr;
    // The request's informational callback, kept while the call may use it; released after
    // h2_call_free(h_) (destructor body first).
    std::shared_ptr<void> keep_;
};

// ---- Queue ----------------------------------------------------------------------------------

/**
 * One completed submitted call, as returned by Queue::poll. Self-contained: it holds the
 * call's outcome and stays valid after the Call and the Queue are gone.
 */
struct Completion {
    /** The tag given to Client::submit / submit_detached. */
    uint64_t tag;
    /**
     * The C call, to match against Call::get() of a Call you own (Client::submit); nullptr
     * for a detached call (already freed by the queue). Never dereferenced by the binding.
     */
    h2_call *handle;
    /** H2_OK if a response arrived (any HTTP status), else the H2_E_* code of the failure. */
    h2_result result;
    /** The buffered response, or the Error the call failed with. */
    Result<Response> response;

    /** Whether a response arrived. */
    bool ok() const noexcept { return result == H2_OK; }
};

namespace detail {
struct QueueState {
    h2_queue *q = nullptr;
    std::mutex m;
    /** Detached calls in flight, each with its request's informational callback (or null). */
    std::unordered_map<h2_call *, std::shared_ptr<void>> detached;

    ~QueueState() {
        for (auto &d : detached)
            h2_call_free(d.first);
        h2_queue_free(q);
    }
};
} // namespace detail

/**
 * A completion queue (h2_queue) for Client::submit and submit_detached: one queue serves any
 * number of clients and calls. Poll it with poll() / try_poll(), or wait for fd() (an eventfd,
 * readable while completions are pending) in epoll/poll/select first. Thread-safe. Destroying
 * it frees (cancels) its detached calls still in flight; Calls you own stay valid.
 */
class Queue {
public:
#if H2_CPP_EXCEPTIONS
    /** A new queue; throws Error if none can be made (no eventfd). */
    Queue() : Queue(create().value()) {}
#endif
    /** A new queue, or the Error. */
    static Result<Queue> create() {
        h2_queue *q = h2_queue_new();
        if (!q)
            return Error::last();
        // Freed by QueueState's destructor even if the allocation below throws.
        std::unique_ptr<h2_queue, void (*)(h2_queue *)> guard(q, h2_queue_free);
        auto st = std::make_unique<detail::QueueState>();
        st->q = guard.release();
        return Queue(std::move(st));
    }
    /** Takes `o`'s queue; `o` is left empty. */
    Queue(Queue &&o) noexcept = default;
    /** Destroys this queue (as the destructor) and takes `o`'s; `o` is left empty. */
    Queue &operator=(Queue &&o) noexcept = default;
    Queue(const Queue &) = delete;
    Queue &operator=(const Queue &) = delete;
    ~Queue() = default;

    /** The eventfd readable while completions are pending (do not read or close it); -1 if empty. */
    int fd() const noexcept { return st_ ? h2_queue_fd(st_->q) : -1; }

    /**
     * Takes up to `max` completions in completion order, waiting up to `timeout` for the
     * first (0 = do not wait, h2::forever or any negative value = wait forever). Empty on
     * timeout. Detached calls are freed here. Fails on an empty (moved-from) queue, and with
     * H2_E_WRONG_THREAD when waiting from a library callback.
     */
    Result<std::vector<Completion>> try_poll(size_t max, std::chrono::milliseconds timeout = forever) {
        if (!st_)
            return Error(H2_E_INVALID_ARGUMENT, "h2::Queue::poll: the queue is empty (moved from)");
        int32_t ms = timeout.count() < 0 ? -1
                     : timeout.count() > INT32_MAX ? INT32_MAX
                                                   : static_cast<int32_t>(timeout.count());
        std::vector<Completion> out;
        if (max == 0)
            return out;
        std::vector<h2_completion> raw(max < 4096 ? max : 4096);
        size_t n = h2_queue_poll(st_->q, raw.data(), raw.size(), ms);
        if (n == 0 && ms != 0) {
            // 0 is a timeout or an error; the only error possible here is a waiting poll on a
            // library thread, which fails every time on such a thread (exact test).
            h2_error_info info;
            std::memset(&info, 0, sizeof info);
            if (h2_last_error(&info) == H2_E_WRONG_THREAD &&
                std::strncmp(info.message, "h2_queue_poll", 13) == 0)
                return Error(info);
        }
        out.reserve(n);
        for (size_t i = 0; i < n; i++)
            out.push_back(take(raw[i]));
        return out;
    }
#if H2_CPP_EXCEPTIONS
    /** As try_poll; throws Error. */
    std::vector<Completion> poll(size_t max, std::chrono::milliseconds timeout = forever) {
        return try_poll(max, timeout).value();
    }
#endif

    /** How many detached calls are in flight (submitted, completion not yet polled). */
    size_t detached() const {
        if (!st_)
            return 0;
        std::lock_guard<std::mutex> g(st_->m);
        return st_->detached.size();
    }
    /** Cancels every detached call in flight; their completions (H2_E_CANCELED) follow. */
    void cancel_detached() const {
        if (!st_)
            return;
        std::lock_guard<std::mutex> g(st_->m);
        for (auto &d : st_->detached)
            h2_call_cancel(d.first);
    }

    /** Whether it holds a queue. */
    explicit operator bool() const noexcept { return st_ != nullptr; }
    /** The C handle (owned by this object), nullptr if empty. */
    h2_queue *get() const noexcept { return st_ ? st_->q : nullptr; }

private:
    friend class Client;
    explicit Queue(std::unique_ptr<detail::QueueState> st) noexcept : st_(std::move(st)) {}

    Completion take(const h2_completion &c) {
        bool detached = false;
        std::shared_ptr<void> keep; // released after the call is freed
        {
            std::lock_guard<std::mutex> g(st_->m);
            auto it = st_->detached.find(c.call);
            if (it != st_->detached.end()) {
                detached = true;
                keep = std::move(it->second);
                st_->detached.erase(it);
            }
        }
        // A detached call is ours now: freed once its outcome is taken, even if that throws.
        std::unique_ptr<h2_call, void (*)(h2_call *)> owned(detached ? c.call : nullptr, h2_call_free);
        return Completion{c.tag, detached ? nullptr : c.call, c.result, outcome(c)};
    }
    static Result<Response> outcome(const h2_completion &c) {
        if (c.result == H2_OK) {
            h2_response *r = nullptr;
            h2_result rc = h2_call_response(c.call, &r);
            if (rc == H2_OK)
                return Response(r);
            return Error::last(rc);
        }
        h2_error_info info;
        std::memset(&info, 0, sizeof info);
        if (h2_call_error(c.call, &info) != H2_OK)
            return Error(info);
        return Error(c.result, h2_strerror(c.result));
    }

    std::unique_ptr<detail::QueueState> st_;
};

// ---- Client ---------------------------------------------------------------------------------

/**
 * An HTTP/2 client for any number of origins (h2_client), holding 0..N connections to each
 * and multiplexing the requests of any number of threads over them (the request methods are
 * const and thread-safe). An optional base URL, "http://host[:port]" (cleartext, prior
 * knowledge) or "https://host[:port]" (TLS, ALPN h2), is where path requests go (any path in
 * it is ignored); without one, every request must name its origin with an absolute URL
 * (Request::url, or a URL given to get/post/request), and a path request fails with
 * H2_E_INVALID_ARGUMENT. Destroying it closes the connections (GOAWAY); requests still waiting
 * fail with H2_E_CLOSED. It must not be destroyed while another thread is still starting
 * requests on it.
 */
class Client {
public:
#if H2_CPP_EXCEPTIONS
    /** A client without a base URL, with default options; throws Error (e.g. H2_E_CLOSED). */
    Client() : Client(create().value()) {}
    /** A client without a base URL, with `cfg`'s options (copied); throws Error, also the
     *  config's first failure. */
    explicit Client(const Config &cfg) : Client(create(cfg).value()) {}
    /** A client with default options; throws Error (H2_E_INVALID_URL, ...). */
    explicit Client(std::string_view base_url) : Client(create(base_url).value()) {}
    /** A client with `cfg`'s options (copied); throws Error, also the config's first failure. */
    Client(std::string_view base_url, const Config &cfg) : Client(create(base_url, cfg).value()) {}
#endif

    /** A client without a base URL (requests name their URL), default options; or the Error. */
    static Result<Client> create() { return make(nullptr, nullptr); }
    /** A client without a base URL with `cfg`'s options (copied), or the Error (also the
     *  config's first failure). */
    static Result<Client> create(const Config &cfg) { return make(nullptr, &cfg); }
    /** A client with default options, or the Error. */
    static Result<Client> create(std::string_view base_url) {
        detail::CStr u(base_url);
        if (!u.ok())
            return detail::nul_error("base URL");
        return make(u.c_str(), nullptr);
    }
    /** A client with `cfg`'s options (copied), or the Error (also the config's first failure). */
    static Result<Client> create(std::string_view base_url, const Config &cfg) {
        detail::CStr u(base_url);
        if (!u.ok())
            return detail::nul_error("base URL");
        return make(u.c_str(), &cfg);
    }

    /** Frees the client (h2_client_free); no event callback runs once this has returned. */
    ~Client() { h2_client_free(h_); }
    /** Takes `o`'s client; `o` is left empty. */
    Client(Client &&o) noexcept
        : h_(std::exchange(o.h_, nullptr)), hook_(std::move(o.hook_)), info_(std::move(o.info_)) {}
    /** Closes this client (as the destructor) and takes `o`'s; `o` is left empty. */
    Client &operator=(Client &&o) noexcept {
        if (this != &o) {
            h2_client_free(h_);
            h_ = std::exchange(o.h_, nullptr);
            hook_ = std::move(o.hook_);
            info_ = std::move(o.info_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    /**
     * Sends `req` and blocks until the whole response has arrived (any HTTP status is a
     * success). Requests the server provably did not process are retried first.
     */
    Result<Response> try_send(const Request &req) const {
        if (const Error *e = req.error())
            return *e;
        h2_response *r = nullptr;
        h2_result rc = h2_client_do(h_, req.get(), &r);
        if (rc != H2_OK)
            return Error::last(rc);
        return Response(r);
    }
    /**
     * GET `target` with extra `headers`. A target starting with '/' (or "*") is a path on the
     * base URL's origin (H2_E_INVALID_ARGUMENT on a client without one); anything else is an
     * absolute URL (Request::url), sent to its own origin.
     */
    Result<Response> try_get(std::string_view target, const Fields &headers = {}) const {
        return try_request("GET", target, headers, {});
    }
    /** POST `body` to `target` (a path or an absolute URL, as try_get) with extra `headers`. */
    Result<Response> try_post(std::string_view target, std::string_view body, const Fields &headers = {}) const {
        return try_request("POST", target, headers, body);
    }
    /** `method` on `target` (a path or an absolute URL, as try_get) with `headers` and `body`
     *  (none if empty). */
    Result<Response> try_request(std::string_view method, std::string_view target, const Fields &headers = {},
                                 std::string_view body = {}) const {
        Request req = is_path(target) ? Request(method, target) : Request::url(method, target);
        req.headers(headers);
        if (!body.empty())
            req.body(body);
        return try_send(req);
    }
    /**
     * Starts `req` and returns at once with its Call: write the body (streaming_body
     * requests), then wait_headers(), status(), headers(), read() until 0, trailers().
     */
    Result<Call> try_start(const Request &req) const {
        if (const Error *e = req.error())
            return *e;
        h2_call *c = nullptr;
        h2_result rc = h2_client_start(h_, req.get(), &c);
        if (rc != H2_OK)
            return Error::last(rc);
        return Call(c, req.info_);
    }
    /**
     * Submits `req` (response buffered) with its completion going to `queue` under `tag`; you
     * own the returned Call: keep it until its completion was polled (destroying it earlier
     * cancels the request and withdraws the completion).
     */
    Result<Call> try_submit(const Request &req, Queue &queue, uint64_t tag) const {
        if (const Error *e = req.error())
            return *e;
        h2_call *c = nullptr;
        h2_result rc = h2_client_submit(h_, req.get(), queue.get(), tag, &c);
        if (rc != H2_OK)
            return Error::last(rc);
        return Call(c, req.info_);
    }
    /**
     * Submits `req` with its completion going to `queue` under `tag`, the queue owning the
     * call: Queue::poll frees it after taking its outcome, the Queue's destructor frees it if
     * still in flight.
     */
    Result<void> try_submit_detached(const Request &req, Queue &queue, uint64_t tag) const {
        if (const Error *e = req.error())
            return *e;
        if (!queue.st_)
            return Error(H2_E_INVALID_ARGUMENT, "h2::Client::submit_detached: the queue is empty (moved from)");
        detail::QueueState &st = *queue.st_;
        // Held across the submit, so that a poll taking the completion at once finds the call.
        std::lock_guard<std::mutex> g(st.m);
        h2_call *c = nullptr;
        h2_result rc = h2_client_submit(h_, req.get(), st.q, tag, &c);
        if (rc != H2_OK)
            return Error::last(rc);
#if H2_CPP_EXCEPTIONS
        try {
            st.detached.emplace(c, req.info_);
        } catch (...) {
            h2_call_free(c);
            throw;
        }
#else
        st.detached.emplace(c, req.info_);
#endif
        return {};
    }
    /** The client's counters and state, summed over every origin (forgotten ones included). */
    Result<Stats> try_stats() const {
        Stats s;
        std::memset(&s, 0, sizeof s);
        h2_result rc = h2_client_stats(h_, &s);
        if (rc != H2_OK)
            return Error::last(rc);
        return s;
    }
    /**
     * The counters and state of one origin, named by a URL "scheme://host[:port]" (the
     * default port may be left out, a path is ignored). An origin the client holds no pool
     * for (never used, or forgotten after its idle timeout) reads as zeros. H2_E_INVALID_URL
     * if `origin` is not such a URL.
     */
    Result<Stats> try_origin_stats(std::string_view origin) const {
        detail::CStr o(origin);
        if (!o.ok())
            return detail::nul_error("origin");
        Stats s;
        std::memset(&s, 0, sizeof s);
        h2_result rc = h2_client_origin_stats(h_, o.c_str(), &s);
        if (rc != H2_OK)
            return Error::last(rc);
        return s;
    }

    /**
     * Closes every connection of the client, of any origin, that has no request in flight
     * (h2_client_close_idle_connections), as Go's Transport.CloseIdleConnections: each sends
     * GOAWAY(NO_ERROR) and closes; a request that picks one of them meanwhile goes on another
     * connection. Connections with requests in flight are left alone. Returns how many it
     * closes (0 for an empty, moved-from client).
     */
    size_t close_idle_connections() const noexcept {
        size_t closed = 0;
        if (h_ && h2_client_close_idle_connections(h_, &closed) != H2_OK)
            return 0;
        return closed;
    }

#if H2_CPP_EXCEPTIONS
    /** As try_send; throws Error. */
    Response send(const Request &req) const { return try_send(req).value(); }
    /** GET `target` (a path or an absolute URL, as try_get); throws Error. */
    Response get(std::string_view target, const Fields &headers = {}) const {
        return try_get(target, headers).value();
    }
    /** POST `body` to `target` (a path or an absolute URL); throws Error. */
    Response post(std::string_view target, std::string_view body, const Fields &headers = {}) const {
        return try_post(target, body, headers).value();
    }
    /** `method` on `target` (a path or an absolute URL) with `headers` and `body`; throws Error. */
    Response request(std::string_view method, std::string_view target, const Fields &headers = {},
                     std::string_view body = {}) const {
        return try_request(method, target, headers, body).value();
    }
    /** As try_start; throws Error. */
    Call start(const Request &req) const { return try_start(req).value(); }
    /** As try_submit; throws Error. */
    Call submit(const Request &req, Queue &queue, uint64_t tag) const {
        return try_submit(req, queue, tag).value();
    }
    /** As try_submit_detached; throws Error. */
    void submit_detached(const Request &req, Queue &queue, uint64_t tag) const {
        try_submit_detached(req, queue, tag).value();
    }
    /** As try_stats; throws Error. */
    Stats stats() const { return try_stats().value(); }
    /** As try_origin_stats; throws Error. */
    Stats origin_stats(std::string_view origin) const { return try_origin_stats(origin).value(); }
#endif

    /** Whether it holds a client. */
    explicit operator bool() const noexcept { return h_ != nullptr; }
    /** The C handle (owned by this object). */
    h2_client *get() const noexcept { return h_; }

private:
    Client(h2_client *c, std::unique_ptr<detail::EventHook> hook, std::shared_ptr<detail::InfoHook> info) noexcept
        : h_(c), hook_(std::move(hook)), info_(std::move(info)) {}

    /** Whether a convenience method's target is a path (else an absolute URL). */
    static bool is_path(std::string_view target) noexcept {
        return (!target.empty() && target[0] == '/') || target == "*";
    }

    /** h2_client_new(base_url, cfg): `base_url` nullptr for none, `cfg` nullptr for defaults. */
    static Result<Client> make(const char *base_url, const Config *cfg) {
        if (!cfg) {
            h2_client *c = h2_client_new(base_url, nullptr);
            if (!c)
                return Error::last();
            return Client(c, nullptr, nullptr);
        }
        if (cfg->err_)
            return *cfg->err_;
        if (!cfg->h_)
            return Error(H2_E_INVALID_ARGUMENT, "h2::Client: the config is empty (moved from)");
        const detail::ConfigHooks *hooks = cfg->hooks_.get();
        if (!hooks || (!hooks->events && !hooks->informational)) {
            h2_client *c = h2_client_new(base_url, cfg->h_);
            if (!c)
                return Error::last();
            return Client(c, nullptr, nullptr);
        }
        // The client gets its own hooks: set them on the C config just for h2_client_new
        // (which copies them), under the config's lock so that concurrent creations do not mix.
        std::unique_ptr<detail::EventHook> hook;
        std::shared_ptr<detail::InfoHook> info;
        if (hooks->events) {
            hook = std::make_unique<detail::EventHook>();
            hook->fn = hooks->events;
        }
        if (hooks->informational)
            info = detail::make_info_hook(hooks->informational);
        h2_client *c;
        {
            std::lock_guard<std::mutex> g(cfg->hooks_->m);
            if (hook)
                h2_config_set_event_callback(cfg->h_, &detail::event_trampoline, hook.get());
            if (info)
                h2_config_set_informational_callback(cfg->h_, &detail::info_trampoline, detail::info_userdata(*info));
            c = h2_client_new(base_url, cfg->h_);
            std::optional<Error> err;
            if (!c)
                err = Error::last();
            if (hook)
                h2_config_set_event_callback(cfg->h_, nullptr, nullptr);
            if (info)
                h2_config_set_informational_callback(cfg->h_, nullptr, nullptr);
            if (!c)
                return *err;
        }
        return Client(c, std::move(hook), std::move(info));
    }

    h2_client *h_ = nullptr;
    // Declared after h_ and freed after h2_client_free(h_) returned (destructor body first).
    std::unique_ptr<detail::EventHook> hook_;
    std::shared_ptr<detail::InfoHook> info_; // Config::on_informational's, for this client
};

} // namespace h2

#endif /* H2CLIENT_HPP */
