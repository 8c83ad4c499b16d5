"""The declared options grammar has exactly the keys and defaults that atomtrain's
validation accepts, so the reference page and the schema cannot drift from it."""

from __future__ import annotations

from typing import Tuple

import pytest

from atomtrain.architectures.typeinfo import field_types, typed_defaults
from atomtrain.options import base, datasets, target_sections
from atomtrain.options.architecture import ARCHITECTURE_KEYS
from atomtrain.schema import grammar


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        (grammar.OptionsFile, base.TOP_LEVEL_KEYS),
        (grammar.ArchitectureSection, ARCHITECTURE_KEYS),
        (grammar.Loggers, base.LOGGER_KEYS),
        (grammar.DatasetSection, datasets.SECTION_KEYS),
        (grammar.SystemsSection, datasets.SYSTEMS_KEYS),
        (grammar.ExtraDataSection, target_sections.TARGET_KEYS),
        (
            grammar.TargetSection,
            target_sections.TARGET_KEYS + target_sections.GRADIENT_SECTIONS,
        ),
        (grammar.GradientSection, target_sections.GRADIENT_KEYS),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_keys_match_the_validation(cls: type, keys: Tuple[str, ...]) -> None:
    assert tuple(field_types(cls)) == tuple(keys)


def test_defaults_match_the_validation() -> None:
    top = typed_defaults(grammar.OptionsFile)
    assert top["validation_set"] == base.DEFAULT_VALIDATION_FRACTION
    assert top["test_set"] == base.DEFAULT_TEST_FRACTION
    assert top["device"] == "auto"
    systems = typed_defaults(grammar.SystemsSection)
    assert systems["length_unit"] == datasets.DEFAULT_LENGTH_UNIT


def test_every_key_is_documented() -> None:
    from atomtrain.architectures.docsource import attribute_docstrings
    from atomtrain.architectures.typeinfo import nested_typeddicts

    for cls in nested_typeddicts(grammar.OptionsFile):
        docs = attribute_docstrings(cls)
        missing = [key for key in field_types(cls) if not docs.get(key)]
        assert missing == [], f"{cls.__name__} keys without a docstring"
