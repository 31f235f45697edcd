"""MMD between sets of graph descriptors, as computed by GRAN / SPECTRE / DiGress.

Their ``compute_mmd`` is the biased squared-MMD estimate

    mean k(x, x') + mean k(y, y') - 2 mean k(x, y)

over all pairs (self-pairs included), with histograms first normalised to probability mass
functions (``is_hist=True``) and descriptors of different lengths zero-padded to a common
support. DiGress returns its absolute value (the Gaussian-TV kernel is not positive definite,
so the estimate can dip below zero); so do we. The originals loop over pairs in Python; here
the kernel matrices are computed in one numpy broadcast, with the same values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KERNELS = ("gaussian_tv", "gaussian")


def stack_padded(samples: Sequence[np.ndarray]) -> np.ndarray:
    """Stack 1-D descriptors into ``(len(samples), longest)``, zero-padding on the right."""
    length = max((len(s) for s in samples), default=0)
    out = np.zeros((len(samples), length), dtype=np.float64)
    for row, sample in enumerate(samples):
        out[row, : len(sample)] = sample
    return out


def kernel_matrix(x: np.ndarray, y: np.ndarray, kernel: str, sigma: float) -> np.ndarray:
    """``k(x_i, y_j)`` for all pairs of rows.

    ``gaussian_tv``: exp(-TV^2 / (2 sigma^2)) with TV = 0.5 * L1 distance (GRAN's
    ``gaussian_tv``); ``gaussian``: exp(-L2^2 / (2 sigma^2)) (GRAN's ``gaussian``).
    """
    diff = x[:, None, :] - y[None, :, :]
    if kernel == "gaussian_tv":
        dist = np.abs(diff).sum(-1) / 2.0
    elif kernel == "gaussian":
        dist = np.sqrt((diff * diff).sum(-1))
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return np.exp(-(dist * dist) / (2.0 * sigma * sigma))


def compute_mmd(
    samples1: Sequence[np.ndarray],
    samples2: Sequence[np.ndarray],
    kernel: str = "gaussian_tv",
    sigma: float = 1.0,
    is_hist: bool = True,
) -> float:
    """Squared MMD (biased estimate) between two sets of descriptors.

    Returns NaN when either set is empty (the originals return a meaningless 1e6 there).
    """
    if len(samples1) == 0 or len(samples2) == 0:
        return float("nan")
    both = stack_padded([np.asarray(s, dtype=np.float64) for s in [*samples1, *samples2]])
    if is_hist:
        both = both / (both.sum(1, keepdims=True) + 1e-6)
    x, y = both[: len(samples1)], both[len(samples1) :]
    mmd = (
        kernel_matrix(x, x, kernel, sigma).mean()
        + kernel_matrix(y, y, kernel, sigma).mean()
        - 2.0 * kernel_matrix(x, y, kernel, sigma).mean()
    )
    return float(abs(mmd))
