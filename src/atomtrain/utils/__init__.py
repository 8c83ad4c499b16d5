"""The plugin-facing toolkit: the contract (:mod:`.abc`), dtypes and data helpers.

The import paths under ``atomtrain.utils`` are public and fixed: architectures import
from them.
"""
