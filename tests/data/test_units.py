from atomtrain.data.units import (
    gradient_unit,
    per_mole_unit_meant,
    unit_problem,
    units_agree,
)


def test_unit_problems() -> None:
    assert unit_problem("kcal/mol", "u", "energy") == []
    assert unit_problem("", "u", "energy") == []
    assert unit_problem("Bohr", "u", "length") == []
    (problem,) = unit_problem("eV", "training_set.systems.length_unit", "length")
    assert str(problem).startswith(
        "training_set.systems.length_unit: expected a unit of length"
    )
    (problem,) = unit_problem("furlong", "x.unit")
    assert "unknown unit 'furlong'" in str(problem)
    (problem,) = unit_problem(3, "x.unit")
    assert "as a string" in str(problem)


def test_gradient_units() -> None:
    assert gradient_unit("kcal/mol", "angstrom", "positions") == "kcal/mol/angstrom"
    assert gradient_unit("eV", "angstrom", "strain") == "eV"
    assert gradient_unit("eV", "bohr", "stress") == "eV/bohr^3"
    assert gradient_unit("", "angstrom", "positions") == ""


def _section(length: str, unit: str) -> dict:
    return {
        "systems": {"read_from": f"{unit}.xyz", "length_unit": length},
        "targets": {"energy": {"unit": unit}},
    }


def test_units_agree_across_sections() -> None:
    assert (
        units_agree(
            [("a", _section("angstrom", "eV")), ("b", _section("angstrom", "eV"))]
        )
        == []
    )
    problems = units_agree(
        [("a", _section("angstrom", "eV")), ("b", _section("bohr", "Hartree"))]
    )
    assert [p.path for p in problems] == [
        "b.systems.length_unit",
        "b.targets.energy.unit",
    ]
    assert "differs from 'eV' in a ('eV.xyz')" in str(problems[1])
    assert "(here 'Hartree.xyz')" in str(problems[1])


def test_a_macroscopic_energy_unit_was_probably_meant_per_mole() -> None:
    assert per_mole_unit_meant("kcal") == "kcal/mol"
    assert per_mole_unit_meant("kJ") == "kJ/mol"
    for unit in ("kcal/mol", "eV", "meV", "Hartree", "angstrom", "furlong", ""):
        assert per_mole_unit_meant(unit) is None
