"""The log of ``atomtrain eval``: everything it prints (command line, versions, the
model, each dataset, its errors, the files written) is also in its log file, and so
is the error that stopped it; a refused evaluation leaves no log."""

from __future__ import annotations

import re
from pathlib import Path

import metatomic.torch
import torch

from atomtrain._version import __version__
from atomtrain.cli.main import main

#: the time stamp ``train.log`` and the eval log put before each message
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def _unstamped(path: Path) -> list[str]:
    return [STAMP.sub("", line) for line in path.read_text().splitlines()]


def test_the_log_holds_everything_printed(composition_model: Path, capsys) -> None:
    command = ["eval", "model.pt", "eval.yaml", "-o", "predictions.xyz"]
    assert main([*command, "--per-structure", "errors.csv"]) == 0
    printed = capsys.readouterr().out.splitlines()
    logged = _unstamped(Path("predictions.log"))
    assert logged == printed

    text = "\n".join(logged)
    assert f"command: atomtrain {' '.join(command)} --per-structure errors.csv" in text
    assert f"atomtrain {__version__}, torch {torch.__version__}" in text
    assert f"metatomic-torch {metatomic.torch.__version__}" in text
    assert "model: model.pt (composition)\n  outputs: energy (kcal/mol)\n" in text
    assert "  elements: H, C, O (1, 6, 8)\n" in text
    assert (
        "dataset: 3 structures, 27 atoms (9-9 per structure), elements 1, 6, 8" in text
    )
    assert re.search(r"\n  energy\.forces\.mae  = [0-9.]+ kcal/mol/angstrom\n", text)
    assert "wrote predictions to predictions.xyz" in text
    assert "wrote the errors of each structure to errors.csv" in text


def test_a_log_named_without_predictions(composition_model: Path, capsys) -> None:
    assert main(["eval", "model.pt", "eval.yaml", "--log", "logs/eval.log"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert _unstamped(Path("logs/eval.log")) == printed
    assert "log: logs/eval.log" in printed
    assert not Path("predictions.log").exists()


def test_no_log_without_predictions_or_log(composition_model: Path) -> None:
    before = set(Path().iterdir())
    assert main(["eval", "model.pt", "eval.yaml"]) == 0
    assert set(Path().iterdir()) == before


def test_the_error_that_stops_an_evaluation_is_logged(
    composition_model: Path, capsys
) -> None:
    Path("dipole.yaml").write_text(
        "systems: ethanol.xyz\n"
        "targets:\n"
        "  mtt::dipole: {key: forces, unit: eV/angstrom, per_atom: true,\n"
        "                type: {cartesian: {rank: 1}}}\n"
    )
    assert main(["eval", "model.pt", "dipole.yaml", "--log", "eval.log"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the model has no output 'mtt::dipole'")
    logged = _unstamped(Path("eval.log"))
    assert logged[-1] == error
    assert "model: model.pt (composition)" in logged


def test_a_refused_evaluation_leaves_no_log(composition_model: Path, capsys) -> None:
    # the predictions would overwrite the data file
    assert main(["eval", "model.pt", "eval.yaml", "-o", "ethanol.xyz"]) == 1
    assert "ethanol.xyz" in capsys.readouterr().err
    assert not Path("ethanol.log").exists()
