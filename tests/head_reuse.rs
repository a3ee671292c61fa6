//! Header blocks reused in both directions while the HPACK tables stay as they were.
//!
//! A connection reuses what a response head block decoded to when the server sends the same
//! block again and the table has not changed (`conn::reader::header_block`): hand-made blocks
//! whose meaning changes while their bytes do not, and blocks that must fail each time. And it
//! sends the previous request block again for a request with the same fields
//! (`hpack::LastBlock`): checked by an independent decoder (`hpack-patched`) while the
//! server's SETTINGS_HEADER_TABLE_SIZE changes under it.

mod common;

use std::sync::Arc;

use common::rawserver::*;
use h2client::error::ErrorKind;
use h2client::{Client, Config, Request, Response};

/// `:status 200` from the static table.
const STATUS_200: u8 = 0x88;
/// Index 62: the newest dynamic table entry.
const NEWEST: u8 = 0xbe;

/// A literal with incremental indexing of a new name (RFC 7541 §6.2.1), raw strings.
fn indexed_literal(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x40, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

/// A literal without indexing of a new name (RFC 7541 §6.2.2), raw strings.
fn plain_literal(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x00, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

/// A server that answers its n-th request (from 0) with `script[n]`: a raw head block and a
/// body.
fn scripted(script: Vec<(Vec<u8>, &'static [u8])>) -> RawServer {
    RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        for (block, body) in &script {
            let Some(r) = c.next_request() else { return };
            let id = r.stream_id;
            c.send(HEADERS, END_HEADERS, id, block);
            c.data(id, body, true);
        }
        // Keep the connection until the client is done.
        while c.read_frame().is_some() {}
    })
}

fn get(c: &Client) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::new("GET", "/").unwrap()))
}

fn field(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .value(name.as_bytes())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[test]
fn the_same_bytes_after_a_table_change_mean_the_new_fields() {
    let mut first = vec![STATUS_200];
    first.extend(indexed_literal("x-a", "1"));
    let again = vec![STATUS_200, NEWEST];
    let mut change = vec![STATUS_200];
    change.extend(indexed_literal("x-a", "2"));
    let srv = scripted(vec![
        (first, b"one"),
        (again.clone(), b"two"),
        (again.clone(), b"three"),
        (change, b"four"),
        // The same bytes as before now name the entry inserted last: x-a: 2.
        (again.clone(), b"five"),
        (again, b"six"),
    ]);
    let c = Client::new(&srv.url(), Config::default()).unwrap();
    let want = [
        ("1", "one"),
        ("1", "two"),
        ("1", "three"),
        ("2", "four"),
        ("2", "five"),
        ("2", "six"),
    ];
    for (i, (value, body)) in want.iter().enumerate() {
        let r = get(&c).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status(), 200);
        assert_eq!(field(&r, "x-a").as_deref(), Some(*value), "request {i}");
        assert_eq!(r.headers().len(), 1, "request {i}");
        assert_eq!(r.body(), body.as_bytes());
    }
}

#[test]
fn a_repeated_content_length_still_bounds_each_body() {
    // content-length: 3 through the dynamic table, then the same block with a 4-byte body.
    // content-length is static index 28: a literal with incremental indexing, indexed name.
    let first = vec![STATUS_200, 0x40 | 28, 0x01, b'3'];
    let again = vec![STATUS_200, NEWEST];
    let srv = scripted(vec![
        (first, b"abc"),
        (again.clone(), b"abc"),
        (again.clone(), b"abcd"),
        (again, b"xyz"),
    ]);
    let c = Client::new(&srv.url(), Config::default()).unwrap();
    for i in 0..2 {
        let r = get(&c).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.body(), b"abc");
        assert_eq!(field(&r, "content-length").as_deref(), Some("3"));
    }
    let e = get(&c).expect_err("4 bytes against content-length 3");
    assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
    assert!(e.message.contains("content-length"), "{e}");
    let r = get(&c).expect("the stream error did not end the connection");
    assert_eq!(r.body(), b"xyz");
}

#[test]
fn a_malformed_head_fails_every_time() {
    // An uppercase name (RFC 9113 §8.2.1): malformed, whatever the table says.
    let mut bad = vec![STATUS_200];
    bad.extend(plain_literal("X-Upper", "1"));
    let mut good = vec![STATUS_200];
    good.extend(plain_literal("x-fine", "1"));
    let srv = scripted(vec![
        (good.clone(), b"a"),
        (bad.clone(), b"b"),
        (bad, b"c"),
        (good.clone(), b"d"),
        (good, b"e"),
    ]);
    let c = Client::new(&srv.url(), Config::default()).unwrap();
    let outcomes: Vec<Result<Vec<u8>, ErrorKind>> = (0..5)
        .map(|_| get(&c).map(|r| r.body().to_vec()).map_err(|e| e.kind))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Ok(b"a".to_vec()),
            Err(ErrorKind::Protocol),
            Err(ErrorKind::Protocol),
            Ok(b"d".to_vec()),
            Ok(b"e".to_vec()),
        ]
    );
}

#[test]
fn repeated_requests_decode_right_across_table_size_changes() {
    const TABLE_SIZE: u16 = 0x1;
    // After the 3rd and the 7th request: the table size goes to 0, then back to 4096.
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let mut n = 0;
        while let Some(r) = c.next_request() {
            n += 1;
            let id = r.stream_id;
            // RFC 7541 §4.2: the first block after a table size change starts with a
            // Dynamic Table Size Update (001xxxxx).
            let update = r.block.first().is_some_and(|b| b & 0xe0 == 0x20);
            let seen = format!(
                "{} {} {}{}",
                r.header(":method").unwrap_or("?"),
                r.path(),
                r.header("x-h").unwrap_or("-"),
                if update { " (size update)" } else { "" }
            );
            if n == 3 || n == 7 {
                c.settings(&[(TABLE_SIZE, if n == 3 { 0 } else { 4096 })]);
                c.wait_frame(|f| f.kind == SETTINGS && f.flags & ACK != 0)
                    .expect("SETTINGS acknowledged");
            }
            c.headers(id, &[(":status", "200")], false);
            c.data(id, seen.as_bytes(), true);
        }
    });
    let c = Client::new(&srv.url(), Config::default()).unwrap();
    let v = {
        let mut r = Request::new("GET", "/p").unwrap();
        r.add_header(b"x-h", b"v").unwrap();
        Arc::new(r)
    };
    let w = {
        let mut r = Request::new("GET", "/p").unwrap();
        r.add_header(b"x-h", b"w").unwrap();
        Arc::new(r)
    };
    let order = [&v, &v, &v, &v, &v, &w, &v, &v, &v, &w, &w, &v];
    for (i, req) in order.iter().enumerate() {
        let r = c
            .execute((*req).clone())
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        let mut want = if Arc::ptr_eq(req, &v) {
            "GET /p v"
        } else {
            "GET /p w"
        }
        .to_owned();
        if i == 3 || i == 7 {
            want.push_str(" (size update)");
        }
        assert_eq!(String::from_utf8_lossy(r.body()), want, "request {i}");
    }
}
