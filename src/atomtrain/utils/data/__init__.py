"""Data types and helpers that architectures use (public, fixed import path)."""

from ...data.augmentation import random_rotation
from ...data.batching import Batch, BatchBuilder
from ...data.dataset import Dataset, InMemoryDataset
from ...data.info import DatasetInfo, TargetInfo
from ...data.neighbors import NeighborCache, requested_neighbor_lists
from ...data.sampling import BatchPlan, plan_epoch
from ...data.structure import Structure, TargetData

__all__ = [
    "Batch",
    "BatchBuilder",
    "BatchPlan",
    "Dataset",
    "DatasetInfo",
    "InMemoryDataset",
    "NeighborCache",
    "Structure",
    "TargetData",
    "TargetInfo",
    "plan_epoch",
    "random_rotation",
    "requested_neighbor_lists",
]
