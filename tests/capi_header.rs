//! Keeps the hand-written `include/hashembed.h` in step with the C API in `src/capi`, by
//! reading both as text (so this runs without the `capi` feature and without a C compiler):
//!
//! - the `hashembed_*` functions declared in the header are exactly the `#[no_mangle]`
//!   functions of `src/capi`, with the same return type, parameter names and parameter types;
//! - `hashembed_config` has the same fields, in the same order, with matching types;
//! - the status and layout constants have the same names and values;
//! - every function appears in `docs/c-api.md`, whose example is `tests/c/example.c` verbatim.
//!
//! The struct's actual offsets are checked against a C compiler by the unit tests in
//! `src/capi/tests.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The Rust sources of the C API: `src/capi.rs` or every `.rs` file under `src/capi/`.
fn rust_sources() -> String {
    let root = root();
    let single = root.join("src/capi.rs");
    let mut text = if single.exists() {
        read(&single)
    } else {
        String::new()
    };
    let dir = root.join("src/capi");
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for f in files {
            text.push_str(&read(&f));
            text.push('\n');
        }
    }
    assert!(!text.is_empty(), "no C API sources found under src/capi");
    text
}

/// `text` without `/* */` and `//` comments (which the header has no string literals to
/// confuse, apart from `extern "C"`).
fn strip_c_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            let end = r.find("*/").expect("unterminated comment in the header");
            rest = &r[end + 2..];
            out.push(' ');
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = &r[r.find('\n').unwrap_or(r.len())..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Rust source with `//` comments (including doc comments) removed.
fn strip_rust_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A C type written canonically: single spaces between words, none before `*`.
fn canonical_c_type(t: &str) -> String {
    let spaced = t.replace('*', " * ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    words.join(" ").replace(" *", "*")
}

/// The C spelling of a Rust type used at the boundary.
fn c_type_of(rust: &str) -> String {
    let rust = rust.trim();
    if let Some(inner) = rust.strip_prefix("*const ") {
        return format!("const {}*", c_type_of(inner));
    }
    if let Some(inner) = rust.strip_prefix("*mut ") {
        return format!("{}*", c_type_of(inner));
    }
    let c = match rust {
        "c_char" | "std::ffi::c_char" | "core::ffi::c_char" => "char",
        "u8" => "uint8_t",
        "u32" => "uint32_t",
        "u64" => "uint64_t",
        "i32" => "int32_t",
        "usize" => "size_t",
        "f32" => "float",
        "f64" => "double",
        "()" => "void",
        "Status" | "hashembed_status" => "hashembed_status",
        "hashembed_config" | "hashembed_embedder" => rust,
        other => panic!("no C spelling known for the Rust type `{other}`: extend c_type_of"),
    };
    canonical_c_type(c)
}

/// The text between the bracket at `open` and its match.
fn bracketed(text: &str, open: usize) -> &str {
    let (o, c) = match text.as_bytes()[open] {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        other => panic!("not a bracket: {}", other as char),
    };
    let mut depth = 0;
    for (i, &b) in text.as_bytes().iter().enumerate().skip(open) {
        if b == o {
            depth += 1;
        } else if b == c {
            depth -= 1;
            if depth == 0 {
                return &text[open + 1..i];
            }
        }
    }
    panic!("unbalanced brackets")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A signature: return type and `(type, name)` parameters, all in C spelling.
#[derive(Debug, PartialEq, Eq)]
struct Signature {
    ret: String,
    params: Vec<(String, String)>,
}

/// Every `hashembed_*` function prototype in the (comment-free) header.
fn header_functions(h: &str) -> BTreeMap<String, Signature> {
    let mut out = BTreeMap::new();
    let bytes = h.as_bytes();
    let mut from = 0;
    while let Some(found) = h[from..].find("hashembed_") {
        let start = from + found;
        let mut end = start;
        while end < bytes.len() && is_ident(bytes[end]) {
            end += 1;
        }
        from = end;
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        let after = h[end..].trim_start();
        if !after.starts_with('(') {
            continue;
        }
        let name = &h[start..end];
        let open = h.len() - after.len();
        let decl_start = h[..start].rfind([';', '{', '}']).map_or(0, |i| i + 1);
        let ret = canonical_c_type(&h[decl_start..start]);
        let args = bracketed(h, open);
        let params = if args.trim() == "void" {
            Vec::new()
        } else {
            args.split(',')
                .map(|p| {
                    let p = p.trim();
                    let cut = p.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                    let cut = cut.unwrap_or_else(|| panic!("parameter without a name: {p}")) + 1;
                    (canonical_c_type(&p[..cut]), p[cut..].to_string())
                })
                .collect()
        };
        let sig = Signature { ret, params };
        assert!(
            out.insert(name.to_string(), sig).is_none(),
            "{name} declared twice in the header"
        );
    }
    out
}

/// Every `#[no_mangle]` function in the (comment-free) Rust sources.
fn rust_functions(src: &str) -> BTreeMap<String, Signature> {
    let mut out = BTreeMap::new();
    let mut from = 0;
    loop {
        let next = ["#[unsafe(no_mangle)]", "#[no_mangle]"]
            .iter()
            .filter_map(|m| src[from..].find(m).map(|i| (from + i, m.len())))
            .min();
        let Some((at, len)) = next else { break };
        from = at + len;
        let fn_at = from + src[from..].find("fn ").expect("no fn after no_mangle");
        let name_start = fn_at + 3;
        let open = name_start + src[name_start..].find('(').unwrap();
        let name = src[name_start..open].trim().to_string();
        let args = bracketed(src, open);
        let close = open + args.len() + 1;
        let body = close + src[close..].find('{').unwrap();
        let ret = src[close + 1..body].trim();
        let ret = ret.strip_prefix("->").map_or("()", str::trim);
        let params = args
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, t) = p.split_once(':').expect("parameter without a type");
                (c_type_of(t), n.trim().to_string())
            })
            .collect();
        let sig = Signature {
            ret: c_type_of(ret),
            params,
        };
        assert!(
            out.insert(name.clone(), sig).is_none(),
            "{name} defined twice"
        );
    }
    out
}

/// The `(type, name)` fields of a struct body: C (`type name;`) or Rust (`pub name: type,`).
fn c_fields(body: &str) -> Vec<(String, String)> {
    body.split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let cut = f
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap()
                + 1;
            (canonical_c_type(&f[..cut]), f[cut..].to_string())
        })
        .collect()
}

fn rust_fields(body: &str) -> Vec<(String, String)> {
    body.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let f = f.strip_prefix("pub ").unwrap_or(f);
            let (n, t) = f.split_once(':').expect("field without a type");
            (c_type_of(t), n.trim().to_string())
        })
        .collect()
}

/// The body of the item that starts with `head` (an opening brace follows it).
fn body_of<'a>(text: &'a str, head: &str) -> &'a str {
    let at = text
        .find(head)
        .unwrap_or_else(|| panic!("`{head}` not found"));
    let open = at + text[at..].find('{').unwrap();
    bracketed(text, open)
}

/// `NAME = value` pairs of an enum body (C or Rust).
fn enum_values(body: &str) -> Vec<(String, i64)> {
    body.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            let v = v.rsplit(']').next().unwrap().trim();
            let (n, x) = v
                .split_once('=')
                .unwrap_or_else(|| panic!("`{v}` has no explicit value"));
            (n.trim().to_string(), x.trim().parse().unwrap())
        })
        .collect()
}

/// `NullPointer` -> `NULL_POINTER`.
fn screaming(camel: &str) -> String {
    let mut s = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

fn header() -> String {
    strip_c_comments(&read(&root().join("include/hashembed.h")))
}

#[test]
fn functions_match() {
    let h = header_functions(&header());
    let r = rust_functions(&strip_rust_comments(&rust_sources()));
    assert!(r.len() >= 10, "found only {} exported functions", r.len());
    let only_h: Vec<_> = h.keys().filter(|k| !r.contains_key(*k)).collect();
    let only_r: Vec<_> = r.keys().filter(|k| !h.contains_key(*k)).collect();
    assert!(
        only_h.is_empty() && only_r.is_empty(),
        "declared in the header only: {only_h:?}; exported by Rust only: {only_r:?}"
    );
    for (name, sig) in &r {
        assert_eq!(&h[name], sig, "signature of {name}: header vs Rust");
    }
}

#[test]
fn config_struct_matches() {
    let src = strip_rust_comments(&rust_sources());
    let at = src.find("pub struct hashembed_config").unwrap();
    let attrs = &src[src[..at].rfind('}').unwrap_or(0)..at];
    assert!(
        attrs.contains("#[repr(C)]"),
        "hashembed_config is not repr(C)"
    );
    let rust = rust_fields(body_of(&src, "pub struct hashembed_config"));
    let c = c_fields(body_of(&header(), "typedef struct hashembed_config"));
    assert_eq!(c, rust, "hashembed_config fields: header vs Rust");
    assert!(header().contains("} hashembed_config;"));
    assert!(header().contains("typedef struct hashembed_embedder hashembed_embedder;"));
}

#[test]
fn constants_match() {
    let src = strip_rust_comments(&rust_sources());
    let h = header();
    for (rust_enum, c_enum, prefix) in [
        (
            "pub enum Status",
            "enum hashembed_status_code",
            "HASHEMBED_",
        ),
        (
            "pub enum LayoutKind",
            "enum hashembed_layout",
            "HASHEMBED_LAYOUT_",
        ),
    ] {
        let rust: Vec<(String, i64)> = enum_values(body_of(&src, rust_enum))
            .into_iter()
            .map(|(n, v)| (format!("{prefix}{}", screaming(&n)), v))
            .collect();
        let c = enum_values(body_of(&h, c_enum));
        assert_eq!(c, rust, "{c_enum}: header vs Rust {rust_enum}");
        let at = src.find(rust_enum).unwrap();
        let attrs = &src[src[..at].rfind('}').unwrap_or(0)..at];
        assert!(
            attrs.contains("#[repr(i32)]"),
            "{rust_enum} is not repr(i32)"
        );
    }
    assert!(h.contains("typedef int32_t hashembed_status;"));
}

#[test]
fn docs_name_every_function_and_hold_the_example() {
    let doc = read(&root().join("docs/c-api.md"));
    for name in header_functions(&header()).keys() {
        assert!(
            doc.contains(name.as_str()),
            "docs/c-api.md never mentions {name}"
        );
    }
    for (name, value) in enum_values(body_of(&header(), "enum hashembed_status_code")) {
        let row = format!("| `{name}` | {value} |");
        assert!(
            doc.contains(&row),
            "docs/c-api.md lacks the status table row {row}"
        );
    }
    let example = read(&root().join("tests/c/example.c"));
    assert_eq!(
        extract_example(&doc),
        example,
        "the example in docs/c-api.md differs from tests/c/example.c"
    );
}

/// The code block that follows the line `<!-- example: tests/c/example.c -->`.
fn extract_example(doc: &str) -> String {
    let marker = "<!-- example: tests/c/example.c -->";
    let at = doc
        .find(marker)
        .expect("example marker missing in docs/c-api.md");
    let rest = &doc[at + marker.len()..];
    let start = rest.find("```c\n").expect("no ```c block after the marker") + 5;
    let len = rest[start..]
        .find("\n```")
        .expect("unterminated code block")
        + 1;
    rest[start..start + len].to_string()
}

#[test]
fn parsers_understand_the_forms_used() {
    assert_eq!(
        canonical_c_type("const  hashembed_config *"),
        "const hashembed_config*"
    );
    assert_eq!(
        c_type_of("*mut *mut hashembed_embedder"),
        "hashembed_embedder**"
    );
    assert_eq!(c_type_of("*const c_char"), "const char*");
    let h =
        header_functions("int32_t hashembed_x(const char *a, size_t n);\nvoid hashembed_y(void);");
    assert_eq!(h["hashembed_x"].params[1], ("size_t".into(), "n".into()));
    assert!(h["hashembed_y"].params.is_empty());
    assert_eq!(screaming("InvalidUtf8"), "INVALID_UTF8");
}
