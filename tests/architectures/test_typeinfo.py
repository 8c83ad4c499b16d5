"""Types, defaults and nesting read from TypedDict hypers classes."""

from __future__ import annotations

from typing import Dict, List, Literal, Optional, Union

from typing_extensions import Annotated, NotRequired, TypedDict

from atomtrain.architectures.typeinfo import (
    NO_DEFAULT,
    field_default,
    fill_defaults,
    format_type,
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
