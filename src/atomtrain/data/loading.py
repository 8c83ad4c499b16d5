"""Loading the datasets of expanded options into memory.

:func:`load_datasets` reads every dataset section of the training, validation and test
sets through one :class:`~atomtrain.data.readers.FileCache` (each file parsed once),
splits fractions off the training datasets (see :mod:`atomtrain.data.splits`) and
builds the :class:`DatasetInfo` the model is built from. Each section's structures are
checked as they are read (:func:`~atomtrain.data.validity.require_valid`: no NaN or
infinite label, no overlapping atoms), except for ``atomtrain check``, which lists
every such problem instead of stopping at the first.

A section on an on-disk dataset (``reader: disk``) opens it as a
:class:`~atomtrain.data.ondisk.DiskDataset` reading the section's targets: nothing is
read into memory, and nothing is checked again (``atomtrain convert`` refused unusable
structures). Its atomic types are those of the whole stored dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ..errors import DataError, UserError
from .dataset import Dataset, InMemoryDataset
from .info import DatasetInfo, IncompatibleInfoError, TargetInfo
from .ondisk import DiskDataset, StoredEntry
from .readers import FileCache, read_target
from .splits import (
    SPLITS,
    SplitIndices,
    draw_splits,
    index_array,
    read_indices,
    write_indices,
)
from .structure import Structure
from .targets import GRADIENT_OF, dataset_info, target_info
from .validity import require_valid

SET_KEYS = {
    "training": "training_set",
    "validation": "validation_set",
    "test": "test_set",
}


@dataclass
class LoadedData:
    """The datasets of a run: one per dataset section (or per training section for
    fraction splits), and the :class:`DatasetInfo` of the training data."""

    training: List[Dataset]
    validation: List[Dataset]
    test: List[Dataset]
    dataset_info: DatasetInfo
    splits: SplitIndices = field(default_factory=dict)
    cache: FileCache = field(default_factory=FileCache)


def load_section(
    section: Dict[str, Any], cache: FileCache, validate: bool = True
) -> Dataset:
    """The dataset of one expanded section, restricted to its ``indices``; with
    ``validate``, NaN or infinite labels and overlapping atoms are a
    :class:`DataError`."""
    if section["systems"]["reader"] == "disk":
        return open_disk_section(section)
    file = section["systems"]["read_from"]
    base = cache.structures(file)
    structures = [Structure(s.types, s.positions, s.cell, s.pbc) for s in base]
    targets: Dict[str, TargetInfo] = {}
    extra: Dict[str, TargetInfo] = {}
    for group, infos in (("targets", targets), ("extra_data", extra)):
        for name, spec in section.get(group, {}).items():
            data, infos[name] = read_target(cache, spec, structures)
            for structure, item in zip(structures, data):
                getattr(structure, group)[name] = item
    origins = [(file, i) for i in range(len(structures))]
    dataset = InMemoryDataset(structures, DatasetInfo(), origins)
    indices = section.get("indices")
    if indices is not None:
        too_large = [i for i in indices if i >= len(structures)]
        if too_large:
            raise DataError(
                f"the section's indices go up to {max(too_large)}, but the file holds "
                f"{len(structures)} structures (0 to {len(structures) - 1})",
                file=file,
            )
        dataset = dataset.subset(indices)
    types = sorted({int(t) for s in dataset.structures for t in s.types.tolist()})
    dataset.info = dataset_info(
        section["systems"]["length_unit"], types, targets, extra
    )
    if validate:
        require_valid(dataset, section)
    return dataset


def open_disk_section(section: Dict[str, Any]) -> DiskDataset:
    """The on-disk dataset of an expanded section, reading its targets, extra data
    and gradients (checked against the header when the options were validated)."""
    selection: Dict[str, Dict[str, StoredEntry]] = {}
    for group in ("targets", "extra_data"):
        selection[group] = {}
        for name, spec in section.get(group, {}).items():
            gradients = [GRADIENT_OF[g] for g in GRADIENT_OF if spec.get(g)]
            info = target_info(spec, gradients)
            selection[group][name] = StoredEntry(spec["key"], info)
    dataset = DiskDataset(
        section["systems"]["read_from"],
        selection["targets"],
        selection["extra_data"],
    )
    indices = section.get("indices")
    return dataset if indices is None else dataset.subset(indices)


def load_datasets(
    options: Dict[str, Any],
    run_dir: Optional[Path] = None,
    restart_indices: Union[Path, Mapping[str, Sequence[Sequence[int]]], None] = None,
    cache: Optional[FileCache] = None,
    validate: bool = True,
) -> LoadedData:
    """Load the training, validation and test sets of expanded ``options``.

    Fractions are split off each training dataset at random from ``options["seed"]``,
    or taken from ``restart_indices`` (a directory of index files written by an earlier
    run, or the mapping :func:`~atomtrain.data.splits.read_indices` returns). The split
    is written to ``run_dir/indices`` when ``run_dir`` is given. ``validate`` is
    passed to :func:`load_section`.
    """
    cache = cache if cache is not None else FileCache()
    training = [load_section(s, cache, validate) for s in options["training_set"]]
    loaded: Dict[str, List[Dataset]] = {"training": training}
    for split in ("validation", "test"):
        value = options.get(SET_KEYS[split], 0.0)
        if not isinstance(value, (int, float)):
            loaded[split] = [load_section(s, cache, validate) for s in value]
    splits = _splits(options, [len(d) for d in training], restart_indices)
    loaded["training"] = [d.subset(i) for d, i in zip(training, splits["training"])]
    for split in ("validation", "test"):
        if split not in loaded:
            loaded[split] = [d.subset(i) for d, i in zip(training, splits[split])]
    if run_dir is not None:
        write_indices(Path(run_dir) / "indices", splits)
    info = _training_info(loaded["training"], options)
    return LoadedData(
        loaded["training"], loaded["validation"], loaded["test"], info, splits, cache
    )


def _splits(
    options: Dict[str, Any],
    sizes: Sequence[int],
    restart: Union[Path, Mapping[str, Sequence[Sequence[int]]], None],
) -> SplitIndices:
    if isinstance(restart, Path):
        return read_indices(restart, sizes)
    if restart is not None:
        return {split: [index_array(i) for i in restart[split]] for split in SPLITS}
    fractions = [options.get(SET_KEYS[s], 0.0) for s in ("validation", "test")]
    validation, test = (f if isinstance(f, (int, float)) else 0.0 for f in fractions)
    return draw_splits(sizes, float(validation), float(test), int(options["seed"]))


def _training_info(training: Sequence[Dataset], options: Dict[str, Any]) -> DatasetInfo:
    info = training[0].info
    try:
        for dataset in training[1:]:
            info = info.union(dataset.info)
    except IncompatibleInfoError as error:
        raise UserError(f"the training datasets do not agree: {error}") from None
    extra_types = (options.get("architecture") or {}).get("atomic_types") or []
    return dataset_info(
        info.length_unit,
        info.atomic_types + list(extra_types),
        info.targets,
        info.extra_data,
    )
