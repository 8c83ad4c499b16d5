"""``atomtrain completion``: bash loads the script, and its function proposes
subcommands, options, files of the right kind and architecture names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from atomtrain.cli.completion import command_spec, script
from atomtrain.cli.main import COMMANDS, main

BIN = Path(sys.executable).parent


def _environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "atomtrain.bash"
    path.write_text(script("bash"))
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("options.yaml", "more.yml", "model.pt", "model.ckpt", "notes.txt"):
        (tmp_path / name).touch()
    (tmp_path / "extensions").mkdir()
    return tmp_path


def complete(script_path: Path, workdir: Path, *words: str) -> List[str]:
    """COMPREPLY of the completion function for the command line ``words`` (the last
    word is the one under the cursor)."""
    quoted = " ".join(f"'{word}'" for word in words)
    code = (
        f"source '{script_path}'\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
        '_atomtrain; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "-c", code],
        cwd=workdir,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr == ""
    return sorted(line for line in result.stdout.splitlines() if line)


def test_bash_loads_the_script() -> None:
    result = subprocess.run(
        ["bash", "-c", "source <(atomtrain completion bash); complete -p atomtrain"],
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "complete -F _atomtrain atomtrain\n"
    assert result.stderr == ""


def test_subcommands(bash_script: Path, workdir: Path) -> None:
    words = complete(bash_script, workdir, "atomtrain", "")
    assert words == sorted([*COMMANDS, "--help", "--version", "--debug"])
    assert complete(bash_script, workdir, "atomtrain", "ex") == ["export"]
    assert complete(bash_script, workdir, "atomtrain", "--debug", "tr") == ["train"]


def test_options_of_a_subcommand(bash_script: Path, workdir: Path) -> None:
    words = complete(bash_script, workdir, "atomtrain", "train", "--r")
    assert words == ["--restart"]
    options, _, _ = command_spec("eval")
    assert complete(bash_script, workdir, "atomtrain", "eval", "-") == sorted(options)


def test_files_of_the_expected_kind(bash_script: Path, workdir: Path) -> None:
    yaml = ["extensions", "more.yml", "options.yaml"]
    assert complete(bash_script, workdir, "atomtrain", "train", "") == yaml
    assert complete(bash_script, workdir, "atomtrain", "eval", "") == [
        "extensions",
        "model.pt",
    ]
    assert complete(bash_script, workdir, "atomtrain", "eval", "model.pt", "") == yaml
    assert complete(bash_script, workdir, "atomtrain", "export", "") == [
        "extensions",
        "model.ckpt",
    ]
    # an option's value is not counted as a positional argument
    words = complete(bash_script, workdir, "atomtrain", "check", "-r", "a=1", "")
    assert words == yaml


def test_option_values(bash_script: Path, workdir: Path) -> None:
    words = complete(bash_script, workdir, "atomtrain", "train", "-e", "")
    assert words == ["extensions"]
    words = complete(bash_script, workdir, "atomtrain", "train", "-o", "no")
    assert words == ["notes.txt"]
    assert complete(bash_script, workdir, "atomtrain", "eval", "--device", "") == []
    assert complete(bash_script, workdir, "atomtrain", "completion", "") == [
        "bash",
        "zsh",
    ]


def test_architecture_names(bash_script: Path, workdir: Path) -> None:
    from atomtrain.architectures import list_architectures

    names = sorted(entry.name for entry in list_architectures())
    assert "composition" in names
    assert complete(bash_script, workdir, "atomtrain", "doc", "") == names
    assert complete(bash_script, workdir, "atomtrain", "doc", "comp") == ["composition"]


def test_architectures_listing_imports_no_torch() -> None:
    code = (
        "import sys\nfrom atomtrain.cli.main import main\n"
        "code = main(['completion', '--architectures'])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\nsys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "composition" in result.stdout.split()


def test_zsh_script_wraps_the_bash_one() -> None:
    text = script("zsh")
    assert "bashcompinit && bashcompinit" in text
    assert text.endswith(script("bash"))


def test_shell_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion"]) == 1
    assert "give the shell" in capsys.readouterr().err
