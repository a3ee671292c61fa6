//! Connections are freed once their client is closed and their tasks end (a reference cycle
//! between a connection and its writer once leaked every connection).

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn closed_clients_free_their_connections() {
    let s = server();
    let base = h2client::conn::live_connections();
    for _ in 0..5 {
        let c = client_with(&s.url(), |_| {});
        for _ in 0..10 {
            assert_eq!(get(&c, "/").unwrap().status(), 200);
        }
        drop(c);
    }
    let until = Instant::now() + Duration::from_secs(5);
    while h2client::conn::live_connections() > base && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        h2client::conn::live_connections(),
        base,
        "connections leaked"
    );
}
