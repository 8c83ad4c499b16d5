"""The declared options grammar is the one the validation applies: the keys it
accepts and its defaults come from it, and every key is documented for the reference
page and the schema."""

from __future__ import annotations

from pathlib import Path

from atomtrain.architectures.docsource import attribute_docstrings
from atomtrain.architectures.typeinfo import field_types, nested_typeddicts
from atomtrain.errors import OptionsError
from atomtrain.options import grammar, validate_options


def test_every_key_is_documented() -> None:
    for cls in nested_typeddicts(grammar.OptionsFile):
        docs = attribute_docstrings(cls)
        missing = [key for key in field_types(cls) if not docs.get(key)]
        assert missing == [], f"{cls.__name__} keys without a docstring"


def test_the_validation_takes_its_defaults_from_the_grammar(resources: Path) -> None:
    raw = {
        "architecture": {"name": "composition"},
        "training_set": str(resources / "ethanol_reduced_100.xyz"),
    }
    expanded = validate_options(raw, "o.yaml", resources)
    assert expanded["validation_set"] == grammar.OptionsFile.__dict__["validation_set"]
    assert expanded["test_set"] == grammar.OptionsFile.__dict__["test_set"]
    assert expanded["device"] == grammar.OptionsFile.__dict__["device"]
    systems = expanded["training_set"][0]["systems"]
    assert systems["length_unit"] == grammar.SystemsSection.__dict__["length_unit"]


def test_a_key_the_grammar_lacks_is_refused_with_the_declared_ones(
    resources: Path,
) -> None:
    raw = {"architecture": {"name": "composition"}, "training_sett": "x.xyz"}
    try:
        validate_options(raw, "o.yaml", resources)
    except OptionsError as error:
        [unknown] = [p for p in error.problems if p.path == "training_sett"]
    declared = ", ".join(field_types(grammar.OptionsFile))
    assert declared in str(unknown) and "did you mean 'training_set'" in str(unknown)
