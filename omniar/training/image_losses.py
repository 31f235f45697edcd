"""Reconstruction losses for the image tokenizers: L1 + L2 + a Sobel-gradient (edge) loss.

Why these and not the usual VQGAN recipe (LPIPS + PatchGAN):

- LPIPS needs pretrained VGG/AlexNet weights, which cannot be downloaded here.
- A PatchGAN discriminator trained from scratch needs its own optimiser step (or a gradient
  reversal hack in a single-optimiser trainer), starts helping only after the autoencoder has
  converged (VQGAN switches it on after many thousand steps) and trades PSNR for texture. The
  shipped tokenizers train for ~15-20 CPU minutes on 32x32 emoji and their targets are PSNR and
  SSIM, so adversarial training would cost budget and move the measured figures the wrong way.
- L1 keeps flat emoji colours crisp, L2 is what PSNR measures, and the Sobel-gradient L1 puts
  extra weight on outlines and edges, which pixel losses under-weight on mostly-flat images
  (a cheap "perceptual-style" term computed from fixed filters, no weights to download).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Sobel kernels (x, y). Written out because the filter is four lines and kornia, which has it,
# is not otherwise a dependency.
_SOBEL = (
    torch.tensor(
        [
            [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
            [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]],
        ]
    )
    / 8.0
)


def sobel_gradients(images: torch.Tensor) -> torch.Tensor:
    """Horizontal and vertical Sobel gradients of (B, C, H, W) images, as (B, 2C, H, W)."""
    channels = images.shape[1]
    kernel = _SOBEL.to(images).unsqueeze(1).repeat(channels, 1, 1, 1)
    padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel, groups=channels)


def reconstruction_loss(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    l1_weight: float = 1.0,
    l2_weight: float = 1.0,
    gradient_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted L1 + L2 + Sobel-gradient L1 between images in [-1, 1].

    Returns the total loss and its parts (unweighted) as floats for logging.
    """
    if reconstruction.shape != target.shape:
        raise ValueError(
            f"reconstruction: expected the target's shape {tuple(target.shape)}, "
            f"got {tuple(reconstruction.shape)}"
        )
    l1 = F.l1_loss(reconstruction, target)
    l2 = F.mse_loss(reconstruction, target)
    total = l1_weight * l1 + l2_weight * l2
    parts = {"l1": l1.item(), "l2": l2.item()}
    if gradient_weight:
        gradient = F.l1_loss(sobel_gradients(reconstruction), sobel_gradients(target))
        total = total + gradient_weight * gradient
        parts["gradient"] = gradient.item()
    return total, parts
