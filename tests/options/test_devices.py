"""Resolving ``device`` and ``base_precision`` against an architecture and this
machine (tests run on the CPU; GPU-only branches are checked for their errors)."""

import pytest
import torch

from atomtrain.options.devices import (
    DeviceError,
    available_device_kinds,
    check_device,
    resolve_device,
    resolve_devices,
    resolve_dtype,
)

HAS_CUDA = torch.cuda.is_available()


def test_auto_picks_the_preferred_device_the_machine_has():
    expected = "cuda" if HAS_CUDA else "cpu"
    assert resolve_device("auto", ["cuda", "cpu"]) == torch.device(expected)
    assert resolve_device("auto", ["cpu", "cuda"]) == torch.device("cpu")


def test_explicit_cpu():
    assert resolve_devices("CPU", ["cuda", "cpu"]) == [torch.device("cpu")]


def test_device_the_architecture_does_not_support():
    with pytest.raises(DeviceError) as error:
        resolve_device("cpu", ["cuda"], architecture="architecture 'gpu_only'")
    assert str(error.value) == (
        "device: architecture 'gpu_only' does not support 'cpu'; it supports cuda"
    )


@pytest.mark.skipif(
    "mps" in available_device_kinds(),
    reason="checks the error on a machine without MPS",
)
def test_auto_without_a_usable_device():
    with pytest.raises(DeviceError, match="runs on mps but this machine only has"):
        resolve_device("auto", ["mps"], architecture="architecture 'metal'")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error on a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(DeviceError, match="'cuda:1' was requested but this machine"):
        resolve_device("cuda:1", ["cuda", "cpu"])
    with pytest.raises(DeviceError, match="'gpu' was requested but this machine has"):
        resolve_device("gpu", ["cuda", "cpu"])
    with pytest.raises(DeviceError, match="'multi-gpu' was requested but this machine"):
        resolve_devices("multi-gpu", ["cuda", "cpu"])


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_index_beyond_the_devices():
    count = torch.cuda.device_count()
    with pytest.raises(DeviceError, match=f"this machine has {count} CUDA device"):
        resolve_device(f"cuda:{count}", ["cuda", "cpu"])
    assert resolve_devices("multi-gpu", ["cuda"]) == [
        torch.device(f"cuda:{i}") for i in range(count)
    ]


def test_a_list_needs_resolve_devices():
    assert resolve_devices(["cpu"], ["cpu"]) == [torch.device("cpu")]
    devices = ["cuda:0", "cuda:1"]
    if HAS_CUDA and torch.cuda.device_count() >= 2:
        with pytest.raises(DeviceError, match="this command runs on one device"):
            resolve_device(devices, ["cuda"])
    else:
        with pytest.raises(DeviceError, match="'cuda:"):
            resolve_devices(devices, ["cuda"])


def test_check_device_spelling():
    assert check_device("cuda:3") == []
    assert check_device(["cpu", "cuda:0"]) == []
    assert [str(p) for p in check_device(7)] == [
        "device: expected 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', 'gpu', 'multi-gpu' "
        "or a list of devices such as [cuda:0, cuda:1] (got 7)"
    ]


def test_dtype_default_and_explicit():
    supported = [torch.float64, torch.float32]
    assert resolve_dtype(None, supported) is torch.float64
    assert resolve_dtype(32, supported) is torch.float32
    assert resolve_dtype("64", supported) is torch.float64


def test_dtype_errors():
    with pytest.raises(DeviceError) as error:
        resolve_dtype(16, [torch.float64, torch.float32], "architecture 'composition'")
    assert str(error.value) == (
        "base_precision: architecture 'composition' does not support 16-bit floats; "
        "it supports 64, 32"
    )
    with pytest.raises(DeviceError, match="expected 16, 32 or 64"):
        resolve_dtype(12, [torch.float32])
