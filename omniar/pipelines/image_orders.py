"""Which generation orders an image tokenizer's layout supports, built by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniar.errors import OmniarError, bad_value, did_you_mean
from omniar.orders.base import Order
from omniar.orders.neighbor import NeighborOrder
from omniar.orders.next_scale import NextScaleOrder
from omniar.orders.raster import RasterOrder

ImageOrderBuilder = Callable[[Any, int], Order]


def _raster(tokenizer: Any, image_size: int) -> Order:
    return RasterOrder(tokenizer.token_shape(image_size))


def _grid_shape(tokenizer: Any, image_size: int, order: str) -> tuple[int, int]:
    shape = tokenizer.token_shape(image_size)
    if isinstance(shape, list):
        raise ValueError(f"order {order!r} needs a single-grid tokenizer, got {type(tokenizer).__name__}")
    return shape


def _neighbor(tokenizer: Any, image_size: int) -> Order:
    return NeighborOrder(_grid_shape(tokenizer, image_size, "neighbor"))


def _next_scale(tokenizer: Any, image_size: int) -> Order:
    if not hasattr(tokenizer, "next_scale_inputs"):
        raise ValueError(f"order 'next_scale' needs a MultiScaleVQTokenizer, got {type(tokenizer).__name__}")
    tokenizer.token_shape(image_size)  # checks the image size
    return NextScaleOrder.for_tokenizer(tokenizer)


IMAGE_ORDERS: dict[str, ImageOrderBuilder] = {
    "raster": _raster, "neighbor": _neighbor, "next_scale": _next_scale,
}


def build_image_order(name: str, tokenizer: Any, image_size: int, supported: list[str]) -> Order:
    """The order `name` over the tokenizer's token layout, if this model was trained for it."""
    if name not in supported:
        hint = did_you_mean(name, supported) if isinstance(name, str) else ""
        raise OmniarError(f"order={name!r} is not valid{hint}; this model generates with "
                          f"order(s) {supported}")
    if name not in IMAGE_ORDERS:
        raise bad_value("order", name, f"one of {sorted(IMAGE_ORDERS)}")
    return IMAGE_ORDERS[name](tokenizer, image_size)
