"""The data scripts of ``examples/data``: run as the README says, they reproduce
the files shipped beside them."""

import runpy
import shutil
from pathlib import Path

import ase.io
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_spherical_polarizability_rewrites_the_shipped_file(tmp_path, monkeypatch):
    script = tmp_path / "examples" / "data" / "spherical_polarizability.py"
    script.parent.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "data" / "spherical_polarizability.py", script)
    resources = tmp_path / "tests" / "resources"
    resources.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "resources" / "qm7x_reduced_100.xyz", resources)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")

    written = ase.io.read(script.parent / "qm7x_polarizability_100.xyz", ":")
    shipped = ase.io.read(ROOT / "examples/data/qm7x_polarizability_100.xyz", ":")
    assert len(written) == len(shipped) == 100
    for new, old in zip(written, shipped):
        np.testing.assert_allclose(
            new.info["polarizability_spherical"], old.info["polarizability_spherical"]
        )
        # the spherical parts hold the whole (symmetric) tensor: λ0 is −trace/√3
        trace = np.trace(np.reshape(new.info["polarizability"], (3, 3)))
        assert np.isclose(new.info["polarizability_spherical"][0], -trace / 3**0.5)
        norm = np.linalg.norm(new.info["polarizability"])
        assert np.isclose(np.linalg.norm(new.info["polarizability_spherical"]), norm)
