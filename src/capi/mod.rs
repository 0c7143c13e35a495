//! The C ABI (feature `capi`): the `extern "C"` functions declared in `include/hashembed.h`
//! and described in `docs/c-api.md`.
//!
//! Conventions, shared by every function:
//!
//! - Nothing unwinds into C: each body runs under `catch_unwind`, and a panic becomes
//!   [`Status::Panic`].
//! - Fallible functions return a [`Status`]; on failure they store a message in a
//!   thread-local string that `hashembed_last_error` returns (see [`status`]).
//! - A pointer paired with a length may be NULL when that length is 0; otherwise it must be
//!   non-NULL and aligned for its type. Output buffers are checked against the number of
//!   values a call writes, and nothing is written unless every check passes.
//!
//! The header is hand-written; `tests/capi_header.rs` keeps its functions, struct fields and
//! constants in step with this module, and the unit tests here check the struct layout
//! against a C compiler.

// The C names (`hashembed_config`, ...) are the Rust names, so the two stay easy to compare.
#![allow(non_camel_case_types)]

mod config;
mod embed;
mod status;
#[cfg(test)]
mod tests;
