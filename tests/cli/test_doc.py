"""``atomtrain doc``: the listing, one page, pages written to a folder."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from atomtrain.cli import doc


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    doc.add_arguments(parser)
    return doc.run(parser.parse_args(argv))


def test_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "stable:"
    composition = [line for line in lines if line.split()[:1] == ["composition"]]
    assert composition == [
        "  composition  A per-element linear model of invariant scalar targets"
    ]
    assert lines[-1] == "'atomtrain doc NAME' shows the hyperparameters of one of them"


def test_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["composition"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Composition\n")
    assert "| `atomic_baseline` |" in out


def test_unknown_name() -> None:
    from atomtrain.errors import UserError

    with pytest.raises(UserError, match="did you mean 'composition'"):
        _run(["compositon"])


def test_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--output", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "composition.md").is_file()
    assert f"wrote {tmp_path / 'all' / 'composition.md'}" in capsys.readouterr().out
    assert _run(["composition", "-o", str(tmp_path / "one")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["composition.md"]


def test_listing_command_does_not_import_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        from atomtrain.cli.main import main
        code = main(["doc"])
        assert "torch" not in sys.modules, "torch was imported"
        sys.exit(code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "composition" in result.stdout
