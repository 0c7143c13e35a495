/*
 * The C API against the golden vectors, bit for bit, plus every error code.
 *
 * Usage: test_golden path/to/vectors.json
 *
 * Every case of tests/golden/vectors.json (format in docs/spec.md, "Golden vectors") is
 * embedded through the UTF-32 entry points, and through the UTF-8 ones when its input has no
 * lone surrogates; singly and in batches, as float32 and float64 (rounded to float32 here),
 * on one thread and from several threads sharing the embedders. Prints one line per failed
 * check and a closing "N passed, M failed" line; exits non-zero on any failure.
 */
#include "hashembed.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks -------------------------------------------------------------------------- */

static unsigned long passed, failed;

static void check_at(int ok, int line, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    if (failed <= 50) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "FAIL (line %d): ", line);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}
#define CHECK(ok, ...) check_at((ok) != 0, __LINE__, __VA_ARGS__)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- a small JSON reader: null, true, false, non-negative integers, strings, arrays,
 *      objects. Integers must fit in uint64_t; fractions, exponents and negative numbers are
 *      refused, since the golden file has none. ------------------------------------------ */

enum jtype { J_NULL, J_BOOL, J_INT, J_STR, J_ARR, J_OBJ };

typedef struct jval {
    enum jtype type;
    uint64_t num;        /* J_INT value, J_BOOL 0 or 1 */
    char *str;           /* J_STR: NUL-terminated (embedded NULs are refused) */
    size_t len;          /* J_ARR, J_OBJ: number of items */
    struct jval *items;  /* J_ARR, J_OBJ: the values */
    char **keys;         /* J_OBJ: the keys */
} jval;

typedef struct {
    const char *p, *end, *start;
    const char *error;
} jparser;

static int jfail(jparser *ps, const char *msg) {
    if (!ps->error) ps->error = msg;
    return 0;
}

static void jskip(jparser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int jhex4(jparser *ps, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (ps->p >= ps->end) return jfail(ps, "truncated \\u escape");
        char c = *ps->p++;
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return jfail(ps, "bad hex digit in \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* Appends code point cp to buf as UTF-8; returns the number of bytes written (1 to 4). */
static size_t utf8_put(char *buf, uint32_t cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int jstring(jparser *ps, char **out) {
    /* The decoded string is never longer than its source, escapes included. */
    const char *q = ++ps->p; /* past the opening quote */
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) return jfail(ps, "unterminated string");
    char *buf = xmalloc((size_t)(q - ps->p) + 1);
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) {
            free(buf);
            return jfail(ps, "control character in string");
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        char e = *ps->p++;
        unsigned cp, lo;
        switch (e) {
        case '"': case '\\': case '/': buf[n++] = e; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u':
            if (!jhex4(ps, &cp)) break;
            if (cp >= 0xD800 && cp < 0xDC00) { /* a high surrogate must start a pair */
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    jfail(ps, "lone surrogate escape in string");
                    break;
                }
                ps->p += 2;
                if (!jhex4(ps, &lo)) break;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    jfail(ps, "bad surrogate pair escape in string");
                    break;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                jfail(ps, "lone surrogate escape in string");
                break;
            } else if (cp == 0) {
                jfail(ps, "\\u0000 in string");
                break;
            }
            n += utf8_put(buf + n, cp);
            break;
        default: jfail(ps, "bad escape in string");
        }
        if (ps->error) {
            free(buf);
            return 0;
        }
    }
    ps->p++; /* the closing quote */
    buf[n] = '\0';
    *out = buf;
    return 1;
}

static int jvalue(jparser *ps, jval *v, int depth);

/* Items of an array (keys == NULL) or object, up to the closing bracket `close`. */
static int jitems(jparser *ps, jval *v, char close, int depth) {
    size_t cap = 0;
    ps->p++; /* the opening bracket */
    jskip(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 1;
    }
    for (;;) {
        if (v->len == cap) {
            cap = cap ? 2 * cap : 8;
            v->items = xrealloc(v->items, cap * sizeof *v->items);
            if (v->type == J_OBJ) v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
        }
        jskip(ps);
        if (v->type == J_OBJ) {
            if (ps->p >= ps->end || *ps->p != '"') return jfail(ps, "expected a key");
            if (!jstring(ps, &v->keys[v->len])) return 0;
            jskip(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(v->keys[v->len]);
                return jfail(ps, "expected ':'");
            }
            ps->p++;
        }
        memset(&v->items[v->len], 0, sizeof v->items[0]);
        v->len++; /* counted now, so a failure below still frees what was read */
        if (!jvalue(ps, &v->items[v->len - 1], depth + 1)) return 0;
        jskip(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 1;
        }
        return jfail(ps, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static int jword(jparser *ps, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return 0;
    ps->p += n;
    return 1;
}

static int jvalue(jparser *ps, jval *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > 64) return jfail(ps, "nested too deeply");
    jskip(ps);
    if (ps->p >= ps->end) return jfail(ps, "unexpected end of input");
    char c = *ps->p;
    if (c == '{') {
        v->type = J_OBJ;
        return jitems(ps, v, '}', depth);
    }
    if (c == '[') {
        v->type = J_ARR;
        return jitems(ps, v, ']', depth);
    }
    if (c == '"') {
        v->type = J_STR;
        return jstring(ps, &v->str);
    }
    if (c >= '0' && c <= '9') {
        v->type = J_INT;
        if (c == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
            return jfail(ps, "leading zero in number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            unsigned d = (unsigned)(*ps->p++ - '0');
            if (v->num > (UINT64_MAX - d) / 10) return jfail(ps, "integer above 2^64 - 1");
            v->num = v->num * 10 + d;
        }
        if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
            return jfail(ps, "non-integer number (not used by the golden format)");
        return 1;
    }
    if (c == '-') return jfail(ps, "negative number (not used by the golden format)");
    if (jword(ps, "null")) return 1;
    v->type = J_BOOL;
    if (jword(ps, "true")) {
        v->num = 1;
        return 1;
    }
    if (jword(ps, "false")) return 1;
    return jfail(ps, "unexpected character");
}

static void jfree(jval *v) {
    for (size_t i = 0; i < v->len; i++) {
        jfree(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

/* Parses a whole document; on failure prints where and why and returns 0. */
static int jparse(const char *text, size_t len, jval *out) {
    jparser ps = {text, text + len, text, NULL};
    if (jvalue(&ps, out, 0)) {
        jskip(&ps);
        if (ps.p != ps.end) jfail(&ps, "trailing characters after the document");
    }
    if (ps.error) {
        fprintf(stderr, "JSON error at byte %ld: %s\n", (long)(ps.p - ps.start), ps.error);
        jfree(out);
        return 0;
    }
    return 1;
}

static const jval *jget(const jval *obj, const char *key) {
    if (obj->type != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

/* ---- reading the golden file ------------------------------------------------------------- */

typedef struct {
    const char *name;
    hashembed_config cfg;
    uint64_t parts[8];
    uint64_t *hash_seeds;
    uint32_t *input;
    size_t input_len;
    uint32_t *bits;
    size_t dim;
    int has_surrogate;
    hashembed_embedder *emb;
} golden_case;

static void die(const char *what, const char *name) {
    fprintf(stderr, "vectors.json: %s (case %s)\n", what, name ? name : "?");
    exit(2);
}

static uint64_t need_int(const jval *v, uint64_t max, const char *what, const char *name) {
    if (!v || v->type != J_INT || v->num > max) die(what, name);
    return v->num;
}

/* The integers of array v (each <= max) as a new uint64_t array; *n gets the count. */
static uint64_t *need_ints(const jval *v, uint64_t max, size_t *n, const char *what,
                           const char *name) {
    if (!v || v->type != J_ARR) die(what, name);
    uint64_t *out = xmalloc(v->len * sizeof *out);
    for (size_t i = 0; i < v->len; i++) out[i] = need_int(&v->items[i], max, what, name);
    *n = v->len;
    return out;
}

static void need_keys(const jval *obj, const char *const *keys, size_t n, const char *what,
                      const char *name) {
    if (!obj || obj->type != J_OBJ || obj->len != n) die(what, name);
    for (size_t i = 0; i < n; i++)
        if (!jget(obj, keys[i])) die(what, name);
}

static void read_case(const jval *c, golden_case *g) {
    static const char *const case_keys[] = {"name", "config", "input", "bits"};
    static const char *const config_keys[] = {"dim",     "max_ngram",  "layout",
                                              "seed",    "base",       "hash_modulus",
                                              "buckets", "hash_seeds", "boundary_markers"};
    const jval *name = jget(c, "name");
    if (!name || name->type != J_STR) die("a case without a name", NULL);
    memset(g, 0, sizeof *g);
    g->name = name->str;
    need_keys(c, case_keys, 4, "a case needs exactly name, config, input, bits", g->name);
    const jval *cf = jget(c, "config");
    need_keys(cf, config_keys, 9, "config needs exactly its nine keys", g->name);
    if (hashembed_config_default(&g->cfg) != HASHEMBED_OK) die("config_default failed", g->name);
    g->cfg.dim = need_int(jget(cf, "dim"), UINT64_MAX, "bad dim", g->name);
    g->cfg.max_ngram = need_int(jget(cf, "max_ngram"), UINT64_MAX, "bad max_ngram", g->name);
    g->cfg.seed = need_int(jget(cf, "seed"), UINT64_MAX, "bad seed", g->name);
    g->cfg.base = need_int(jget(cf, "base"), UINT64_MAX, "bad base", g->name);
    g->cfg.hash_modulus = need_int(jget(cf, "hash_modulus"), UINT64_MAX, "bad hash_modulus", g->name);
    g->cfg.buckets = need_int(jget(cf, "buckets"), UINT64_MAX, "bad buckets", g->name);
    const jval *markers = jget(cf, "boundary_markers");
    if (markers->type != J_BOOL) die("boundary_markers is not true or false", g->name);
    g->cfg.boundary_markers = (int32_t)markers->num;
    const jval *layout = jget(cf, "layout");
    if (layout->type == J_STR && strcmp(layout->str, "proportional") == 0) {
        g->cfg.layout = HASHEMBED_LAYOUT_PROPORTIONAL;
    } else if (layout->type == J_STR && strcmp(layout->str, "equal") == 0) {
        g->cfg.layout = HASHEMBED_LAYOUT_EQUAL;
    } else if (layout->type == J_ARR && layout->len <= 8) {
        size_t n;
        uint64_t *parts = need_ints(layout, UINT64_MAX, &n, "bad layout part", g->name);
        memcpy(g->parts, parts, n * sizeof *parts);
        free(parts);
        g->cfg.layout = HASHEMBED_LAYOUT_EXPLICIT;
        g->cfg.layout_parts = g->parts;
        g->cfg.layout_parts_len = n;
    } else {
        die("layout is not \"proportional\", \"equal\" or up to 8 integers", g->name);
    }
    const jval *hs = jget(cf, "hash_seeds");
    if (hs->type != J_NULL) {
        g->hash_seeds = need_ints(hs, UINT64_MAX, &g->cfg.hash_seeds_len, "bad hash_seeds", g->name);
        g->cfg.hash_seeds = g->hash_seeds;
    }
    size_t n;
    uint64_t *input = need_ints(jget(c, "input"), 0x10FFFF, &n, "bad input code point", g->name);
    g->input = xmalloc(n * sizeof *g->input);
    for (size_t i = 0; i < n; i++) {
        g->input[i] = (uint32_t)input[i];
        if (input[i] >= 0xD800 && input[i] <= 0xDFFF) g->has_surrogate = 1;
    }
    g->input_len = n;
    free(input);
    uint64_t *bits = need_ints(jget(c, "bits"), UINT32_MAX, &g->dim, "bad bits", g->name);
    if (g->dim != g->cfg.dim) die("bits has not dim values", g->name);
    g->bits = xmalloc(g->dim * sizeof *g->bits);
    for (size_t i = 0; i < g->dim; i++) g->bits[i] = (uint32_t)bits[i];
    free(bits);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = xrealloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- comparing outputs ------------------------------------------------------------------ */

static uint32_t f32_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* Index of the first of dim values whose bits differ from want, or -1. */
static long diff_f32(const float *got, const uint32_t *want, size_t dim) {
    for (size_t k = 0; k < dim; k++)
        if (f32_bits(got[k]) != want[k]) return (long)k;
    return -1;
}

static long diff_f64(const double *got, const uint32_t *want, size_t dim) {
    for (size_t k = 0; k < dim; k++)
        if (f32_bits((float)got[k]) != want[k]) return (long)k;
    return -1;
}

static long nonzero_f32(const float *got, size_t dim) {
    for (size_t k = 0; k < dim; k++)
        if (f32_bits(got[k]) != 0) return (long)k;
    return -1;
}

/* The UTF-8 encoding of a case's input (which has no surrogates); *len gets its length. */
static char *to_utf8(const golden_case *g, size_t *len) {
    char *s = xmalloc(4 * g->input_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < g->input_len; i++) n += utf8_put(s + n, g->input[i]);
    *len = n;
    return s;
}

static void check_case(const golden_case *g) {
    const char *nm = g->name;
    size_t dim = g->dim, need = 0;
    hashembed_embedder *e = g->emb;
    CHECK(hashembed_dim(e) == dim, "%s: hashembed_dim", nm);
    CHECK(hashembed_output_len(e, 3, &need) == HASHEMBED_OK && need == 3 * dim,
          "%s: hashembed_output_len", nm);

    /* One text, with one spare value that must stay untouched. */
    float *f = xmalloc((dim + 1) * sizeof *f);
    double *d = xmalloc(dim * sizeof *d);
    f[dim] = 12345.0f;
    hashembed_status st = hashembed_embed_utf32(e, g->input, g->input_len, f, dim + 1);
    long k = diff_f32(f, g->bits, dim);
    CHECK(st == HASHEMBED_OK && k < 0, "%s: utf32 status %d, first wrong position %ld", nm, (int)st, k);
    CHECK(f[dim] == 12345.0f, "%s: utf32 wrote past dim", nm);
    st = hashembed_embed_utf32_f64(e, g->input, g->input_len, d, dim);
    k = diff_f64(d, g->bits, dim);
    CHECK(st == HASHEMBED_OK && k < 0, "%s: utf32 f64 status %d, first wrong position %ld", nm, (int)st, k);

    /* A batch of the text, the empty text (all zeros unless markers wrap it) and the text
     * again, on all cores and on 2. */
    uint32_t *chars = xmalloc(2 * g->input_len * sizeof *chars + 1);
    memcpy(chars, g->input, g->input_len * sizeof *chars);
    memcpy(chars + g->input_len, g->input, g->input_len * sizeof *chars);
    uint64_t offs[4] = {0, g->input_len, g->input_len, 2 * (uint64_t)g->input_len};
    float *rows = xmalloc(3 * dim * sizeof *rows);
    double *rows64 = xmalloc(3 * dim * sizeof *rows64);
    for (size_t threads = 0; threads <= 2; threads += 2) {
        memset(rows, 0xFF, 3 * dim * sizeof *rows);
        st = hashembed_embed_utf32_batch(e, chars, 2 * g->input_len, offs, 3, rows, 3 * dim, threads);
        CHECK(st == HASHEMBED_OK && diff_f32(rows, g->bits, dim) < 0 &&
                  (g->cfg.boundary_markers || nonzero_f32(rows + dim, dim) < 0) && diff_f32(rows + 2 * dim, g->bits, dim) < 0,
              "%s: utf32 batch (threads=%zu) status %d", nm, threads, (int)st);
    }
    st = hashembed_embed_utf32_batch_f64(e, chars, 2 * g->input_len, offs, 3, rows64, 3 * dim, 0);
    CHECK(st == HASHEMBED_OK && diff_f64(rows64, g->bits, dim) < 0 &&
              diff_f64(rows64 + 2 * dim, g->bits, dim) < 0,
          "%s: utf32 batch f64 status %d", nm, (int)st);

    if (!g->has_surrogate) {
        size_t len;
        char *s = to_utf8(g, &len);
        f[dim] = 12345.0f;
        st = hashembed_embed_utf8(e, s, len, f, dim + 1);
        k = diff_f32(f, g->bits, dim);
        CHECK(st == HASHEMBED_OK && k < 0, "%s: utf8 status %d, first wrong position %ld", nm, (int)st, k);
        CHECK(f[dim] == 12345.0f, "%s: utf8 wrote past dim", nm);
        st = hashembed_embed_utf8_f64(e, s, len, d, dim);
        k = diff_f64(d, g->bits, dim);
        CHECK(st == HASHEMBED_OK && k < 0, "%s: utf8 f64 status %d, first wrong position %ld", nm, (int)st, k);

        char *bytes = xmalloc(2 * len + 1);
        memcpy(bytes, s, len);
        memcpy(bytes + len, s, len);
        uint64_t boffs[4] = {0, len, len, 2 * (uint64_t)len};
        memset(rows, 0xFF, 3 * dim * sizeof *rows);
        st = hashembed_embed_utf8_batch(e, bytes, 2 * len, boffs, 3, rows, 3 * dim, 0);
        CHECK(st == HASHEMBED_OK && diff_f32(rows, g->bits, dim) < 0 &&
                  (g->cfg.boundary_markers || nonzero_f32(rows + dim, dim) < 0) && diff_f32(rows + 2 * dim, g->bits, dim) < 0,
              "%s: utf8 batch status %d", nm, (int)st);
        st = hashembed_embed_utf8_batch_f64(e, bytes, 2 * len, boffs, 3, rows64, 3 * dim, 1);
        CHECK(st == HASHEMBED_OK && diff_f64(rows64, g->bits, dim) < 0 &&
                  diff_f64(rows64 + 2 * dim, g->bits, dim) < 0,
              "%s: utf8 batch f64 status %d", nm, (int)st);
        free(bytes);
        free(s);
    }
    free(rows64);
    free(rows);
    free(chars);
    free(d);
    free(f);
}

/* ---- several threads sharing the embedders ------------------------------------------------ */

typedef struct {
    const golden_case *cases;
    size_t n;
    int id;
    unsigned long wrong;
    int own_error_kept;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    /* Each thread fails differently and must see only its own message afterwards. */
    char want[32];
    hashembed_config cfg;
    hashembed_embedder *bad = NULL;
    hashembed_config_default(&cfg);
    cfg.dim = 70000 + (uint64_t)job->id;
    snprintf(want, sizeof want, "dim=%llu", (unsigned long long)cfg.dim);
    hashembed_new(&cfg, &bad);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < job->n; i++) {
            const golden_case *g = &job->cases[i];
            float *f = xmalloc(g->dim * sizeof *f);
            if (hashembed_embed_utf32(g->emb, g->input, g->input_len, f, g->dim) != HASHEMBED_OK ||
                diff_f32(f, g->bits, g->dim) >= 0)
                job->wrong++;
            free(f);
        }
    }
    job->own_error_kept = strstr(hashembed_last_error(), want) != NULL;
    return NULL;
}

static void check_threads(const golden_case *cases, size_t n) {
    enum { THREADS = 4 };
    pthread_t tid[THREADS];
    thread_job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (thread_job){cases, n, t, 0, 0};
        CHECK(pthread_create(&tid[t], NULL, thread_main, &jobs[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        CHECK(jobs[t].wrong == 0, "thread %d: %lu wrong embeddings", t, jobs[t].wrong);
        CHECK(jobs[t].own_error_kept, "thread %d: lost its own last error", t);
    }
}

/* ---- error codes ------------------------------------------------------------------------ */

static void expect(hashembed_status got, hashembed_status want, const char *needle, int line) {
    const char *msg = hashembed_last_error();
    check_at(got == want, line, "status %d (%s), expected %d (%s); last error: %s", (int)got,
             hashembed_status_str(got), (int)want, hashembed_status_str(want), msg);
    if (got == want && want != HASHEMBED_OK)
        check_at(strstr(msg, needle) != NULL, line, "last error \"%s\" lacks \"%s\"", msg, needle);
}
#define EXPECT(call, want, needle) expect((call), (want), (needle), __LINE__)

static void check_errors(void) {
    hashembed_config cfg;
    hashembed_embedder *e = (hashembed_embedder *)&cfg; /* must be reset to NULL on failure */
    float out[16], short_out[15];
    double out64[16];
    const uint64_t parts[3] = {2, 3, 7};
    const uint64_t bad_seeds[3] = {1, 2, 3};

    EXPECT(hashembed_config_default(NULL), HASHEMBED_NULL_POINTER, "config is NULL");
    hashembed_config_default(&cfg);
    EXPECT(hashembed_new(NULL, &e), HASHEMBED_NULL_POINTER, "config is NULL");
    CHECK(e == NULL, "hashembed_new left *out set after a failure");
    EXPECT(hashembed_new(&cfg, NULL), HASHEMBED_NULL_POINTER, "out is NULL");

    cfg.dim = 0;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "dim=0 is out of range: expected 1 <= dim <= 65536");
    hashembed_config_default(&cfg);
    cfg.buckets = 2;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "buckets=2 is out of range");
    hashembed_config_default(&cfg);
    cfg.max_ngram = 9;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "max_ngram=9");
    hashembed_config_default(&cfg);
    cfg.layout = 3;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "layout=3 is not a layout");
    hashembed_config_default(&cfg);
    cfg.dim = 16;
    cfg.layout = HASHEMBED_LAYOUT_EXPLICIT;
    cfg.layout_parts = parts;
    cfg.layout_parts_len = 3;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "sum to 12");
    cfg.layout_parts = NULL;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_NULL_POINTER, "layout_parts is NULL");
    hashembed_config_default(&cfg);
    cfg.dim = 3;
    cfg.max_ngram = 1;
    cfg.buckets = 3;
    cfg.hash_seeds = bad_seeds;
    cfg.hash_seeds_len = 3;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "hash_seeds[2]=3 is out of range");
    cfg.hash_seeds_len = 2;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_INVALID_CONFIG, "hash_seeds has 2 values");
    CHECK(e == NULL, "hashembed_new left *out set after a failure");

    hashembed_config_default(&cfg);
    cfg.dim = 16;
    EXPECT(hashembed_new(&cfg, &e), HASHEMBED_OK, "");
    CHECK(strstr(hashembed_last_error(), "hash_seeds has 2 values") != NULL,
          "a successful call changed the last error");

    EXPECT(hashembed_embed_utf8(NULL, "a", 1, out, 16), HASHEMBED_NULL_POINTER, "embedder is NULL");
    EXPECT(hashembed_embed_utf8(e, NULL, 1, out, 16), HASHEMBED_NULL_POINTER, "text is NULL");
    EXPECT(hashembed_embed_utf8(e, "a", 1, NULL, 16), HASHEMBED_NULL_POINTER, "out is NULL");
    EXPECT(hashembed_embed_utf32(e, NULL, 2, out, 16), HASHEMBED_NULL_POINTER, "text is NULL");
    EXPECT(hashembed_embed_utf8(e, NULL, 0, out, 16), HASHEMBED_OK, ""); /* the empty text */
    EXPECT(hashembed_embed_utf8(e, "a", 1, short_out, 15), HASHEMBED_BUFFER_SIZE,
           "out holds 15 values: expected at least 16");
    EXPECT(hashembed_embed_utf8_f64(e, "a", 1, out64, 15), HASHEMBED_BUFFER_SIZE, "expected at least 16");
    EXPECT(hashembed_embed_utf8(e, "ok\xff", 3, out, 16), HASHEMBED_INVALID_UTF8, "at byte 2");
    EXPECT(hashembed_embed_utf8(e, "\xc0\xaf", 2, out, 16), HASHEMBED_INVALID_UTF8, "at byte 0");
    EXPECT(hashembed_embed_utf8(e, "\xed\xa0\x80", 3, out, 16), HASHEMBED_INVALID_UTF8, "not valid UTF-8");
    EXPECT(hashembed_embed_utf8(e, "\xe2\x98", 2, out, 16), HASHEMBED_INVALID_UTF8, "not valid UTF-8");
    const uint32_t bad_cp[2] = {0x61, 0x110000};
    EXPECT(hashembed_embed_utf32(e, bad_cp, 2, out, 16), HASHEMBED_INVALID_CODE_POINT, "text[1]=0x110000");

    const char *bytes = "abcdef";
    const uint64_t ok_offs[3] = {0, 3, 6}, down[3] = {0, 4, 3}, past[3] = {0, 3, 7};
    float rows[32];
    for (int i = 0; i < 32; i++) rows[i] = 9.0f;
    EXPECT(hashembed_embed_utf8_batch(NULL, bytes, 6, ok_offs, 2, rows, 32, 0), HASHEMBED_NULL_POINTER, "embedder is NULL");
    EXPECT(hashembed_embed_utf8_batch(e, NULL, 6, ok_offs, 2, rows, 32, 0), HASHEMBED_NULL_POINTER, "bytes is NULL");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, NULL, 2, rows, 32, 0), HASHEMBED_NULL_POINTER, "offsets is NULL");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, ok_offs, 2, NULL, 32, 0), HASHEMBED_NULL_POINTER, "out is NULL");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, down, 2, rows, 32, 0), HASHEMBED_INVALID_OFFSETS, "offsets[");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, past, 2, rows, 32, 0), HASHEMBED_INVALID_OFFSETS, "offsets[");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, ok_offs, 2, rows, 31, 0), HASHEMBED_BUFFER_SIZE, "expected at least 32");
    EXPECT(hashembed_embed_utf8_batch(e, "abc\xff", 4, (const uint64_t[]){0, 2, 4}, 2, rows, 32, 0),
           HASHEMBED_INVALID_UTF8, "text 1 is not valid UTF-8");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, ok_offs, 2, rows, 32, 5000), HASHEMBED_INVALID_ARGUMENT, "threads=5000");
    EXPECT(hashembed_embed_utf8_batch(e, bytes, 6, ok_offs, SIZE_MAX, rows, 32, 0), HASHEMBED_TOO_LARGE, "too large");
    EXPECT(hashembed_embed_utf32_batch(e, bad_cp, 2, (const uint64_t[]){0, 1, 2}, 2, rows, 32, 0),
           HASHEMBED_INVALID_CODE_POINT, "chars[1]=0x110000");
    EXPECT(hashembed_embed_utf32_batch(e, bad_cp, 2, (const uint64_t[]){0, 3}, 1, rows, 32, 0),
           HASHEMBED_INVALID_OFFSETS, "offsets[");
    int untouched = 1;
    for (int i = 0; i < 32; i++) untouched &= rows[i] == 9.0f;
    CHECK(untouched, "a failed batch wrote to its output");
    EXPECT(hashembed_embed_utf8_batch(e, NULL, 0, ok_offs, 0, NULL, 0, 0), HASHEMBED_OK, ""); /* empty */

    size_t len = 0;
    EXPECT(hashembed_output_len(e, SIZE_MAX, &len), HASHEMBED_TOO_LARGE, "overflow");
    EXPECT(hashembed_output_len(e, 2, NULL), HASHEMBED_NULL_POINTER, "len is NULL");
    EXPECT(hashembed_output_len(NULL, 2, &len), HASHEMBED_NULL_POINTER, "embedder is NULL");
    CHECK(hashembed_dim(NULL) == 0, "hashembed_dim(NULL)");

    for (int s = HASHEMBED_OK; s <= HASHEMBED_PANIC; s++)
        CHECK(strcmp(hashembed_status_str(s), "unknown status code") != 0, "status_str(%d)", s);
    CHECK(strcmp(hashembed_status_str(-1), "unknown status code") == 0, "status_str(-1)");
    CHECK(strlen(hashembed_version()) > 0, "hashembed_version");

    hashembed_free(e);
    hashembed_free(NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/vectors.json\n", argv[0]);
        return 2;
    }
    CHECK(strcmp(hashembed_last_error(), "") == 0, "the last error starts empty");
    size_t len;
    char *text = read_file(argv[1], &len);
    jval doc;
    int parsed = jparse(text, len, &doc);
    free(text);
    if (!parsed) return 2;
    const jval *format = jget(&doc, "format");
    if (!format || format->type != J_STR || strcmp(format->str, "hashembed-golden-v1") != 0)
        die("format is not \"hashembed-golden-v1\"", NULL);
    const jval *cases = jget(&doc, "cases");
    if (!cases || cases->type != J_ARR || cases->len == 0) die("no cases", NULL);

    size_t n = cases->len;
    golden_case *g = xmalloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        read_case(&cases->items[i], &g[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(g[i].name, g[j].name) == 0) die("duplicate case name", g[i].name);
        hashembed_status st = hashembed_new(&g[i].cfg, &g[i].emb);
        CHECK(st == HASHEMBED_OK, "%s: hashembed_new: %s", g[i].name, hashembed_last_error());
    }
    size_t checked = 0, utf8 = 0;
    for (size_t i = 0; i < n; i++) {
        if (!g[i].emb) continue;
        check_case(&g[i]);
        checked++;
        utf8 += !g[i].has_surrogate;
    }
    check_threads(g, n);
    check_errors();

    for (size_t i = 0; i < n; i++) {
        hashembed_free(g[i].emb);
        free(g[i].hash_seeds);
        free(g[i].input);
        free(g[i].bits);
    }
    free(g);
    jfree(&doc);
    printf("test_golden: %zu golden cases (%zu also as UTF-8), hashembed %s\n", checked, utf8,
           hashembed_version());
    printf("%lu passed, %lu failed\n", passed, failed);
    return failed ? 1 : 0;
}
