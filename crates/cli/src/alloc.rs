//! Tuning glibc's malloc for `pets anonymise`: blocks of 1 MiB or more are mapped on their
//! own and so returned to the operating system as soon as they are freed.
//!
//! Why: glibc raises its mmap threshold each time it frees a mapped block (up to 32 MB), so
//! after the first large arrays are freed, every allocation below that size comes from its
//! heaps, whose freed middles it keeps. At 10M rows the README's `pets anonymise` held 416
//! MiB of resident memory for 306 MiB of live heap; with a fixed threshold (which also
//! stops it moving) it holds about 366 MiB, within issue 12's target of 2x the 190.7 MiB of
//! encoded columns (`benches/README.md`).
//!
//! Why only there: the anonymisation allocates a few large arrays per lattice node, so
//! mapping them afresh costs little. Other commands keep glibc's defaults: AIM's inference
//! frees and reallocates its clique tables every iteration, and an allocator that returns
//! such blocks at once (jemalloc without decay, tried) took 45-61 s of system time at 100k
//! rows against 1 s. The Python package and library users keep their process's settings.

/// Blocks from which glibc maps each allocation on its own (`M_MMAP_THRESHOLD`).
const MMAP_THRESHOLD_BYTES: i32 = 1 << 20;

/// From now on, map blocks of [`MMAP_THRESHOLD_BYTES`] or more on their own (returned to the
/// operating system when freed), with the threshold fixed rather than rising after frees.
pub fn return_large_blocks_at_once() {
    // SAFETY: `mallopt` only changes malloc's tuning; `M_MMAP_THRESHOLD` takes a byte count
    // (at most 32 MiB on 64-bit glibc, which 1 MiB is below). The workspace's only unsafe
    // code: `unsafe_code` is denied everywhere else.
    #[allow(unsafe_code)]
    let changed = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
    // 0 means glibc refused the value; the command still runs, with the default tuning.
    debug_assert_ne!(changed, 0, "mallopt(M_MMAP_THRESHOLD) refused");
}
