//! Hash maps keyed by values that already are good 64-bit hashes.

use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for keys that already are good 64-bit hashes (written with `write_u64`): passes
/// them through, so map lookups cost no further hashing.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is meant to be used; fold anything else in deterministically.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The `BuildHasher` of maps whose keys hash as one precomputed `u64`.
pub(crate) type BuildPassThrough = BuildHasherDefault<PassThrough>;
