"""Reference pieces of taming-transformers' VQGAN shared by the LlamaGen and VAR references.

Written from the published equations and reading state dicts directly by key name: ResNet blocks
(GroupNorm 32 groups, eps 1e-6, SiLU, 3x3 convolutions, 1x1 shortcut when the width changes), and
a builder of random state dicts in those key names.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_tensor(generator: torch.Generator, *shape: int, std: float = 0.05) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * std


def conv(state: dict, x: torch.Tensor, name: str, stride: int = 1) -> torch.Tensor:
    """The convolution `name` (same padding at stride 1, none at stride 2)."""
    weight = state[name + ".weight"]
    padding = weight.shape[-1] // 2 if stride == 1 else 0
    return F.conv2d(x, weight, state[name + ".bias"], stride=stride, padding=padding)


def norm_act(state: dict, x: torch.Tensor, name: str, act: bool = True) -> torch.Tensor:
    x = F.group_norm(x, 32, state[name + ".weight"], state[name + ".bias"], eps=1e-6)
    return F.silu(x) if act else x


def resnet(state: dict, x: torch.Tensor, name: str) -> torch.Tensor:
    h = conv(state, norm_act(state, x, name + ".norm1"), name + ".conv1")
    h = conv(state, norm_act(state, h, name + ".norm2"), name + ".conv2")
    if name + ".nin_shortcut.weight" in state:
        x = conv(state, x, name + ".nin_shortcut")
    return x + h


class RandomState:
    """Fills a state dict with random convolutions, GroupNorms and ResNet blocks by name."""

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)
        self.state: dict[str, torch.Tensor] = {}

    def conv(self, name: str, cin: int, cout: int, k: int = 3) -> None:
        self.state[name + ".weight"] = random_tensor(self.generator, cout, cin, k, k, std=(cin * k * k) ** -0.5)
        self.state[name + ".bias"] = random_tensor(self.generator, cout, std=0.02)

    def norm(self, name: str, channels: int) -> None:
        self.state[name + ".weight"] = 1 + random_tensor(self.generator, channels, std=0.1)
        self.state[name + ".bias"] = random_tensor(self.generator, channels, std=0.1)

    def resnet(self, name: str, cin: int, cout: int) -> None:
        self.norm(name + ".norm1", cin)
        self.conv(name + ".conv1", cin, cout)
        self.norm(name + ".norm2", cout)
        self.conv(name + ".conv2", cout, cout)
        if cin != cout:
            self.conv(name + ".nin_shortcut", cin, cout, 1)
