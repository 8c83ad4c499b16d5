"""Conversions between torch dtypes and the strings used in options and metatomic."""

from __future__ import annotations

import torch

_TO_STR = {torch.float64: "float64", torch.float32: "float32", torch.float16: "float16"}
_FROM_STR = {
    **{v: k for k, v in _TO_STR.items()},
    "float": torch.float32,
    "double": torch.float64,
    "half": torch.float16,
    "64": torch.float64,
    "32": torch.float32,
    "16": torch.float16,
}


def dtype_to_str(dtype: torch.dtype) -> str:
    """``torch.float64`` → ``"float64"`` (the spelling metatomic capabilities use)."""
    try:
        return _TO_STR[dtype]
    except KeyError:
        raise ValueError(
            f"unsupported dtype {dtype}; expected one of {sorted(_TO_STR.values())}"
        ) from None


def str_to_dtype(name: str | int) -> torch.dtype:
    """``"float64"``, ``"double"`` or ``64`` → ``torch.float64``."""
    key = str(name).lower().removeprefix("torch.")
    try:
        return _FROM_STR[key]
    except KeyError:
        raise ValueError(
            f"unknown precision {name!r}; expected one of float64, float32, float16"
        ) from None


def dtype_to_bits(dtype: torch.dtype) -> int:
    """``torch.float32`` → ``32`` (the spelling of ``base_precision``)."""
    return int(dtype_to_str(dtype).removeprefix("float"))
