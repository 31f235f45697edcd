"""Which generation orders an image tokenizer's layout supports, built by name."""

from __future__ import annotations

from typing import Any, Callable

from omniar.orders.base import Order
from omniar.orders.raster import RasterOrder

ImageOrderBuilder = Callable[[Any, int], Order]


def _raster(tokenizer: Any, image_size: int) -> Order:
    return RasterOrder(tokenizer.token_shape(image_size))


IMAGE_ORDERS: dict[str, ImageOrderBuilder] = {"raster": _raster}


def build_image_order(name: str, tokenizer: Any, image_size: int, supported: list[str]) -> Order:
    """The order `name` over the tokenizer's token layout, if this model was trained for it."""
    if name not in supported:
        raise ValueError(f"this model generates with order(s) {supported}; got order={name!r}")
    if name not in IMAGE_ORDERS:
        raise ValueError(f"unknown order {name!r}; expected one of {sorted(IMAGE_ORDERS)}")
    return IMAGE_ORDERS[name](tokenizer, image_size)
