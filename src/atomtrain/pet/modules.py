"""Building blocks of PET: smooth cutoff, normalisations, feed-forward networks and the
transformer that runs over the tokens of each atom's neighbourhood.

All modules are TorchScript-compatible and work on dense, padded tensors: a batch of
``n_atoms`` sequences of ``n_tokens`` tokens of width ``d`` is ``[n_atoms, n_tokens,
d]``; which tokens exist and how much they count is given by an additive attention bias
``[n_atoms, 1, 1, n_tokens]`` (``log f_c`` of each token, ``-inf`` for padding).
"""

import itertools
import math
from typing import List

import torch


def log_cutoff(
    distances: torch.Tensor, cutoff: torch.Tensor, width: float, bump: bool
) -> torch.Tensor:
    """``log f_c(r)`` for ``distances`` ``[n]``: 0 below ``cutoff - width``, going
    smoothly to ``-inf`` (in practice to a weight of exactly 0) at ``cutoff`` (a
    scalar tensor, or one radius per distance).

    ``bump`` is the C∞ step ``f = s(1-x) / (s(1-x) + s(x))`` with ``s(t) = exp(-1/t)``
    and ``x = (r - cutoff + width) / width``, that is ``log f = logsigmoid(1/x -
    1/(1-x))``; otherwise the cosine switch ``f = (1 + cos(π x)) / 2``.

    Both forms have finite first and second derivatives everywhere, in float32 too:
    forces are trained through the second derivative, also once the model is
    exported to TorchScript. (The bump written as ``a - logaddexp(a, b)`` has a
    second derivative of ``exp(b - a) / (1 + exp(b - a))²``, inf / inf = NaN at the
    clamped edges where ``b - a`` is 10⁶.)
    """
    x = (distances - (cutoff - width)) / width
    if bump:
        # clamped 1e-6 inside the switching region, the log and its derivatives
        # stay finite in float32; at the edges the weight is exp(-1e6), exactly 0
        x = x.clamp(1e-6, 1.0 - 1e-6)
        return torch.nn.functional.logsigmoid(1.0 / x - 1.0 / (1.0 - x))
    x = x.clamp(0.0, 1.0)
    value = 0.5 * (1.0 + torch.cos(math.pi * x))
    # below a weight of 1e-15 (nothing for all purposes) the log is that of 1e-15:
    # 1 / w² appears in the second derivative of log w and must stay finite in
    # float32 (a floor of 1e-30 overflows it to inf); the branch not taken gets a
    # safe argument, so that no derivative there is inf or NaN
    floor = 1e-15
    kept = value > floor
    safe = torch.where(kept, value, torch.ones_like(value))
    return torch.where(kept, torch.log(safe), math.log(floor))


def split_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, parts: int
) -> List[torch.Tensor]:
    """``linear(x, weight, bias).chunk(parts, -1)`` as one product per block of rows
    of the weight: the parts come out contiguous, where chunks of one product would
    be strided views (slower element-wise kernels, and full-size zero gradients for
    the unused parts in the backward passes)."""
    size = weight.shape[0] // parts
    return [
        torch.nn.functional.linear(
            x, weight[i * size : (i + 1) * size], bias[i * size : (i + 1) * size]
        )
        for i in range(parts)
    ]


class RMSNorm(torch.nn.Module):
    """Root-mean-square normalisation of the last dimension, with a learned scale."""

    def __init__(self, size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * scale * self.weight


def normalization(kind: str, size: int) -> torch.nn.Module:
    """``LayerNorm`` or ``RMSNorm`` over a last dimension of ``size``."""
    if kind == "LayerNorm":
        return torch.nn.LayerNorm(size)
    if kind == "RMSNorm":
        return RMSNorm(size)
    raise ValueError(f"unknown normalization '{kind}'")


class SwiGLU(torch.nn.Module):
    """``W_out (silu(W_a x) * W_b x)``: a gated feed-forward network."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.gate_and_value = torch.nn.Linear(d_in, 2 * d_hidden)
        self.output = torch.nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = split_linear(
            x, self.gate_and_value.weight, self.gate_and_value.bias, 2
        )
        return self.output(torch.nn.functional.silu(gate) * value)


def feed_forward(
    activation: str, d_in: int, d_hidden: int, d_out: int
) -> torch.nn.Module:
    """A one-hidden-layer network with ``SiLU`` or ``SwiGLU`` activation."""
    if activation == "SwiGLU":
        return SwiGLU(d_in, d_hidden, d_out)
    if activation == "SiLU":
        return torch.nn.Sequential(
            torch.nn.Linear(d_in, d_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(d_hidden, d_out),
        )
    raise ValueError(f"unknown activation '{activation}'")


def mlp(sizes: List[int]) -> torch.nn.Sequential:
    """Linear layers of the given widths with a SiLU after each one, the last too."""
    layers: List[torch.nn.Module] = []
    for d_in, d_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(d_in, d_out), torch.nn.SiLU()]
    return torch.nn.Sequential(*layers)


class Attention(torch.nn.Module):
    """Multi-head self-attention with an additive bias on the logits.

    With ``fused`` (the default path), ``scaled_dot_product_attention`` computes it in
    one kernel; its backward cannot be differentiated again, so the written-out form is
    used when a second derivative is needed (training on forces).
    """

    def __init__(self, d_model: int, num_heads: int, temperature: float) -> None:
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(
                f"d_pet={d_model} is not divisible by num_heads={num_heads}"
            )
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.scale = 1.0 / (math.sqrt(self.head_dim) * temperature)
        self.qkv = torch.nn.Linear(d_model, 3 * d_model)
        self.output = torch.nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, fused: bool) -> torch.Tensor:
        n, tokens, width = x.shape
        heads = (n, tokens, self.num_heads, self.head_dim)
        query, key, value = [
            part.reshape(heads).transpose(1, 2)
            for part in split_linear(x, self.qkv.weight, self.qkv.bias, 3)
        ]
        if fused:
            mixed = torch.nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=bias, scale=self.scale
            )
        else:
            # logits laid out [.., key, query]: a softmax over a short last dimension
            # is several times slower than over the one before it, and so is its
            # backward
            logits = torch.matmul(key, query.transpose(-1, -2)) * self.scale
            weights = torch.softmax(logits + bias.transpose(-1, -2), dim=-2)
            mixed = torch.matmul(weights.transpose(-1, -2), value)
        return self.output(mixed.transpose(1, 2).reshape(n, tokens, width))


class TransformerLayer(torch.nn.Module):
    """Attention then feed-forward, each with a residual connection; normalisation
    before (``PreLN``) or after (``PostLN``) each of them."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_feedforward: int,
        norm: str,
        activation: str,
        temperature: float,
        pre_norm: bool,
    ) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attention = Attention(d_model, num_heads, temperature)
        self.norm_attention = normalization(norm, d_model)
        self.feed_forward = feed_forward(activation, d_model, d_feedforward, d_model)
        self.norm_feed_forward = normalization(norm, d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, fused: bool) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attention(self.norm_attention(x), bias, fused)
            return x + self.feed_forward(self.norm_feed_forward(x))
        x = self.norm_attention(x + self.attention(x, bias, fused))
        return self.norm_feed_forward(x + self.feed_forward(x))


class Transformer(torch.nn.Module):
    """A stack of :class:`TransformerLayer` over ``[n, n_tokens, d_model]`` tokens."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_feedforward: int,
        norm: str,
        activation: str,
        temperature: float,
        pre_norm: bool,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            TransformerLayer(
                d_model,
                num_heads,
                d_feedforward,
                norm,
                activation,
                temperature,
                pre_norm,
            )
            for _ in range(num_layers)
        )
        self.final_norm = normalization(norm, d_model)
        self.pre_norm = pre_norm

    def forward(self, x: torch.Tensor, bias: torch.Tensor, fused: bool) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, bias, fused)
        # pre-norm residual streams grow with depth: normalise what leaves the stack
        return self.final_norm(x) if self.pre_norm else x
