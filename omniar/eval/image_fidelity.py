"""Prompt fidelity: is the real emoji nearest to a generated image the one that was prompted?

For every generated image we rank all real emoji (training and held-out, 3,583 for Noto) by
their distance to it in a fixed feature space, and record the rank of the prompted emoji
(0 = nearest). Top-k fidelity is the share of images whose prompted emoji has rank < k.

Feature space: the RGB pixels of the image at 32x32 (alpha composited on white, as the data
set and the pipelines treat transparency), blurred with a Gaussian of sigma 1 pixel, then
compared with the Euclidean distance. Why blurred pixels, not raw pixels or a network:

- emoji are drawn on a fixed canvas, centred, so pixels already carry shape *and* colour
  (skin-tone variants differ only in colour, which learned features tend to ignore);
- raw pixels punish small misplacements and the softness of a VQ decoder hard, a blur does
  not. Top-1 retrieval of 600 random real emoji among all 3,583, after a perturbation
  (raw pixels / blurred sigma 1 / blurred sigma 2): 1-pixel shift 91 / 96 / 95%, diagonal
  1-pixel shift 76 / 90 / 91%, Gaussian blur (sigma 1) 91 / 99.5 / 99.5%, 16x16 down-and-up
  sampling 90 / 99 / 99.5%, 8x8 down-and-up 47 / 79 / 90%, pixel noise (std 0.2) 99 / 98.5 /
  93%, 4-level colour quantisation 99.5 / 99 / 98%. Sigma 1 is the balance: a wider blur helps
  with shifts but loses detail that matters under noise and quantisation. With sigma 1, top-5
  stays >= 98.8% under every perturbation above;
- it needs no weights, is deterministic, and runs in milliseconds on a CPU.

Ties: Noto draws a few emoji identically (e.g. "family" and "family man man boy"); an image
cannot tell them apart, so an emoji at exactly the prompted emoji's distance does not count as
nearer (the rank is the number of emoji *strictly* nearer). A caption shared by several files
("man in tuxedo") is a hit when any of them is within the top k.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

FEATURE_SIZE = 32
BLUR_SIGMA = 1.0
BLUR_KERNEL = 5  # covers +-2 sigma
# Distances closer than this to the prompted emoji's count as ties (identical drawings).
TIE_TOLERANCE = 1e-4


def fidelity_features(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB images in [0, 1] -> (B, 3 * 32 * 32) blurred-pixel features.

    Images of another size are resized to 32x32 first (area averaging when shrinking, bilinear
    when enlarging), so models of any resolution are compared with the 32x32 emoji.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected a (B, 3, H, W) tensor, got shape {tuple(images.shape)}")
    images = images.float()
    if images.shape[-2:] != (FEATURE_SIZE, FEATURE_SIZE):
        shrinking = images.shape[-1] > FEATURE_SIZE
        images = F.interpolate(
            images,
            size=(FEATURE_SIZE, FEATURE_SIZE),
            mode="area" if shrinking else "bilinear",
            **({} if shrinking else {"align_corners": False}),
        )
    blurred = gaussian_blur(
        images.clamp(0, 1), [BLUR_KERNEL, BLUR_KERNEL], [BLUR_SIGMA, BLUR_SIGMA]
    )
    return blurred.flatten(1)


class EmojiRetrieval:
    """Ranks real emoji by their distance to query images in the fidelity feature space.

    Args:
        real_images: (N, 3, H, W) real emoji in [0, 1], composited on white.
        captions: the N captions of those images (duplicates allowed).
    """

    def __init__(self, real_images: torch.Tensor, captions: Sequence[str]):
        if len(captions) != real_images.shape[0]:
            raise ValueError(
                f"captions: expected one caption per real image ({real_images.shape[0]}), "
                f"got {len(captions)}"
            )
        self.features = fidelity_features(real_images)
        self.captions = list(captions)
        self._indices: dict[str, list[int]] = {}
        for index, caption in enumerate(self.captions):
            self._indices.setdefault(caption, []).append(index)

    def indices_of(self, caption: str) -> list[int]:
        """All real emoji with this caption; ValueError when there is none."""
        if caption not in self._indices:
            raise ValueError(f"prompt {caption!r} is not the caption of any real emoji")
        return self._indices[caption]

    def distances(self, images: torch.Tensor) -> torch.Tensor:
        """(B, N) Euclidean distances from each image to every real emoji."""
        return torch.cdist(fidelity_features(images).double(), self.features.double())

    def ranks(self, images: torch.Tensor, prompts: Sequence[str]) -> torch.Tensor:
        """(B,) number of real emoji strictly nearer to each image than its prompted emoji."""
        if len(prompts) != images.shape[0]:
            raise ValueError(
                f"prompts: expected one prompt per image ({images.shape[0]}), got {len(prompts)}"
            )
        distances = self.distances(images)
        target = torch.stack(
            [distances[row, self.indices_of(prompt)].min() for row, prompt in enumerate(prompts)]
        )
        return (distances < (target - TIE_TOLERANCE)[:, None]).sum(dim=1)

    def nearest_captions(self, images: torch.Tensor) -> list[str]:
        """The caption of the nearest real emoji of each image."""
        return [self.captions[i] for i in self.distances(images).argmin(dim=1).tolist()]


def top_k_rates(ranks: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """{"top1": share of ranks < 1, "top5": share of ranks < 5, ...}."""
    if ranks.numel() == 0:
        raise ValueError("ranks: need at least one image to compute prompt fidelity")
    return {f"top{k}": float((ranks < k).double().mean()) for k in ks}
