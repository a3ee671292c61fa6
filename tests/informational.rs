//! Informational (1xx) responses, 103 Early Hints especially, shown to a per-config or
//! per-request callback before the final response (RFC 9110 §15.2, RFC 8297), through the
//! Rust API and the C API, from a scripted server.

mod common;

use std::ffi::{c_void, CStr};
use std::sync::{Arc, Mutex};

use common::capi::cs;
use common::rawserver::*;
use h2client::ffi::*;
use h2client::response::InformationalHook;
use h2client::{Client, Config, Request};

/// A server that answers every request with 103 (two `link` fields), 100, then 200 "done".
fn early_hints_server() -> RawServer {
    RawServer::start(|_, mut c| {
        c.handshake(&[]);
        while let Some(r) = c.next_request() {
            let id = r.stream_id;
            c.headers(
                id,
                &[
                    (":status", "103"),
                    ("link", "</style.css>; rel=preload; as=style"),
                    ("link", "</app.js>; rel=preload; as=script"),
                ],
                false,
            );
            c.headers(id, &[(":status", "100")], false);
            c.headers(id, &[(":status", "200"), ("x-final", "1")], false);
            c.data(id, b"done", true);
        }
    })
}

type Seen = Arc<Mutex<Vec<(u16, Vec<(String, String)>)>>>;

fn recorder(seen: &Seen) -> InformationalHook {
    let s = seen.clone();
    InformationalHook(Arc::new(move |head: &h2client::Response| {
        let fields = head
            .headers()
            .iter()
            .map(|(n, v)| {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (s(n), s(v))
            })
            .collect();
        s.lock().unwrap().push((head.status(), fields));
    }))
}

#[test]
fn config_and_request_callbacks_see_each_informational_head() {
    let srv = early_hints_server();
    let (by_config, by_request): (Seen, Seen) = Default::default();
    let mut cfg = Config::default();
    cfg.informational = Some(recorder(&by_config));
    let c = Client::new(&srv.url(), cfg).unwrap();

    let r = c
        .execute(Arc::new(Request::new("GET", "/").unwrap()))
        .unwrap();
    assert_eq!((r.status(), r.body()), (200, &b"done"[..]));
    assert_eq!(r.headers().value(b"x-final"), Some(&b"1"[..]));
    assert!(
        r.headers().value(b"link").is_none(),
        "1xx fields stay out of the final head"
    );
    let got = std::mem::take(&mut *by_config.lock().unwrap());
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 103);
    assert_eq!(
        got[0].1,
        vec![
            ("link".into(), "</style.css>; rel=preload; as=style".into()),
            ("link".into(), "</app.js>; rel=preload; as=script".into()),
        ]
    );
    assert_eq!((got[1].0, got[1].1.len()), (100, 0));

    // A request's own callback replaces the client's.
    let mut req = Request::new("GET", "/").unwrap();
    req.set_informational(Some(recorder(&by_request)));
    assert_eq!(c.execute(Arc::new(req)).unwrap().status(), 200);
    assert_eq!(by_request.lock().unwrap().len(), 2);
    assert!(by_config.lock().unwrap().is_empty());
}

static C_SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn c_record(userdata: *mut c_void, head: *const h2_response) {
    // SAFETY: the library passes a head valid during the call; userdata is a C string here.
    unsafe {
        let tag = CStr::from_ptr(userdata as *const std::ffi::c_char)
            .to_str()
            .unwrap();
        let link = h2_response_header(head, c"link".as_ptr());
        let link = if link.is_null() {
            "-".to_string()
        } else {
            CStr::from_ptr(link).to_string_lossy().into_owned()
        };
        let line = format!(
            "{tag} {} {} {link}",
            h2_response_status(head),
            h2_response_header_count(head)
        );
        C_SEEN.lock().unwrap().push(line);
    }
}

#[test]
fn c_api_informational_callbacks() {
    let srv = early_hints_server();
    let (cfg_tag, req_tag) = (c"cfg", c"req");
    // SAFETY: the C API called as C calls it; the tags are static C strings.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_informational_callback(cfg, Some(c_record), cfg_tag.as_ptr() as *mut _),
            H2_OK
        );
        assert_eq!(
            h2_config_set_informational_callback(
                std::ptr::null_mut(),
                Some(c_record),
                std::ptr::null_mut()
            ),
            H2_E_INVALID_ARGUMENT
        );
        let client = h2_client_new(cs(&srv.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut resp = std::ptr::null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert_eq!(h2_response_status(resp), 200);
        h2_response_free(resp);
        assert_eq!(
            h2_request_set_informational_callback(req, Some(c_record), req_tag.as_ptr() as *mut _),
            H2_OK
        );
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        h2_response_free(resp);
        // NULL goes back to the client's.
        assert_eq!(
            h2_request_set_informational_callback(req, None, std::ptr::null_mut()),
            H2_OK
        );
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        h2_response_free(resp);
        assert_eq!(
            h2_request_set_informational_callback(std::ptr::null_mut(), None, std::ptr::null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        h2_request_free(req);
        h2_client_free(client);
    }
    let link = "</style.css>; rel=preload; as=style";
    assert_eq!(
        *C_SEEN.lock().unwrap(),
        vec![
            format!("cfg 103 2 {link}"),
            "cfg 100 0 -".to_string(),
            format!("req 103 2 {link}"),
            "req 100 0 -".to_string(),
            format!("cfg 103 2 {link}"),
            "cfg 100 0 -".to_string(),
        ]
    );
}
