//! Timing shared by the micro-benchmarks (the standard `#[bench]` harness is nightly-only).

use std::time::Instant;

/// Best-of-`runs` nanoseconds per call of `f`, each run `iters` calls.
pub fn time_ns(runs: usize, iters: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
        best = best.min(ns);
    }
    best
}
