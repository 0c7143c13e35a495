"""The embedding-quality report (docs/quality.md): how well hashembed groups and separates real
strings, measured against alternatives.

Metrics (each a plain function of an embedding method and some strings, so tests can call them
on tiny inputs):

1. `metrics.typo_robustness`     cos(word, typo of it) against cos(word, unrelated word) as an
                                 AUC, and recall@k of the word among the whole list by nearest
                                 neighbour.
2. `collisions.collision_stats`  the share of distinct n-grams whose rolling hash another n-gram
                                 shares.
3. `metrics.separation`          cosine between unrelated tokens and between tokens sharing an
                                 affix.
4. `sweeps`                      1-3 over dim, layout and max_ngram, one axis at a time around
                                 the default.
"""
