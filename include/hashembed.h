/*
 * hashembed.h: the C API of hashembed, dynamic hash embeddings.
 *
 * hashembed maps any string to a fixed-length vector of floats without a stored table; the
 * function is defined exactly in docs/spec.md, and docs/c-api.md describes this API with a
 * complete example. Link with libhashembed.a (built with `cargo build --release --features
 * capi`) plus the system libraries Rust's standard library needs: -lpthread -ldl -lm on
 * Linux (`cargo rustc --release --features capi --crate-type staticlib -- --print
 * native-static-libs` lists them for any platform), or with the shared libhashembed.so.
 *
 * Conventions:
 *  - Every function that can fail returns a hashembed_status: HASHEMBED_OK (0) on success,
 *    another HASHEMBED_* code on failure. After a failure, hashembed_last_error() returns a
 *    message for the calling thread. No function aborts the process or unwinds into C.
 *  - A pointer paired with a length may be NULL when that length is 0. Other pointers must
 *    not be NULL (NULL gives HASHEMBED_NULL_POINTER, never a crash).
 *  - Output buffers are given as a pointer and a capacity in values (not bytes). A call
 *    writes exactly the values it documents, at the start of the buffer, and writes nothing
 *    when it fails (except after HASHEMBED_PANIC, a bug, when the contents are unspecified).
 *  - An embedder is immutable after hashembed_new and may be used from many threads at once.
 *
 * This header is hand-written; tests/capi_header.rs checks it against the Rust sources.
 */
#ifndef HASHEMBED_H
#define HASHEMBED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes. Functions return them as a hashembed_status (a 32-bit integer). */
enum hashembed_status_code {
    /** Success. */
    HASHEMBED_OK = 0,
    /** A required pointer was NULL (or a pointer was NULL while its length was not 0). */
    HASHEMBED_NULL_POINTER = 1,
    /** Invalid configuration: a parameter out of range, a bad layout or bad hash seeds. */
    HASHEMBED_INVALID_CONFIG = 2,
    /** The output buffer holds fewer values than the call writes. */
    HASHEMBED_BUFFER_SIZE = 3,
    /** A text is not valid UTF-8 (the message names the text and byte). */
    HASHEMBED_INVALID_UTF8 = 4,
    /** Batch offsets decrease or run past the end of the text buffer. */
    HASHEMBED_INVALID_OFFSETS = 5,
    /** A UTF-32 value above 0x10FFFF (surrogates 0xD800 to 0xDFFF are accepted). */
    HASHEMBED_INVALID_CODE_POINT = 6,
    /** Another invalid argument: a misaligned pointer, threads above 1024, or an unknown
     *  HASHEMBED_KERNEL. */
    HASHEMBED_INVALID_ARGUMENT = 7,
    /** A size (such as n * dim) overflows the address space. */
    HASHEMBED_TOO_LARGE = 8,
    /** The worker threads of a batch could not be started. */
    HASHEMBED_THREADS = 9,
    /** An internal error (a bug in hashembed): a Rust panic was caught at the boundary. */
    HASHEMBED_PANIC = 10
};

/** A status code: one of the values of enum hashembed_status_code. */
typedef int32_t hashembed_status;

/** How dim is split between the n-gram sizes 1..max_ngram (docs/spec.md, step 3). */
enum hashembed_layout {
    /** Size i gets a share proportional to i (the default). */
    HASHEMBED_LAYOUT_PROPORTIONAL = 0,
    /** Every size gets the same share. */
    HASHEMBED_LAYOUT_EQUAL = 1,
    /** The part sizes are given in layout_parts: max_ngram values >= 1 that sum to dim. */
    HASHEMBED_LAYOUT_EXPLICIT = 2
};

/**
 * The parameters of an embedder (docs/spec.md, "Parameters"). Fill it with
 * hashembed_config_default(), then change what you need. hashembed_new reads the arrays
 * only during the call; they need not outlive it.
 */
typedef struct hashembed_config {
    /** Output length: 1 <= dim <= 65536. Default 768. */
    uint64_t dim;
    /** Largest n-gram size: 1 <= max_ngram <= 8. Default 3. */
    uint64_t max_ngram;
    /** A value of enum hashembed_layout. Default HASHEMBED_LAYOUT_PROPORTIONAL. */
    int32_t layout;
    /** HASHEMBED_LAYOUT_EXPLICIT only: max_ngram part sizes. Otherwise NULL. */
    const uint64_t *layout_parts;
    /** Number of values at layout_parts; must be 0 unless the layout is explicit. */
    size_t layout_parts_len;
    /** Seed of the position multipliers (any 64-bit value). Default 42. */
    uint64_t seed;
    /** Polynomial hash base: 1 <= base < 2^31. Default 31. */
    uint64_t base;
    /** Polynomial hash modulus: 2 <= hash_modulus < 2^31. Default 1000000007. */
    uint64_t hash_modulus;
    /** Projection modulus B: 3 <= buckets < 2^31. Default 1000000007. */
    uint64_t buckets;
    /** NULL to derive the multipliers from seed; else dim values, each 1 <= h < buckets. */
    const uint64_t *hash_seeds;
    /** Number of values at hash_seeds; must equal dim when hash_seeds is not NULL. */
    size_t hash_seeds_len;
    /** 1 to wrap every text in U+0002 ... U+0003 before hashing, 0 (the default) not to. */
    int32_t boundary_markers;
} hashembed_config;

/** An embedder: opaque, immutable, safe to share between threads. */
typedef struct hashembed_embedder hashembed_embedder;

/**
 * The message of the most recent failed call on the calling thread, or "" if none failed.
 * Successful calls do not change it. The string belongs to the library and stays valid until
 * the next failing call on the same thread or until the thread exits; copy it to keep it.
 */
const char *hashembed_last_error(void);

/** A short static description of a status code ("unknown status code" for other values). */
const char *hashembed_status_str(hashembed_status status);

/** The library version, such as "0.1.0" (a static string). */
const char *hashembed_version(void);

/**
 * Writes the default configuration into *config: dim 768, max_ngram 3, proportional layout,
 * seed 42, base 31, hash_modulus and buckets 1000000007, no explicit layout or hash seeds.
 * Errors: HASHEMBED_NULL_POINTER.
 */
hashembed_status hashembed_config_default(hashembed_config *config);

/**
 * Validates *config and makes an embedder, stored in *out; release it with hashembed_free.
 * On failure *out is set to NULL (if out is not NULL).
 * Errors: HASHEMBED_NULL_POINTER, HASHEMBED_INVALID_CONFIG (the message names the parameter,
 * the value and the valid range), HASHEMBED_INVALID_ARGUMENT (the HASHEMBED_KERNEL
 * environment variable is not auto, scalar, avx2 or avx512; a kernel the CPU lacks falls
 * back to the best it has).
 */
hashembed_status hashembed_new(const hashembed_config *config, hashembed_embedder **out);

/** Releases an embedder. NULL is ignored. No other thread may be using it. */
void hashembed_free(hashembed_embedder *e);

/** The output length (dim) of an embedder, or 0 if e is NULL. */
size_t hashembed_dim(const hashembed_embedder *e);

/**
 * Writes into *len the number of values a batch of n texts needs: n * dim.
 * Errors: HASHEMBED_NULL_POINTER, HASHEMBED_TOO_LARGE.
 */
hashembed_status hashembed_output_len(const hashembed_embedder *e, size_t n, size_t *len);

/**
 * Embeds one UTF-8 text of text_len bytes (no terminating NUL needed; a NUL byte is an
 * ordinary character). Writes dim floats to out, which holds out_len >= dim values.
 * Errors: HASHEMBED_NULL_POINTER, HASHEMBED_INVALID_UTF8, HASHEMBED_BUFFER_SIZE.
 */
hashembed_status hashembed_embed_utf8(const hashembed_embedder *e, const char *text,
                                      size_t text_len, float *out, size_t out_len);

/** As hashembed_embed_utf8, writing doubles (the values before rounding to float). */
hashembed_status hashembed_embed_utf8_f64(const hashembed_embedder *e, const char *text,
                                          size_t text_len, double *out, size_t out_len);

/**
 * Embeds one text given as text_len code points (each <= 0x10FFFF; lone surrogates are
 * embedded as themselves). Writes dim floats to out, which holds out_len >= dim values.
 * Errors: HASHEMBED_NULL_POINTER, HASHEMBED_INVALID_CODE_POINT, HASHEMBED_BUFFER_SIZE.
 */
hashembed_status hashembed_embed_utf32(const hashembed_embedder *e, const uint32_t *text,
                                       size_t text_len, float *out, size_t out_len);

/** As hashembed_embed_utf32, writing doubles. */
hashembed_status hashembed_embed_utf32_f64(const hashembed_embedder *e, const uint32_t *text,
                                           size_t text_len, double *out, size_t out_len);

/**
 * Embeds n UTF-8 texts in parallel. Text i is bytes[offsets[i] .. offsets[i + 1]), so
 * offsets holds n + 1 non-decreasing values <= bytes_len (the layout of an Arrow string
 * array). Row i of out (dim floats, row-major) receives text i; out holds out_len >= n * dim
 * values. threads is the number of worker threads: 0 for all cores, at most 1024.
 * Errors: HASHEMBED_NULL_POINTER, HASHEMBED_INVALID_OFFSETS, HASHEMBED_INVALID_UTF8,
 * HASHEMBED_BUFFER_SIZE, HASHEMBED_INVALID_ARGUMENT, HASHEMBED_TOO_LARGE, HASHEMBED_THREADS.
 */
hashembed_status hashembed_embed_utf8_batch(const hashembed_embedder *e, const char *bytes,
                                            size_t bytes_len, const uint64_t *offsets, size_t n,
                                            float *out, size_t out_len, size_t threads);

/** As hashembed_embed_utf8_batch, writing doubles. */
hashembed_status hashembed_embed_utf8_batch_f64(const hashembed_embedder *e, const char *bytes,
                                                size_t bytes_len, const uint64_t *offsets,
                                                size_t n, double *out, size_t out_len,
                                                size_t threads);

/**
 * As hashembed_embed_utf8_batch, for texts given as code points: text i is
 * chars[offsets[i] .. offsets[i + 1]).
 * Errors: as hashembed_embed_utf8_batch, with HASHEMBED_INVALID_CODE_POINT instead of
 * HASHEMBED_INVALID_UTF8.
 */
hashembed_status hashembed_embed_utf32_batch(const hashembed_embedder *e, const uint32_t *chars,
                                             size_t chars_len, const uint64_t *offsets,
                                             size_t n, float *out, size_t out_len,
                                             size_t threads);

/** As hashembed_embed_utf32_batch, writing doubles. */
hashembed_status hashembed_embed_utf32_batch_f64(const hashembed_embedder *e,
                                                 const uint32_t *chars, size_t chars_len,
                                                 const uint64_t *offsets, size_t n, double *out,
                                                 size_t out_len, size_t threads);

#ifdef __cplusplus
}
#endif

#endif /* HASHEMBED_H */
