"""Importing the architecture leaves the process as it was: ``torch.load`` still
refuses pickled objects, and nothing is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import argparse, os, pickle, sys
import torch
import atomtrain.mace
torch.save(argparse.Namespace(a=1), sys.argv[1])
print(os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"), file=sys.stderr)
try:
    torch.load(sys.argv[1])
except pickle.UnpicklingError:
    print("refused", file=sys.stderr)
"""


def test_importing_mace_keeps_safe_loading_and_prints_nothing(tmp_path: Path):
    environment = dict(os.environ)
    environment.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::UserWarning",
            "-c",
            PROGRAM,
            str(tmp_path / "f"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["None", "refused"]
