"""Fixtures: the real ethanol and QM9 data as in-memory datasets."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "composition"))

from composition_data import (  # noqa: F401
    energy_kcal,
    ethanol,
    make_dataset,
    qm9_frames,
)
