//! The default `user-agent: h2client/<version>` (as curl sends `curl/<version>`): sent unless the
//! request has its own, replaced by the config's, or not sent at all.

mod common;

use std::sync::Arc;

use common::capi::{cs, last_message};
use common::*;
use h2client::ffi::*;
use h2client::{Client, Config, Request};

/// The user-agent values the test server saw (its echo, comma-joined if several).
fn seen(c: &Client, own: Option<&str>) -> Option<String> {
    let mut req = Request::new("GET", "/echo").unwrap();
    if let Some(ua) = own {
        req.add_header(b"User-Agent", ua.as_bytes()).unwrap();
    }
    let r = c.execute(Arc::new(req)).unwrap();
    let all: Vec<String> = r
        .headers()
        .iter()
        .filter(|(n, _)| *n == b"x-echo-h-user-agent")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    (!all.is_empty()).then(|| all.join(", "))
}

#[test]
fn the_default_user_agent_and_its_overrides() {
    let srv = server();
    let c = Client::new(&srv.url(), Config::default()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(seen(&c, None), Some(format!("h2client/{version}")));
    // The request's own wins, alone.
    assert_eq!(seen(&c, Some("mine/1")), Some("mine/1".into()));

    let mut cfg = Config::default();
    cfg.set_user_agent(Some("app/2 (h2)")).unwrap();
    let c = Client::new(&srv.url(), cfg).unwrap();
    assert_eq!(seen(&c, None), Some("app/2 (h2)".into()));
    assert_eq!(seen(&c, Some("mine/1")), Some("mine/1".into()));

    let mut cfg = Config::default();
    cfg.set_user_agent(None).unwrap();
    let c = Client::new(&srv.url(), cfg).unwrap();
    assert_eq!(seen(&c, None), None);
    assert_eq!(seen(&c, Some("mine/1")), Some("mine/1".into()));

    let mut cfg = Config::default();
    for bad in ["a\r\nx: y", " lead", "trail ", "nul\0"] {
        assert!(cfg.set_user_agent(Some(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn c_api_set_user_agent() {
    let srv = server();
    // SAFETY: the C API called as C calls it.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_user_agent(cfg, cs("c/3").as_ptr()), H2_OK);
        assert_eq!(
            h2_config_set_user_agent(cfg, cs("bad\tend ").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert!(last_message().contains("user agent"), "{}", last_message());
        assert_eq!(
            h2_config_set_user_agent(std::ptr::null_mut(), cs("x").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        let client = h2_client_new(cs(&srv.url()).as_ptr(), cfg);
        assert!(!client.is_null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/echo").as_ptr());
        let mut resp = std::ptr::null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        let v = h2_response_header(resp, cs("x-echo-h-user-agent").as_ptr());
        assert_eq!(std::ffi::CStr::from_ptr(v).to_str().unwrap(), "c/3");
        h2_response_free(resp);
        // NULL removes it.
        assert_eq!(h2_config_set_user_agent(cfg, std::ptr::null()), H2_OK);
        let none = h2_client_new(cs(&srv.url()).as_ptr(), cfg);
        let mut resp = std::ptr::null_mut();
        assert_eq!(h2_client_do(none, req, &mut resp), H2_OK);
        assert!(h2_response_header(resp, cs("x-echo-h-user-agent").as_ptr()).is_null());
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(none);
        h2_client_free(client);
        h2_config_free(cfg);
    }
}
