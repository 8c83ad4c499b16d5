"""Physical models that architectures can hold next to their learned part."""

from .zbl import ZBL

__all__ = ["ZBL"]
