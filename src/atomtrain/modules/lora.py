"""Low-rank adapters (LoRA) on linear layers, and their merge into the weights.

:func:`inject_lora` replaces chosen ``torch.nn.Linear`` modules by :class:`LoRALinear`,
which computes ``W x + b + (alpha / rank) B A x`` with the pretrained ``W``, ``b``
frozen and ``A [rank, in]`` (random), ``B [out, rank]`` (zero) trained: the model
starts exactly where the pretrained one was. :func:`merge_lora` folds
``(alpha / rank) B A`` into ``W`` and puts plain linear layers back, so that the saved
and exported model is the plain architecture.

A :class:`LoRALinear` reads and writes its state as the plain linear layer it stands
for (``weight`` = the merged weight, ``bias``): checkpoints written during training,
best-model snapshots and EMA averages stay loadable by the architecture. Loading such
a state sets the merged weight and keeps the adapters (``W`` becomes the loaded weight
minus ``scale · B A``), so that swapping EMA or best weights in and out leaves the
adapters training. The exact state of the adapters (``W``, ``A``, ``B``), which the
merged weight cannot give back, is read by :func:`adapter_state` into a checkpoint
section of its own and put back by :func:`load_adapter_state` on a restart.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..errors import OptionsError, Problem, did_you_mean


class LoRALinear(torch.nn.Module):
    """``base(x) + scale · (x Aᵀ) Bᵀ`` around a frozen linear layer ``base``."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for parameter in base.parameters():
            parameter.requires_grad_(False)
        self.scale = float(alpha) / float(rank)
        weight = base.weight
        self.lora_a = torch.nn.Parameter(
            torch.empty(
                (rank, base.in_features), dtype=weight.dtype, device=weight.device
            )
        )
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5.0))
        self.lora_b = torch.nn.Parameter(
            torch.zeros(
                (base.out_features, rank), dtype=weight.dtype, device=weight.device
            )
        )
        self._register_state_dict_hook(_plain_state)
        self._register_load_state_dict_pre_hook(_from_plain_state, with_module=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + torch.nn.functional.linear(
            torch.nn.functional.linear(x, self.lora_a), self.lora_b * self.scale
        )

    @property
    def weight(self) -> torch.Tensor:
        """The merged weight, differentiable with respect to the adapters: code that
        multiplies by a linear layer's ``weight`` (or slices of it) directly sees
        the adapted layer."""
        return self.merged_weight()

    @property
    def bias(self) -> Optional[torch.Tensor]:
        return self.base.bias

    def merged_weight(self) -> torch.Tensor:
        """``W + scale · B A``."""
        return self.base.weight + self.scale * (self.lora_b @ self.lora_a)

    def merged(self) -> torch.nn.Linear:
        """A plain linear layer with the adapted weights."""
        base = self.base
        linear = torch.nn.Linear(
            base.in_features,
            base.out_features,
            bias=base.bias is not None,
            device=base.weight.device,
            dtype=base.weight.dtype,
        )
        with torch.no_grad():
            linear.weight.copy_(self.merged_weight())
            if base.bias is not None:
                linear.bias.copy_(base.bias)
        return linear


def _plain_state(
    module: LoRALinear, state: Dict[str, Any], prefix: str, metadata: Any
) -> None:
    """State-dict hook: the entries of a plain linear layer."""
    state.pop(prefix + "lora_a")
    state.pop(prefix + "lora_b")
    state.pop(prefix + "base.weight")
    weight = module.merged_weight().detach()
    state[prefix + "weight"] = weight
    bias = state.pop(prefix + "base.bias", None)
    if bias is not None:
        state[prefix + "bias"] = bias


def _from_plain_state(
    module: LoRALinear, state: Dict[str, Any], prefix: str, *args: Any
) -> None:
    """Load-state-dict pre-hook: a plain layer's weight becomes the merged weight,
    the adapters are kept (``W`` is left untouched when the merged weight is
    already the loaded one)."""
    if prefix + "weight" not in state:
        return
    weight = state.pop(prefix + "weight")
    with torch.no_grad():
        current = module.merged_weight()
        lora_a, lora_b = module.lora_a.detach(), module.lora_b.detach()
        if torch.equal(weight.to(current), current):
            base = module.base.weight.detach()
        else:
            base = weight.to(current) - module.scale * (lora_b @ lora_a)
    state[prefix + "base.weight"] = base.clone()
    if prefix + "bias" in state:
        state[prefix + "base.bias"] = state.pop(prefix + "bias")
    state[prefix + "lora_a"] = lora_a.clone()
    state[prefix + "lora_b"] = lora_b.clone()


#: The checkpoint section holding :func:`adapter_state` while a run trains adapters.
CHECKPOINT_SECTION = "lora_adapters"

#: Tensors of an adapter stored by :func:`adapter_state`: the frozen weight ``W``
#: ``[out, in]``, ``A [rank, in]`` and ``B [out, rank]``.
ADAPTER_TENSORS = ("base.weight", "lora_a", "lora_b")


def adapter_state(model: torch.nn.Module) -> Dict[str, Dict[str, torch.Tensor]]:
    """The exact state of every adapter of ``model`` (empty without adapters):
    layer name → ``{"base.weight", "lora_a", "lora_b"}``, on the CPU."""
    state: Dict[str, Dict[str, torch.Tensor]] = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            tensors = {
                "base.weight": module.base.weight,
                "lora_a": module.lora_a,
                "lora_b": module.lora_b,
            }
            state[name] = {k: v.detach().cpu().clone() for k, v in tensors.items()}
    return state


def load_adapter_state(
    model: torch.nn.Module, state: Dict[str, Dict[str, torch.Tensor]]
) -> None:
    """Put back the adapters saved by :func:`adapter_state` into the adapters of
    ``model``, which must be the same layers with the same shapes."""
    adapters = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    if set(adapters) != set(state):
        raise ValueError(
            f"the checkpoint has adapters on {sorted(state)}, the model on "
            f"{sorted(adapters)}"
        )
    with torch.no_grad():
        for name, tensors in state.items():
            module = adapters[name]
            for key in ADAPTER_TENSORS:
                target = module.get_parameter(key)
                if tuple(target.shape) != tuple(tensors[key].shape):
                    raise ValueError(
                        f"the adapter '{name}.{key}' of the checkpoint has shape "
                        f"{tuple(tensors[key].shape)}, the model's "
                        f"{tuple(target.shape)}"
                    )
                target.copy_(tensors[key])


def linear_layers(model: torch.nn.Module) -> List[str]:
    """Dotted names of every ``torch.nn.Linear`` in ``model``."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    ]


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or name.endswith("." + pattern)


def select_lora_targets(
    model: torch.nn.Module, patterns: Sequence[str], excluded: Sequence[str]
) -> List[str]:
    """The linear layers to adapt: those matching ``patterns`` (all of them but
    those under ``excluded`` prefixes when ``patterns`` is empty). A pattern that
    matches no linear layer is an error listing the layers there are."""
    layers = linear_layers(model)
    if not patterns:
        return [
            n
            for n in layers
            if not any(n == e or n.startswith(e + ".") for e in excluded)
        ]
    problems = []
    for number, pattern in enumerate(patterns):
        if not any(_matches(n, pattern) for n in layers):
            problems.append(
                Problem(
                    f"architecture.training.finetune.config.target_modules.{number}",
                    "no torch.nn.Linear of the model has this name"
                    + did_you_mean(pattern, layers)
                    + f"; its linear layers are {', '.join(layers)}",
                    pattern,
                )
            )
    if problems:
        raise OptionsError(problems)
    return [n for n in layers if any(_matches(n, p) for p in patterns)]


def _replace(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def inject_lora(
    model: torch.nn.Module, names: Sequence[str], rank: int, alpha: float
) -> None:
    """Wrap the linear layers ``names`` of ``model`` in :class:`LoRALinear`."""
    for name in names:
        linear = model.get_submodule(name)
        if not isinstance(linear, torch.nn.Linear):
            raise TypeError(f"'{name}' is a {type(linear).__name__}, not a Linear")
        _replace(model, name, LoRALinear(linear, rank, alpha))


def merge_lora(model: torch.nn.Module) -> int:
    """Fold every adapter of ``model`` into its linear layer; the number merged."""
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        adapter = model.get_submodule(name)
        assert isinstance(adapter, LoRALinear)
        _replace(model, name, adapter.merged())
    return len(names)
