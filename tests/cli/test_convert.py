"""``atomtrain convert`` from the command line."""

import ase.io
import pytest
import torch

from atomtrain.cli.main import main
from atomtrain.data.ondisk import DiskDataset


def test_convert_carbon_with_virial(tmp_path, resources, capsys):
    source = resources / "carbon_reduced_100.xyz"
    output = tmp_path / "carbon"
    argv = ["convert", str(source), str(output), "--energy", "energy"]
    argv += ["--forces", "force", "--virial", "virial", "--energy-unit", "eV"]
    assert main(argv) == 0
    assert "wrote 100 structures" in capsys.readouterr().out
    dataset = DiskDataset(output)
    info = dataset.info.targets["energy"]
    assert (info.unit, info.gradients) == ("eV", ("positions", "strain"))
    frame = ase.io.read(source, 9)
    strain = dataset[9].targets["energy"].gradients["strain"][..., 0]
    torch.testing.assert_close(strain, -torch.tensor(frame.info["virial"]))


def test_generic_targets(tmp_path, resources):
    output = tmp_path / "qm7x"
    target = "mtt::alpha=polarizability,rank=2,unit=bohr^3,quantity=polarizability"
    argv = ["convert", str(resources / "qm7x_reduced_100.xyz"), str(output)]
    assert main([*argv, "--target", target]) == 0
    info = DiskDataset(output).info.targets["mtt::alpha"]
    assert (info.kind, info.rank, info.unit, info.sample_kind) == (
        "cartesian",
        2,
        "bohr^3",
        "system",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--forces", "forces"], "--forces, --stress and --virial need --energy"),
        (["--target", "alpha"], "expected NAME=KEY"),
        (["--target", "a=b,rank=x"], "rank and subtargets are integers"),
        (["--target", "a=b,colour=red"], "unknown option 'colour=red'"),
        (["--target", "a=b", "--target", "a=c"], "target 'a' is given more than once"),
        (["--energy", "forcez"], "key 'forcez'"),
    ],
)
def test_errors_are_reported(tmp_path, resources, capsys, extra, message):
    argv = ["convert", str(resources / "ethanol_reduced_100.xyz"), str(tmp_path / "o")]
    assert main(argv + extra) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_output_is_required(resources, capsys):
    assert main(["convert", str(resources / "ethanol_reduced_100.xyz")]) == 1
    assert "at least one INPUT and an OUTPUT" in capsys.readouterr().err
