//! The CLI's memory allocator: jemalloc (the `tikv-jemallocator` crate), told to hand freed
//! pages back to the operating system at once.
//!
//! Why not the system allocator: glibc's malloc raises its mmap threshold each time it
//! frees a mapped block (up to 32 MB), so after the first large arrays are freed, every
//! allocation below that size comes from its heaps, whose freed middles it keeps. At 10M
//! rows the README's `pets anonymise` command held 416 MiB of resident memory for 306 MiB of
//! live heap; with jemalloc and no decay it holds 333 MiB, at the same CPU time
//! (`benches/README.md`, issue 12's memory target: within 2x the 190.7 MiB of encoded
//! columns). A command is one batch job, so pages a later step would reuse are cheap to
//! fault in again, and the decay that keeps them for a long-lived service buys nothing.
//!
//! The Python package runs inside the interpreter's process and keeps its allocator; so do
//! library users, who choose their own.

/// Every heap allocation of the `pets` binary goes through jemalloc.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once when it starts (`malloc_conf` in jemalloc's manual; the
/// crate prefixes its symbols with `_rjem_`): dirty and muzzy pages are purged as soon as
/// they are freed instead of over a 10 s decay.
///
/// The one `unsafe` item of the workspace: exporting a symbol by name is unsafe because
/// the linker cannot check its type. jemalloc reads it as a `const char *`; a reference to
/// a byte array is a thin pointer, and the string is NUL-terminated and `'static`.
#[allow(unsafe_code, non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 34] = b"dirty_decay_ms:0,muzzy_decay_ms:0\0";
