"""The options-file reference page: every declared key, with type and default."""

from __future__ import annotations

from atomtrain.architectures.typeinfo import field_types
from atomtrain.options import grammar
from atomtrain.options.base import TOP_LEVEL_KEYS
from atomtrain.schema.reference import render_options_reference
from atomtrain.training.hypers import BaseTrainerHypers


def test_every_key_has_a_row() -> None:
    page = render_options_reference()
    for key in TOP_LEVEL_KEYS:
        assert f"| `{key}` |" in page
    for cls in (grammar.DatasetSection, grammar.TargetSection, grammar.GradientSection):
        assert f"### {cls.__name__}\n" in page
    for key in field_types(BaseTrainerHypers):
        assert f"| `{key}` |" in page


def test_rows_give_type_default_and_description() -> None:
    page = render_options_reference()
    assert (
        "| `validation_set` | `float \\| str \\| DatasetSection \\| "
        "list[DatasetSection]` | `0.1` |"
    ) in page
    assert '| `length_unit` | `str` | `"angstrom"` | Unit of the positions' in page
    assert "| `training_set` |" in page and "| required |" in page
    assert page.startswith("# Options file reference\n")
