"""atomtrain: train machine-learning models of atomistic systems from one YAML file.

Importing the package is cheap: it does not import torch nor the command-line code.
"""

from ._version import __version__

__all__ = ["__version__"]
