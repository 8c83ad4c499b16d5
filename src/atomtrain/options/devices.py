"""The ``device`` and ``base_precision`` options: their grammar and their resolution.

``device`` is one of

- ``auto`` (the default): the first device in the architecture's
  ``__supported_devices__`` that this machine has;
- ``cpu``, ``cuda``, ``cuda:N``, ``mps``: that device (an error if the architecture does
  not support it or the machine does not have it);
- ``gpu``: CUDA if the machine has it, else MPS (as in metatrain);
- ``multi-gpu``: every CUDA device of the machine (as in metatrain);
- a list such as ``[cuda:0, cuda:1]``: these devices, for multi-device training.

``base_precision`` is 16, 32 or 64 (integers or strings); its default is the
architecture's first ``__supported_dtypes__``.

Checking the grammar needs no torch; resolving against the machine imports it lazily.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from ..errors import Problem, UserError

if TYPE_CHECKING:
    import torch

SINGLE_DEVICES = ("cpu", "cuda", "mps")
DEVICE_ALIASES = ("auto", "gpu", "multi-gpu")
PRECISIONS = (16, 32, 64)

_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


class DeviceError(UserError):
    """The requested device or precision cannot be used for this run."""


def check_device(value: Any, path: str = "device") -> List[Problem]:
    """Problems with the *spelling* of a ``device`` option (nothing is resolved)."""
    expected = (
        "expected 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', 'gpu', 'multi-gpu' or a "
        "list of devices such as [cuda:0, cuda:1]"
    )
    if isinstance(value, str):
        name = value.strip().lower()
        if name in DEVICE_ALIASES or _DEVICE.match(name):
            return []
        return [Problem(path, expected, value)]
    if isinstance(value, list):
        if not value:
            return [Problem(path, "the list of devices is empty")]
        problems = [
            Problem(f"{path}[{i}]", "expected 'cpu', 'cuda', 'cuda:N' or 'mps'", item)
            for i, item in enumerate(value)
            if not (isinstance(item, str) and _DEVICE.match(item.strip().lower()))
        ]
        names = [str(item).strip().lower() for item in value]
        if not problems and len(set(names)) != len(names):
            problems.append(Problem(path, "a device is listed more than once", value))
        return problems
    return [Problem(path, expected, value)]


def normalize_device(value: Any) -> Any:
    """Lower-case device names (after :func:`check_device` found no problem)."""
    if isinstance(value, (list, tuple)):
        return [str(item).strip().lower() for item in value]
    return str(value).strip().lower()


def check_precision(value: Any, path: str = "base_precision") -> List[Problem]:
    """Problems with the spelling of ``base_precision``."""
    if parse_precision(value) is None:
        return [Problem(path, "expected 16, 32 or 64", value)]
    return []


def parse_precision(value: Any) -> Optional[int]:
    """``64``, ``"64"`` → ``64``; anything else (booleans included) → ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value in PRECISIONS else None


def available_device_kinds() -> List[str]:
    """The kinds of device this machine has, among ``cpu``, ``cuda`` and ``mps``."""
    import torch

    kinds = ["cpu"]
    if torch.cuda.is_available():
        kinds.append("cuda")
    if torch.backends.mps.is_built() and torch.backends.mps.is_available():
        kinds.append("mps")
    return kinds


def _kind(device: str) -> str:
    return device.split(":")[0]


def resolve_devices(
    requested: Any,
    supported_devices: Sequence[str],
    architecture: str = "the architecture",
) -> List[torch.device]:
    """The torch devices to train on for a (checked) ``device`` option.

    ``supported_devices`` are the architecture's ``__supported_devices__`` in order of
    preference. Raises :class:`DeviceError` when the request is not supported by the
    architecture or not available on this machine.
    """
    import torch

    available = available_device_kinds()
    supported = [_kind(d) for d in supported_devices if _kind(d) in SINGLE_DEVICES]
    usable = [kind for kind in supported if kind in available]
    requested = normalize_device(requested)
    if requested == "auto":
        if not usable:
            raise DeviceError(
                f"device: {architecture} runs on {', '.join(supported) or 'nothing'} "
                f"but this machine only has {', '.join(available)}"
            )
        return [torch.device(usable[0])]
    if requested == "gpu":
        gpus = [kind for kind in ("cuda", "mps") if kind in available]
        if not gpus:
            raise DeviceError("device: 'gpu' was requested but this machine has no GPU")
        requested = gpus[0]
    names = _expand_multi_gpu(requested)
    for name in names:
        _check_one(name, supported, available, architecture)
    return [torch.device(name) for name in names]


def _expand_multi_gpu(requested: Any) -> List[str]:
    if isinstance(requested, list):
        return requested
    if requested != "multi-gpu":
        return [requested]
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise DeviceError(
            "device: 'multi-gpu' was requested but this machine has no CUDA device"
        )
    return [f"cuda:{index}" for index in range(count)]


def _check_one(
    name: str, supported: List[str], available: List[str], architecture: str
) -> None:
    kind = _kind(name)
    if kind not in supported:
        raise DeviceError(
            f"device: {architecture} does not support '{name}'; it supports "
            f"{', '.join(supported)}"
        )
    if kind not in available:
        raise DeviceError(
            f"device: '{name}' was requested but this machine only has "
            f"{', '.join(available)}"
        )
    if kind == "cuda" and ":" in name:
        import torch

        index, count = int(name.split(":")[1]), torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"device: '{name}' was requested but this machine has {count} CUDA "
                f"device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})"
            )


def resolve_device(
    requested: Any,
    supported_devices: Sequence[str],
    architecture: str = "the architecture",
) -> torch.device:
    """The single torch device for a ``device`` option (see :func:`resolve_devices`).

    Raises :class:`DeviceError` when the option names several devices.
    """
    devices = resolve_devices(requested, supported_devices, architecture)
    if len(devices) != 1:
        raise DeviceError(
            f"device: this command runs on one device, but {requested!r} names "
            f"{len(devices)}"
        )
    return devices[0]


def resolve_dtype(
    requested: Any,
    supported_dtypes: Sequence[torch.dtype],
    architecture: str = "the architecture",
) -> torch.dtype:
    """The torch dtype for ``base_precision`` (``None``: the architecture's first).

    Raises :class:`DeviceError` when the precision is not one the architecture
    supports.
    """
    from ..utils.dtype import dtype_to_bits, str_to_dtype

    if not supported_dtypes:
        raise DeviceError(f"{architecture} declares no supported dtype")
    if requested is None:
        return supported_dtypes[0]
    bits = parse_precision(requested)
    if bits is None:
        raise DeviceError(f"base_precision: expected 16, 32 or 64 (got {requested!r})")
    dtype = str_to_dtype(bits)
    if dtype not in supported_dtypes:
        choices = ", ".join(str(dtype_to_bits(d)) for d in supported_dtypes)
        raise DeviceError(
            f"base_precision: {architecture} does not support {bits}-bit floats; it "
            f"supports {choices}"
        )
    return dtype
