//! The shared golden vectors (tests/golden/vectors.json, written by the Python reference)
//! checked against the Rust core with every kernel this CPU supports.

use hashembed::{Config, Embedder, Kernel, Layout};
use serde_json::Value;

fn config(c: &Value) -> (Config, Option<Vec<u64>>) {
    let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("config.{k}"));
    let layout = match &c["layout"] {
        Value::String(s) if s == "proportional" => Layout::Proportional,
        Value::String(s) if s == "equal" => Layout::Equal,
        Value::Array(parts) => {
            let parts: Vec<u64> = parts.iter().map(|p| p.as_u64().unwrap()).collect();
            Layout::explicit(&parts).unwrap()
        }
        other => panic!("unknown layout {other}"),
    };
    let config = Config {
        dim: n("dim"),
        max_ngram: n("max_ngram"),
        layout,
        seed: n("seed"),
        base: n("base"),
        hash_modulus: n("hash_modulus"),
        buckets: n("buckets"),
        boundary_markers: c["boundary_markers"].as_bool().unwrap_or(false),
    };
    let seeds = c["hash_seeds"]
        .as_array()
        .map(|a| a.iter().map(|h| h.as_u64().unwrap()).collect());
    (config, seeds)
}

#[test]
fn golden_vectors_match_every_kernel() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/vectors.json"
    ))
    .expect("golden vectors");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "hashembed-golden-v1");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (config, seeds) = config(&case["config"]);
        let embedder = match seeds {
            Some(s) => Embedder::with_hash_seeds(&config, &s),
            None => Embedder::new(&config),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let input: Vec<u32> = case["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap() as u32)
            .collect();
        let want: Vec<u32> = case["bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u32)
            .collect();
        for kernel in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            let mut out = vec![0f32; embedder.dim()];
            embedder
                .tables()
                .embed_into(kernel, &input, &mut out)
                .unwrap();
            let got: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
            assert_eq!(got, want, "case {name}, kernel {}", kernel.name());
        }
    }
}
