"""pydantic errors on TypedDict hypers become problems located in the options file."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Union

import pytest
from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from atomtrain.architectures.problems import Index, dotted, translate
from atomtrain.training.hypers import Decay, PositiveFloat, PositiveInt


class Point(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    x: float


class Shape(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    where: Union[Point, int, Literal["origin"]]
    points: List[Point]


def _problems(value: Dict[str, Any]) -> List[str]:
    with pytest.raises(ValidationError) as error:
        TypeAdapter(Shape).validate_python(value, strict=True)
    problems = translate(Shape, [dict(e) for e in error.value.errors()], "top")
    return [str(problem) for problem in problems]


def test_dotted_paths() -> None:
    assert dotted("a", ("b", Index(0), "c", 1)) == "a.b[0].c.1"
    assert dotted("", ("b",)) == "b"


def test_union_mismatch_is_one_problem() -> None:
    assert _problems({"where": 1.5, "points": []}) == [
        "top.where: expected Point | int | 'origin' (got 1.5)"
    ]


def test_union_member_matching_the_shape_reports_its_own_problems() -> None:
    assert _problems({"where": {"y": 1.0}, "points": [{"x": 1}, {"x": "a"}]}) == [
        "top.points[1].x: expected a number (got 'a')",
        "top.where.x: required key with no default value: please give it",
        "top.where.y: unknown key (known keys: x) (got 1.0)",
    ]


class Bounded(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    epochs: PositiveInt
    cap: Optional[PositiveInt]
    rate: PositiveFloat
    decay: Decay


def test_bounds_name_the_limit_and_the_kind_of_number() -> None:
    value = {"epochs": -3, "cap": 0, "rate": 0, "decay": 1.0}
    with pytest.raises(ValidationError) as error:
        TypeAdapter(Bounded).validate_python(value, strict=True)
    problems = translate(Bounded, [dict(e) for e in error.value.errors()], "top")
    assert sorted(str(problem) for problem in problems) == [
        "top.cap: expected an integer ≥ 1 (got 0)",
        "top.decay: expected a number < 1 (got 1.0)",
        "top.epochs: expected an integer ≥ 1 (got -3)",
        "top.rate: expected a number > 0 (got 0)",
    ]
