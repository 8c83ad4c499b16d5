"""``atomtrain schema``: printed and written, and usable as a YAML editor schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from atomtrain.cli.main import main


def test_print(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["architecture", "training_set"]


def test_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "options.schema.json"
    assert main(["schema", "-o", str(path)]) == 0
    assert capsys.readouterr().out == f"wrote {path}\n"
    validator = jsonschema.Draft202012Validator(json.loads(path.read_text()))
    assert validator.is_valid(
        {"architecture": {"name": "composition"}, "training_set": "data.xyz"}
    )
    assert not validator.is_valid(
        {"architecture": {"name": "composition"}, "trainig_set": "data.xyz"}
    )
