from pathlib import Path

import ase.io

from atomtrain.data.elements import (
    element_name,
    format_types,
    unseen_elements,
    unseen_elements_error,
)
from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.options.datasets import expand_dataset_section


def _qm9(resources: Path):
    (section,), problems = expand_dataset_section(
        {"systems": "qm9_reduced_100.xyz"},
        "test_set",
        resources,
        require_targets=False,
    )
    assert problems == []
    return load_section(section, FileCache())


def test_names() -> None:
    assert element_name(7) == "N (atomic number 7)"
    assert element_name(200) == "atomic type 200"
    assert format_types([8, 1, 6]) == "H, C, O (1, 6, 8)"


def test_structures_with_elements_the_model_lacks(resources: Path) -> None:
    dataset = _qm9(resources)
    frames = ase.io.read(resources / "qm9_reduced_100.xyz", ":")
    with_nitrogen = [i for i, atoms in enumerate(frames) if 7 in atoms.numbers]
    with_fluorine = [i for i, atoms in enumerate(frames) if 9 in atoms.numbers]
    unseen = unseen_elements(dataset, [1, 6, 8])
    assert sorted(unseen) == sorted({7} | ({9} if with_fluorine else set()))
    assert [position for _, position in unseen[7]] == with_nitrogen
    assert unseen_elements(dataset, [1, 6, 7, 8, 9]) == {}

    error = unseen_elements_error(
        dataset, [1, 6, 8], "the model's atomic types", "do this", "test_set"
    )
    assert error is not None
    listed = ", ".join(str(i) for i in with_nitrogen[:5])
    more = len(with_nitrogen) - 5
    assert str(error) == (
        f"file '{resources / 'qm9_reduced_100.xyz'}': structures {listed} "
        f"(and {more} more) of the test_set: element N (atomic number 7)"
        + (" (also F (atomic number 9))" if with_fluorine else "")
        + " is not among the model's atomic types: H, C, O (1, 6, 8); do this"
    )


def test_a_subset_without_the_element_is_fine(resources: Path) -> None:
    dataset = _qm9(resources)
    frames = ase.io.read(resources / "qm9_reduced_100.xyz", ":")
    without = [i for i, atoms in enumerate(frames) if set(atoms.numbers) <= {1, 6, 8}]
    subset = dataset.subset(without)
    # the file as a whole holds N: the subset's structures are read to decide
    assert 7 in subset.info.atomic_types
    assert unseen_elements_error(subset, [1, 6, 8], "x", "y") is None
