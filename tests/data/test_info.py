import pytest
import torch

from atomtrain.data.info import DatasetInfo, IncompatibleInfoError, TargetInfo


def test_energy_layout_has_gradient_blocks():
    info = TargetInfo(quantity="energy", unit="eV", gradients=("positions", "strain"))
    layout = info.layout("energy")
    block = layout.block()
    assert block.properties.names == ["energy"]
    assert sorted(block.gradients_list()) == ["positions", "strain"]
    assert block.gradient("strain").values.shape == (0, 3, 3, 1)


def test_spherical_layout_has_one_block_per_irrep():
    info = TargetInfo(kind="spherical", irreps=((0, 1), (2, 1)), num_subtargets=4)
    layout = info.layout("mtt::dipole")
    assert len(layout) == 2
    assert layout.block(1).values.shape == (0, 5, 4)
    assert layout.keys.names == ["o3_lambda", "o3_sigma"]


def test_cartesian_rank2_components():
    info = TargetInfo(kind="cartesian", rank=2)
    block = info.layout("mtt::polarizability").block()
    assert [c.names[0] for c in block.components] == ["xyz_1", "xyz_2"]


def test_dataset_info_union_merges_gradients_and_types():
    energy = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
    first = DatasetInfo("angstrom", [6, 1], {"energy": energy})
    second = DatasetInfo(
        "angstrom", [8], {"energy": TargetInfo(quantity="energy", unit="eV")}
    )
    merged = first.union(second)
    assert merged.atomic_types == [1, 6, 8]
    assert merged.targets["energy"].gradients == ("positions",)
    assert DatasetInfo.from_dict(merged.to_dict()) == merged


def test_dataset_info_union_refuses_conflicts():
    first = DatasetInfo("angstrom", [1], {"x": TargetInfo(unit="eV")})
    with pytest.raises(IncompatibleInfoError, match="length units differ"):
        first.union(DatasetInfo("bohr", [1]))
    other = DatasetInfo("angstrom", [1], {"x": TargetInfo(unit="meV")})
    with pytest.raises(IncompatibleInfoError, match="target 'x'"):
        first.union(other)


def test_layout_dtype_is_float64():
    assert TargetInfo().layout("x").block().values.dtype == torch.float64
