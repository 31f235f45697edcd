"""Orders by name, as pipelines and recipes refer to them."""

from __future__ import annotations

from typing import Any

from omniar.orders.base import Order
from omniar.orders.block_causal import BlockCausalOrder
from omniar.orders.delay_pattern import DelayPatternOrder
from omniar.orders.neighbor import NeighborOrder
from omniar.orders.next_patch import NextPatchOrder
from omniar.orders.next_scale import NextScaleOrder
from omniar.orders.raster import RasterOrder

ORDERS: dict[str, type[Order]] = {
    "raster": RasterOrder,
    "block_causal": BlockCausalOrder,
    "neighbor": NeighborOrder,
    "next_patch": NextPatchOrder,
    "next_scale": NextScaleOrder,
    "delay_pattern": DelayPatternOrder,
}


def build_order(name: str, **kwargs: Any) -> Order:
    """Instantiate the order called `name` (e.g. `build_order("raster", shape=(8, 8))`)."""
    if name not in ORDERS:
        raise ValueError(f"unknown order {name!r}; expected one of {sorted(ORDERS)}")
    return ORDERS[name](**kwargs)
