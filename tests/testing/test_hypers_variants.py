"""``hypers_variants`` runs the suite's checks once per set of hypers, in a pytest run
of its own (the suite's classes collected from a test module, as an author writes
one)."""

import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "resources" / "checkpoints"

MODULE = f"""
from pathlib import Path

import pytest

from atomtrain.testing import CheckpointTests, ContractTests


class TestVariants(ContractTests, CheckpointTests):
    architecture = "dummy"
    model_hypers = {{"num_radial": 4, "hidden": 8}}
    hypers_variants = {{"wide": {{"hidden": 16}}, "zbl": {{"zbl": True}}}}

    @pytest.fixture
    def golden_directory(self):
        return Path({str(GOLDEN)!r})

    def test_the_variant_reaches_the_model(self, model, hypers_variant):
        expected = {{"default": (8, False), "wide": (16, False), "zbl": (8, True)}}
        assert (model.hypers["hidden"], model.hypers["zbl"]) == expected[
            hypers_variant
        ]


class TestWithoutVariants(ContractTests):
    architecture = "dummy"
    model_hypers = {{"num_radial": 4, "hidden": 8}}
"""


def test_each_variant_runs_the_checks_that_build_a_model(tmp_path, dummy_architecture):
    (tmp_path / "test_variants.py").write_text(MODULE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-k",
            "variant_reaches or stores_hypers or format_unchanged",
            "test_variants.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    for variant in ("default", "wide", "zbl"):
        for test in (
            "test_the_variant_reaches_the_model",
            "test_model_stores_hypers_info_and_metadata",
        ):
            assert f"TestVariants::{test}[{variant}] PASSED" in result.stdout
    assert "test_format_unchanged_without_version_bump[default] PASSED" in (
        result.stdout
    )
    assert "the golden checkpoints are those of the default hypers" in result.stdout
    assert "TestWithoutVariants::test_model_stores_hypers_info_and_metadata PASSED" in (
        result.stdout
    )
