"""How warnings are shown during a run, and the external loggers."""

import warnings
from pathlib import Path

import pytest

from atomtrain.options.reference_keys import IgnoredOptionWarning
from atomtrain.training.logging import WandbLogger, configure_warnings


def test_atomtrain_warnings_are_shown_without_their_source_line():
    default = warnings.formatwarning
    try:
        with warnings.catch_warnings():
            configure_warnings()
            ours = warnings.formatwarning(
                "options were ignored", IgnoredOptionWarning, "/x/architecture.py", 95
            )
            theirs = warnings.formatwarning(
                "deprecated", DeprecationWarning, "/x/y.py", 3
            )
    finally:
        warnings.formatwarning = default
    assert ours == "warning: options were ignored\n"
    assert "/x/y.py:3: DeprecationWarning: deprecated" in theirs


def test_wandb_gets_the_options_as_config_and_writes_in_the_run_directory(
    tmp_path, monkeypatch
):
    wandb = pytest.importorskip("wandb", reason="wandb is an optional logger")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    options = {"seed": 3, "architecture": {"name": "pet", "training": {"a": 1}}}
    settings = {"project": "atomtrain-tests", "config": {"seed": 4, "note": "x"}}
    logger = WandbLogger(settings, options, tmp_path)
    try:
        assert wandb.run is logger.run
        assert dict(logger.run.config) == {
            "seed": 4,
            "note": "x",
            "architecture": {"name": "pet", "training": {"a": 1}},
        }
        assert Path(logger.run.dir).is_relative_to(tmp_path / "wandb")
        logger.log(0, {"train.loss": 1.5})
    finally:
        logger.close()
    assert settings == {
        "project": "atomtrain-tests",
        "config": {"seed": 4, "note": "x"},
    }
