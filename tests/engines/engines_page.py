"""The example of ``docs/engines.md``, run as written: each section's file blocks
(headed ``# name`` or ``<!-- name -->``) are written to those files, then its
``bash`` blocks run, each as one script, in the section's directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "engines.md"
SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
FILE_HEADER = re.compile(r"^(?:# |<!-- )([\w.]+)(?::.*| -->)?$")


def sections() -> Dict[str, List[Tuple[str, str]]]:
    """``{heading: [(language, text), ...]}`` of the page's fenced blocks."""
    parts = SECTION.split(PAGE.read_text())
    return {
        heading: FENCE.findall(body) for heading, body in zip(parts[1::2], parts[2::2])
    }


def file_name(text: str) -> str | None:
    """The file a block is written to, from its first line; None for none."""
    match = FILE_HEADER.match(text.splitlines()[0])
    return match.group(1) if match else None


def environment() -> Dict[str, str]:
    """This Python's scripts first on the path, one thread per process."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }


def run_section(heading: str, directory: Path, timeout: float = 600) -> List[str]:
    """Write the files of section ``heading`` into ``directory`` and run its shell
    blocks there; the standard output of each block."""
    outputs = []
    for language, text in sections()[heading]:
        name = file_name(text)
        if language != "bash":
            if name is not None:
                (directory / name).write_text(text)
            continue
        result = subprocess.run(
            ["bash", "-e", "-c", text],
            cwd=directory,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, (
            text,
            result.stdout[-3000:],
            result.stderr[-3000:],
        )
        outputs.append(result.stdout)
    return outputs
