"""Reading options files and applying ``-r`` overrides, tested by their messages."""

from pathlib import Path

import pytest

from atomtrain.errors import OptionsError
from atomtrain.options.loading import (
    OptionsFileError,
    apply_overrides,
    load_options,
    parse_override,
    parse_yaml,
    read_options_file,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "options.yaml"
    path.write_text(text)
    return path


def test_reads_a_mapping(tmp_path):
    path = write(tmp_path, "architecture:\n  name: composition\ntraining_set: a.xyz\n")
    assert read_options_file(path) == {
        "architecture": {"name": "composition"},
        "training_set": "a.xyz",
    }


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "architecture:\n  name: composition\n   bad: [1, 2\n")
    with pytest.raises(OptionsFileError) as error:
        read_options_file(path)
    message = str(error.value)
    assert f"invalid YAML in options file '{path}', line 3" in message


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "string")]
)
def test_top_level_must_be_a_mapping(tmp_path, text, kind):
    path = write(tmp_path, text)
    with pytest.raises(OptionsFileError, match=f"at the top level, not a {kind}"):
        read_options_file(path)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(OptionsFileError, match="is empty"):
        read_options_file(write(tmp_path, "# nothing\n"))
    with pytest.raises(OptionsFileError, match=r"'nope\.yaml' does not exist"):
        read_options_file(Path("nope.yaml"))


def test_override_values_are_parsed_as_yaml():
    options = {"architecture": {"name": "pet", "training": {"num_epochs": 100}}}
    result = apply_overrides(
        options,
        [
            "architecture.training.num_epochs=5",
            "architecture.training.learning_rate=1e-3",
            "architecture.model.widths=[1, 2]",
            "seed=null",
            "device='cuda'",
            "final_eval=off",
        ],
    )
    assert result["architecture"]["training"] == {
        "num_epochs": 5,
        "learning_rate": 1e-3,
    }
    assert result["architecture"]["model"] == {"widths": [1, 2]}
    assert result["seed"] is None
    assert result["device"] == "cuda"
    assert result["final_eval"] is False
    # the input is left untouched
    assert options["architecture"]["training"]["num_epochs"] == 100


def test_later_override_wins_and_value_may_contain_equals():
    result = apply_overrides({}, ["a.b=1", "a.b=2", "c=x=y"])
    assert result == {"a": {"b": 2}, "c": "x=y"}


def test_every_bad_override_is_reported_at_once():
    options = {"architecture": {"name": "pet"}, "seed": 3}
    overrides = ["architecture.name.sub=1", "seed.value=2", "no_equals", "a..b=1"]
    with pytest.raises(OptionsError) as error:
        apply_overrides(options, overrides, "options.yaml")
    message = str(error.value)
    assert message.startswith("4 problems in the options in options.yaml:")
    assert (
        "architecture.name: cannot override 'architecture.name.sub': "
        "'architecture.name' is a string, not a mapping (got 'pet')" in message
    )
    assert "seed: cannot override 'seed.value': 'seed' is a number" in message
    assert "-r no_equals: expected 'key.sub=value'" in message
    assert "-r a..b=1: empty component in the key 'a..b'" in message


def test_invalid_yaml_value():
    with pytest.raises(ValueError, match="the value is not valid YAML"):
        parse_override("a=[1, 2")


def test_load_options_reads_then_overrides(tmp_path):
    path = write(tmp_path, "architecture:\n  name: composition\nseed: 1\n")
    raw, file = load_options(path, ["seed=7"])
    assert raw == {"architecture": {"name": "composition"}, "seed": 7}
    assert file == str(path)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 1e-3), ("-2E+4", -2e4), ("1.5e3", 1500.0), ("'1e-3'", "1e-3")],
)
def test_scientific_notation_is_a_float(tmp_path, text, value):
    path = write(tmp_path, f"learning_rate: {text}\n")
    assert read_options_file(path) == {"learning_rate": value}
    assert apply_overrides({}, [f"learning_rate={text}"]) == {"learning_rate": value}


def test_the_float_rule_leaves_plain_yaml_alone():
    assert parse_yaml("[12, 1.0, e3, 1e, v1e3, on]") == [
        12,
        1.0,
        "e3",
        "1e",
        "v1e3",
        True,
    ]


def test_a_key_given_twice_is_refused_with_its_path_and_lines(tmp_path):
    path = write(
        tmp_path,
        "architecture:\n"
        "  name: dummy\n"
        "  training:\n"
        "    num_epochs: 10\n"
        "    batch_size: 4\n"
        "    num_epochs: 20\n"
        "training_set:\n"
        "  - systems: a.xyz\n"
        "    systems: b.xyz\n",
    )
    with pytest.raises(OptionsError) as error:
        read_options_file(path)
    assert error.value.file == str(path)
    assert [str(p) for p in error.value.problems] == [
        "architecture.training.num_epochs: given twice, at lines 4 and 6; YAML "
        "would keep the last value and drop the first silently: remove one",
        "training_set[0].systems: given twice, at lines 8 and 9; YAML would keep "
        "the last value and drop the first silently: remove one",
    ]


def test_merge_keys_and_aliases_are_not_duplicates(tmp_path):
    path = write(
        tmp_path,
        "base: &base {a: 1, b: 2}\n"
        "first: {<<: *base, a: 3}\n"
        "second: {<<: *base, <<: {c: 4}}\n",
    )
    assert read_options_file(path)["first"] == {"a": 3, "b": 2}


def test_a_key_given_twice_in_an_override_value_is_a_problem():
    with pytest.raises(OptionsError, match=r"-r seed=\{a: 1, a: 2\}: a: given twice"):
        apply_overrides({}, ["seed={a: 1, a: 2}"])
