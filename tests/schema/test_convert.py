"""Types to JSON schema: scalars, unions, containers, TypedDicts, plain hypers."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Tuple, Union

import pytest
from typing_extensions import Annotated, NotRequired, TypedDict

from atomtrain.schema.convert import (
    JsonSchema,
    SchemaBuilder,
    json_value,
    plain_schema,
    plain_text,
)
from atomtrain.training.hypers import Decay, PositiveFloat, PositiveInt


class Inner(TypedDict):
    """Inner settings."""

    width: float = 0.5
    """Width, in ``Å``."""


class Outer(TypedDict):
    radius: Annotated[float, JsonSchema(minimum=0)] = 5.0
    """Cutoff radius."""
    inner: Inner
    """Nested."""
    mode: NotRequired[Literal["a", "b"]]
    count: int


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (Optional[str], {"type": ["string", "null"]}),
        (Any, {}),
        (Literal[1, -1], {"enum": [1, -1]}),
        (List[bool], {"type": "array", "items": {"type": "boolean"}}),
        (
            Tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
            },
        ),
        (
            Dict[int, float],
            {
                "type": "object",
                "propertyNames": {"pattern": "^-?[0-9]+$"},
                "additionalProperties": {"type": "number"},
            },
        ),
        (
            Union[Literal["mse"], Dict[str, int]],
            {
                "anyOf": [
                    {"enum": ["mse"]},
                    {"type": "object", "additionalProperties": {"type": "integer"}},
                ]
            },
        ),
        (Annotated[int, JsonSchema(minimum=1)], {"type": "integer", "minimum": 1}),
        (PositiveInt, {"type": "integer", "minimum": 1}),
        (PositiveFloat, {"type": "number", "exclusiveMinimum": 0}),
        (Decay, {"type": "number", "minimum": 0, "exclusiveMaximum": 1}),
        (
            Optional[PositiveInt],
            {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        ),
    ],
)
def test_types(tp: Any, expected: Dict[str, Any]) -> None:
    assert SchemaBuilder().of_type(tp) == expected


def test_typeddict() -> None:
    builder = SchemaBuilder()
    assert builder.of_type(Outer) == {"$ref": "#/$defs/Outer"}
    outer = builder.defs["Outer"]
    assert outer["additionalProperties"] is False
    assert outer["required"] == ["count"]  # inner is filled from its defaults
    assert outer["properties"]["radius"] == {
        "type": "number",
        "minimum": 0,
        "description": "Cutoff radius.",
        "default": 5.0,
    }
    assert outer["properties"]["inner"] == {
        "allOf": [{"$ref": "#/$defs/Inner"}],
        "description": "Nested.",
        "default": {"width": 0.5},
    }
    assert builder.defs["Inner"]["description"] == "Inner settings."
    assert (
        builder.defs["Inner"]["properties"]["width"]["description"] == "Width, in `Å`."
    )


def test_namespaced_names_do_not_collide() -> None:
    builder = SchemaBuilder()

    class ModelHypers(TypedDict):
        a: int

    first = ModelHypers

    class ModelHypers(TypedDict):  # type: ignore[no-redef]
        b: int

    second = ModelHypers
    assert builder.typeddict(first) == "ModelHypers"
    assert builder.typeddict(second) == "ModelHypers2"
    assert builder.typeddict(first) == "ModelHypers"


def test_unsupported_type_is_named() -> None:
    with pytest.raises(TypeError, match="complex"):
        SchemaBuilder().of_type(complex)


def test_plain_schema_checks_keys_of_nested_defaults() -> None:
    schema = plain_schema({"cutoff": 4.0, "soap": {"lmax": 3}}, {"cutoff": "Cutoff."})
    assert schema["additionalProperties"] is False
    assert schema["properties"]["cutoff"] == {"description": "Cutoff.", "default": 4.0}
    soap = schema["properties"]["soap"]
    assert soap["properties"] == {"lmax": {"default": 3}}
    assert soap["additionalProperties"] is False
    assert "type" not in soap  # any other value goes unchecked, as in validation


def test_plain_text_and_json_value() -> None:
    assert plain_text("A ``b``\n  c.\n\n  Next.") == "A `b` c.\n\nNext."
    assert json_value({1: (2.0, None), "x": {3}}) == {"1": [2.0, None], "x": "{3}"}
