"""The tutorials of ``examples/tutorials/``: each one runs, its numbers make sense,
and its page in ``docs/tutorials/`` shows its script and the figures it writes.

The runs go through the docs extension (``docs/_ext/atomtrain_tutorials.py``), which
keeps each tutorial's outputs under ``docs/_build/tutorials/`` with a fingerprint of
the script and of the atomtrain sources: a tutorial already run on the same code by
the docs build is checked from its outputs, otherwise it runs here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

ROOT = Path(__file__).parent.parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import atomtrain_tutorials  # noqa: E402

SCRIPTS = atomtrain_tutorials.scripts(ROOT)
SHOWN = re.compile(r"_outputs/(\w+)/([\w.]+)")


def _pet_md(results: Dict[str, Any]) -> None:
    assert results["steps"] == 400 and results["energies_finite"]
    # the molecule stays bound and the thermostat holds it near 300 K
    assert results["longest_bond_angstrom"] < 1.6
    assert 200 < results["mean_temperature_K"] < 500


def _parity_plot(results: Dict[str, Any]) -> None:
    assert results["num_test_structures"] == 50
    # far better than predicting zero forces, and the same as atomtrain eval printed
    assert results["force_mae_eV_per_angstrom"] < 0.2 * results["mean_absolute_force"]
    assert results["energy_mae_eV_per_atom"] < 0.02
    assert set(results["force_mae_by_element"]) == {"H", "C", "O"}


def _learning_curve(results: Dict[str, Any]) -> None:
    errors = results["force_mae_eV_per_angstrom"]
    assert results["sizes"] == [25, 50, 100, 200]
    assert errors[-1] < errors[0]
    assert results["log_log_slope"] < -0.1


def _finetuning(results: Dict[str, Any]) -> None:
    assert results["step_zero_check_passed"]
    assert results["finetuned_val_force_mae_kcal_mol_angstrom"] < 10.0
    assert results["scratch_val_force_mae_kcal_mol_angstrom"] < 10.0
    # each head predicts its own level of theory: DFT total energies of ethanol are
    # near -4210 eV (-97,000 kcal/mol), GFN2-xTB ones near -309 eV
    assert -4300 < results["energy_dft_head_eV"] < -4100
    assert -320 < results["energy_gfn2_head_eV"] < -300


def _uncertainty_md(results: Dict[str, Any]) -> None:
    assert results["mean_temperature_last_quarter_K"] > 1000
    first = results["mean_uncertainty_first_quarter_eV"]
    assert 0 < first < results["mean_uncertainty_last_quarter_eV"]


def _periodic_stress(results: Dict[str, Any]) -> None:
    assert results["max_stress_difference"] < 1e-6
    pressures = results["pressure_eV_per_A3"]
    slopes = results["minus_dE_dV_eV_per_A3"]
    # central differences of the energy on the inner points follow the pressure
    for pressure, slope in list(zip(pressures, slopes))[1:-1]:
        assert abs(pressure - slope) < 0.05 * max(abs(pressure), 0.05)


def _ondisk_dataset(results: Dict[str, Any]) -> None:
    assert results["num_structures"] == [900, 100]
    assert results["num_predictions"] == 100
    # positions, forces, energy and indices of 9 atoms: about 500 bytes
    assert 400 < results["bytes_per_structure"] < 800
    assert results["force_mae_eV_per_angstrom"] < 0.5 * results["mean_absolute_force"]


def _finetune_pretrained(results: Dict[str, Any]) -> None:
    assert results["step_zero_check_passed"]
    before = results["force_mae_before_kcal_mol_angstrom"]
    after = results["force_mae_after_kcal_mol_angstrom"]
    # 50 DFT frames take the GFN2-xTB model much closer to DFT forces
    assert after < 0.6 * before
    assert results["gfn2_force_mae_before_eV_angstrom"] < 0.15
    assert results["finetuned_on"] == ["train.xyz"]


def _dipoles(results: Dict[str, Any]) -> None:
    assert results["num_test_structures"] == 50
    # learned well below the spread of the labels, each component alike
    spread = results["dipole_mean_absolute_component"]
    assert results["dipole_mae_e_angstrom"] < 0.1 * spread
    assert set(results["dipole_component_mae_e_angstrom"]) == {"x", "y", "z"}
    assert results["quadrupole_mae_e_angstrom2"] < (
        0.6 * results["quadrupole_mean_absolute_component"]
    )
    # float32 model: equivariant to rounding
    assert results["rotated_dipole_error"] < 1e-5
    assert results["rotated_quadrupole_error"] < 1e-5


def _long_range(results: Dict[str, Any]) -> None:
    short, long = results["short_range"], results["long_range"]
    assert long["energy_mae"] < 0.8 * short["energy_mae"]
    pulled = zip(
        results["distances_angstrom"],
        short["pulled_apart_eV"],
        long["pulled_apart_eV"],
        results["coulomb_eV"],
    )
    for distance, short_range, long_range, coulomb in pulled:
        # no atom of one ion within 5 Å of the other: the short-range model is flat
        if distance >= 10.0:
            assert abs(short_range) < 1e-4
        # beyond the training data too, the long-range model keeps the 1/r
        if 8.0 <= distance <= 25.0:
            assert 0.6 * coulomb < long_range < 1.4 * coulomb


CHECKS: Dict[str, Callable[[Dict[str, Any]], None]] = {
    "long_range": _long_range,
    "dipoles": _dipoles,
    "finetune_pretrained": _finetune_pretrained,
    "pet_md": _pet_md,
    "parity_plot": _parity_plot,
    "learning_curve": _learning_curve,
    "finetuning": _finetuning,
    "uncertainty_md": _uncertainty_md,
    "periodic_stress": _periodic_stress,
    "ondisk_dataset": _ondisk_dataset,
}


def test_every_tutorial_has_checks_and_a_page_in_the_toctree() -> None:
    assert sorted(s.stem for s in SCRIPTS) == sorted(CHECKS)
    index = (DOCS / "tutorials" / "index.md").read_text()
    for script in SCRIPTS:
        page = (DOCS / "tutorials" / f"{script.stem}.md").read_text()
        assert f"\n{script.stem}\n" in index
        assert f"{{literalinclude}} _outputs/{script.stem}/{script.name}" in page
        docstring = script.read_text().split('"""')[1]
        assert docstring.strip(), f"{script.name} has no module docstring"
    assert "tutorials/index" in (DOCS / "index.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.stem)
def test_tutorial_runs(script: Path) -> None:
    run = atomtrain_tutorials.run_tutorial(script)
    print(f"{script.stem}: {run.seconds:.1f} s ({'ran' if run.ran else 'cached'})")
    CHECKS[script.stem](json.loads((run.directory / "results.json").read_text()))
    page = (DOCS / "tutorials" / f"{script.stem}.md").read_text()
    figures = [name for stem, name in SHOWN.findall(page) if name.endswith(".png")]
    assert figures, f"the page of {script.stem} shows no figure"
    for stem, name in SHOWN.findall(page):
        assert stem == script.stem
        shown = script if name == script.name else run.directory / name
        assert shown.is_file(), f"{script.stem}.md shows {name}, not written"
    for figure in figures:
        assert (run.directory / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _tutorial(root: Path, body: str) -> Path:
    script = root / "examples" / "tutorials" / "demo.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(body)
    return script


WRITES = (
    "import os, pathlib\n"
    "out = pathlib.Path(os.environ['ATOMTRAIN_TUTORIAL_OUTPUT'])\n"
    "(out / 'figure.png').write_bytes(b'png')\n"
    "print('threads', os.environ['OMP_NUM_THREADS'])\n"
)


def test_outputs_are_reused_until_the_script_changes(tmp_path: Path) -> None:
    script = _tutorial(tmp_path, WRITES)
    first = atomtrain_tutorials.run_tutorial(script)
    assert first.ran
    assert first.directory == tmp_path / "docs" / "_build" / "tutorials" / "demo"
    assert (first.directory / "figure.png").read_bytes() == b"png"
    assert "threads" in (first.directory / atomtrain_tutorials.LOG).read_text()
    assert not atomtrain_tutorials.run_tutorial(script).ran
    script.write_text(WRITES + "print('changed')\n")
    assert atomtrain_tutorials.run_tutorial(script).ran
    assert atomtrain_tutorials.run_tutorial(script, force=True).ran


def test_a_failing_tutorial_reports_its_output_and_keeps_the_last_outputs(
    tmp_path: Path,
) -> None:
    script = _tutorial(tmp_path, WRITES)
    directory = atomtrain_tutorials.run_tutorial(script).directory
    script.write_text("print('reading the data')\nraise SystemExit('no such file')\n")
    with pytest.raises(atomtrain_tutorials.TutorialFailed) as error:
        atomtrain_tutorials.run_tutorial(script)
    assert "demo.py failed (exit code 1)" in str(error.value)
    assert "reading the data" in str(error.value) and "no such file" in str(error.value)
    assert (directory / "figure.png").is_file()
    assert [p.name for p in directory.parent.iterdir()] == ["demo"]


def test_pages_get_the_script_and_figures(tmp_path: Path) -> None:
    script = _tutorial(tmp_path, WRITES)
    run = atomtrain_tutorials.run_tutorial(script)
    pages = tmp_path / "pages"
    stale = pages / "_outputs" / "demo" / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    target = atomtrain_tutorials.copy_for_pages(run, script, pages)
    assert sorted(p.name for p in target.iterdir()) == ["demo.py", "figure.png"]
