//! A scripted raw-frame HTTP/2 server: each accepted connection runs a test-supplied script
//! that reads and writes frames directly, so tests can send anything, including what no real
//! server would (bad header blocks, flow-control violations, floods).
//!
//! HPACK on this side is the `hpack-patched` crate, an implementation independent of ours.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 1;
pub const ACK: u8 = 1;
pub const END_HEADERS: u8 = 4;
pub const PADDED: u8 = 8;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Appends one frame (9-byte header and payload) to `out`: for bursts that must reach the
/// client in one write (`raw`).
pub fn frame_into(out: &mut Vec<u8>, kind: u8, flags: u8, stream_id: u32, payload: &[u8]) {
    let l = (payload.len() as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// One frame as read off the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn u32_at(&self, i: usize) -> u32 {
        u32::from_be_bytes(self.payload[i..i + 4].try_into().unwrap())
    }
}

/// A request the script received.
#[derive(Debug, Clone)]
pub struct Req {
    pub stream_id: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub ended: bool,
    /// The request's header block as sent (HEADERS and CONTINUATION fragments joined).
    pub block: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.header(":path").unwrap_or("")
    }
}

type Script = dyn Fn(usize, RawConn) + Send + Sync + 'static;

/// A listening raw server.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    scripts: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl RawServer {
    /// Runs `script(connection_index, conn)` on its own thread for every accepted connection.
    pub fn start(script: impl Fn(usize, RawConn) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let scripts: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let (a, s, sc) = (accepted.clone(), stop.clone(), scripts.clone());
        let acceptor = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let idx = a.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                let h = std::thread::spawn(move || script(idx, RawConn::new(conn)));
                sc.lock().unwrap().push(h);
            }
        });
        RawServer {
            addr,
            accepted,
            stop,
            acceptor: Some(acceptor),
            scripts,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits for every script to end and re-raises a script's panic (its assertions).
    pub fn finish(mut self) {
        self.stop_accepting();
        let hs: Vec<_> = std::mem::take(&mut *self.scripts.lock().unwrap());
        for h in hs {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
    }

    fn stop_accepting(&mut self) {
        if let Some(h) = self.acceptor.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = h.join();
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop_accepting();
    }
}

/// One connection, driven by a script.
pub struct RawConn {
    pub s: TcpStream,
    rbuf: Vec<u8>,
    pub enc: hpack_patched::Encoder<'static>,
    pub dec: hpack_patched::Decoder<'static>,
    /// Answer the client's PINGs automatically while reading.
    pub auto_ping_ack: bool,
    /// Acknowledge the client's SETTINGS automatically while reading.
    pub auto_settings_ack: bool,
    partial: HashMap<u32, Req>,
    /// Frames the client sent, in order, as seen by the reading helpers.
    pub seen: Vec<Frame>,
}

impl RawConn {
    fn new(s: TcpStream) -> RawConn {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        RawConn {
            s,
            rbuf: Vec::new(),
            enc: hpack_patched::Encoder::new(),
            dec: hpack_patched::Decoder::new(),
            auto_ping_ack: true,
            auto_settings_ack: true,
            partial: HashMap::new(),
            seen: Vec::new(),
        }
    }

    /// Reads the 24-byte client preface.
    pub fn read_preface(&mut self) {
        let mut p = [0u8; 24];
        self.s.read_exact(&mut p).expect("client preface");
        assert_eq!(&p[..], PREFACE, "client preface");
    }

    /// Preface, our SETTINGS, and the client's SETTINGS acknowledged.
    pub fn handshake(&mut self, settings: &[(u16, u32)]) {
        self.read_preface();
        self.settings(settings);
        let f = self.read_frame().expect("client SETTINGS");
        assert_eq!(f.kind, SETTINGS, "first client frame must be SETTINGS");
        assert_eq!(f.flags & ACK, 0);
        self.send(SETTINGS, ACK, 0, &[]);
    }

    /// Reads one frame (no automatic answers); None on EOF or timeout.
    pub fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if self.rbuf.len() >= 9 {
                let len =
                    u32::from_be_bytes([0, self.rbuf[0], self.rbuf[1], self.rbuf[2]]) as usize;
                if self.rbuf.len() >= 9 + len {
                    let f = Frame {
                        kind: self.rbuf[3],
                        flags: self.rbuf[4],
                        stream_id: u32::from_be_bytes(self.rbuf[5..9].try_into().unwrap())
                            & 0x7fff_ffff,
                        payload: self.rbuf[9..9 + len].to_vec(),
                    };
                    self.rbuf.drain(..9 + len);
                    self.seen.push(f.clone());
                    return Some(f);
                }
            }
            let mut tmp = [0u8; 65536];
            match self.s.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.rbuf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Reads frames, answering PINGs and SETTINGS if enabled, until `pred` matches one.
    pub fn wait_frame(&mut self, mut pred: impl FnMut(&Frame) -> bool) -> Option<Frame> {
        loop {
            let f = self.read_frame()?;
            self.auto_answer(&f);
            if pred(&f) {
                return Some(f);
            }
        }
    }

    fn auto_answer(&mut self, f: &Frame) {
        if f.kind == PING && f.flags & ACK == 0 && self.auto_ping_ack {
            let p = f.payload.clone();
            self.send(PING, ACK, 0, &p);
        }
        if f.kind == SETTINGS && f.flags & ACK == 0 && self.auto_settings_ack {
            self.send(SETTINGS, ACK, 0, &[]);
        }
    }

    /// Reads until a request's header block is complete (body may still follow).
    pub fn next_headers(&mut self) -> Option<Req> {
        self.next_req(false)
    }

    /// Reads until a request has ended (END_STREAM).
    pub fn next_request(&mut self) -> Option<Req> {
        self.next_req(true)
    }

    fn next_req(&mut self, want_end: bool) -> Option<Req> {
        loop {
            let f = self.read_frame()?;
            self.auto_answer(&f);
            match f.kind {
                HEADERS => {
                    let mut block = f.payload.clone();
                    let mut flags = f.flags;
                    assert_eq!(f.flags & PADDED, 0, "client never pads");
                    while flags & END_HEADERS == 0 {
                        let c = self.read_frame().expect("CONTINUATION");
                        assert_eq!(
                            c.kind, CONTINUATION,
                            "HEADERS must be followed by CONTINUATION"
                        );
                        assert_eq!(c.stream_id, f.stream_id);
                        block.extend_from_slice(&c.payload);
                        flags = (flags & !END_HEADERS) | (c.flags & END_HEADERS);
                    }
                    let fields = self
                        .dec
                        .decode(&block)
                        .expect("client header block decodes");
                    let req = Req {
                        stream_id: f.stream_id,
                        headers: fields
                            .into_iter()
                            .map(|(n, v)| {
                                (
                                    String::from_utf8(n).unwrap(),
                                    String::from_utf8_lossy(&v).into_owned(),
                                )
                            })
                            .collect(),
                        body: Vec::new(),
                        ended: f.flags & END_STREAM != 0,
                        block,
                    };
                    if req.ended || !want_end {
                        if !req.ended {
                            self.partial.insert(f.stream_id, req.clone());
                        }
                        return Some(req);
                    }
                    self.partial.insert(f.stream_id, req);
                }
                DATA => {
                    let end = f.flags & END_STREAM != 0;
                    if let Some(r) = self.partial.get_mut(&f.stream_id) {
                        r.body.extend_from_slice(&f.payload);
                        if end {
                            let mut r = self.partial.remove(&f.stream_id).unwrap();
                            r.ended = true;
                            if want_end {
                                return Some(r);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads the rest of a request body that `next_headers` returned early.
    pub fn finish_body(&mut self, stream_id: u32) -> Option<Vec<u8>> {
        loop {
            let f = self.read_frame()?;
            self.auto_answer(&f);
            if f.kind == DATA && f.stream_id == stream_id {
                let r = self.partial.get_mut(&stream_id)?;
                r.body.extend_from_slice(&f.payload);
                if f.flags & END_STREAM != 0 {
                    return self.partial.remove(&stream_id).map(|r| r.body);
                }
            }
        }
    }

    pub fn send(&mut self, kind: u8, flags: u8, stream_id: u32, payload: &[u8]) {
        let mut out = Vec::with_capacity(9 + payload.len());
        frame_into(&mut out, kind, flags, stream_id, payload);
        let _ = self.s.write_all(&out);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    pub fn settings(&mut self, params: &[(u16, u32)]) {
        let mut p = Vec::new();
        for (id, v) in params {
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        self.send(SETTINGS, 0, 0, &p);
    }

    pub fn encode(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.enc
            .encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    pub fn headers(&mut self, stream_id: u32, fields: &[(&str, &str)], end_stream: bool) {
        let block = self.encode(fields);
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        self.send(HEADERS, flags, stream_id, &block);
    }

    pub fn data(&mut self, stream_id: u32, data: &[u8], end_stream: bool) {
        for (i, chunk) in data.chunks(16384).enumerate() {
            let last = (i + 1) * 16384 >= data.len();
            self.send(
                DATA,
                if end_stream && last { END_STREAM } else { 0 },
                stream_id,
                chunk,
            );
        }
        if data.is_empty() {
            self.send(
                DATA,
                if end_stream { END_STREAM } else { 0 },
                stream_id,
                &[],
            );
        }
    }

    /// A complete response with content-length.
    pub fn respond(&mut self, stream_id: u32, status: u16, body: &[u8]) {
        let st = status.to_string();
        let len = body.len().to_string();
        self.headers(
            stream_id,
            &[(":status", &st), ("content-length", &len)],
            body.is_empty(),
        );
        if !body.is_empty() {
            self.data(stream_id, body, true);
        }
    }

    pub fn rst(&mut self, stream_id: u32, code: u32) {
        self.send(RST_STREAM, 0, stream_id, &code.to_be_bytes());
    }

    pub fn goaway(&mut self, last: u32, code: u32, debug: &[u8]) {
        let mut p = last.to_be_bytes().to_vec();
        p.extend_from_slice(&code.to_be_bytes());
        p.extend_from_slice(debug);
        self.send(GOAWAY, 0, 0, &p);
    }

    pub fn window_update(&mut self, stream_id: u32, inc: u32) {
        self.send(WINDOW_UPDATE, 0, stream_id, &inc.to_be_bytes());
    }

    /// Reads until the client's GOAWAY; returns (last stream id, code, debug data).
    pub fn expect_goaway(&mut self) -> (u32, u32, Vec<u8>) {
        let f = self
            .wait_frame(|f| f.kind == GOAWAY)
            .expect("client GOAWAY before EOF");
        (f.u32_at(0), f.u32_at(4), f.payload[8..].to_vec())
    }

    /// Reads until the client resets `stream_id`; returns the code.
    pub fn expect_rst(&mut self, stream_id: u32) -> u32 {
        let f = self
            .wait_frame(|f| f.kind == RST_STREAM && f.stream_id == stream_id)
            .unwrap_or_else(|| panic!("client RST_STREAM on stream {stream_id}"));
        f.u32_at(0)
    }

    /// Reads until EOF (the client closed), answering PINGs and SETTINGS; returns whether it
    /// came within `within`.
    pub fn expect_eof(&mut self, within: Duration) -> bool {
        let until = Instant::now() + within;
        self.s.set_read_timeout(Some(within)).unwrap();
        while Instant::now() < until {
            match self.read_frame() {
                None => return Instant::now() < until,
                Some(f) => self.auto_answer(&f),
            }
        }
        false
    }
}
