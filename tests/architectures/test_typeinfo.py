"""Types, defaults and nesting read from TypedDict hypers classes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Dict, List, Literal, Optional, Union

from typing_extensions import Annotated, NotRequired, TypedDict

from atomtrain.architectures.typeinfo import (
    NO_DEFAULT,
    field_default,
    fill_defaults,
    format_type,
    is_required,
    lineage,
    typed_defaults,
)


class Inner(TypedDict):
    size: int = 3  # type: ignore[misc]
    name: str = "x"  # type: ignore[misc]


class Base(TypedDict):
    rate: float = 0.1  # type: ignore[misc]


class Middle(Base):
    inner: Inner  # default: Inner's defaults


class Outer(Middle):
    rate: float = 0.5  # type: ignore[misc]
    items: List[Inner] = []  # type: ignore[misc]
    maybe: Optional[Inner] = None  # type: ignore[misc]
    later: NotRequired[int]


def test_lineage_and_inherited_defaults() -> None:
    assert lineage(Outer) == [Base, Middle, Outer]
    assert field_default(Outer, "rate") == 0.5
    assert field_default(Middle, "rate") == 0.1
    assert field_default(Outer, "later") is NO_DEFAULT
    assert typed_defaults(Outer) == {
        "rate": 0.5,
        "inner": {"size": 3, "name": "x"},
        "items": [],
        "maybe": None,
    }


def test_fill_defaults_reaches_lists_and_optionals() -> None:
    value = {"items": [{"size": 1}], "maybe": {"name": "y"}, "inner": {}}
    assert fill_defaults(Outer, value) == {
        "rate": 0.5,
        "inner": {"size": 3, "name": "x"},
        "items": [{"size": 1, "name": "x"}],
        "maybe": {"size": 3, "name": "y"},
    }
    assert fill_defaults(Dict[str, Inner], {"a": {}}) == {"a": {"size": 3, "name": "x"}}


def test_format_type() -> None:
    assert format_type(int) == "int"
    assert format_type(Optional[float]) == "float | None"
    assert format_type(Literal["a", "b"]) == "'a' | 'b'"
    assert format_type(Union[int, Literal["auto"]]) == "int | 'auto'"
    assert format_type(Dict[str, List[Inner]]) == "dict[str, list[Inner]]"
    assert format_type(Annotated[int, "meta"]) == "int"
    assert format_type(NotRequired[int]) == "int"
    assert format_type(int | None) == "int | None"


def test_not_required_seen_through_postponed_annotations(tmp_path: Path) -> None:
    source = tmp_path / "postponed_hypers.py"
    source.write_text(
        "from __future__ import annotations\n"
        "from typing_extensions import NotRequired, Required, TypedDict\n"
        "class Loose(TypedDict, total=False):\n"
        "    a: NotRequired[int]\n"
        "    b: Required[int]\n"
        "    c: int\n"
        "class Tight(TypedDict):\n"
        "    a: NotRequired[int]\n"
        "    c: int\n"
    )
    spec = importlib.util.spec_from_file_location("postponed_hypers", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["postponed_hypers"] = module
    try:
        spec.loader.exec_module(module)
        assert [is_required(module.Loose, key) for key in "abc"] == [
            False,
            True,
            False,
        ]
        assert [is_required(module.Tight, key) for key in "ac"] == [False, True]
    finally:
        del sys.modules["postponed_hypers"]
