"""Texts to padded token-id batches, with a transformers tokenizer or a `tokenizers.Tokenizer`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import ParameterError, ParameterTypeError, parameter_error


def is_transformers_tokenizer(tokenizer: Any) -> bool:
    return callable(tokenizer) and hasattr(tokenizer, "save_pretrained")


def is_tokenizers_tokenizer(tokenizer: Any) -> bool:
    return hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "to_str")


def check_tokenizer(tokenizer: Any) -> None:
    if not (is_transformers_tokenizer(tokenizer) or is_tokenizers_tokenizer(tokenizer)):
        raise parameter_error(
            ParameterTypeError,
            "tokenizer must be a transformers tokenizer or a tokenizers.Tokenizer, "
            f"not {type(tokenizer).__name__}",
            "tokenizer",
            tokenizer,
        )


class Encoder:
    """Encodes lists of texts into (input_ids, attention_mask) int64 tensors, truncated to
    `max_length` tokens and padded to the longest text of each batch."""

    def __init__(self, tokenizer: Any, max_length: int):
        check_tokenizer(tokenizer)
        self.max_length = max_length
        if is_transformers_tokenizer(tokenizer):
            self._tokenizer = tokenizer
            self._fast = None
            pad_id = tokenizer.pad_token_id
        else:
            # A copy, so the caller's tokenizer keeps its own padding and truncation settings.
            self._fast = copy.deepcopy(tokenizer)
            self._fast.no_padding()
            self._fast.enable_truncation(max_length)
            pad_id = next(
                (
                    tokenizer.token_to_id(t)
                    for t in ("[PAD]", "<pad>")
                    if tokenizer.token_to_id(t) is not None
                ),
                None,
            )
        # Padded positions are masked out, so any id works where the tokenizer names none.
        self.pad_id = 0 if pad_id is None else int(pad_id)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids of each text, special tokens included, at most `max_length` of them."""
        if self._fast is None:
            return self._tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        return [e.ids for e in self._fast.encode_batch(list(texts))]

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask) of `rows`, padded to the longest."""
        seq = max((len(r) for r in rows), default=0)
        ids = torch.full((len(rows), seq), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), seq), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        return ids, mask

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pad(self.token_ids(texts))


def text_list(texts: Any, name: str, minimum: int) -> list[str]:
    """`texts` as a list of str (valid Unicode) with at least `minimum` non-empty items; the
    error names `name`, and the index of a bad item."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        message = f"{name} must be a list of str, not {type(texts).__name__}"
        raise parameter_error(ParameterTypeError, message, name, texts)
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            message = f"{name}[{i}] must be a str, not {type(t).__name__}"
            raise parameter_error(ParameterTypeError, message, name, t, index=i)
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as e:  # a lone surrogate, which the tokenizers refuse with a bare TypeError
            message = (
                f"{name}[{i}] is not valid Unicode: it holds the lone surrogate "
                f"{t[e.start]!r} at character {e.start}"
            )
            raise parameter_error(ParameterError, message, name, t, index=i) from None
    kept = [t for t in out if t.strip()]
    if len(kept) < minimum:
        message = f"{name} must hold at least {minimum} non-blank text(s), it holds {len(kept)}"
        raise parameter_error(ParameterError, message, name, texts)
    return kept
