"""Fixtures of the engine tests: the copper model of ``docs/engines.md``, trained
once by the page's own commands, and a fresh copy of its directory per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engines_page import run_section

from atomtrain.utils.extensions import register_installed_extensions

# These tests load exported models from their extensions folder in the test process,
# as an engine's Python process does; tests run later in the same process build
# SOAP-BPNN models, which import sphericart: its installed library goes first.
register_installed_extensions()


@pytest.fixture(scope="session")
def copper_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``model.pt``, ``extensions/``, ``copper.xyz`` and
    ``structure.xyz``, from the section "The model" of the page."""
    directory = tmp_path_factory.mktemp("copper")
    run_section("The model", directory)
    return directory


@pytest.fixture
def engine_dir(copper_model: Path, tmp_path: Path) -> Path:
    """A copy of the trained model's directory for one engine."""
    directory = tmp_path / "run"
    shutil.copytree(copper_model, directory, ignore=shutil.ignore_patterns("outputs"))
    return directory
