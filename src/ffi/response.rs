//! `h2_response`: a complete response.

use std::ffi::{c_char, c_void};

use super::{c_bytes, entry, h2_result, invalid, put, try_ref, H2_OK};
use crate::headers::HeaderList;
use crate::response::{InformationalHook, Response};

/// A complete response returned by `h2_client_do` (or `h2_client_fetch`,
/// `h2_client_fetch_into`). Immutable; safe to read from several threads. Pointers it hands
/// out stay valid until `h2_response_free`.
pub struct h2_response {
    pub(crate) inner: Response,
    /// What `h2_response_info` tells.
    pub(crate) info: crate::info::RequestInfo,
}

/// The HTTP status code (e.g. 200), or 0 if `resp` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_status(resp: *const h2_response) -> u16 {
    entry!(h2_response_status, || { try_ref!(resp).inner.status() })
}

/// Number of response headers (pseudo-headers excluded), or 0 if `resp` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_header_count(resp: *const h2_response) -> usize {
    entry!(h2_response_header_count, || {
        try_ref!(resp).inner.headers().len()
    })
}

/// Stores the `i`th field of `list` (a header or trailer list) in the out pointers.
///
/// # Safety
/// Each out pointer must be NULL or writable.
pub(crate) unsafe fn field_at(
    list: &HeaderList,
    i: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> h2_result {
    let Some((n, v)) = list.get_with_nul(i) else {
        return invalid(&format!("index {i} out of range ({} fields)", list.len()));
    };
    // SAFETY: each out pointer is NULL or writable (caller contract).
    unsafe {
        put(name, n.as_ptr().cast());
        put(name_len, n.len() - 1);
        put(value, v.as_ptr().cast());
        put(value_len, v.len() - 1);
    }
    H2_OK
}

/// The `i`th response header, in the order received. Names are lowercase. Both strings are
/// NUL-terminated and also returned with their lengths; any output pointer may be NULL.
/// Returns H2_E_INVALID_ARGUMENT if `resp` is NULL or `i` is out of range.
#[no_mangle]
pub unsafe extern "C" fn h2_response_header_at(
    resp: *const h2_response,
    i: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> h2_result {
    entry!(h2_response_header_at, || {
        let r = try_ref!(resp);
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { field_at(r.inner.headers(), i, name, name_len, value, value_len) }
    })
}

/// Stores `list` packed (see `h2_response_headers_packed`) in the out pointers.
///
/// # Safety
/// Each out pointer must be NULL or writable.
pub(crate) unsafe fn packed_out(
    list: &HeaderList,
    buf: *mut *const u8,
    len: *mut usize,
    count: *mut usize,
) -> h2_result {
    let p = list.packed();
    let ptr = non_dangling(p);
    // SAFETY: each out pointer is NULL or writable (caller contract).
    unsafe {
        put(buf, ptr);
        put(len, p.len());
        put(count, list.len());
    }
    H2_OK
}

/// Clears the out pointers of a `*_packed` function (NULL, 0, 0), for its failures.
///
/// # Safety
/// Each out pointer must be NULL or writable.
pub(crate) unsafe fn packed_clear(buf: *mut *const u8, len: *mut usize, count: *mut usize) {
    // SAFETY: each out pointer is NULL or writable (caller contract).
    unsafe {
        put(buf, std::ptr::null());
        put(len, 0);
        put(count, 0);
    }
}

/// Every response header in ONE call, for bindings where a call per field is costly: `*buf`
/// is set to `*len` bytes holding each field in the order received as its name, a NUL byte,
/// its value and a NUL byte (`name\0value\0name\0value\0...`), and `*count` to the number of
/// fields (pseudo-headers excluded; the same fields as `h2_response_header_at` gives, with
/// repeated names kept as separate fields). Names are lowercase and never empty; a value may
/// be empty and may hold any byte but NUL, CR and LF (the library refuses a field with
/// those), so the NULs split the buffer unambiguously; `*len` counts the last NUL, and each
/// name and value is a NUL-terminated string in place. No fields: `*count` and `*len` are 0
/// and `*buf` points to an empty string (never NULL). The bytes are the response's own, not a
/// copy: valid, read-only, until `h2_response_free`. Any output pointer may be NULL. Returns
/// H2_E_INVALID_ARGUMENT, with `*buf` NULL and the counts 0, if `resp` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_headers_packed(
    resp: *const h2_response,
    buf: *mut *const u8,
    len: *mut usize,
    count: *mut usize,
) -> h2_result {
    entry!(h2_response_headers_packed, || {
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { packed_clear(buf, len, count) };
        let r = try_ref!(resp);
        // SAFETY: out pointers are NULL or writable; the list lives as long as the response.
        unsafe { packed_out(r.inner.headers(), buf, len, count) }
    })
}

/// Every trailer in one call, laid out as `h2_response_headers_packed` lays out the headers
/// (no trailers: `*count` and `*len` 0). Valid until `h2_response_free`. Returns
/// H2_E_INVALID_ARGUMENT, with `*buf` NULL and the counts 0, if `resp` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_trailers_packed(
    resp: *const h2_response,
    buf: *mut *const u8,
    len: *mut usize,
    count: *mut usize,
) -> h2_result {
    entry!(h2_response_trailers_packed, || {
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { packed_clear(buf, len, count) };
        let r = try_ref!(resp);
        // SAFETY: out pointers are NULL or writable; the list lives as long as the response.
        unsafe { packed_out(r.inner.trailers(), buf, len, count) }
    })
}

/// Everything a binding copies out of a complete response, filled by ONE call to
/// `h2_response_get_parts` (or by `h2_client_fetch_into` with the request itself), for
/// bindings where each call into the library is costly (Ruby's FFI pays about a microsecond
/// per call). The pointers are the response's own bytes: valid, read-only, until
/// `h2_response_free`; except from `h2_client_fetch_into` when the response fit in the
/// caller's buffer: they then point at the copies there, valid while the buffer is.
///
/// Extensible as `h2_request_info` is: the caller sets `struct_size` to
/// `sizeof(h2_response_parts)` first (`h2_response_parts p = { .struct_size = sizeof p };`); a
/// later library version may add fields at the end and fills only the bytes the caller has.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct h2_response_parts {
    /// In: `sizeof(h2_response_parts)` as the caller knows it. Out: the bytes filled in.
    pub struct_size: usize,
    /// The header fields laid out as `h2_response_headers_packed` gives them
    /// (`name\0value\0...`, never NULL), `headers_len` bytes, `header_count` fields.
    pub headers: *const u8,
    /// Bytes at `headers`, the last NUL included (0 without fields).
    pub headers_len: usize,
    /// Header fields (pseudo-headers excluded).
    pub header_count: usize,
    /// The body as `h2_response_body` gives it (never NULL; not NUL-terminated).
    pub body: *const u8,
    /// Bytes of the body.
    pub body_len: usize,
    /// The trailers, laid out as `headers` (never NULL).
    pub trailers: *const u8,
    /// Bytes at `trailers`.
    pub trailers_len: usize,
    /// Trailer fields (0 without trailers).
    pub trailer_count: usize,
    /// `h2_response_effective_url`: NUL-terminated, never NULL (empty for a response made
    /// without a URL).
    pub effective_url: *const c_char,
    /// Bytes of `effective_url`, the NUL excluded.
    pub effective_url_len: usize,
    /// `h2_response_redirect_count`.
    pub redirect_count: u32,
    /// The HTTP status code.
    pub status: u16,
    /// `h2_response_decoded`.
    pub decoded: bool,
}

/// The size of `h2_response_parts`' first version, the least a caller may pass.
pub(crate) const PARTS_FIRST_VERSION_SIZE: usize =
    std::mem::offset_of!(h2_response_parts, decoded) + 1;

impl h2_response_parts {
    /// The parts of `r`, pointing into its own bytes (`struct_size` 0: `deliver_sized` sets
    /// it).
    pub(crate) fn of(r: &Response) -> Self {
        let (headers, trailers) = (r.headers().packed(), r.trailers().packed());
        let body = r.body();
        let url = r.url_nul();
        h2_response_parts {
            struct_size: 0,
            headers: non_dangling(headers),
            headers_len: headers.len(),
            header_count: r.headers().len(),
            body: non_dangling(body),
            body_len: body.len(),
            trailers: non_dangling(trailers),
            trailers_len: trailers.len(),
            trailer_count: r.trailers().len(),
            effective_url: if url.ends_with('\0') {
                url.as_ptr().cast()
            } else {
                c"".as_ptr()
            },
            effective_url_len: url.strip_suffix('\0').map_or(0, str::len),
            redirect_count: r.redirect_count(),
            status: r.status(),
            decoded: r.decoded(),
        }
    }

    /// Copies the header fields, body, trailers and effective URL (with its NUL) into `buf`,
    /// one after the other, and points the parts at the copies, if they fit in `cap` bytes;
    /// whether they did (the parts are left as they were if not).
    ///
    /// # Safety
    /// The parts' pointers must be valid for their lengths (`of` a live response); `buf`
    /// must be writable for `cap` bytes (or `cap` 0) and not overlap them.
    pub(crate) unsafe fn copy_into(&mut self, buf: *mut u8, cap: usize) -> bool {
        let pieces = [
            (self.headers, self.headers_len),
            (self.body, self.body_len),
            (self.trailers, self.trailers_len),
            (self.effective_url.cast::<u8>(), self.effective_url_len + 1),
        ];
        let total = pieces
            .iter()
            .try_fold(0usize, |sum, (_, len)| sum.checked_add(*len));
        match total {
            Some(total) if total <= cap && !buf.is_null() => {}
            _ => return false,
        }
        let mut at = [std::ptr::null::<u8>(); 4];
        let mut offset = 0;
        for (i, (from, len)) in pieces.into_iter().enumerate() {
            // SAFETY: `from` is valid for `len` bytes and `buf` writable for `cap` >= offset +
            // len bytes, without overlap (caller contract, checked sum above).
            unsafe {
                let to = buf.add(offset);
                std::ptr::copy_nonoverlapping(from, to, len);
                at[i] = to;
            }
            offset += len;
        }
        self.headers = at[0];
        self.body = at[1];
        self.trailers = at[2];
        self.effective_url = at[3].cast();
        true
    }
}

/// Fills `*out` with the response's status, header fields, body, trailers, effective URL,
/// redirect count and decoded flag in one call (see `h2_response_parts`); the caller sets
/// `out->struct_size` first. Returns H2_E_INVALID_ARGUMENT if an argument is NULL or
/// `out->struct_size` is too small.
#[no_mangle]
pub unsafe extern "C" fn h2_response_get_parts(
    resp: *const h2_response,
    out: *mut h2_response_parts,
) -> h2_result {
    entry!(h2_response_get_parts, || {
        let parts = h2_response_parts::of(&try_ref!(resp).inner);
        // SAFETY: out is NULL or a writable struct of its struct_size (caller contract);
        // h2_response_parts is repr(C) and starts with struct_size.
        unsafe { super::deliver_sized(out, parts, PARTS_FIRST_VERSION_SIZE, "h2_response_parts") }
    })
}

/// `bytes`' address, or a static empty string's for an empty slice (whose own pointer may
/// dangle, or be another buffer's temporary).
fn non_dangling(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        c"".as_ptr().cast()
    } else {
        bytes.as_ptr()
    }
}

/// The value of the first field of `list` named `name` (any case), NUL-terminated, or NULL
/// if absent or `name` is NULL.
///
/// # Safety
/// `name` must be NULL or NUL-terminated.
pub(crate) unsafe fn find(list: &HeaderList, name: *const c_char) -> *const c_char {
    // SAFETY: name is NULL or NUL-terminated (caller contract).
    let Ok(n) = (unsafe { c_bytes(name, "name") }) else {
        return std::ptr::null();
    };
    match list.find(n).and_then(|i| list.get_with_nul(i)) {
        Some((_, v)) => v.as_ptr().cast(),
        None => std::ptr::null(),
    }
}

/// The first value of the response header `name` (matched case-insensitively),
/// NUL-terminated, or NULL if absent (or `resp`/`name` is NULL).
#[no_mangle]
pub unsafe extern "C" fn h2_response_header(
    resp: *const h2_response,
    name: *const c_char,
) -> *const c_char {
    entry!(h2_response_header, || {
        let r = try_ref!(resp);
        // SAFETY: name is NULL or NUL-terminated (caller contract).
        unsafe { find(r.inner.headers(), name) }
    })
}

/// Number of trailers (headers sent after the body), or 0.
#[no_mangle]
pub unsafe extern "C" fn h2_response_trailer_count(resp: *const h2_response) -> usize {
    entry!(h2_response_trailer_count, || {
        try_ref!(resp).inner.trailers().len()
    })
}

/// The `i`th trailer; as `h2_response_header_at`.
#[no_mangle]
pub unsafe extern "C" fn h2_response_trailer_at(
    resp: *const h2_response,
    i: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> h2_result {
    entry!(h2_response_trailer_at, || {
        let r = try_ref!(resp);
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { field_at(r.inner.trailers(), i, name, name_len, value, value_len) }
    })
}

/// The first value of trailer `name`, or NULL; as `h2_response_header`.
#[no_mangle]
pub unsafe extern "C" fn h2_response_trailer(
    resp: *const h2_response,
    name: *const c_char,
) -> *const c_char {
    entry!(h2_response_trailer, || {
        let r = try_ref!(resp);
        // SAFETY: name is NULL or NUL-terminated (caller contract).
        unsafe { find(r.inner.trailers(), name) }
    })
}

/// The body and, in `*len` (if `len` is not NULL), its length. Never NULL for a valid
/// response (an empty body gives a pointer to an empty buffer); NULL if `resp` is NULL. The
/// body is not NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn h2_response_body(resp: *const h2_response, len: *mut usize) -> *const u8 {
    entry!(h2_response_body, || {
        // SAFETY: len is NULL or writable.
        unsafe { put(len, 0) };
        let b = try_ref!(resp).inner.body();
        // SAFETY: len is NULL or writable.
        unsafe { put(len, b.len()) };
        non_dangling(b)
    })
}

/// Whether the body was decoded from its content-encoding (`h2_config_set_accept_encoding`):
/// its `content-encoding` and `content-length` headers were then removed. False if `resp` is
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_decoded(resp: *const h2_response) -> bool {
    entry!(h2_response_decoded, || { try_ref!(resp).inner.decoded() })
}

/// Frees a response. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn h2_response_free(resp: *mut h2_response) {
    entry!(h2_response_free, || {
        if !resp.is_null() {
            // SAFETY: resp came from h2_client_do or h2_call_response and is freed once
            // (caller contract).
            drop(unsafe { Box::from_raw(resp) });
        }
    })
}

/// The informational-response callback type: `head` is a 1xx response head (status and
/// header fields, read with `h2_response_status`, `h2_response_header_count`,
/// `h2_response_header_at`, `h2_response_header`, `h2_response_headers_packed`), valid only
/// during the call; it must not be freed or kept (nor the pointers read from it).
pub type h2_informational_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, head: *const h2_response)>;

/// Wraps a C informational callback as the core's observer.
pub(crate) fn informational_hook(
    f: unsafe extern "C" fn(*mut c_void, *const h2_response),
    userdata: *mut c_void,
) -> InformationalHook {
    // The pointer is only handed back to the caller's callback.
    let ud = userdata as usize;
    InformationalHook(std::sync::Arc::new(move |head: &Response| {
        let view = h2_response {
            inner: {
                let mut r = Response::with_headers(head.headers.clone());
                r.status = head.status;
                r
            },
            // A 1xx head has no information of its own (h2_response_info reads zeros).
            info: crate::info::RequestInfo::default(),
        };
        // SAFETY: the caller registered this function for these arguments; `view` outlives
        // the call.
        unsafe { f(ud as *mut c_void, &view) }
    }))
}
