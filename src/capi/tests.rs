//! The C API called from Rust: results against the core, every error path, the panic guard,
//! the last-error convention, and the struct layout against a C compiler.

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use super::config::*;
use super::embed::*;
use super::status::{guard, hashembed_last_error, hashembed_status_str, hashembed_version, Status};
use crate::config::Config;
use crate::embedder::Embedder;

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(hashembed_last_error()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn new(cfg: &hashembed_config) -> Result<*mut hashembed_embedder, (Status, String)> {
    let mut e = null_mut();
    // SAFETY: valid pointers.
    match unsafe { hashembed_new(cfg, &mut e) } {
        Status::Ok => Ok(e),
        s => {
            assert!(e.is_null());
            Err((s, last_error()))
        }
    }
}

fn config(f: impl FnOnce(&mut hashembed_config)) -> hashembed_config {
    let mut c = hashembed_config {
        dim: 0,
        max_ngram: 0,
        layout: -1,
        layout_parts: null(),
        layout_parts_len: 0,
        seed: 0,
        base: 0,
        hash_modulus: 0,
        buckets: 0,
        hash_seeds: null(),
        hash_seeds_len: 0,
        boundary_markers: -1,
    };
    // SAFETY: a valid pointer.
    assert_eq!(unsafe { hashembed_config_default(&mut c) }, Status::Ok);
    f(&mut c);
    c
}

fn utf8(e: *const hashembed_embedder, s: &str, out: &mut [f32]) -> Status {
    // SAFETY: valid pointers and lengths.
    unsafe {
        hashembed_embed_utf8(
            e,
            s.as_ptr().cast::<c_char>(),
            s.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    }
}

#[test]
fn defaults_are_the_spec_defaults() {
    let c = config(|_| {});
    let d = Config::default();
    assert_eq!(
        (
            c.dim,
            c.max_ngram,
            c.seed,
            c.base,
            c.hash_modulus,
            c.buckets
        ),
        (
            d.dim,
            d.max_ngram,
            d.seed,
            d.base,
            d.hash_modulus,
            d.buckets
        )
    );
    assert_eq!(c.layout, LayoutKind::Proportional as i32);
    assert!(c.layout_parts.is_null() && c.hash_seeds.is_null());
    // SAFETY: NULL is allowed.
    assert_eq!(
        unsafe { hashembed_config_default(null_mut()) },
        Status::NullPointer
    );
}

#[test]
fn single_texts_match_the_core() {
    let e = new(&config(|_| {})).unwrap();
    let core = Embedder::new(&Config::default()).unwrap();
    for text in ["hello", "", "naïve ☃ \u{1F600}", "a\0b"] {
        let want = core.embed(text);
        let mut got = vec![7f32; 769];
        assert_eq!(utf8(e, text, &mut got), Status::Ok);
        assert_eq!(got[768], 7.0, "wrote past dim");
        assert!(got[..768]
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        let cps: Vec<u32> = text.chars().map(u32::from).collect();
        let mut got32 = vec![0f32; 768];
        let mut got64 = vec![0f64; 768];
        // SAFETY: valid pointers and lengths.
        unsafe {
            assert_eq!(
                hashembed_embed_utf32(e, cps.as_ptr(), cps.len(), got32.as_mut_ptr(), 768),
                Status::Ok
            );
            assert_eq!(
                hashembed_embed_utf32_f64(e, cps.as_ptr(), cps.len(), got64.as_mut_ptr(), 768),
                Status::Ok
            );
        }
        assert_eq!(got32, got[..768]);
        assert!(got64
            .iter()
            .zip(&want)
            .all(|(&d, f)| (d as f32).to_bits() == f.to_bits()));
    }
    // SAFETY: `e` is live; then freed once.
    unsafe {
        assert_eq!(hashembed_dim(e), 768);
        assert_eq!(hashembed_dim(null()), 0);
        hashembed_free(e);
        hashembed_free(null_mut());
    }
}

#[test]
fn batches_match_single_texts() {
    let e = new(&config(|c| c.dim = 40)).unwrap();
    let texts = ["the", "cat", "", "the", "\u{10FFFF}x"];
    let mut bytes = Vec::new();
    let mut offsets = vec![0u64];
    let mut chars = Vec::new();
    let mut coffsets = vec![0u64];
    for t in texts {
        bytes.extend_from_slice(t.as_bytes());
        offsets.push(bytes.len() as u64);
        chars.extend(t.chars().map(u32::from));
        coffsets.push(chars.len() as u64);
    }
    let n = texts.len();
    let mut need = 0;
    // SAFETY: valid pointers.
    assert_eq!(unsafe { hashembed_output_len(e, n, &mut need) }, Status::Ok);
    assert_eq!(need, n * 40);
    for threads in [0, 1, 3] {
        let mut a = vec![0f32; need];
        let mut b = vec![0f32; need];
        let mut c = vec![0f64; need];
        // SAFETY: valid pointers and lengths.
        unsafe {
            let bp = bytes.as_ptr().cast::<c_char>();
            let st = hashembed_embed_utf8_batch(
                e,
                bp,
                bytes.len(),
                offsets.as_ptr(),
                n,
                a.as_mut_ptr(),
                need,
                threads,
            );
            assert_eq!(st, Status::Ok);
            let st = hashembed_embed_utf32_batch(
                e,
                chars.as_ptr(),
                chars.len(),
                coffsets.as_ptr(),
                n,
                b.as_mut_ptr(),
                need,
                threads,
            );
            assert_eq!(st, Status::Ok);
            let st = hashembed_embed_utf8_batch_f64(
                e,
                bp,
                bytes.len(),
                offsets.as_ptr(),
                n,
                c.as_mut_ptr(),
                need,
                threads,
            );
            assert_eq!(st, Status::Ok);
        }
        assert_eq!(a, b);
        assert!(a
            .iter()
            .zip(&c)
            .all(|(f, &d)| f.to_bits() == (d as f32).to_bits()));
        for (i, t) in texts.iter().enumerate() {
            let mut one = vec![0f32; 40];
            assert_eq!(utf8(e, t, &mut one), Status::Ok);
            assert_eq!(one, a[i * 40..(i + 1) * 40], "text {i}");
        }
    }
    // An empty batch needs no output buffer.
    // SAFETY: valid pointers; NULL with length 0.
    let st =
        unsafe { hashembed_embed_utf8_batch(e, null(), 0, offsets.as_ptr(), 0, null_mut(), 0, 0) };
    assert_eq!(st, Status::Ok);
    // SAFETY: live, freed once.
    unsafe { hashembed_free(e) };
}

#[test]
fn invalid_configs_are_errors_with_messages() {
    let parts = [2u64, 3, 7];
    let nine = [1u64; 9];
    let seeds = [1u64, 2, 0];
    let cases: Vec<(hashembed_config, Status, &str)> = vec![
        (
            config(|c| c.dim = 0),
            Status::InvalidConfig,
            "dim=0 is out of range",
        ),
        (
            config(|c| c.buckets = 2),
            Status::InvalidConfig,
            "buckets=2",
        ),
        (
            config(|c| c.max_ngram = 9),
            Status::InvalidConfig,
            "max_ngram=9",
        ),
        (config(|c| c.base = 0), Status::InvalidConfig, "base=0"),
        (
            config(|c| c.hash_modulus = 1 << 31),
            Status::InvalidConfig,
            "hash_modulus",
        ),
        (
            config(|c| c.dim = 5),
            Status::InvalidConfig,
            "no output position",
        ),
        (
            config(|c| c.layout = 7),
            Status::InvalidConfig,
            "layout=7 is not a layout",
        ),
        (
            config(|c| c.layout = LayoutKind::Explicit as i32),
            Status::InvalidConfig,
            "layout_parts_len is 0",
        ),
        (
            config(|c| {
                c.layout_parts = parts.as_ptr();
                c.layout_parts_len = 3;
            }),
            Status::InvalidConfig,
            "not HASHEMBED_LAYOUT_EXPLICIT",
        ),
        (
            config(|c| {
                c.layout = LayoutKind::Explicit as i32;
                c.layout_parts_len = 3;
            }),
            Status::NullPointer,
            "layout_parts is NULL",
        ),
        (
            config(|c| {
                c.layout = LayoutKind::Explicit as i32;
                c.layout_parts = parts.as_ptr();
                c.layout_parts_len = 3;
            }),
            Status::InvalidConfig,
            "sum to 12",
        ),
        (
            config(|c| {
                c.dim = 3;
                c.max_ngram = 1;
                c.hash_seeds = seeds.as_ptr();
                c.hash_seeds_len = 3;
            }),
            Status::InvalidConfig,
            "hash_seeds[2]=0",
        ),
        (
            config(|c| {
                c.hash_seeds = seeds.as_ptr();
                c.hash_seeds_len = 0;
            }),
            Status::InvalidConfig,
            "hash_seeds has 0 values",
        ),
        (
            config(|c| {
                c.layout = LayoutKind::Explicit as i32;
                c.layout_parts = nine.as_ptr();
                c.layout_parts_len = 9;
            }),
            Status::InvalidConfig,
            "layout_parts_len=9 is out of range",
        ),
        (
            config(|c| c.hash_seeds_len = 768),
            Status::NullPointer,
            "hash_seeds is NULL",
        ),
    ];
    for (cfg, status, text) in cases {
        let (s, msg) = new(&cfg).unwrap_err();
        assert_eq!(s, status, "{msg}");
        assert!(msg.starts_with("hashembed_new: "), "{msg}");
        assert!(msg.contains(text), "{msg:?} lacks {text:?}");
    }
    let good = config(|c| {
        c.dim = 12;
        c.layout = LayoutKind::Explicit as i32;
        c.layout_parts = parts.as_ptr();
        c.layout_parts_len = 3;
    });
    // SAFETY: live, freed once.
    unsafe { hashembed_free(new(&good).unwrap()) };
    let mut e = null_mut();
    // SAFETY: NULL pointers are allowed.
    unsafe {
        assert_eq!(hashembed_new(null(), &mut e), Status::NullPointer);
        assert_eq!(hashembed_new(&good, null_mut()), Status::NullPointer);
    }
    assert_eq!(last_error(), "hashembed_new: out is NULL");
}

#[test]
fn bad_arguments_are_errors_and_write_nothing() {
    let e = new(&config(|c| c.dim = 12)).unwrap();
    let mut out = [9f32; 12];
    let mut short = [9f32; 11];
    let bad_cp = [97u32, 0x11_0000];
    // SAFETY: every pointer is valid for its length or NULL.
    unsafe {
        let s = |st: Status, want: Status, text: &str| {
            assert_eq!(st, want, "{}", last_error());
            assert!(
                last_error().contains(text),
                "{} lacks {text:?}",
                last_error()
            );
        };
        let p = out.as_mut_ptr();
        s(
            hashembed_embed_utf8(null(), c"a".as_ptr(), 1, p, 12),
            Status::NullPointer,
            "embedder is NULL",
        );
        s(
            hashembed_embed_utf8(e, null(), 1, p, 12),
            Status::NullPointer,
            "text is NULL",
        );
        s(
            hashembed_embed_utf8(e, c"a".as_ptr(), 1, null_mut(), 12),
            Status::NullPointer,
            "out is NULL",
        );
        s(
            utf8(e, "a", &mut short),
            Status::BufferSize,
            "out holds 11 values: expected at least 12",
        );
        s(
            hashembed_embed_utf8(e, c"a\xff".as_ptr(), 2, p, 12),
            Status::InvalidUtf8,
            "at byte 1",
        );
        s(
            hashembed_embed_utf8(e, c"\xed\xa0\x80".as_ptr(), 3, p, 12),
            Status::InvalidUtf8,
            "at byte 0",
        );
        s(
            hashembed_embed_utf32(e, bad_cp.as_ptr(), 2, p, 12),
            Status::InvalidCodePoint,
            "text[1]=0x110000",
        );
        let mut big = [9f32; 13];
        let misaligned = big.as_mut_ptr().cast::<u8>().add(1).cast::<f32>();
        s(
            hashembed_embed_utf8(e, c"a".as_ptr(), 1, misaligned, 12),
            Status::InvalidArgument,
            "aligned",
        );
        assert!(
            out.iter().chain(&short).chain(&big).all(|&x| x == 9.0),
            "a failed call wrote output"
        );
        // NULL text of length 0 is the empty string.
        s(hashembed_embed_utf8(e, null(), 0, p, 12), Status::Ok, "");
        assert!(out.iter().all(|&x| x == 0.0));

        let bytes = b"abcdef";
        let b = bytes.as_ptr().cast::<c_char>();
        let mut rows = [9f32; 24];
        let r = rows.as_mut_ptr();
        let ok = [0u64, 3, 6];
        s(
            hashembed_embed_utf8_batch(e, b, 6, null(), 2, r, 24, 0),
            Status::NullPointer,
            "offsets is NULL",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, [0u64, 4, 3].as_ptr(), 2, r, 24, 0),
            Status::InvalidOffsets,
            "offsets[",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, [0u64, 3, 7].as_ptr(), 2, r, 24, 0),
            Status::InvalidOffsets,
            "offsets[",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, [7u64].as_ptr(), 0, r, 24, 0),
            Status::InvalidOffsets,
            "offsets[0]",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, ok.as_ptr(), 2, r, 23, 0),
            Status::BufferSize,
            "expected at least 24",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, ok.as_ptr(), 2, r, 24, 1025),
            Status::InvalidArgument,
            "threads=1025",
        );
        s(
            hashembed_embed_utf8_batch(
                e,
                c"abc\xff".as_ptr(),
                4,
                [0u64, 2, 4].as_ptr(),
                2,
                r,
                24,
                0,
            ),
            Status::InvalidUtf8,
            "text 1",
        );
        s(
            hashembed_embed_utf8_batch(e, b, 6, ok.as_ptr(), usize::MAX, r, 24, 0),
            Status::TooLarge,
            "too large",
        );
        s(
            hashembed_embed_utf32_batch(e, bad_cp.as_ptr(), 2, [0u64, 1, 2].as_ptr(), 2, r, 24, 0),
            Status::InvalidCodePoint,
            "chars[1]",
        );
        s(
            hashembed_embed_utf32_batch(e, bad_cp.as_ptr(), 2, [0u64, 3].as_ptr(), 1, r, 24, 0),
            Status::InvalidOffsets,
            "offsets[",
        );
        assert!(
            rows.iter().all(|&x| x == 9.0),
            "a failed batch wrote output"
        );
        // Values past offsets[n] are not read, so they need not be code points.
        s(
            hashembed_embed_utf32_batch(e, bad_cp.as_ptr(), 2, [0u64, 1].as_ptr(), 1, r, 24, 0),
            Status::Ok,
            "",
        );

        let mut len = 0;
        s(
            hashembed_output_len(e, usize::MAX, &mut len),
            Status::TooLarge,
            "overflow",
        );
        s(
            hashembed_output_len(e, 2, null_mut()),
            Status::NullPointer,
            "len is NULL",
        );
        s(
            hashembed_output_len(null(), 2, &mut len),
            Status::NullPointer,
            "embedder is NULL",
        );
        hashembed_free(e);
    }
}

#[test]
fn panics_become_a_status() {
    let st = guard("hashembed_test", || panic!("boom {}", 1));
    assert_eq!(st, Status::Panic);
    assert_eq!(
        last_error(),
        "hashembed_test: internal error (panic): boom 1"
    );
    let st = guard("hashembed_test", || std::panic::panic_any(5u8));
    assert_eq!(st, Status::Panic);
    assert!(last_error().ends_with("no message"));
}

#[test]
fn last_error_is_per_thread_and_kept_across_successes() {
    let (s, _) = new(&config(|c| c.dim = 0)).unwrap_err();
    assert_eq!(s, Status::InvalidConfig);
    let e = new(&config(|_| {})).unwrap();
    assert!(
        last_error().contains("dim=0"),
        "a success changed the message"
    );
    let other = std::thread::spawn(|| {
        let before = last_error();
        let (_, msg) = new(&config(|c| c.buckets = 2)).unwrap_err();
        (before, msg)
    })
    .join()
    .unwrap();
    assert_eq!(other.0, "");
    assert!(other.1.contains("buckets=2"));
    assert!(
        last_error().contains("dim=0"),
        "another thread's failure changed this thread's message"
    );
    // SAFETY: live, freed once.
    unsafe { hashembed_free(e) };
}

#[test]
fn status_strings_and_version() {
    let text = |s: i32| {
        // SAFETY: static NUL-terminated strings.
        unsafe { CStr::from_ptr(hashembed_status_str(s)) }
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(text(0), "ok");
    assert_eq!(text(Status::Panic as i32), "internal error (panic)");
    assert_eq!(text(-1), "unknown status code");
    let all: Vec<String> = (0..=Status::Panic as i32).map(text).collect();
    assert!(all.iter().all(|s| s != "unknown status code"));
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(hashembed_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// Compiles `_Static_assert`s of the header's `hashembed_config` layout against Rust's, when a
/// C compiler (`$CC` or `cc`) is available; prints a note and passes when none is.
#[test]
fn config_layout_matches_a_c_compiler() {
    use core::mem::{align_of, offset_of, size_of};
    // Naming every field makes this fail to compile when a field is added and not listed.
    let hashembed_config {
        dim: _,
        max_ngram: _,
        layout: _,
        layout_parts: _,
        layout_parts_len: _,
        seed: _,
        base: _,
        hash_modulus: _,
        buckets: _,
        hash_seeds: _,
        hash_seeds_len: _,
        boundary_markers: _,
    } = config(|_| {});
    let offsets = [
        ("dim", offset_of!(hashembed_config, dim)),
        ("max_ngram", offset_of!(hashembed_config, max_ngram)),
        ("layout", offset_of!(hashembed_config, layout)),
        ("layout_parts", offset_of!(hashembed_config, layout_parts)),
        (
            "layout_parts_len",
            offset_of!(hashembed_config, layout_parts_len),
        ),
        ("seed", offset_of!(hashembed_config, seed)),
        ("base", offset_of!(hashembed_config, base)),
        ("hash_modulus", offset_of!(hashembed_config, hash_modulus)),
        ("buckets", offset_of!(hashembed_config, buckets)),
        ("hash_seeds", offset_of!(hashembed_config, hash_seeds)),
        (
            "hash_seeds_len",
            offset_of!(hashembed_config, hash_seeds_len),
        ),
        (
            "boundary_markers",
            offset_of!(hashembed_config, boundary_markers),
        ),
    ];
    let mut c = String::from("#include <stddef.h>\n#include \"hashembed.h\"\n");
    let mut check = |cond: String| {
        c.push_str(&format!(
            "_Static_assert({cond}, \"{}\");\n",
            cond.replace('"', "'")
        ));
    };
    check(format!(
        "sizeof(hashembed_config) == {}",
        size_of::<hashembed_config>()
    ));
    check(format!(
        "_Alignof(hashembed_config) == {}",
        align_of::<hashembed_config>()
    ));
    check(format!(
        "sizeof(hashembed_status) == {}",
        size_of::<Status>()
    ));
    for (field, off) in offsets {
        check(format!("offsetof(hashembed_config, {field}) == {off}"));
    }
    c.push_str("int main(void) { return 0; }\n");
    let dir = std::env::temp_dir().join(format!("hashembed-capi-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("layout.c");
    std::fs::write(&file, &c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let run = std::process::Command::new(&cc)
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
            include,
        ])
        .arg(&file)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match run {
        Err(e) => eprintln!("skipping the C layout check: cannot run {cc}: {e}"),
        Ok(o) => assert!(
            o.status.success(),
            "the header's hashembed_config layout differs from Rust's:\n{}\n{c}",
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// Set by `a_text_too_large_to_decode_is_too_large` for the copy of this binary it runs.
const ALLOCATION_CHILD: &str = "HASHEMBED_TEST_ALLOCATION_CHILD";

#[test]
fn a_text_too_large_to_decode_is_too_large() {
    // Under a 700 MB address-space limit, a 256 MB text fits but its 1 GB of code points do
    // not. Before the fix the failed allocation aborted the child (SIGABRT).
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 700000 && exec "$0" --exact --ignored --test-threads=1 "$1""#)
        .arg(&exe)
        .arg("capi::tests::allocation_child")
        .env(ALLOCATION_CHILD, "1")
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{log}", out.status);
    assert!(log.contains("1 passed"), "{log}");
}

#[test]
#[ignore = "run by a_text_too_large_to_decode_is_too_large under an address-space limit"]
fn allocation_child() {
    assert_eq!(std::env::var(ALLOCATION_CHILD).as_deref(), Ok("1"));
    let e = new(&config(|_| {})).unwrap();
    let text = "a".repeat(256 << 20);
    let mut out = [0f32; 768];
    assert_eq!(utf8(e, &text, &mut out), Status::TooLarge);
    assert!(last_error().contains("memory"), "{}", last_error());
    // SAFETY: made by `new` above, freed once.
    unsafe { hashembed_free(e) };
}

#[test]
fn an_unknown_hashembed_kernel_is_an_error() {
    // In a copy of this binary: the variable is process-wide, and other tests make embedders.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--ignored",
            "--test-threads=1",
            "capi::tests::kernel_child",
        ])
        .env("HASHEMBED_KERNEL", "avx9000")
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && log.contains("1 passed"), "{log}");
}

#[test]
#[ignore = "run by an_unknown_hashembed_kernel_is_an_error with HASHEMBED_KERNEL set"]
fn kernel_child() {
    assert_eq!(std::env::var("HASHEMBED_KERNEL").as_deref(), Ok("avx9000"));
    let (status, message) = new(&config(|_| {})).unwrap_err();
    assert_eq!(status, Status::InvalidArgument);
    assert!(
        message.contains("HASHEMBED_KERNEL: unknown kernel"),
        "{message}"
    );
}
