"""Generation orders: which tokens each step feeds and produces."""

from omniar.orders.base import Order, Step, TeacherForcingPlan
from omniar.orders.block_causal import BlockCausalOrder
from omniar.orders.delay_pattern import DelayPatternOrder, apply_delay, undo_delay
from omniar.orders.raster import RasterOrder
from omniar.orders.registry import ORDERS, build_order

__all__ = [
    "ORDERS", "BlockCausalOrder", "DelayPatternOrder", "Order", "RasterOrder", "Step",
    "TeacherForcingPlan", "apply_delay", "build_order", "undo_delay",
]
