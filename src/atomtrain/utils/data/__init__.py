"""Data types and helpers that architectures use (public, fixed import path)."""

from ...data.dataset import Dataset, InMemoryDataset
from ...data.info import DatasetInfo, TargetInfo
from ...data.structure import Structure, TargetData

__all__ = [
    "Dataset",
    "DatasetInfo",
    "InMemoryDataset",
    "Structure",
    "TargetData",
    "TargetInfo",
]
