"""The worked example of docs/adding-an-architecture.md runs: its code blocks are
written to a package registered through an entry point, the tests it shows (the
conformance suite, training through ``atomtrain train`` included) pass, and its
commands, run exactly as written, train it, and upgrade, export and restart its
checkpoints after the changes of version 2."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import ase.io
import pytest
import torch
from metatomic_ase import MetatomicCalculator

from atomtrain.checkpoints import read_checkpoint_file, stored_model_weights

GUIDE = Path(__file__).parents[2] / "docs" / "adding-an-architecture.md"

#: A fenced block whose info string names the file it holds: ```python path/to/file.py
FILE_BLOCK = re.compile(r"^```python (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: The options file of the example: ```yaml options.yaml
OPTIONS_BLOCK = re.compile(r"^```yaml (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: The changes of version 2: ```diff path/to/file.py
DIFF_BLOCK = re.compile(r"^```diff (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: Commands: ```bash
COMMANDS_BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def example_files() -> Dict[str, str]:
    return dict(FILE_BLOCK.findall(guide()))


def command_blocks() -> List[List[str]]:
    """The commands of each bash block, in the order of the guide."""
    return [block.strip().splitlines() for block in COMMANDS_BLOCK.findall(guide())]


def apply_diff(text: str, diff: str) -> str:
    """``text`` with the hunks of ``diff`` applied: each hunk (after a line ``@@``)
    replaces its context and removed lines, found exactly once, by its context and
    added lines."""
    for hunk in re.split(r"^@@.*\n", diff, flags=re.MULTILINE):
        if not hunk.strip():
            continue
        old = [line[1:] for line in hunk.splitlines() if line[:1] in (" ", "-")]
        new = [line[1:] for line in hunk.splitlines() if line[:1] in (" ", "+")]
        before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
        assert text.count(before) == 1, f"the hunk does not apply:\n{hunk}"
        text = text.replace(before, after)
    return text


def run(command: str, cwd: Path, environment: Dict[str, str]) -> None:
    """A command of the guide, as written (``atomtrain`` is this atomtrain)."""
    arguments = shlex.split(command)
    assert arguments[0] == "atomtrain", command
    result = subprocess.run(
        [sys.executable, "-m", "atomtrain", *arguments[1:]],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"


def write_example(directory: Path) -> Dict[str, str]:
    """The example's files in ``directory``, registered as the entry point
    ``pairpot``; the environment that sees it."""
    for relative, text in example_files().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info = directory / "pairpot_example-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pairpot-example\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[atomtrain.architectures]\npairpot = pairpot\n"
    )
    return {**os.environ, "PYTHONPATH": str(directory)}


def test_the_guide_shows_the_four_files_and_a_test_module():
    assert sorted(example_files()) == [
        "pairpot/__init__.py",
        "pairpot/documentation.py",
        "pairpot/model.py",
        "pairpot/trainer.py",
        "tests/test_pairpot.py",
    ]


@pytest.mark.slow
def test_the_worked_example_passes_the_suite(tmp_path):
    environment = write_example(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            "tests",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "failed" not in result.stdout


def test_the_guide_shows_its_commands():
    assert command_blocks() == [
        [
            'atomtrain new-architecture myarch --external --author "Ada Lovelace '
            '<ada@example.org>" --github ada-lovelace'
        ],
        ["atomtrain train options.yaml"],
        [
            "atomtrain export model.ckpt -o model-v2.pt",
            "atomtrain train options.yaml --restart model.ckpt -r "
            "architecture.training.num_epochs=12",
        ],
    ]
    assert list(dict(OPTIONS_BLOCK.findall(guide()))) == ["options.yaml"]
    assert list(dict(DIFF_BLOCK.findall(guide()))) == ["pairpot/model.py"]


@pytest.mark.slow
def test_the_scaffold_command_names_its_author(tmp_path):
    [[command], _, _] = command_blocks()
    run(command, tmp_path, dict(os.environ))
    init = tmp_path / "atomtrain-myarch" / "src" / "myarch" / "__init__.py"
    assert '__authors__ = [("Ada Lovelace <ada@example.org>", "@ada-lovelace")]' in (
        init.read_text()
    )


def energies(model: Path, frames: Path) -> torch.Tensor:
    """The energies an exported model predicts for the first frames of ``frames``,
    through ASE."""
    calculator = MetatomicCalculator(str(model))
    values = []
    for atoms in ase.io.read(frames, index=":4"):
        atoms.calc = calculator
        values.append(atoms.get_potential_energy())
    return torch.tensor(values)


@pytest.mark.slow
def test_version_2_upgrades_exports_and_restarts_version_1_checkpoints(
    tmp_path, resources
):
    """The guide's steps: train version 1, apply the changes of version 2, export
    and restart the version 1 checkpoint with its commands."""
    environment = write_example(tmp_path)
    [options] = OPTIONS_BLOCK.findall(guide())
    (tmp_path / options[0]).write_text(options[1])
    shutil.copy(resources / "ethanol_reduced_100.xyz", tmp_path / "ethanol.xyz")
    _, [train], version_2 = command_blocks()
    run(train, tmp_path, environment)
    assert (
        read_checkpoint_file(tmp_path / "model.ckpt")["model_checkpoint_version"] == 1
    )

    [(relative, diff)] = DIFF_BLOCK.findall(guide())
    model_file = tmp_path / relative
    model_file.write_text(apply_diff(model_file.read_text(), diff))

    export, restart = version_2
    run(export, tmp_path, environment)
    frames = tmp_path / "ethanol.xyz"
    torch.testing.assert_close(
        energies(tmp_path / "model-v2.pt", frames),
        energies(tmp_path / "model.pt", frames),
    )
    run(restart, tmp_path, environment)
    checkpoint = read_checkpoint_file(tmp_path / "model.ckpt")
    assert checkpoint["model_checkpoint_version"] == 2
    copies = stored_model_weights(checkpoint)
    assert [entry for entry, _, _ in copies] == [
        "model.state_dict",
        "trainer.state.best_model_state_dict",
        "trainer.state.ema",
    ]
    for _, weights, _ in copies:
        assert "pair_weights" in weights and "weights" not in weights
    assert checkpoint["trainer"]["state"]["epoch"] == 12
