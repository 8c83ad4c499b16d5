"""``docs/concepts/charge-and-spin.md`` run exactly as written: its options file
trained with its command in a directory holding the data it names, then its ASE
snippet on the exported model."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "concepts" / "charge-and-spin.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def run(command: list, directory: Path) -> str:
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        command, cwd=directory, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_the_page_trains_and_its_model_gives_each_charge_its_energy(tmp_path):
    blocks = FENCE.findall(PAGE.read_text())
    assert [language for language, _ in blocks] == ["yaml", "bash", "python"]
    (_, options), (_, command), (_, snippet) = blocks
    (tmp_path / "options.yaml").write_text(options)
    shutil.copy(ROOT / "examples" / "data" / "qm7x_charge_states.xyz", tmp_path)
    run(command.split(), tmp_path)
    (tmp_path / "snippet.py").write_text(snippet)
    printed = run([sys.executable, "snippet.py"], tmp_path).split()
    energies = {int(c): float(e) for c, e in zip(printed[::2], printed[1::2])}
    assert sorted(energies) == [-1, 0, 1]
    # GFN2-xTB: the cation lies about 13 eV above the neutral molecule, the anion
    # about 4 eV below it
    assert energies[1] > energies[0] + 5.0
    assert energies[-1] < energies[0]
