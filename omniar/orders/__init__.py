"""Generation orders: which tokens each step feeds and produces."""

from omniar.orders.base import Order, Step, TeacherForcingPlan
from omniar.orders.block_causal import BlockCausalOrder
from omniar.orders.raster import RasterOrder
from omniar.orders.registry import ORDERS, build_order

__all__ = ["ORDERS", "BlockCausalOrder", "Order", "RasterOrder", "Step", "TeacherForcingPlan", "build_order"]
