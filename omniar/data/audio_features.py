"""Spectral feature transforms (torchaudio) as submodules that checkpoint cleanly."""

from __future__ import annotations

from torch import nn


def without_persistent_buffers(module: nn.Module) -> nn.Module:
    """Mark every buffer of ``module`` non-persistent, so it stays out of state dicts.

    The STFT windows and mel filter banks of torchaudio transforms are constants rebuilt from
    the config. A periodic Hann window is moreover a view into a longer tensor, which
    safetensors refuses to load back ("no suitable name to keep"): kept in a checkpoint, such a
    buffer breaks resuming the training that saved it.
    """
    for submodule in module.modules():
        for name, buffer in list(submodule.named_buffers(recurse=False)):
            submodule.register_buffer(name, buffer, persistent=False)
    return module
