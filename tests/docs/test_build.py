"""The documentation site: generated pages and a complete build with warnings as
errors, as ``make docs`` runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import atomtrain_pages  # noqa: E402

from atomtrain.architectures import list_architectures  # noqa: E402
from atomtrain.cli.main import COMMANDS  # noqa: E402


def test_architecture_page_keeps_rest_description() -> None:
    page = atomtrain_pages.architecture_page("composition")
    assert page.startswith("# Composition\n")
    assert "```{eval-rst}\nA per-element linear model" in page
    assert ".. math::" in page
    assert "| `atomic_baseline` |" in page


def test_cli_page_holds_every_subcommand() -> None:
    page = atomtrain_pages.cli_page()
    for name in COMMANDS:
        assert f"## atomtrain {name}\n" in page
        assert f"usage: atomtrain {name}" in page
    assert "--restart PATH|auto" in page


def test_generated_pages(tmp_path: Path) -> None:
    atomtrain_pages.write_generated(tmp_path)
    generated = tmp_path / "generated"
    names = sorted(p.stem for p in (generated / "architectures").glob("*.md"))
    assert names == sorted(entry.name for entry in list_architectures())
    options = (generated / "options.md").read_text()
    assert "| `architecture.name` |" in options
    assert "| `num_epochs` | `int` | `100` |" in options
    assert "### TargetSection" in options
    assert (
        "The guides are not part of this build."
        in (generated / "guides.md").read_text()
    )
    (tmp_path / "distributed.md").write_text("# Distributed\n")
    atomtrain_pages.write_generated(tmp_path)
    assert (
        "Distributed training <../distributed>" in (generated / "guides.md").read_text()
    )


def test_stale_architecture_pages_are_removed(tmp_path: Path) -> None:
    directory = tmp_path / "architectures"
    directory.mkdir()
    (directory / "gone.md").write_text("# Gone\n")
    atomtrain_pages.architecture_pages(directory)
    assert not (directory / "gone.md").exists()


@pytest.mark.slow
def test_build_without_warnings(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    output = tmp_path / "html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "--jobs",
            "1",
            str(source),
            str(output),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for page in (
        "index",
        "quickstart",
        "generated/options",
        "generated/cli",
        "changelog",
        "api/index",
        "api/suite",
    ):
        assert (output / f"{page}.html").is_file(), page
    for entry in list_architectures():
        assert (output / "generated" / "architectures" / f"{entry.name}.html").is_file()
    suite = (output / "api" / "suite.html").read_text()
    assert "hypers_variants" in suite and "Further sets of model hypers" in suite
    engine = (output / "api" / "engine.html").read_text()
    assert "transform_structure" in engine and "neighbor_options" in engine
    changelog = (output / "changelog.html").read_text()
    assert "a JSON schema of the options file" in changelog
