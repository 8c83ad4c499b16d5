"""No command destroys a file atomtrain did not create: extensions directories,
outputs onto inputs, special files, file modes, concurrent runs."""

from __future__ import annotations

import os
import shutil
import stat
import warnings
from pathlib import Path

import pytest
import yaml
from fault_helpers import Snapshot, write_options
from metatomic.torch import load_atomistic_model

import atomtrain.workflows.train as train_workflow
from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.files import OutputChangedWarning
from atomtrain.workflows.restart import SplitRedrawnWarning


def _soap_bpnn_options(path: Path) -> Path:
    """Tiny SOAP-BPNN hypers: its exported model needs the compiled sphericart
    extension."""
    write_options(path, training={"batch_size": 20})
    options = yaml.safe_load(path.read_text())
    options["architecture"]["name"] = "soap_bpnn"
    options["architecture"]["model"] = {
        "soap": {"max_radial": 2, "max_angular": 2},
        "bpnn": {"num_neurons_per_layer": 8, "num_hidden_layers": 1},
    }
    path.write_text(yaml.safe_dump(options))
    return path


def test_export_with_extensions_in_the_working_directory_is_refused(trained, atomtrain):
    before = Snapshot(trained)
    outcome = atomtrain("export", "model.ckpt", "-o", "x.pt", "-e", ".")
    outcome.assert_user_error("-e '.' is the working directory")
    before.assert_unchanged()
    assert not (trained / "x.pt").exists()


def test_train_with_extensions_in_the_outputs_root_is_refused(trained, atomtrain):
    before = Snapshot(trained)
    outcome = atomtrain("train", "options.yaml", "-e", "outputs")
    outcome.assert_user_error("-e 'outputs' is the outputs root")
    before.assert_unchanged()
    assert len(list(trained.glob("outputs/*/*"))) == 1


def test_extensions_directory_holding_other_files_is_refused(trained, atomtrain):
    (trained / "mine").mkdir()
    (trained / "mine" / "notes.txt").write_text("keep me")
    before = Snapshot(trained)
    outcome = atomtrain("export", "model.ckpt", "-o", "x.pt", "-e", "mine")
    outcome.assert_user_error("'notes.txt'", "not compiled extensions")
    before.assert_unchanged()


@pytest.mark.slow
def test_exporting_into_another_models_extensions_keeps_that_model_loadable(
    workdir, atomtrain
):
    """A SOAP-BPNN model's extensions/ is shared by a second export: its libraries
    stay, and a differing library is refused rather than replaced."""
    options = _soap_bpnn_options(workdir / "soap.yaml")
    assert atomtrain("train", options, "-o", "soap.pt").code == 0
    libraries = sorted(p for p in (workdir / "extensions").rglob("*") if p.is_file())
    assert libraries, "SOAP-BPNN collects the sphericart extension"
    write_options(workdir / "dummy.yaml")
    assert atomtrain("train", "dummy.yaml", "-o", "dummy.pt").code == 0
    assert atomtrain("export", "soap.ckpt", "-o", "again.pt").code == 0
    for path in ("soap.pt", "again.pt"):
        load_atomistic_model(str(workdir / path), extensions_directory="extensions")

    other_build = libraries[0]
    other_build.write_bytes(other_build.read_bytes() + b"another build")
    before = Snapshot(workdir)
    outcome = atomtrain("export", "soap.ckpt", "-o", "third.pt")
    outcome.assert_user_error(str(other_build.relative_to(workdir)), "differs")
    before.assert_unchanged()
    assert not (workdir / "third.pt").exists()
    assert not list(workdir.glob(".*"))


def test_eval_writing_predictions_onto_its_data_is_refused(trained, atomtrain):
    (trained / "set.yaml").write_text(
        yaml.safe_dump(
            {"systems": "ethanol.xyz", "targets": {"energy": {"unit": "kcal/mol"}}}
        )
    )
    before = Snapshot(trained)
    for flag, target in (
        ("-o", "ethanol.xyz"),
        ("-p", "set.yaml"),
        ("-p", "model.pt"),
    ):
        outcome = atomtrain("eval", "model.pt", "set.yaml", flag, target)
        outcome.assert_user_error(f"{flag} '{target}' is an input")
    before.assert_unchanged()


def test_eval_refuses_a_hard_link_to_its_data(trained, atomtrain):
    os.link(trained / "ethanol.xyz", trained / "alias.xyz")
    (trained / "set.yaml").write_text(yaml.safe_dump({"systems": "ethanol.xyz"}))
    before = Snapshot(trained)
    outcome = atomtrain("eval", "model.pt", "set.yaml", "-o", "alias.xyz")
    outcome.assert_user_error("is an input", "ethanol.xyz")
    before.assert_unchanged()


def test_export_onto_its_own_checkpoint_is_refused(trained, atomtrain):
    before = Snapshot(trained)
    outcome = atomtrain("export", "model.ckpt", "-o", "model.ckpt")
    outcome.assert_user_error("-o 'model.ckpt' is an input")
    before.assert_unchanged()
    read_checkpoint_file(trained / "model.ckpt")


def test_train_onto_its_data_is_refused(trained, atomtrain):
    before = Snapshot(trained, ignore=["outputs"])
    runs = list(trained.glob("outputs/*/*"))
    outcome = atomtrain("train", "options.yaml", "-o", "ethanol.xyz")
    outcome.assert_user_error("-o 'ethanol.xyz' is an input")
    outcome = atomtrain("train", "options.yaml", "-o", "options.yaml")
    outcome.assert_user_error("-o 'options.yaml' is an input")
    before.assert_unchanged()
    assert list(trained.glob("outputs/*/*")) == runs


def test_a_restart_that_replaces_its_checkpoint_keeps_a_copy(trained, atomtrain):
    """``train --restart model.ckpt`` ends by writing ``model.ckpt``: the checkpoint
    it started from is kept in the new run directory."""
    previous = (trained / "model.ckpt").read_bytes()
    write_options(trained / "options.yaml", epochs=2)
    with pytest.warns(SplitRedrawnWarning, match="drawn again from the seed"):
        outcome = atomtrain("train", "options.yaml", "--restart", "model.ckpt")
    assert outcome.code == 0, outcome.err
    newest = sorted(trained.glob("outputs/*/*"))[-1]
    assert (newest / "restarted_from.ckpt").read_bytes() == previous
    assert (
        read_checkpoint_file(trained / "model.ckpt")["trainer"]["state"]["epoch"] == 2
    )


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_outputs_onto_special_files_are_refused(trained, atomtrain, kind):
    target = trained / "special"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    before = Snapshot(trained)
    outcome = atomtrain("export", "model.ckpt", "-o", "special")
    expected = "a directory" if kind == "directory" else "not a regular file"
    outcome.assert_user_error(f"-o 'special' is {expected}")
    before.assert_unchanged()
    assert stat.S_ISFIFO(os.stat(target).st_mode) == (kind == "fifo")


def test_exported_files_have_the_usual_mode(trained, atomtrain):
    previous = os.umask(0o022)
    try:
        assert atomtrain("export", "model.ckpt", "-o", "new.pt").code == 0
        os.chmod(trained / "model.pt", 0o640)
        assert atomtrain("export", "model.ckpt", "-o", "model.pt").code == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(trained / "new.pt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(trained / "model.pt").st_mode) == 0o640
    run = next(trained.glob("outputs/*/*"))
    assert stat.S_IMODE(os.stat(run / "model.ckpt").st_mode) == 0o644


def test_a_model_written_by_another_run_meanwhile_is_kept(
    workdir, atomtrain, monkeypatch
):
    """Two runs in one directory: the one that finishes second does not replace
    the ``model.pt`` the first wrote while it trained, and says where its own is."""
    write_options(workdir / "options.yaml")
    real_write = train_workflow._write_outputs

    def another_run_finishes_first(*args, **kwargs):
        (workdir / "model.pt").write_bytes(b"the other run's model")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(train_workflow, "_write_outputs", another_run_finishes_first)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = atomtrain("train", "options.yaml")
    assert outcome.code == 0, outcome.err
    assert (workdir / "model.pt").read_bytes() == b"the other run's model"
    [run] = (p.relative_to(workdir) for p in workdir.glob("outputs/*/*"))
    messages = [str(w.message) for w in caught if w.category is OutputChangedWarning]
    assert messages == [
        f"'model.pt' was written by another process while this run trained; it "
        f"was left as it is, and this run's file is '{run / 'model.pt'}'"
    ]
    assert f"exported model    {run / 'model.pt'}" in outcome.out
    read_checkpoint_file(workdir / "model.ckpt")


def test_the_copies_of_a_run_are_its_own_files(trained):
    [run] = trained.glob("outputs/*/*")
    for name in ("model.pt", "model.ckpt"):
        assert (trained / name).read_bytes() == (run / name).read_bytes()
        assert not (trained / name).samefile(run / name)
    shutil.rmtree(run)
    read_checkpoint_file(trained / "model.ckpt")
