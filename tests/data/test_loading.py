from pathlib import Path
from typing import Any, Dict

from atomtrain.data.loading import load_datasets
from atomtrain.options.datasets import expand_dataset_section


def options(training: Any, base: Path, **extra: Any) -> Dict[str, Any]:
    sections, problems = expand_dataset_section(training, "training_set", base)
    assert problems == []
    return {"training_set": sections, "seed": 3, **extra}


def test_fractions_split_and_indices_are_reused(
    resources: Path, tmp_path: Path
) -> None:
    value = options(
        {
            "systems": "ethanol_reduced_100.xyz",
            "targets": {"energy": {"unit": "kcal/mol"}},
        },
        resources,
        validation_set=0.1,
        test_set=0.2,
    )
    first = load_datasets(value, tmp_path / "run1")
    assert [len(first.training[0]), len(first.validation[0]), len(first.test[0])] == [
        70,
        10,
        20,
    ]
    assert first.dataset_info.targets["energy"].unit == "kcal/mol"
    assert first.dataset_info.atomic_types == [1, 6, 8]
    assert first.cache.misses == 1
    written = (tmp_path / "run1" / "indices" / "validation.txt").read_text().split()
    assert [int(i) for i in written] == list(first.splits["validation"][0])
    origins = {first.validation[0].origin(i)[1] for i in range(10)}
    assert origins == set(first.splits["validation"][0])
    # a restart with another seed still reads the stored split
    value["seed"] = 99
    again = load_datasets(value, tmp_path / "run2", tmp_path / "run1" / "indices")
    assert again.splits == first.splits
    assert (tmp_path / "run2" / "indices" / "test.txt").read_text() == (
        tmp_path / "run1" / "indices" / "test.txt"
    ).read_text()
    assert load_datasets(value, None).splits != first.splits


def test_sections_for_validation_and_indices(resources: Path) -> None:
    value = options(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"mtt::U0": {}},
            "indices": list(range(60)),
        },
        resources,
        test_set=0.0,
    )
    validation, _ = expand_dataset_section(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"mtt::U0": {}},
            "indices": [70, 80],
        },
        "validation_set",
        resources,
    )
    value["validation_set"] = validation
    loaded = load_datasets(value)
    assert len(loaded.training[0]) == 60 and len(loaded.validation[0]) == 2
    assert loaded.validation[0].origin(1)[1] == 80
    assert len(loaded.test[0]) == 0
    assert loaded.cache.misses == 1


def test_atomic_types_from_the_architecture(resources: Path) -> None:
    value = options("ethanol_reduced_100.xyz", resources, validation_set=0.1)
    value["architecture"] = {"name": "x", "atomic_types": [1, 6, 7, 8]}
    assert load_datasets(value).dataset_info.atomic_types == [1, 6, 7, 8]
