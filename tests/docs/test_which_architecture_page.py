"""``docs/concepts/which-architecture.md``: its commands run exactly as written, in a
directory holding the data they name, with the YAML block headed ``# <file>``
written to that file first; the figure it shows exists, and the defaults it states
are the declared ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

from atomtrain.architectures.hypers import get_defaults

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "concepts" / "which-architecture.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
FIGURE = re.compile(r"```\{figure\} (\S+)")


def blocks() -> List[Tuple[str, str]]:
    """``(language, text)`` of every fenced block of the page, in order."""
    return FENCE.findall(PAGE.read_text())


def test_the_figure_exists() -> None:
    figures = FIGURE.findall(PAGE.read_text())
    assert figures, "the page shows no figure"
    for figure in figures:
        assert (PAGE.parent / figure).is_file(), figure


def test_the_defaults_stated_are_the_declared_ones() -> None:
    page = PAGE.read_text()
    pet, soap = get_defaults("pet"), get_defaults("soap_bpnn")
    assert pet["training"]["learning_rate"] == 3e-3
    assert soap["training"]["learning_rate"] == 3e-3
    assert pet["training"]["ema_decay"] == soap["training"]["ema_decay"] == 0.99
    assert pet["model"]["d_pet"] == 64 and pet["model"]["num_attention_layers"] == 1
    assert "learning rate 3e-3" in page and "EMA 0.99" in page


def test_every_command_runs_as_written(tmp_path: Path) -> None:
    shutil.copy(
        ROOT / "examples" / "data" / "ethanol_gfn2_1000.xyz", tmp_path / "ethanol.xyz"
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    outputs = []
    for language, text in blocks():
        if language == "yaml":
            name = text.splitlines()[0].removeprefix("# ")
            (tmp_path / name).write_text(text)
            continue
        assert language == "bash", language
        for command in text.splitlines():
            result = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=environment,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, (command, result.stderr[-3000:])
            outputs.append((command, result.stdout))
    assert [c.split()[:2] for c, _ in outputs] == [
        ["atomtrain", "doc"],
        ["atomtrain", "check"],
    ]
    assert "ema_decay: 0.99" in outputs[0][1]
    assert "learning_rate: 0.003" in outputs[0][1]


def test_the_mace_defaults_table_is_the_kept_run() -> None:
    """The table of atomtrain's mace against mace_run_train in their defaults states
    the times of ``benchmarks/results/time_to_accuracy_mace_f64.json``."""
    import json

    results = json.loads(
        (ROOT / "benchmarks" / "results" / "time_to_accuracy_mace_f64.json").read_text()
    )
    rows = {
        "mace": "| `mace` (atomtrain, float32) |",
        "mace_run_train": "| `mace_run_train` (float64) |",
    }
    page = PAGE.read_text()
    lines = page[page.index("**MACE in each tool's defaults**") :].splitlines()
    for tool, start in rows.items():
        row = next(line for line in lines if line.startswith(start))
        curve = results[tool]
        expected = []
        for force in (0.2, 0.1, 0.05, 0.03):
            reached = next(
                (s, e + 1)
                for s, e, v in zip(
                    curve["seconds"], curve["epochs"], curve["val_force"]
                )
                if v <= force
            )
            expected.append(f"{reached[0]:.0f} s ({reached[1]})")
        assert [c.strip() for c in row.split("|")[2:6]] == expected
