#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashembed.h"

int main(void) {
    int ok = 0;
    hashembed_embedder *emb = NULL;
    float *vec = NULL, *rows = NULL;

    /* 1. Configure: start from the defaults, change what you need. */
    hashembed_config cfg;
    hashembed_config_default(&cfg);
    cfg.dim = 256;

    /* 2. Create. On failure the status says what kind of error, the last error says what. */
    hashembed_status st = hashembed_new(&cfg, &emb);
    if (st != HASHEMBED_OK) {
        fprintf(stderr, "hashembed_new: %s\n", hashembed_last_error());
        goto done;
    }
    size_t dim = hashembed_dim(emb); /* 256 */

    /* 3. Embed one UTF-8 string (pointer and length; no NUL terminator needed). */
    const char *text = "hello, world";
    vec = malloc(dim * sizeof *vec);
    if (!vec) goto done;
    st = hashembed_embed_utf8(emb, text, strlen(text), vec, dim);
    if (st != HASHEMBED_OK) {
        fprintf(stderr, "embed: %s\n", hashembed_last_error());
        goto done;
    }
    printf("\"%s\" -> [%.6f, %.6f, ..., %.6f]\n", text, vec[0], vec[1], vec[dim - 1]);

    /* 4. Embed a batch: the texts back to back in one buffer, plus n + 1 offsets. */
    const char *bytes = "thecatthe"; /* "the", "cat", "the" */
    const uint64_t offsets[] = {0, 3, 6, 9};
    size_t n = 3, need = 0;
    hashembed_output_len(emb, n, &need); /* n * dim floats, row-major */
    rows = malloc(need * sizeof *rows);
    if (!rows) goto done;
    st = hashembed_embed_utf8_batch(emb, bytes, strlen(bytes), offsets, n, rows, need,
                                    0 /* threads: 0 = all cores */);
    if (st != HASHEMBED_OK) {
        fprintf(stderr, "batch: %s\n", hashembed_last_error());
        goto done;
    }
    int same = memcmp(rows, rows + 2 * dim, dim * sizeof *rows) == 0;
    printf("rows 0 and 2 (both \"the\") are %s\n", same ? "identical" : "different");

    /* 5. Errors never abort: an invalid configuration is reported and nothing is made. */
    cfg.dim = 0;
    hashembed_embedder *bad = NULL;
    st = hashembed_new(&cfg, &bad);
    printf("dim = 0: status %d (%s): %s\n", (int)st, hashembed_status_str(st),
           hashembed_last_error());
    ok = same && st == HASHEMBED_INVALID_CONFIG && bad == NULL;

done:
    /* 6. Free everything (hashembed_free and free accept NULL). */
    free(rows);
    free(vec);
    hashembed_free(emb);
    return ok ? 0 : 1;
}
