"""Graceful stop on SIGINT and SIGTERM during training.

Inside :class:`StopRequest`, the first SIGINT or SIGTERM only sets a flag: the engine
finishes the current optimiser step, writes a checkpoint and stops. A second SIGINT
stops at once (KeyboardInterrupt). The previous handlers are restored on exit.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Dict, Optional, Type

from ..errors import Interrupted


class TrainingInterrupted(Interrupted):
    """SIGINT or SIGTERM stopped training after writing a checkpoint."""


class StopRequest:
    """Context manager catching SIGINT/SIGTERM; ``requested`` names the signal."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: Optional[str] = None
        self._previous: Dict[int, Any] = {}

    def _handle(self, number: int, frame: Optional[FrameType]) -> None:
        if self.requested is not None and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(number).name

    def __enter__(self) -> StopRequest:
        # handlers can only be installed from the main thread
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
