"""Smaller students: an encoder of the teacher's family with fewer layers, a narrower width,
a smaller feed-forward size or fewer attention heads, initialised from the teacher. The
families are those of BERT's layout (RoBERTa, XLM-R, ELECTRA and MiniLM share it) and
DistilBERT's (`Layout`).

Layers: student layer i starts from teacher layer `layer_map(...)[i]` (every k-th, the last
always kept) and is trained to reproduce that layer's output. Width: the student works in the
span of the teacher's leading principal directions `P` (hidden x width) of its hidden
states, so every weight that reads the hidden state is multiplied by `P` and every weight
that writes it by `P.T`; an `output_projection` (`P` to start with, then trained) maps the
student's states back to the teacher's width, for the loss and the sentence embedding. Heads
and feed-forward units: the teacher's with the largest weights are kept. A factorised
ELECTRA (embedding_size other than hidden_size) keeps its embeddings whole: its
embeddings_project is what writes the hidden state.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ParameterError, ParameterTypeError, parameter_error

OUTPUT_PROJECTION = "output_projection"
"""The attribute of a narrower student holding its (width -> teacher width) linear map."""

_SIZES = ("num_layers", "hidden_size", "intermediate_size", "num_attention_heads")

# What each dimension of a weight indexes: the hidden state, the attention heads'
# concatenated outputs, the feed-forward units, or a LayerNorm scale over the hidden state;
# any other name ("rows", "embed") is a dimension a student keeps whole. A weight not listed
# keeps the student's random initialisation if its shape differs.
_BERT_LAYER_SPACES = {
    r"attention\.self\.(query|key|value)\.weight": ("heads", "hidden"),
    r"attention\.self\.(query|key|value)\.bias": ("heads",),
    r"attention\.output\.dense\.weight": ("hidden", "heads"),
    r"intermediate\.dense\.weight": ("inter", "hidden"),
    r"intermediate\.dense\.bias": ("inter",),
    r"output\.dense\.weight": ("hidden", "inter"),
    r"(attention\.)?output\.dense\.bias": ("hidden",),
    r"(attention\.)?output\.LayerNorm\.weight": ("scale",),
    r"(attention\.)?output\.LayerNorm\.bias": ("hidden",),
}
_DISTILBERT_LAYER_SPACES = {
    r"attention\.[qkv]_lin\.weight": ("heads", "hidden"),
    r"attention\.[qkv]_lin\.bias": ("heads",),
    r"attention\.out_lin\.weight": ("hidden", "heads"),
    r"ffn\.lin1\.weight": ("inter", "hidden"),
    r"ffn\.lin1\.bias": ("inter",),
    r"ffn\.lin2\.weight": ("hidden", "inter"),
    r"(attention\.out_lin|ffn\.lin2)\.bias": ("hidden",),
    r"(sa|output)_layer_norm\.weight": ("scale",),
    r"(sa|output)_layer_norm\.bias": ("hidden",),
}
# In the hidden state unless the model is factorised (ELECTRA's embedding_size differs from
# its hidden_size): then an embeddings_project writes the hidden state, and the embeddings
# keep their own width.
_EMBEDDING_SPACES = {
    r"embeddings\.(word|position|token_type)_embeddings\.weight": ("rows", "hidden"),
    r"embeddings\.LayerNorm\.weight": ("scale",),
    r"embeddings\.LayerNorm\.bias": ("hidden",),
}
_MODEL_SPACES = {
    r"embeddings_project\.weight": ("hidden", "embed"),
    r"embeddings_project\.bias": ("hidden",),
    r"pooler\.dense\.weight": ("hidden", "hidden"),
    r"pooler\.dense\.bias": ("hidden",),
}
_LAYER_KEY = re.compile(r"^(.*\.layer\.)(\d+)\.(.+)$")


@dataclass(frozen=True)
class Layout:
    """Where a family of encoders keeps its sizes and weights: its configuration's names
    for `shrink`'s four sizes, and its layers' weights by their names within a layer (the
    attention output and the two feed-forward weights choose the heads and units kept)."""

    family: str
    config_keys: dict[str, str]
    layer_spaces: dict[str, tuple[str, ...]]
    attention_output: str
    ffn_input: str
    ffn_output: str

    def sizes(self, config: Any) -> dict[str, int]:
        """The four sizes of a model of this layout, by `shrink`'s parameter names."""
        return {name: int(getattr(config, key)) for name, key in self.config_keys.items()}


_LAYOUTS = (
    Layout(
        "BERT (also RoBERTa, XLM-R, ELECTRA, MiniLM)",
        {name: name for name in _SIZES} | {"num_layers": "num_hidden_layers"},
        _BERT_LAYER_SPACES,
        "attention.output.dense.weight",
        "intermediate.dense.weight",
        "output.dense.weight",
    ),
    Layout(
        "DistilBERT",
        {
            "num_layers": "n_layers",
            "hidden_size": "dim",
            "intermediate_size": "hidden_dim",
            "num_attention_heads": "n_heads",
        },
        _DISTILBERT_LAYER_SPACES,
        "attention.out_lin.weight",
        "ffn.lin1.weight",
        "ffn.lin2.weight",
    ),
)


def layout_of(model: Any) -> Layout | None:
    """The layout of `model`, by its configuration's sizes and its first layer's weights;
    None for an encoder of another family."""
    if not isinstance(model, nn.Module):
        return None
    config = getattr(model, "config", None)
    first = {m.group(3) for m in map(_LAYER_KEY.match, model.state_dict()) if m and m.group(2) == "0"}
    for candidate in _LAYOUTS:
        weights = {candidate.attention_output, candidate.ffn_input, candidate.ffn_output}
        keys = candidate.config_keys.values()
        if weights <= first and all(isinstance(getattr(config, key, None), int) for key in keys):
            return candidate
    return None


@dataclass(frozen=True)
class StudentShape:
    """The sizes of a student (defaults: the teacher's, scaled with the width), and the
    width of its input embeddings: its hidden size, or a factorised teacher's
    embedding_size, which the student keeps."""

    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    embedding_size: int
    layout: Layout

    def config(self, teacher_config: Any) -> Any:
        """The teacher's transformers configuration with these sizes."""
        config = copy.deepcopy(teacher_config)
        for name, key in self.layout.config_keys.items():
            setattr(config, key, getattr(self, name))
        if hasattr(config, "embedding_size"):
            config.embedding_size = self.embedding_size
        return config


def _size(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise parameter_error(
            ParameterTypeError, f"{name} must be an int or None, not {type(value).__name__}", name, value
        )
    value = int(value.__index__())
    if value < 1:
        raise parameter_error(ParameterError, f"{name} must be >= 1, not {value}", name, value)
    return value


def student_shape(teacher: Any, **requested: Any) -> StudentShape | None:
    """The student's sizes from `shrink`'s four arguments (None: derived from the teacher;
    all None: None, the student is the teacher's copy),
    refused with a ParameterError naming the argument where it cannot be built: a teacher
    of a family this module cannot resize, a size larger than the teacher's, heads that do
    not divide the width.

    Defaults for a narrower width keep the teacher's head size (so its heads can be reused)
    and its feed-forward ratio."""
    sizes = {name: _size(name, requested.get(name)) for name in _SIZES}
    given = [name for name, value in sizes.items() if value is not None]
    if not given:
        return None
    found = layout_of(teacher)
    if found is None:
        families = " and ".join(candidate.family for candidate in _LAYOUTS)
        raise parameter_error(
            ParameterError,
            f"{given[0]}: the teacher ({type(teacher).__name__}) is not an encoder whose sizes can be "
            f"changed; those of {families} can be. Leave the four sizes at None for a student of "
            "the teacher's sizes",
            given[0],
            sizes[given[0]],
        )
    t = found.sizes(teacher.config)
    for name, value in sizes.items():
        # more heads than the teacher's is only another head size, not a larger model
        if name != "num_attention_heads" and value is not None and value > t[name]:
            raise parameter_error(
                ParameterError,
                f"{name}={value} is more than the teacher's {t[name]}: a student is at most the "
                "teacher's size",
                name,
                value,
            )
    hidden = sizes["hidden_size"] or t["hidden_size"]
    width, embedding = hidden, getattr(teacher.config, "embedding_size", None)
    if isinstance(embedding, int) and embedding != t["hidden_size"]:  # factorised: kept
        if hidden == embedding:
            raise parameter_error(
                ParameterError,
                f"hidden_size={hidden} is the teacher's embedding_size: {type(teacher).__name__} makes "
                "no embeddings_project at that width, so the student could not start from the "
                "teacher's; pass another hidden_size",
                "hidden_size",
                hidden,
            )
        width = embedding
    heads = sizes["num_attention_heads"]
    if heads is None:
        head_size = t["hidden_size"] // t["num_attention_heads"]
        if hidden % head_size:
            raise parameter_error(
                ParameterError,
                f"hidden_size={hidden} is not a multiple of the teacher's head size {head_size}: "
                "pass num_attention_heads, a divisor of hidden_size",
                "num_attention_heads",
                None,
            )
        heads = hidden // head_size
    if hidden % heads:
        raise parameter_error(
            ParameterError,
            f"num_attention_heads={heads} does not divide hidden_size={hidden}",
            "num_attention_heads",
            heads,
        )
    inter = sizes["intermediate_size"]
    if inter is None:
        inter = max(1, t["intermediate_size"] * hidden // t["hidden_size"])
    return StudentShape(sizes["num_layers"] or t["num_layers"], hidden, inter, heads, width, found)


def layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """The teacher layer (0-based) each student layer starts from and is matched to: evenly
    spaced, ending at the last, so 6 -> 3 keeps layers 1, 3 and 5."""
    return [math.floor((i + 1) * teacher_layers / student_layers + 0.5) - 1 for i in range(student_layers)]


def hidden_state_map(teacher: nn.Module, student: nn.Module) -> list[int] | None:
    """For each of the student's hidden states (the embedding output, then each layer's),
    the teacher's it is matched to; None where both have as many."""
    t = getattr(getattr(teacher, "config", None), "num_hidden_layers", None)
    s = getattr(getattr(student, "config", None), "num_hidden_layers", None)
    if not isinstance(t, int) or not isinstance(s, int) or t == s:
        return None
    return [0, *(i + 1 for i in layer_map(t, s))]


@torch.no_grad()
def hidden_basis(
    teacher: Any, batches: Sequence[tuple[torch.Tensor, torch.Tensor]], width: int
) -> torch.Tensor:
    """(hidden, width) float64: the leading principal directions (about the origin, as the
    residual stream is used) of the teacher's hidden states, every layer's, over the
    unmasked tokens of `batches`."""
    hidden = int(teacher.config.hidden_size)
    moment = torch.zeros(hidden, hidden, dtype=torch.float64)
    for ids, mask in batches:
        out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        keep = mask.bool()
        for states in out.hidden_states:
            x = states[keep].to(torch.float64).cpu()
            moment += x.T @ x
    values, vectors = torch.linalg.eigh(moment)
    order = torch.argsort(values, descending=True)[:width]
    return vectors[:, order]


def _head_rows(w_out: torch.Tensor, heads: int, keep: int) -> torch.Tensor:
    """Indices of the rows of the `keep` heads (of `heads`) that write the most, in order."""
    size = w_out.shape[1] // heads
    norms = w_out.reshape(w_out.shape[0], heads, size).square().sum((0, 2))
    chosen = torch.sort(torch.argsort(norms, descending=True)[:keep]).values
    return (chosen[:, None] * size + torch.arange(size)).reshape(-1)


def _units(w_in: torch.Tensor, w_out: torch.Tensor, keep: int) -> torch.Tensor:
    """Indices of the `keep` feed-forward units with the largest in x out weight norms."""
    score = w_in.norm(dim=1) * w_out.norm(dim=0)
    return torch.sort(torch.argsort(score, descending=True)[:keep]).values


def _reduce(
    tensor: torch.Tensor, spaces: tuple[str, ...], picks: dict[str, torch.Tensor], basis: torch.Tensor | None
) -> torch.Tensor:
    x = tensor.to(torch.float64)
    for dim, space in enumerate(spaces):
        if space in picks:
            x = x.index_select(dim, picks[space])
        elif space == "hidden" and basis is not None:
            x = torch.movedim(torch.tensordot(torch.movedim(x, dim, -1), basis, dims=1), -1, dim)
        elif space == "scale" and basis is not None:
            # a LayerNorm's per-feature scale seen from the new axes: the mean of the old
            # scales weighted by how much of each old feature an axis holds
            x = basis.square().T @ x
    return x


def _spaces(name: str, layout: Layout, factorised: bool) -> tuple[str, ...] | None:
    match = _LAYER_KEY.match(name)
    if match:
        table, key = layout.layer_spaces, match.group(3)
    else:
        table, key = (_MODEL_SPACES if factorised else _EMBEDDING_SPACES | _MODEL_SPACES), name
    return next((spaces for pattern, spaces in table.items() if re.fullmatch(pattern, key)), None)


def build_student(
    teacher: Any, shape: StudentShape, basis: torch.Tensor | None
) -> tuple[nn.Module, list[str]]:
    """A new model of the teacher's class with `shape`, initialised from the teacher (its
    input table too, which `shrink` fits its hash projection to, then replaces); also the
    names of the weights left at their random initialisation (the attention weights where
    the head size changes)."""
    layout = shape.layout
    t = layout.sizes(teacher.config)
    student = type(teacher)(shape.config(teacher.config)).to(next(teacher.parameters()).dtype)
    student.eval()
    # on the CPU, with the student and the basis, wherever the teacher is
    source = {name: value.cpu() for name, value in teacher.state_dict().items()}
    layers = layer_map(t["num_layers"], shape.num_layers)
    head_size = t["hidden_size"] // t["num_attention_heads"]
    same_heads = shape.hidden_size // shape.num_attention_heads == head_size
    factorised = shape.embedding_size != shape.hidden_size
    state, random_init = student.state_dict(), []
    for name, target in list(state.items()):
        match = _LAYER_KEY.match(name)
        picks: dict[str, torch.Tensor] = {}
        teacher_name = name
        if match:
            layer = f"{match.group(1)}{layers[int(match.group(2))]}."
            teacher_name = layer + match.group(3)
            if same_heads:
                w_o = source[layer + layout.attention_output]
                picks["heads"] = _head_rows(w_o, t["num_attention_heads"], shape.num_attention_heads)
            picks["inter"] = _units(
                source[layer + layout.ffn_input], source[layer + layout.ffn_output], shape.intermediate_size
            )
        value, spaces = source.get(teacher_name), _spaces(name, layout, factorised)
        if value is not None and spaces is None and value.shape == target.shape:
            state[name] = value  # not sized by the shape: a buffer, a factorised model's embeddings
            continue
        if value is not None and spaces is not None and ("heads" not in spaces or "heads" in picks):
            reduced = _reduce(value, spaces, picks, basis)
            if reduced.shape == target.shape:
                state[name] = reduced.to(target.dtype)
                continue
        random_init.append(name)
    student.load_state_dict(state, strict=True)
    if basis is not None:
        lift = attach_output_projection(student, t["hidden_size"])
        with torch.no_grad():
            lift.weight.copy_(basis)
            lift.bias.zero_()
    return student, random_init


def output_projection(model: nn.Module) -> nn.Module | None:
    """A narrower student's map from its width to the teacher's, or None."""
    lift = getattr(model, OUTPUT_PROJECTION, None)
    return lift if isinstance(lift, nn.Module) else None


def attach_output_projection(model: Any, out_features: int) -> nn.Linear:
    """Gives `model` an (untrained) output projection to `out_features`, as `load` does
    before reading a narrower student's weights."""
    weight = next(model.parameters())
    lift = nn.Linear(int(model.config.hidden_size), out_features, device=weight.device, dtype=weight.dtype)
    setattr(model, OUTPUT_PROJECTION, lift)
    return lift
