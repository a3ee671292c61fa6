//! Content codings (RFC 9110 §8.4): which response bodies are decoded, and the decoders.
//!
//! With `accept_encoding` configured, the writer adds `accept-encoding` to every request that
//! has none of its own, and only to those responses does decoding apply (a request that asks
//! for an encoding itself gets the body as sent, as Go's transport does). A response is decoded
//! when it has content (not HEAD, 204, 304 nor 206: a range is of the encoded bytes) and every
//! coding its `content-encoding` lists is one we support: `gzip` (`x-gzip`), `deflate`, `br`,
//! `zstd`, up to [`MAX_CODINGS`] stacked (`identity` entries are ignored). Its
//! `content-encoding` and `content-length` fields are then removed (they describe the encoded
//! body) and the response is marked as decoded. Anything else is returned as it came.
//!
//! The [`Decoder`] is push-driven and output-bounded: it takes whatever compressed bytes
//! arrived and writes into an output buffer of the caller's size, keeping only its codec
//! state (a 32 KiB window for gzip and deflate, at most 16 MiB for br, 8 MiB for zstd) and
//! small buffers between stacked codings. So a buffered body is decoded as DATA arrives and
//! stops at `max_response_body` however far the data would inflate, and a streamed body is
//! decoded as the caller reads it, holding no more than the stream's window of compressed
//! bytes.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Bytes, BytesMut};

use crate::error::{Error, ErrorKind, Processed, Result};
use crate::exchange::Exchange;
use crate::headers::HeaderList;

/// What an `accept_encoding` of `""` stands for: every coding we decode.
pub const SUPPORTED: &str = "gzip, deflate, br, zstd";

/// Most codings stacked on one body that we decode; a longer chain is returned as is.
pub const MAX_CODINGS: usize = 3;

/// zstd's window limit for the `zstd` content coding (RFC 9659 §3: 8 MB, as 2^23).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Size of the buffers between stacked codings.
const STAGE_BUF: usize = 32 << 10;

/// Most bytes a buffered body's decoder writes per turn.
const MAX_STRETCH: usize = 1 << 20;

/// Size of one decoded piece lent by [`StreamDecoding::read_chunks`].
const PIECE: usize = 64 << 10;

/// Most pieces one [`StreamDecoding::read_chunks`] lends.
const MAX_PIECES: usize = 4;

/// Compressed DATA pieces taken from the exchange at once by a streamed decode: one, so that
/// what the call holds stays within the window and one frame.
const TAKE_CHUNKS: usize = 1;

/// A content coding we decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (and its alias `x-gzip`), RFC 1952; members may follow each other.
    Gzip,
    /// `deflate`: the zlib format (RFC 1950); raw deflate (RFC 1951), which some servers send
    /// instead, is recognised by its first two bytes.
    Deflate,
    /// `br`, RFC 7932.
    Br,
    /// `zstd`, RFC 8878 with RFC 9659's 8 MiB window limit; frames may follow each other.
    Zstd,
}

impl Coding {
    /// The coding's name in `content-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Br => "br",
            Coding::Zstd => "zstd",
        }
    }

    fn parse(token: &[u8]) -> Option<Coding> {
        let t = token.to_ascii_lowercase();
        Some(match t.as_slice() {
            b"gzip" | b"x-gzip" => Coding::Gzip,
            b"deflate" => Coding::Deflate,
            b"br" => Coding::Br,
            b"zstd" => Coding::Zstd,
            _ => return None,
        })
    }
}

/// The codings of a decoded body, in the order they were applied (as `content-encoding` lists
/// them; decoding undoes the last first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codings {
    list: [Coding; MAX_CODINGS],
    len: u8,
}

impl Codings {
    /// The codings, in the order they were applied.
    pub fn as_slice(&self) -> &[Coding] {
        &self.list[..usize::from(self.len)]
    }

    /// As `content-encoding` listed them (`"gzip, br"`).
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.as_slice().iter().map(|c| c.name()).collect();
        names.join(", ")
    }
}

/// What the response's `content-encoding` says: `Ok(None)` for no coding (absent, or only
/// `identity`), `Err(())` for one we do not decode or too many.
fn parse_content_encoding(headers: &HeaderList) -> std::result::Result<Option<Codings>, ()> {
    let mut out = Codings {
        list: [Coding::Gzip; MAX_CODINGS],
        len: 0,
    };
    for (name, value) in headers.iter() {
        if !name.eq_ignore_ascii_case(b"content-encoding") {
            continue;
        }
        for token in value.split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.is_empty() || token.eq_ignore_ascii_case(b"identity") {
                continue;
            }
            let c = Coding::parse(token).ok_or(())?;
            let i = usize::from(out.len);
            if i == MAX_CODINGS {
                return Err(());
            }
            out.list[i] = c;
            out.len += 1;
        }
    }
    Ok((out.len > 0).then_some(out))
}

/// Decides whether a response head is decoded (see the module documentation): if so, removes
/// `content-encoding` and `content-length` from `headers` and returns the codings.
pub(crate) fn negotiate(status: u16, headers: &mut HeaderList) -> Option<Codings> {
    if status == 206 {
        return None;
    }
    let codings = parse_content_encoding(headers).ok()??;
    headers.retain(|name| {
        !name.eq_ignore_ascii_case(b"content-encoding")
            && !name.eq_ignore_ascii_case(b"content-length")
    });
    Some(codings)
}

// ---- Decoding errors --------------------------------------------------------------------------

/// A coding's data is invalid: what was wrong, before it is named.
struct Corrupt(String);

impl Corrupt {
    fn new(what: impl Into<String>) -> Corrupt {
        Corrupt(what.into())
    }
}

/// A buffered body could not be decoded within its limit.
pub(crate) enum Fault {
    /// The data is not valid for its coding (`H2_E_DECODE`).
    Corrupt(Error),
    /// The decoded body went past `max_response_body` (`H2_E_BODY_TOO_LARGE`).
    TooLarge(Error),
}

// ---- Stages: one coding each ------------------------------------------------------------------

/// One step of a stage: input bytes taken and output bytes written.
type Step = std::result::Result<(usize, usize), Corrupt>;

/// A decoder of one coding. `run` takes input and writes output until it is starved of input
/// or the output is full; `ended` says whether the data so far ends where a coded stream ends.
enum Stage {
    Gzip(Box<Gzip>),
    Deflate(Box<Deflate>),
    Br(Box<Br>),
    Zstd(Box<Zstd>),
}

impl Stage {
    fn new(c: Coding) -> std::result::Result<Stage, Corrupt> {
        Ok(match c {
            Coding::Gzip => Stage::Gzip(Box::new(Gzip::new())),
            Coding::Deflate => Stage::Deflate(Box::new(Deflate::new())),
            Coding::Br => Stage::Br(Box::new(Br::new())),
            Coding::Zstd => Stage::Zstd(Box::new(Zstd::new()?)),
        })
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Step {
        match self {
            Stage::Gzip(s) => s.run(input, out),
            Stage::Deflate(s) => s.run(input, out),
            Stage::Br(s) => s.run(input, out),
            Stage::Zstd(s) => s.run(input, out),
        }
    }

    fn ended(&self) -> bool {
        match self {
            Stage::Gzip(s) => s.ended(),
            Stage::Deflate(s) => s.ended(),
            Stage::Br(s) => s.done,
            Stage::Zstd(s) => s.done,
        }
    }
}

/// Raw deflate through miniz_oxide (flate2's default backend). Returns (read, written, end).
fn inflate(
    z: &mut flate2::Decompress,
    input: &[u8],
    out: &mut [u8],
) -> std::result::Result<(usize, usize, bool), Corrupt> {
    let (in0, out0) = (z.total_in(), z.total_out());
    let status = z
        .decompress(input, out, flate2::FlushDecompress::None)
        .map_err(|e| Corrupt::new(format!("invalid deflate data ({e})")))?;
    // Both deltas are bounded by the slices' lengths.
    let read = (z.total_in() - in0) as usize;
    let written = (z.total_out() - out0) as usize;
    Ok((read, written, status == flate2::Status::StreamEnd))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GzPart {
    /// The 10-byte fixed header.
    Fixed,
    /// FEXTRA's 2-byte length.
    ExtraLen,
    /// FEXTRA's bytes.
    Extra,
    /// FNAME, zero-terminated.
    Name,
    /// FCOMMENT, zero-terminated.
    Comment,
    /// FHCRC's 2 bytes.
    HeaderCrc,
    /// The deflate data.
    Body,
    /// CRC-32 and ISIZE.
    Trailer,
    /// A member ended; another may follow.
    Done,
}

/// gzip (RFC 1952): header, raw deflate, CRC-32 and size checked; members may follow each other.
struct Gzip {
    part: GzPart,
    flags: u8,
    /// Bytes of a fixed-size part collected so far, and how many.
    held: [u8; 10],
    have: usize,
    /// Bytes left to skip (FEXTRA).
    skip: usize,
    z: flate2::Decompress,
    crc: flate2::Crc,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

impl Gzip {
    fn new() -> Gzip {
        Gzip {
            part: GzPart::Fixed,
            flags: 0,
            held: [0; 10],
            have: 0,
            skip: 0,
            z: flate2::Decompress::new(false),
            crc: flate2::Crc::new(),
        }
    }

    fn ended(&self) -> bool {
        self.part == GzPart::Done
    }

    /// Collects `want` bytes of a fixed-size part into `held`; true once complete.
    fn collect(&mut self, input: &[u8], pos: &mut usize, want: usize) -> bool {
        let k = (want - self.have).min(input.len() - *pos);
        self.held[self.have..self.have + k].copy_from_slice(&input[*pos..*pos + k]);
        self.have += k;
        *pos += k;
        self.have == want
    }

    /// The part after the header field `after`, by the flags.
    fn next_header_part(&self, after: GzPart) -> GzPart {
        let order = [
            (GzPart::ExtraLen, FEXTRA),
            (GzPart::Name, FNAME),
            (GzPart::Comment, FCOMMENT),
            (GzPart::HeaderCrc, FHCRC),
        ];
        let start = match after {
            GzPart::Fixed => 0,
            GzPart::Extra => 1,
            GzPart::Name => 2,
            GzPart::Comment => 3,
            _ => 4,
        };
        order[start..]
            .iter()
            .find(|(_, f)| self.flags & f != 0)
            .map_or(GzPart::Body, |(p, _)| *p)
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Step {
        let mut pos = 0;
        let mut written = 0;
        loop {
            match self.part {
                GzPart::Done => {
                    if pos == input.len() {
                        break;
                    }
                    // Another member follows.
                    self.part = GzPart::Fixed;
                    self.have = 0;
                    self.z.reset(false);
                    self.crc.reset();
                }
                GzPart::Fixed => {
                    if !self.collect(input, &mut pos, 10) {
                        break;
                    }
                    let h = self.held;
                    if h[0] != 0x1f || h[1] != 0x8b {
                        return Err(Corrupt::new("not gzip data (bad magic bytes)"));
                    }
                    if h[2] != 8 {
                        return Err(Corrupt::new(format!(
                            "unknown gzip compression method {}",
                            h[2]
                        )));
                    }
                    if h[3] & 0xe0 != 0 {
                        return Err(Corrupt::new("reserved gzip header flags set"));
                    }
                    self.flags = h[3];
                    self.have = 0;
                    self.part = self.next_header_part(GzPart::Fixed);
                }
                GzPart::ExtraLen => {
                    if !self.collect(input, &mut pos, 2) {
                        break;
                    }
                    self.skip = usize::from(u16::from_le_bytes([self.held[0], self.held[1]]));
                    self.have = 0;
                    self.part = GzPart::Extra;
                }
                GzPart::Extra => {
                    let k = self.skip.min(input.len() - pos);
                    pos += k;
                    self.skip -= k;
                    if self.skip > 0 {
                        break;
                    }
                    self.part = self.next_header_part(GzPart::Extra);
                }
                GzPart::Name | GzPart::Comment => {
                    let rest = &input[pos..];
                    match rest.iter().position(|&b| b == 0) {
                        Some(i) => {
                            pos += i + 1;
                            self.part = self.next_header_part(self.part);
                        }
                        None => {
                            pos = input.len();
                            break;
                        }
                    }
                }
                GzPart::HeaderCrc => {
                    if !self.collect(input, &mut pos, 2) {
                        break;
                    }
                    self.have = 0;
                    self.part = GzPart::Body;
                }
                GzPart::Body => {
                    if written == out.len() {
                        break;
                    }
                    let (r, w, end) = inflate(&mut self.z, &input[pos..], &mut out[written..])?;
                    self.crc.update(&out[written..written + w]);
                    pos += r;
                    written += w;
                    if end {
                        self.part = GzPart::Trailer;
                        self.have = 0;
                    } else if r == 0 && w == 0 {
                        break;
                    }
                }
                GzPart::Trailer => {
                    if !self.collect(input, &mut pos, 8) {
                        break;
                    }
                    let h = self.held;
                    let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
                    if crc != self.crc.sum() {
                        return Err(Corrupt::new(format!(
                            "CRC-32 mismatch (trailer says {crc:08x}, data gives {:08x})",
                            self.crc.sum()
                        )));
                    }
                    if size != self.crc.amount() {
                        return Err(Corrupt::new(format!(
                            "length mismatch (trailer says {size} mod 2^32, data gives {})",
                            self.crc.amount()
                        )));
                    }
                    self.part = GzPart::Done;
                }
            }
        }
        Ok((pos, written))
    }
}

/// Whether two bytes start a zlib stream (RFC 1950 §2.2: deflate, window ≤ 32 KiB, FCHECK).
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// `deflate`: zlib (its Adler-32 checked), or raw deflate when the first two bytes are not a
/// zlib header.
struct Deflate {
    /// The first byte, taken before the second says which format it starts.
    first: Option<u8>,
    /// The first byte, decided on and not yet given to the inflater.
    unfed: Option<u8>,
    z: Option<flate2::Decompress>,
    done: bool,
}

impl Deflate {
    fn new() -> Deflate {
        Deflate {
            first: None,
            unfed: None,
            z: None,
            done: false,
        }
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Step {
        if self.done {
            return match input.is_empty() {
                true => Ok((0, 0)),
                false => Err(Corrupt::new("data after the end of the deflate stream")),
            };
        }
        let mut pos = 0;
        if self.z.is_none() {
            let first = match self.first {
                Some(b) => b,
                None => {
                    let Some(&b) = input.first() else {
                        return Ok((0, 0));
                    };
                    self.first = Some(b);
                    pos = 1;
                    b
                }
            };
            let Some(&second) = input.get(pos) else {
                return Ok((pos, 0));
            };
            self.z = Some(flate2::Decompress::new(is_zlib_header(first, second)));
            self.unfed = Some(first);
        }
        let Some(z) = self.z.as_mut() else {
            return Ok((pos, 0));
        };
        let mut written = 0;
        while written < out.len() {
            if let Some(b) = self.unfed {
                // The held first byte goes in before this call's input.
                let (r, w, end) = inflate(z, &[b], &mut out[written..])?;
                written += w;
                if end {
                    return Err(Corrupt::new("invalid deflate data (a one-byte stream)"));
                }
                if r == 0 && w == 0 {
                    break;
                }
                if r == 1 {
                    self.unfed = None;
                }
                continue;
            }
            let (r, w, end) = inflate(z, &input[pos..], &mut out[written..])?;
            pos += r;
            written += w;
            if end {
                self.done = true;
                if pos < input.len() {
                    return Err(Corrupt::new("data after the end of the deflate stream"));
                }
                break;
            }
            if r == 0 && w == 0 {
                break;
            }
        }
        Ok((pos, written))
    }
}

/// `br` through brotli-decompressor, in its strict mode (RFC 7932 windows, at most 16 MiB).
struct Br {
    state: brotli_decompressor::BrotliState<
        brotli_decompressor::StandardAlloc,
        brotli_decompressor::StandardAlloc,
        brotli_decompressor::StandardAlloc,
    >,
    done: bool,
}

impl Br {
    fn new() -> Br {
        use brotli_decompressor::{BrotliState, StandardAlloc};
        Br {
            state: BrotliState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            done: false,
        }
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Step {
        use brotli_decompressor::BrotliResult;
        if self.done {
            return match input.is_empty() {
                true => Ok((0, 0)),
                false => Err(Corrupt::new("data after the end of the br stream")),
            };
        }
        let (mut avail_in, mut in_off) = (input.len(), 0);
        let (mut avail_out, mut out_off, mut total) = (out.len(), 0, 0);
        let r = brotli_decompressor::BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            out,
            &mut total,
            &mut self.state,
        );
        match r {
            BrotliResult::ResultFailure => {
                let code = self.state.error_code;
                Err(Corrupt::new(format!("invalid br data ({code:?})")))
            }
            BrotliResult::ResultSuccess => {
                self.done = true;
                if in_off < input.len() {
                    return Err(Corrupt::new("data after the end of the br stream"));
                }
                Ok((in_off, out_off))
            }
            BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => Ok((in_off, out_off)),
        }
    }
}

/// `zstd` through libzstd's streaming decoder: checksums verified, skippable frames skipped,
/// frames may follow each other; windows over 8 MiB refused (RFC 9659), no dictionaries.
struct Zstd {
    d: zstd::stream::raw::Decoder<'static>,
    /// The data so far ends at the end of a frame (or there was none: an empty body is no
    /// frame at all, and fine).
    done: bool,
    /// Any byte taken.
    started: bool,
    /// The last call filled the output: libzstd may hold more.
    full: bool,
}

impl Zstd {
    fn new() -> std::result::Result<Zstd, Corrupt> {
        use zstd::stream::raw::{DParameter, Decoder};
        let mut d = Decoder::new()
            .map_err(|e| Corrupt::new(format!("could not start a zstd decoder ({e})")))?;
        d.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
            .map_err(|e| Corrupt::new(format!("could not limit the zstd window ({e})")))?;
        Ok(Zstd {
            d,
            done: true,
            started: false,
            full: false,
        })
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Step {
        use zstd::stream::raw::Operation;
        // Without input, libzstd has something to give only if it filled the output last
        // time (and it counts calls that make no progress against us).
        if input.is_empty() && !self.full || out.is_empty() {
            return Ok((0, 0));
        }
        let mut pos = 0;
        let mut written = 0;
        loop {
            let s = self
                .d
                .run_on_buffers(&input[pos..], &mut out[written..])
                .map_err(|e| {
                    let msg = e.to_string();
                    if msg.contains("too much memory") {
                        Corrupt::new(format!(
                            "the zstd frame needs a window over the 8 MiB that RFC 9659 allows ({msg})"
                        ))
                    } else {
                        Corrupt::new(format!("invalid zstd data ({msg})"))
                    }
                })?;
            pos += s.bytes_read;
            written += s.bytes_written;
            let progress = s.bytes_read > 0 || s.bytes_written > 0;
            if s.bytes_read > 0 {
                self.started = true;
            }
            // 0: a frame was completely decoded and flushed.
            if s.remaining == 0 {
                self.done = true;
            } else if progress {
                self.done = false;
            }
            // An output left with room means everything decodable so far was written.
            self.full = written == out.len();
            if self.full || pos == input.len() || !progress {
                break;
            }
        }
        Ok((pos, written))
    }
}

// ---- The decoder: stacked stages --------------------------------------------------------------

/// A buffer between two stages.
struct StageBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// Decodes a body coded with [`Codings`]: stage 0 takes the wire bytes (it undoes the coding
/// applied last), each stage feeds the next through a [`STAGE_BUF`] buffer.
pub(crate) struct Decoder {
    codings: Codings,
    stages: Vec<Stage>,
    bufs: Vec<StageBuf>,
    /// Any input taken: an empty body decodes to an empty body whatever its codings.
    started: bool,
    /// A failure (or a caught panic) leaves the codec's state unknown: no more decoding.
    failed: bool,
}

impl Decoder {
    /// A decoder for a body coded with `codings`; fails (`H2_E_DECODE`) if a codec cannot
    /// start.
    pub(crate) fn new(codings: Codings) -> Result<Decoder> {
        let mut stages = Vec::with_capacity(codings.as_slice().len());
        for &c in codings.as_slice().iter().rev() {
            stages.push(Stage::new(c).map_err(|e| decode_error(&codings, c, e))?);
        }
        let bufs = (1..stages.len())
            .map(|_| StageBuf {
                buf: vec![0; STAGE_BUF].into_boxed_slice(),
                start: 0,
                end: 0,
            })
            .collect();
        Ok(Decoder {
            codings,
            stages,
            bufs,
            started: false,
            failed: false,
        })
    }

    /// The coding stage `i` undoes.
    fn coding_of(&self, i: usize) -> Coding {
        let all = self.codings.as_slice();
        all[all.len() - 1 - i]
    }

    /// Decodes from `input` into `out`; returns (bytes of input taken, bytes written). It
    /// goes on until `out` is full or every stage is starved: when `out` has room left and
    /// all the input was taken, everything decodable so far has been written.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize)> {
        if self.failed {
            return Err(Error::new(
                ErrorKind::Decode,
                "the response body could not be decoded (an earlier failure)",
            )
            .with_processed(Processed::Yes));
        }
        if !input.is_empty() {
            self.started = true;
        }
        match catch_unwind(AssertUnwindSafe(|| self.pump(input, out))) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err((i, e))) => {
                self.failed = true;
                Err(decode_error(&self.codings, self.coding_of(i), e))
            }
            Err(_) => {
                self.failed = true;
                Err(Error::new(
                    ErrorKind::Decode,
                    format!(
                        "the response body could not be decoded: the decoder failed (a panic, caught) (content-encoding: {})",
                        self.codings.describe()
                    ),
                )
                .with_processed(Processed::Yes))
            }
        }
    }

    fn pump(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> std::result::Result<(usize, usize), (usize, Corrupt)> {
        let n = self.stages.len();
        if n == 1 {
            return self.stages[0].run(input, out).map_err(|e| (0, e));
        }
        let (mut read, mut written) = (0, 0);
        loop {
            let mut progress = false;
            for i in 0..n {
                let (r, w) = {
                    let (before, after) = self.bufs.split_at_mut(i);
                    let src: &[u8] = if i == 0 {
                        &input[read..]
                    } else {
                        let b = &before[i - 1];
                        &b.buf[b.start..b.end]
                    };
                    let dst: &mut [u8] = if i == n - 1 {
                        &mut out[written..]
                    } else {
                        let b = &mut after[0];
                        if b.start == b.end {
                            b.start = 0;
                            b.end = 0;
                        } else if b.start > 0 && b.end == b.buf.len() {
                            b.buf.copy_within(b.start..b.end, 0);
                            b.end -= b.start;
                            b.start = 0;
                        }
                        &mut b.buf[b.end..]
                    };
                    if dst.is_empty() {
                        continue;
                    }
                    self.stages[i].run(src, dst).map_err(|e| (i, e))?
                };
                if i == 0 {
                    read += r;
                } else {
                    self.bufs[i - 1].start += r;
                }
                if i == n - 1 {
                    written += w;
                } else {
                    self.bufs[i].end += w;
                }
                progress |= r > 0 || w > 0;
            }
            if !progress || written == out.len() {
                return Ok((read, written));
            }
        }
    }

    /// The body ended (END_STREAM) after [`Decoder::decode`] took all of it with room to
    /// spare: it must end where every coded stream ends (an empty body is fine).
    pub(crate) fn finish(&mut self) -> Result<()> {
        if !self.started || self.failed {
            return Ok(());
        }
        let pending = self.bufs.iter().any(|b| b.start < b.end);
        for i in 0..self.stages.len() {
            if pending || !self.stages[i].ended() {
                self.failed = true;
                return Err(decode_error(
                    &self.codings,
                    self.coding_of(i),
                    Corrupt::new("the data ends before the end of the stream (truncated)"),
                ));
            }
        }
        Ok(())
    }

    /// Decodes `data` onto the end of `body` (a buffered response), which may not grow past
    /// `max` bytes; the buffer grows with what is decoded, never more than to `max + 1`.
    pub(crate) fn append(
        &mut self,
        mut data: &[u8],
        body: &mut Vec<u8>,
        max: u64,
    ) -> std::result::Result<(), Fault> {
        // Each turn decodes into a zeroed stretch of the buffer (safe code cannot hand out
        // uninitialised memory): sized from the input, growing while the decoder fills it,
        // so that little is zeroed for nothing.
        let mut stretch = data.len().saturating_mul(4).clamp(32 << 10, MAX_STRETCH);
        loop {
            let len = body.len();
            if len as u64 > max {
                return Err(Fault::TooLarge(self.too_large(max)));
            }
            // Room up to one byte past the limit, so that going past it is seen.
            let room = usize::try_from((max - len as u64).saturating_add(1)).unwrap_or(usize::MAX);
            let chunk = stretch.min(room);
            if body.capacity() - len < chunk {
                // Doubling, but never past the limit.
                let want = body.capacity().saturating_mul(2).max(len + chunk);
                body.reserve_exact(want.min(len.saturating_add(room)) - len);
            }
            body.resize(len + chunk, 0);
            let r = self.decode(data, &mut body[len..]);
            let (read, wrote) = match r {
                Ok(v) => v,
                Err(e) => {
                    body.truncate(len);
                    return Err(Fault::Corrupt(e));
                }
            };
            body.truncate(len + wrote);
            data = &data[read..];
            if wrote == chunk {
                stretch = stretch.saturating_mul(2).min(MAX_STRETCH);
            }
            if data.is_empty() && wrote < chunk {
                return match body.len() as u64 > max {
                    true => Err(Fault::TooLarge(self.too_large(max))),
                    false => Ok(()),
                };
            }
            if read == 0 && wrote == 0 {
                self.failed = true;
                return Err(Fault::Corrupt(decode_error(
                    &self.codings,
                    self.coding_of(0),
                    Corrupt::new("the decoder made no progress"),
                )));
            }
        }
    }

    fn too_large(&mut self, max: u64) -> Error {
        self.failed = true;
        Error::new(
            ErrorKind::BodyTooLarge,
            format!(
                "response body exceeds the configured maximum of {max} bytes once decoded (content-encoding: {}): decoding stopped there",
                self.codings.describe()
            ),
        )
        .with_processed(Processed::Yes)
    }
}

/// The `H2_E_DECODE` error for `coding`'s data in a body coded with `all`.
fn decode_error(all: &Codings, coding: Coding, e: Corrupt) -> Error {
    let layer = if all.as_slice().len() > 1 {
        format!(" (content-encoding: {})", all.describe())
    } else {
        String::new()
    };
    Error::new(
        ErrorKind::Decode,
        format!(
            "cannot decode the {} response body{layer}: {}",
            coding.name(),
            e.0
        ),
    )
    .with_processed(Processed::Yes)
}

// ---- Streamed responses: decoded as the caller reads ------------------------------------------

/// The decoding side of a streaming call (`h2_client_start`) on a client with
/// `accept_encoding`: on the first read it looks at the response head; a decoded body is then
/// read through a [`Decoder`] that takes the compressed DATA pieces from the exchange as the
/// caller asks for output (which is what reopens the stream's window), so what is held is the
/// window's compressed bytes, a few pieces taken from it, the codec's state and, for
/// `read_chunks`, the decoded pieces lent until the next read.
#[derive(Default)]
pub(crate) struct StreamDecoding {
    state: Mutex<StreamState>,
    /// Compressed bytes taken from the exchange and not yet decoded.
    held: AtomicUsize,
    /// Why decoding failed (sticky).
    error: OnceLock<Error>,
}

#[derive(Default)]
struct StreamState {
    /// The head has been looked at.
    started: bool,
    dec: Option<Box<Decoder>>,
    input: VecDeque<Bytes>,
    /// The exchange has no more body.
    eof: bool,
    /// The decoder's end was checked.
    finished: bool,
    /// Buffer of the pieces `read_chunks` lends.
    out: BytesMut,
}

fn lock(m: &Mutex<StreamState>) -> std::sync::MutexGuard<'_, StreamState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StreamDecoding {
    /// The error decoding ended with, if it failed.
    pub(crate) fn error(&self) -> Option<Error> {
        self.error.get().cloned()
    }

    /// Compressed bytes taken from the exchange and not yet decoded.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Looks at the head once: the decoder, if the body is decoded.
    fn start(&self, st: &mut StreamState, ex: &Arc<Exchange>) -> Result<()> {
        if !st.started {
            ex.wait_head()?;
            let codings = ex.with_head(|r| r.decoded);
            if let Some(c) = codings {
                st.dec = Some(Box::new(Decoder::new(c).map_err(|e| self.fail(ex, e))?));
            }
            st.started = true;
        }
        Ok(())
    }

    /// Records a decoding failure, fails the exchange with it (resetting the stream if it
    /// is still open) and returns it.
    fn fail(&self, ex: &Arc<Exchange>, e: Error) -> Error {
        let _ = self.error.set(e.clone());
        ex.abort(e.clone());
        e
    }

    /// [`crate::client::Call::read`] on a client that decodes.
    pub(crate) fn read(&self, ex: &Arc<Exchange>, buf: &mut [u8]) -> Result<usize> {
        if let Some(e) = self.error.get() {
            return Err(e.clone());
        }
        let mut st = lock(&self.state);
        self.start(&mut st, ex)?;
        if st.dec.is_none() {
            drop(st);
            return ex.read(buf);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.fill(&mut st, ex, buf, true)
    }

    /// [`crate::client::Call::read_chunks`] on a client that decodes: decoded pieces of up
    /// to 64 KiB in a buffer of the call, valid until the caller drops them.
    pub(crate) fn read_chunks(
        &self,
        ex: &Arc<Exchange>,
        max: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<()> {
        if let Some(e) = self.error.get() {
            return Err(e.clone());
        }
        let mut st = lock(&self.state);
        self.start(&mut st, ex)?;
        if st.dec.is_none() {
            drop(st);
            return ex.read_chunks(max, out);
        }
        let pieces = max.min(MAX_PIECES);
        // Reuses the buffer once the pieces lent last time were dropped.
        st.out.clear();
        st.out.reserve(pieces * PIECE);
        for i in 0..pieces {
            let mut b = std::mem::take(&mut st.out);
            b.resize(PIECE, 0);
            let r = self.fill(&mut st, ex, &mut b[..], i == 0);
            let n = match r {
                Ok(n) => n,
                Err(e) => {
                    b.clear();
                    st.out = b;
                    return if out.is_empty() { Err(e) } else { Ok(()) };
                }
            };
            b.truncate(n);
            let piece = b.split().freeze();
            st.out = b;
            if n == 0 {
                break;
            }
            out.push(piece);
            if n < PIECE {
                // The decoder is starved: whatever else comes needs waiting for.
                break;
            }
        }
        Ok(())
    }

    /// Decodes into `buf`: blocks (`block`) until something is decoded or the body ends
    /// (`Ok(0)`); without `block`, takes only input that has already arrived.
    fn fill(
        &self,
        st: &mut StreamState,
        ex: &Arc<Exchange>,
        buf: &mut [u8],
        block: bool,
    ) -> Result<usize> {
        let mut chunks = Vec::with_capacity(TAKE_CHUNKS);
        loop {
            let Some(dec) = st.dec.as_mut() else {
                return Ok(0);
            };
            // What is held first (also flushes output the decoder still has).
            let front = st.input.front().map_or(&[][..], |b| &b[..]);
            let (r, w) = match dec.decode(front, buf) {
                Ok(v) => v,
                Err(e) => return Err(self.fail(ex, e)),
            };
            if r > 0 {
                if let Some(f) = st.input.front_mut() {
                    bytes::Buf::advance(f, r);
                    if f.is_empty() {
                        st.input.pop_front();
                    }
                }
                self.held.fetch_sub(r, Ordering::Relaxed);
            }
            if w > 0 {
                return Ok(w);
            }
            if !st.input.is_empty() {
                if r == 0 {
                    let e = decode_error(
                        &dec.codings,
                        dec.coding_of(0),
                        Corrupt::new("the decoder made no progress"),
                    );
                    return Err(self.fail(ex, e));
                }
                continue;
            }
            if st.eof {
                if !st.finished {
                    st.finished = true;
                    if let Err(e) = dec.finish() {
                        return Err(self.fail(ex, e));
                    }
                }
                return Ok(0);
            }
            if !block && ex.buffered() == 0 && !ex.is_done() {
                return Ok(0);
            }
            chunks.clear();
            ex.read_chunks(TAKE_CHUNKS, &mut chunks)?;
            if chunks.is_empty() {
                st.eof = true;
                continue;
            }
            for c in chunks.drain(..) {
                self.held.fetch_add(c.len(), Ordering::Relaxed);
                st.input.push_back(c);
            }
        }
    }
}

impl StreamDecoding {
    /// [`StreamDecoding::read`] without waiting (`h2_call_try_read`): `None` while nothing
    /// can be read from what has arrived (no head yet, or the decoder needs more input).
    pub(crate) fn try_read(&self, ex: &Arc<Exchange>, buf: &mut [u8]) -> Option<Result<usize>> {
        if let Some(e) = self.error.get() {
            return Some(Err(e.clone()));
        }
        let mut st = lock(&self.state);
        if !st.started {
            if let Err(e) = ex.try_head()? {
                return Some(Err(e));
            }
            // The head is there: `start` does not wait.
            if let Err(e) = self.start(&mut st, ex) {
                return Some(Err(e));
            }
        }
        if st.dec.is_none() {
            drop(st);
            return ex.try_read(buf);
        }
        if buf.is_empty() {
            return Some(Ok(0));
        }
        // Without `block`, `fill` takes only input that has arrived; its `Ok(0)` before the
        // end of the input means that the decoder needs more.
        match self.fill(&mut st, ex, buf, false) {
            Ok(0) if !st.eof => None,
            r => Some(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn codings(list: &[Coding]) -> Codings {
        let mut c = Codings {
            list: [Coding::Gzip; MAX_CODINGS],
            len: 0,
        };
        for &x in list {
            c.list[usize::from(c.len)] = x;
            c.len += 1;
        }
        c
    }

    fn text(n: usize) -> Vec<u8> {
        let words = ["alpha ", "beta ", "gamma\n", "delta ", "epsilon, ", "zeta "];
        let mut x: u32 = 12345;
        let mut out = Vec::with_capacity(n + 16);
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.extend_from_slice(words[(x % 6) as usize].as_bytes());
            if x.is_multiple_of(7) {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out.truncate(n);
        out
    }

    fn encode(c: Coding, data: &[u8]) -> Vec<u8> {
        match c {
            Coding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Br => {
                let mut out = Vec::new();
                let p = brotli::enc::BrotliEncoderParams {
                    quality: 5,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &data[..], &mut out, &p).unwrap();
                out
            }
            Coding::Zstd => {
                // With its checksum, as `zstd` the program writes it.
                let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
                e.include_checksum(true).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    /// Decodes `wire` fed in `step`-byte pieces into outputs of `out` bytes.
    fn decode_all(cs: &[Coding], wire: &[u8], step: usize, out: usize) -> Result<Vec<u8>> {
        let mut d = Decoder::new(codings(cs))?;
        let mut got = Vec::new();
        let mut buf = vec![0u8; out];
        for piece in wire.chunks(step.max(1)) {
            let mut p = piece;
            loop {
                let (r, w) = d.decode(p, &mut buf)?;
                got.extend_from_slice(&buf[..w]);
                p = &p[r..];
                if p.is_empty() && w < buf.len() {
                    break;
                }
            }
        }
        d.finish()?;
        Ok(got)
    }

    const ALL: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd];

    #[test]
    fn every_coding_round_trips_whatever_the_pieces() {
        let data = text(300_000);
        for c in ALL {
            let wire = encode(c, &data);
            for (step, out) in [(1, 7), (13, 1), (1000, 100_000), (wire.len(), 1 << 20)] {
                let got = decode_all(&[c], &wire, step, out).unwrap();
                assert!(got == data, "{c:?} step {step} out {out}");
            }
        }
    }

    #[test]
    fn stacked_codings_are_undone_last_first() {
        let data = text(200_000);
        for pair in [[Coding::Gzip, Coding::Br], [Coding::Zstd, Coding::Deflate]] {
            let wire = encode(pair[1], &encode(pair[0], &data));
            for (step, out) in [(5, 3), (4096, 65536)] {
                assert!(decode_all(&pair, &wire, step, out).unwrap() == data);
            }
        }
        let three = [Coding::Br, Coding::Gzip, Coding::Zstd];
        let wire = encode(
            Coding::Zstd,
            &encode(Coding::Gzip, &encode(Coding::Br, &data)),
        );
        assert!(decode_all(&three, &wire, 999, 1234).unwrap() == data);
    }

    #[test]
    fn gzip_members_and_header_fields() {
        let mut wire = encode(Coding::Gzip, b"first ");
        wire.extend(encode(Coding::Gzip, b"second"));
        // A member with FEXTRA, FNAME, FCOMMENT and FHCRC.
        let mut e = flate2::GzBuilder::new()
            .extra(vec![1, 2, 3])
            .filename("name.txt")
            .comment("a comment")
            .write(Vec::new(), flate2::Compression::new(1));
        e.write_all(b" third").unwrap();
        let mut third = e.finish().unwrap();
        third[3] |= FHCRC;
        // Insert a (not checked) header CRC before the deflate data.
        let hdr_end = 10 + 2 + 3 + "name.txt".len() + 1 + "a comment".len() + 1;
        third.splice(hdr_end..hdr_end, [0xaa, 0xbb]);
        wire.extend(third);
        for step in [1, 3, 1000] {
            let got = decode_all(&[Coding::Gzip], &wire, step, 5).unwrap();
            assert_eq!(got, b"first second third");
        }
    }

    #[test]
    fn raw_deflate_is_accepted_too() {
        let data = text(50_000);
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&data).unwrap();
        let wire = e.finish().unwrap();
        assert!(!is_zlib_header(wire[0], wire[1]));
        for step in [1, 2, 500] {
            assert!(decode_all(&[Coding::Deflate], &wire, step, 4096).unwrap() == data);
        }
    }

    /// The error of a decode that must fail, without printing megabytes of what it decoded.
    fn fails(r: Result<Vec<u8>>, c: Coding) -> Error {
        match r {
            Ok(v) => panic!("{c:?}: decoded {} bytes instead of failing", v.len()),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Decode, "{c:?}: {}", e.message);
                e
            }
        }
    }

    #[test]
    fn corruption_and_truncation_are_named() {
        let data = text(100_000);
        for c in ALL {
            let wire = encode(c, &data);
            let mut bad = wire.clone();
            let mid = bad.len() / 2;
            if c == Coding::Br {
                // br has no checksum: only damage to its structure is seen (here 256 bytes
                // of its middle zeroed).
                bad[mid..mid + 256].fill(0);
            } else {
                bad[mid] ^= 0x55;
                bad[mid + 1] ^= 0xa5;
            }
            let e = fails(decode_all(&[c], &bad, 1000, 4096), c);
            assert!(e.message.contains(c.name()), "{c:?}: {}", e.message);
            let e = fails(decode_all(&[c], &wire[..wire.len() - 3], 1000, 4096), c);
            assert!(e.message.contains("truncated"), "{c:?}: {}", e.message);
            // Garbage instead of the coding.
            fails(
                decode_all(&[c], b"this is not compressed at all", 7, 4096),
                c,
            );
        }
        // The gzip trailer is checked.
        let mut wire = encode(Coding::Gzip, &data);
        let n = wire.len();
        wire[n - 6] ^= 1;
        let e = decode_all(&[Coding::Gzip], &wire, 4096, 4096).unwrap_err();
        assert!(e.message.contains("CRC-32"), "{}", e.message);
    }

    #[test]
    fn empty_bodies_decode_to_nothing() {
        for c in ALL {
            assert_eq!(decode_all(&[c], b"", 1, 16).unwrap(), b"");
        }
    }

    #[test]
    fn zstd_windows_over_8_mib_are_refused() {
        let data = text(64 << 10);
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.set_parameter(zstd::stream::raw::CParameter::WindowLog(24))
            .unwrap();
        // Without a pledged size the frame header keeps the 16 MiB window.
        e.write_all(&data).unwrap();
        let wire = e.finish().unwrap();
        let err = decode_all(&[Coding::Zstd], &wire, 4096, 4096).unwrap_err();
        assert!(err.message.contains("8 MiB"), "{}", err.message);
    }

    #[test]
    fn append_stops_at_the_limit_without_growing_past_it() {
        let zeros = vec![0u8; 8 << 20];
        for c in ALL {
            let wire = encode(c, &zeros);
            let mut d = Decoder::new(codings(&[c])).unwrap();
            let mut body = Vec::new();
            let mut r = Ok(());
            for piece in wire.chunks(16 << 10) {
                r = d.append(piece, &mut body, 1 << 20);
                if r.is_err() {
                    break;
                }
            }
            match r {
                Err(Fault::TooLarge(e)) => {
                    assert_eq!(e.kind, ErrorKind::BodyTooLarge);
                    assert!(e.message.contains(c.name()), "{}", e.message);
                }
                _ => panic!("{c:?}: the limit did not trip"),
            }
            assert!(
                body.capacity() <= (1 << 20) + 1,
                "{c:?}: {}",
                body.capacity()
            );
        }
    }

    /// `max_response_body` = u64::MAX (no limit, as C callers write it) decodes whole.
    #[test]
    fn append_with_no_limit() {
        let data = vec![7u8; 300 << 10];
        for c in ALL {
            let wire = encode(c, &data);
            let mut d = Decoder::new(codings(&[c])).unwrap();
            let mut body = Vec::new();
            for piece in wire.chunks(16 << 10) {
                assert!(d.append(piece, &mut body, u64::MAX).is_ok(), "{c:?}");
            }
            assert_eq!(body, data, "{c:?}");
        }
    }

    #[test]
    fn negotiation() {
        let mut h = HeaderList::new();
        h.push(b"content-type", b"text/plain");
        h.push(b"content-encoding", b"gzip");
        h.push(b"content-length", b"10");
        h.push(b"content-encoding", b" , BR ");
        let c = negotiate(200, &mut h).unwrap();
        assert_eq!(c.as_slice(), [Coding::Gzip, Coding::Br]);
        assert_eq!(h.len(), 1);
        assert_eq!(h.value(b"content-type"), Some(&b"text/plain"[..]));

        for (status, ce) in [
            (200, "compress"),
            (200, "gzip, foo"),
            (200, "identity"),
            (206, "gzip"),
            (200, "gzip, gzip, gzip, gzip"),
        ] {
            let mut h = HeaderList::new();
            h.push(b"content-encoding", ce.as_bytes());
            h.push(b"content-length", b"10");
            assert!(negotiate(status, &mut h).is_none(), "{status} {ce}");
            assert_eq!(h.len(), 2, "left as is");
        }
        let mut h = HeaderList::new();
        h.push(b"content-encoding", b"x-gzip, identity");
        assert_eq!(negotiate(200, &mut h).unwrap().as_slice(), [Coding::Gzip]);
    }
}
