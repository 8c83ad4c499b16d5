import pytest

from atomtrain.data.targets import (
    default_key,
    default_quantity,
    expand_target_type,
    target_info,
    target_name_problem,
)


def test_target_names() -> None:
    for name in (
        "energy",
        "energy/pbe",
        "mtt::dipole",
        "mtt::x/v",
        "non_conservative_force",
    ):
        assert target_name_problem(name) is None
    assert "'mtt::dipole'" in str(target_name_problem("dipole"))
    assert "did you mean 'energy'" in str(target_name_problem("energie"))
    assert "non-empty domain" in str(target_name_problem("mtt::"))
    assert "not a target" in str(target_name_problem("feature"))


def test_defaults_never_make_an_energy_of_a_generic_target() -> None:
    assert default_quantity("energy/pbe") == "energy"
    assert default_quantity("mtt::energy_like") == ""
    assert default_key("mtt::U0/b3lyp") == "U0/b3lyp"
    assert default_key("energy") == "energy"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, "scalar"),
        ("scalar", "scalar"),
        ({"cartesian": {"rank": 3}}, {"cartesian": {"rank": 3}}),
    ],
)
def test_types(value: object, expected: object) -> None:
    assert expand_target_type(value, "t") == (expected, [])


def test_target_info_layout() -> None:
    section = {
        "quantity": "",
        "unit": "",
        "sample_kind": "atom",
        "type": {"spherical": {"irreps": [{"o3_lambda": 1, "o3_sigma": 1}]}},
        "num_subtargets": 3,
        "description": "shifts",
    }
    info = target_info(section)
    assert (info.kind, info.irreps, info.num_subtargets) == ("spherical", ((1, 1),), 3)
    assert info.gradients == () and info.per_atom and info.description == "shifts"
    layout = info.layout("mtt::shifts")
    assert layout.block(0).values.shape == (0, 3, 3)


def test_energy_info_keeps_gradients_in_order() -> None:
    section = {
        "quantity": "energy",
        "unit": "eV",
        "sample_kind": "system",
        "type": "scalar",
        "num_subtargets": 1,
        "description": "",
    }
    info = target_info(section, ["strain", "positions"])
    assert info.is_energy and info.gradients == ("positions", "strain")
