"""``python -m atomtrain`` and the installed ``atomtrain`` script run the CLI."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atomtrain import __version__


def console_script() -> str:
    script = Path(sys.executable).parent / "atomtrain"
    found = str(script) if script.exists() else shutil.which("atomtrain")
    if found is None:
        pytest.fail("the 'atomtrain' console script is not installed")
    return found


@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "atomtrain"], [console_script()]]
)
def test_entry_points(command):
    result = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"atomtrain {__version__}"

    result = subprocess.run(
        [*command, "eval"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "atomtrain eval: error: the following arguments are required" in (
        result.stderr
    )
