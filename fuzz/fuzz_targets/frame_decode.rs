//! Frame header and every frame type's decoder over arbitrary bytes. The input is read as a
//! sequence of frames (each payload cut short at the end of the input); every decoder runs on
//! every frame, whatever its type, since none may panic on anything. Where a decoder succeeds
//! on a whole payload and an encoder exists, the frame is encoded again and decoded back.
//!
//! Byte 0 picks the max frame size the HEADERS re-encoding splits at (CONTINUATION frames).
#![no_main]

use h2client::error::Reason;
use h2client::frame::{
    kind, priority, Continuation, Data, FrameHeader, GoAway, Headers, Ping, PushPromise, RstStream,
    Setting, Settings, WindowUpdate, HEADER_LEN, MAX_MAX_FRAME_SIZE, MAX_STREAM_ID,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, mut rest)) = data.split_first() else {
        return;
    };
    let split = [1usize, 2, 5, 9, 100, 16_384, 16_777_215, 7][usize::from(split & 7)];
    while let Some(head) = FrameHeader::parse(rest) {
        header_round_trip(&rest[..HEADER_LEN], &head);
        let body = &rest[HEADER_LEN..];
        let n = body.len().min(head.len as usize);
        let payload = &body[..n];
        let whole = n == head.len as usize;
        decode_all(&head, payload, whole, split);
        rest = &body[n..];
    }
});

fn header_round_trip(raw: &[u8], head: &FrameHeader) {
    assert!(head.len <= MAX_MAX_FRAME_SIZE);
    assert!(head.stream_id <= MAX_STREAM_ID);
    let mut out = Vec::new();
    head.encode(&mut out);
    assert_eq!(out.len(), HEADER_LEN);
    // Everything but the reserved bit survives.
    assert_eq!(&out[..5], &raw[..5]);
    assert_eq!(out[5], raw[5] & 0x7f);
    assert_eq!(&out[6..], &raw[6..HEADER_LEN]);
    assert_eq!(FrameHeader::parse(&out).as_ref(), Some(head));
}

/// Every error must say what it is: a known HTTP/2 code and a message.
fn check_err(e: &h2client::frame::FrameError) {
    assert!(!e.what.is_empty());
    assert!(e.reason.name().is_some(), "unnamed reason {:?}", e.reason);
    assert_ne!(e.reason, Reason::NO_ERROR);
}

fn decode_all(head: &FrameHeader, payload: &[u8], whole: bool, split: usize) {
    match Data::decode(head, payload) {
        Ok(d) => {
            assert_ne!(d.stream_id, 0);
            assert!(d.data.len() <= payload.len());
            assert_eq!(d.flow_len, head.len);
            if whole {
                let mut out = Vec::new();
                Data::encode(d.stream_id, d.data, d.end_stream, &mut out);
                let h2 = FrameHeader::parse(&out).unwrap();
                assert_eq!(h2.kind, kind::DATA);
                let d2 = Data::decode(&h2, &out[HEADER_LEN..]).unwrap();
                assert_eq!(
                    (d2.stream_id, d2.data, d2.end_stream),
                    (d.stream_id, d.data, d.end_stream)
                );
                assert_eq!(d2.flow_len as usize, d.data.len());
            }
        }
        Err(e) => check_err(&e),
    }
    match Headers::decode(head, payload) {
        Ok(h) => {
            assert_ne!(h.stream_id, 0);
            if whole {
                headers_round_trip(&h, split);
            }
        }
        Err(e) => check_err(&e),
    }
    match Continuation::decode(head, payload) {
        Ok(c) => assert_eq!(c.fragment, payload),
        Err(e) => check_err(&e),
    }
    if let Err(e) = priority::validate(head) {
        check_err(&e);
    }
    check_err(&PushPromise::reject(head));
    match RstStream::decode(head, payload) {
        Ok(r) => {
            let mut out = Vec::new();
            RstStream::encode(r.stream_id, r.reason, &mut out);
            let h2 = FrameHeader::parse(&out).unwrap();
            assert_eq!(RstStream::decode(&h2, &out[HEADER_LEN..]).unwrap(), r);
        }
        Err(e) => check_err(&e),
    }
    match Settings::decode(head, payload) {
        Ok(s) => {
            let items: Vec<Setting> = s.iter().map(|r| r.expect("validated by decode")).collect();
            assert_eq!(items.len() * 6, payload.len());
            if s.ack {
                assert!(items.is_empty());
                let mut out = Vec::new();
                Settings::encode_ack(&mut out);
                let h2 = FrameHeader::parse(&out).unwrap();
                assert!(Settings::decode(&h2, &out[HEADER_LEN..]).unwrap().ack);
            } else {
                let mut out = Vec::new();
                Settings::encode(&items, &mut out);
                let h2 = FrameHeader::parse(&out).unwrap();
                let s2 = Settings::decode(&h2, &out[HEADER_LEN..]).unwrap();
                let again: Vec<Setting> = s2.iter().map(|r| r.unwrap()).collect();
                assert_eq!(again, items);
                assert_eq!(&out[HEADER_LEN..], payload);
            }
        }
        Err(e) => check_err(&e),
    }
    match Ping::decode(head, payload) {
        Ok(p) => {
            let mut out = Vec::new();
            Ping::encode(p.ack, p.payload, &mut out);
            let h2 = FrameHeader::parse(&out).unwrap();
            assert_eq!(Ping::decode(&h2, &out[HEADER_LEN..]).unwrap(), p);
        }
        Err(e) => check_err(&e),
    }
    match GoAway::decode(head, payload) {
        Ok(g) => {
            assert!(g.last_stream_id <= MAX_STREAM_ID);
            let mut out = Vec::new();
            GoAway::encode(g.last_stream_id, g.reason, g.debug_data, &mut out);
            let h2 = FrameHeader::parse(&out).unwrap();
            assert_eq!(GoAway::decode(&h2, &out[HEADER_LEN..]).unwrap(), g);
        }
        Err(e) => check_err(&e),
    }
    match WindowUpdate::decode(head, payload) {
        Ok(w) => {
            assert!(w.increment > 0 && w.increment <= MAX_STREAM_ID);
            let mut out = Vec::new();
            WindowUpdate::encode(w.stream_id, w.increment, &mut out);
            let h2 = FrameHeader::parse(&out).unwrap();
            assert_eq!(WindowUpdate::decode(&h2, &out[HEADER_LEN..]).unwrap(), w);
        }
        Err(e) => check_err(&e),
    }
}

/// HEADERS re-encoded (split into CONTINUATION frames at `split` bytes) must give back the
/// same block, stream and flags.
fn headers_round_trip(h: &Headers<'_>, split: usize) {
    let mut out = Vec::new();
    Headers::encode(h.stream_id, h.fragment, h.end_stream, split, &mut out);
    let mut block = Vec::new();
    let mut rest = &out[..];
    let mut first = true;
    let mut ended = false;
    while let Some(fh) = FrameHeader::parse(rest) {
        assert!(!ended, "frame after END_HEADERS");
        let p = &rest[HEADER_LEN..HEADER_LEN + fh.len as usize];
        assert!(fh.len as usize <= split.max(1));
        if first {
            assert_eq!(fh.kind, kind::HEADERS);
            let h2 = Headers::decode(&fh, p).unwrap();
            assert_eq!(h2.end_stream, h.end_stream);
            assert_eq!(h2.stream_id, h.stream_id);
            block.extend_from_slice(h2.fragment);
            ended = h2.end_headers;
            first = false;
        } else {
            assert_eq!(fh.kind, kind::CONTINUATION);
            let c = Continuation::decode(&fh, p).unwrap();
            assert_eq!(c.stream_id, h.stream_id);
            block.extend_from_slice(c.fragment);
            ended = c.end_headers;
        }
        rest = &rest[HEADER_LEN + fh.len as usize..];
    }
    assert!(ended, "no END_HEADERS");
    assert_eq!(block, h.fragment);
}
