"""The exceptions that say which parameter or which item of a batch an error is about.

`ParameterError` and `ItemError` are ValueErrors, `ParameterTypeError` and `ItemTypeError`
TypeErrors, so code catching those still works. A parameter error has `.parameter` (its
name), `.value` (what was given) and `.index` (the bad element of a sequence such as
`layout` or `hash_seeds`, else None); an item error has `.index` (its position in the batch:
a row of an Arrow array, `(sequence, token)` for tokens) and `.reason` (the message after
the item's name), and `.byte` for invalid UTF-8.
"""

from __future__ import annotations

from typing import Any

from ._core import ItemError, ItemTypeError, ParameterError, ParameterTypeError

__all__ = ["ItemError", "ItemTypeError", "ParameterError", "ParameterTypeError"]


def parameter_error(
    cls: type[ParameterError] | type[ParameterTypeError],
    message: str,
    parameter: str,
    value: Any,
    index: Any = None,
) -> Any:
    """A `ParameterError` or `ParameterTypeError` about `parameter` (element `index` of it)."""
    error = cls(message)
    error.parameter, error.value, error.index = parameter, value, index
    return error


def item_error(
    cls: type[ItemError] | type[ItemTypeError], name: str, index: Any, reason: str, **extra: Any
) -> Any:
    """An `ItemError` or `ItemTypeError` reading "`name` `reason`" (`name` is how the message
    refers to item `index`), with `extra` attributes such as `byte`."""
    error = cls(f"{name} {reason}")
    error.index = index
    error.reason = reason
    for key, value in extra.items():
        setattr(error, key, value)
    return error


def renamed(error: Any, name: str, index: Any) -> Any:
    """`error`, an item error from a batch, about the same item under the caller's name."""
    extra = {"byte": error.byte} if hasattr(error, "byte") else {}
    return item_error(type(error), name, index, error.reason, **extra)
