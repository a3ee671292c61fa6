//! Content-coded bodies for `/encoded/...` and `/bomb/...` (see the crate documentation):
//! a deterministic text ([`text`]) encoded with gzip, deflate (zlib), br or zstd, stacked in
//! the order given, and "decompression bombs" of zeros that cost the server next to nothing
//! to produce however large they decode.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;

/// Bodies of at least this size are kept once encoded (a benchmark fetches the same one
/// repeatedly); [`CACHE_ENTRIES`] at most.
const CACHE_FROM: usize = 1 << 20;
const CACHE_ENTRIES: usize = 4;

/// A deterministic text of `n` bytes: words and numbers from a fixed xorshift sequence, with
/// a line break now and then. It compresses about as well as prose or source code (gzip to
/// roughly a third), unlike a short repeated pattern, so that codecs do real work on it.
pub fn text(n: usize) -> Vec<u8> {
    const WORDS: [&str; 32] = [
        "the",
        "of",
        "and",
        "stream",
        "window",
        "frame",
        "header",
        "client",
        "server",
        "data",
        "request",
        "response",
        "body",
        "settings",
        "priority",
        "connection",
        "error",
        "reset",
        "push",
        "promise",
        "table",
        "index",
        "literal",
        "huffman",
        "octet",
        "length",
        "value",
        "field",
        "block",
        "continuation",
        "ping",
        "goaway",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(n + 32);
    let mut col = 0;
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(11) {
            let _ = write!(out, "{} ", x % 100_000);
        } else {
            out.extend_from_slice(WORDS[(x % 32) as usize].as_bytes());
            out.push(b' ');
        }
        col += 1;
        if col == 12 {
            out.push(b'\n');
            col = 0;
        }
    }
    out.truncate(n);
    out
}

/// A coding by its `content-encoding` name (`x-gzip` is gzip; `identity` leaves the data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Deflate,
    Br,
    Zstd,
}

impl Coding {
    pub(crate) fn parse(name: &str) -> Option<Coding> {
        Some(match name.trim() {
            "identity" => Coding::Identity,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Br,
            "zstd" => Coding::Zstd,
            _ => return None,
        })
    }
}

/// `data` encoded with `coding` (zstd with its checksum, as the `zstd` program writes it).
fn encode_one(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Identity => Ok(data.to_vec()),
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data)?;
            e.finish()
        }
        Coding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data)?;
            e.finish()
        }
        Coding::Br => {
            let mut w = brotli::CompressorWriter::new(Vec::new(), 64 << 10, 5, 22);
            w.write_all(data)?;
            w.flush()?;
            Ok(w.into_inner())
        }
        Coding::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3)?;
            e.include_checksum(true)?;
            e.write_all(data)?;
            e.finish()
        }
    }
}

/// [`text`]`(n)` encoded with `codings` applied in order (the first listed is applied first,
/// as `content-encoding` lists them).
pub(crate) fn encoded_text(codings: &[Coding], n: usize) -> std::io::Result<Bytes> {
    type Cache = Mutex<VecDeque<(Vec<Coding>, usize, Bytes)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(VecDeque::new()));
    if n >= CACHE_FROM {
        let c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, b)) = c.iter().find(|(k, len, _)| k == codings && *len == n) {
            return Ok(b.clone());
        }
    }
    let mut data = text(n);
    for &c in codings {
        data = encode_one(c, &data)?;
    }
    let body = Bytes::from(data);
    if n >= CACHE_FROM {
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() == CACHE_ENTRIES {
            c.pop_front();
        }
        c.push_back((codings.to_vec(), n, body.clone()));
    }
    Ok(body)
}

/// A body of `mib` MiB of zeros coded with one coding, produced piece by piece as it is
/// sent: the coded form is tiny however large the decoded one (gzip and deflate about
/// 1/1000, br and zstd a few KiB per GiB), and making it costs next to nothing.
pub(crate) struct Bomb {
    kind: BombKind,
    /// MiB of zeros still to encode.
    left: u64,
    total: u64,
    started: bool,
}

enum BombKind {
    /// gzip or zlib: one deflate chunk for 1 MiB of zeros, made once and repeated (it ends
    /// with a full flush, so it refers to nothing before it).
    Deflate { gzip: bool },
    /// zstd: one frame of RLE blocks of 128 KiB of zeros, 4 bytes each.
    Zstd,
    /// br: brotli's encoder, fed zeros.
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
}

/// Raw deflate of 1 MiB of zeros ending on a byte boundary (full flush), and the CRC-32 of
/// those zeros.
fn zero_chunk() -> &'static (Vec<u8>, flate2::Crc) {
    static CHUNK: OnceLock<(Vec<u8>, flate2::Crc)> = OnceLock::new();
    CHUNK.get_or_init(|| {
        let zeros = vec![0u8; 1 << 20];
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut out = Vec::with_capacity(64 << 10);
        // One call takes the whole input and the flush; the output buffer is ample.
        let _ = c.compress_vec(&zeros, &mut out, flate2::FlushCompress::Full);
        let mut crc = flate2::Crc::new();
        crc.update(&zeros);
        (out, crc)
    })
}

impl Bomb {
    pub(crate) fn new(coding: Coding, mib: u64) -> Option<Bomb> {
        let kind = match coding {
            Coding::Gzip => BombKind::Deflate { gzip: true },
            Coding::Deflate => BombKind::Deflate { gzip: false },
            Coding::Zstd => BombKind::Zstd,
            Coding::Br => BombKind::Br(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                64 << 10,
                5,
                22,
            ))),
            Coding::Identity => return None,
        };
        Some(Bomb {
            kind,
            left: mib,
            total: mib,
            started: false,
        })
    }

    /// The next piece of the coded body (up to about 16 MiB of zeros' worth), `None` after
    /// the last.
    pub(crate) fn next_piece(&mut self) -> Option<Bytes> {
        const BATCH: u64 = 16;
        if self.left == 0 && self.started {
            return None;
        }
        let first = !self.started;
        self.started = true;
        let n = self.left.min(BATCH);
        self.left -= n;
        let last = self.left == 0;
        let mut out = Vec::new();
        match &mut self.kind {
            BombKind::Deflate { gzip } => {
                if first {
                    if *gzip {
                        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
                    } else {
                        out.extend_from_slice(&[0x78, 0xda]);
                    }
                }
                let (chunk, _) = zero_chunk();
                for _ in 0..n {
                    out.extend_from_slice(chunk);
                }
                if last {
                    // An empty final block (fixed Huffman, end of block at once).
                    out.extend_from_slice(&[0x03, 0x00]);
                    let zeros = self.total << 20;
                    if *gzip {
                        let mut crc = flate2::Crc::new();
                        for _ in 0..self.total {
                            crc.combine(&zero_chunk().1);
                        }
                        out.extend_from_slice(&crc.sum().to_le_bytes());
                        out.extend_from_slice(&(zeros as u32).to_le_bytes());
                    } else {
                        // Adler-32 of zeros: A stays 1, B is the count.
                        let adler = ((zeros % 65521) as u32) << 16 | 1;
                        out.extend_from_slice(&adler.to_be_bytes());
                    }
                }
            }
            BombKind::Zstd => {
                if first {
                    // Magic, no content size or checksum, a 128 KiB window.
                    out.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3]);
                }
                let blocks = n * 8;
                for i in 0..blocks {
                    let end = u32::from(last && i + 1 == blocks);
                    let header = (128u32 << 10) << 3 | 1 << 1 | end;
                    out.extend_from_slice(&header.to_le_bytes()[..3]);
                    out.push(0);
                }
                if self.total == 0 {
                    // An empty frame: one empty raw block.
                    out.extend_from_slice(&[1, 0, 0]);
                }
            }
            BombKind::Br(w) => {
                let zeros = vec![0u8; 1 << 20];
                for _ in 0..n {
                    let _ = w.write_all(&zeros);
                }
                if last {
                    let _ = w.flush();
                    let done = std::mem::replace(
                        w,
                        Box::new(brotli::CompressorWriter::new(Vec::new(), 1024, 5, 22)),
                    );
                    out = done.into_inner();
                } else {
                    // The encoder holds what it made until a flush.
                    let _ = w.flush();
                    out = std::mem::take(w.get_mut());
                }
            }
        }
        Some(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decoded_len(coding: Coding, body: &[u8]) -> (u64, bool) {
        let mut zeros = true;
        let mut n = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        let mut r: Box<dyn Read> = match coding {
            Coding::Gzip => Box::new(flate2::read::GzDecoder::new(body)),
            Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(body)),
            Coding::Br => Box::new(brotli::Decompressor::new(body, 4096)),
            Coding::Zstd => Box::new(zstd::stream::read::Decoder::new(body).unwrap()),
            Coding::Identity => Box::new(body),
        };
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                return (n, zeros);
            }
            zeros &= buf[..k].iter().all(|&b| b == 0);
            n += k as u64;
        }
    }

    #[test]
    fn bombs_decode_to_zeros_of_the_size_asked() {
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Zstd, Coding::Br] {
            for mib in [1, 3, 17] {
                let mut b = Bomb::new(coding, mib).unwrap();
                let mut body = Vec::new();
                while let Some(p) = b.next_piece() {
                    body.extend_from_slice(&p);
                }
                assert_eq!(
                    decoded_len(coding, &body),
                    (mib << 20, true),
                    "{coding:?} {mib}"
                );
                assert!(
                    body.len() < (mib as usize) << 11,
                    "{coding:?}: {}",
                    body.len()
                );
            }
        }
    }

    #[test]
    fn text_is_deterministic_and_compressible() {
        let t = text(100_000);
        assert_eq!(t, text(100_000));
        assert_eq!(&text(1000)[..], &t[..1000]);
        let gz = encoded_text(&[Coding::Gzip], 100_000).unwrap();
        assert!(gz.len() < 50_000 && gz.len() > 10_000, "{}", gz.len());
    }
}
