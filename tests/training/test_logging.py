"""How warnings are shown during a run."""

import warnings

from atomtrain.options.reference_keys import IgnoredOptionWarning
from atomtrain.training.logging import configure_warnings


def test_atomtrain_warnings_are_shown_without_their_source_line():
    default = warnings.formatwarning
    try:
        with warnings.catch_warnings():
            configure_warnings()
            ours = warnings.formatwarning(
                "options were ignored", IgnoredOptionWarning, "/x/architecture.py", 95
            )
            theirs = warnings.formatwarning(
                "deprecated", DeprecationWarning, "/x/y.py", 3
            )
    finally:
        warnings.formatwarning = default
    assert ours == "warning: options were ignored\n"
    assert "/x/y.py:3: DeprecationWarning: deprecated" in theirs
