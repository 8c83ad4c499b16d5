"""The ``soap_bpnn`` architecture: SOAP power spectra and per-element networks."""

from .model import SoapBpnn
from .trainer import Trainer

__model__ = SoapBpnn
__trainer__ = Trainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]

__all__ = ["SoapBpnn", "Trainer"]
