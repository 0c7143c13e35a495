"""One run of the evaluation: the data, every metric on every method, as plain numbers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .collisions import collision_report
from .data import LANG_NAMES, LANGS, load_bert_vocab, load_stdlib_tokens, load_words, stdlib_modules
from .evaluate import Dataset, Evaluator
from .methods import main_methods
from .sweeps import run_sweeps


@dataclass
class Config:
    quick: bool
    langs: tuple[str, ...]
    sweep_langs: tuple[str, ...]
    n_words: int
    n_pairs: int
    dims: tuple[int, ...]
    ngrams: tuple[int, ...]
    seed: int = 20_240_601
    stdlib_limit: int | None = None


def make_config(quick: bool = False, seed: int = 20_240_601) -> Config:
    if quick:
        return Config(True, ("en", "ru"), ("en", "ru"), 1500, 1500, (64, 768), (2, 3), seed, 5000)
    return Config(
        False, LANGS, ("en", "ru", "zh"), 10_000, 20_000, (64, 128, 256, 512, 768, 1024), (2, 3, 4, 5), seed
    )


def run(cfg: Config, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Everything the report shows, as plain numbers and arrays."""
    t_start, c_start = time.perf_counter(), time.process_time()
    evaluate = Evaluator(log)

    words = {lang: load_words(lang, cfg.n_words) for lang in cfg.langs}
    bert = load_bert_vocab()
    stdlib = load_stdlib_tokens(cfg.stdlib_limit)
    identifiers = [tok for tok in stdlib if tok.isidentifier()]
    # Metrics 1 and 3 get as many tokens of each token list as of a language, so that recalls
    # among them are comparable: a seeded sample of the BERT vocabulary, and the standard
    # library's most frequent identifiers.
    bert_sample = [
        bert[i] for i in sorted(np.random.default_rng(cfg.seed).permutation(len(bert))[: cfg.n_words])
    ]
    # The main tables use one draw of typos; the sweeps, from which the presets were chosen,
    # another, so that the preset numbers are not measured on the typos they were picked on.
    data = {lang: Dataset(lang, words[lang], cfg.seed, cfg.n_pairs) for lang in cfg.langs}
    extra = {
        "bert": Dataset("bert", bert_sample, cfg.seed, cfg.n_pairs),
        "stdlib": Dataset("stdlib", identifiers[: cfg.n_words], cfg.seed, cfg.n_pairs),
    }
    sweep_data = {lang: Dataset(lang, words[lang], cfg.seed + 1, cfg.n_pairs) for lang in cfg.sweep_langs}
    log(
        "data: "
        + ", ".join(f"{k} {len(v)}" for k, v in words.items())
        + f", bert {len(bert)}, stdlib {len(stdlib)}"
    )

    methods = main_methods()
    main = evaluate.table(methods, data)
    extra_res = evaluate.table(methods, extra)
    for name, res in main.items():
        log(f"  {name:40s} R@1 " + " ".join(f"{res[lang]['recall@1']:.3f}" for lang in cfg.langs))

    sources = {
        **{LANG_NAMES[lang]: words[lang] for lang in cfg.langs},
        "BERT vocab": bert,
        "stdlib tokens": stdlib,
    }
    collisions = collision_report(sources)
    sweeps, combos = run_sweeps(evaluate, sweep_data, cfg.dims, cfg.ngrams)
    wall, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    log(f"{len(evaluate.cache)} evaluations, {wall:.0f} s wall, {cpu:.0f} s CPU")

    return {
        "cfg": cfg,
        "data": data,
        "sizes": {
            **{lang: len(w) for lang, w in words.items()},
            "bert": len(bert),
            "bert_sample": len(bert_sample),
            "stdlib": len(stdlib),
            "identifiers": len(identifiers),
            "stdlib_files": len(stdlib_modules()),
            "pooled": collisions.pop("pooled"),
        },
        "main": main,
        "extra_res": extra_res,
        **collisions,
        "sweeps": sweeps,
        "combos": combos,
        "evaluations": len(evaluate.cache),
        "timings": {"total": wall, "cpu": cpu},
    }
