"""ImageNet-1k class names, so class-conditional ImageNet models take `class_labels="golden retriever"`.

The names come from torchvision's weight metadata (shipped inside torchvision, no download);
index i is ImageNet class i, the order LlamaGen's class ids use.
"""

from __future__ import annotations


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet-1k class names in class-id order."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
