"""Procedural low-poly shapes: a labelled, reproducible mesh data set built with trimesh.creation.

Ten classes (:data:`SHAPE_CLASSES`). Furniture is composed by concatenating closed parts
(no booleans), so every mesh is watertight: parts overlap inside each other, and legs are inset
from the edges so no two parts share a vertex or an edge, even after 7-bit quantisation.
Proportions and part counts are random, each mesh is rotated about the vertical axis (z), and
every mesh has at most ~200 faces.

Each item is fully determined by ``(seed, split, class, index)``, so the train and held-out
splits are disjoint random streams and changing one split's size never changes the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import trimesh
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from omniar.tokenizers.mesh import MeshTokenizer

SHAPE_CLASSES: tuple[str, ...] = (
    "cube", "prism", "pyramid", "cylinder", "cone", "sphere", "table", "chair", "stool", "lamp",
)
SPLITS = ("train", "held_out")


def _box(extents: Sequence[float], center: Sequence[float]) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.
                                translation_matrix(center))


def _cylinder(radius: float, height: float, sections: int, center: Sequence[float]):
    transform = trimesh.transformations.translation_matrix(center)
    return trimesh.creation.cylinder(radius, height, sections=sections, transform=transform)


def _cube(rng: np.random.Generator) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=rng.uniform(0.7, 1.3, 3))


def _prism(rng: np.random.Generator) -> trimesh.Trimesh:
    sides = int(rng.choice([3, 5, 6]))
    return _cylinder(rng.uniform(0.3, 0.6), rng.uniform(0.5, 1.5), sides, (0, 0, 0))


def _pyramid(rng: np.random.Generator) -> trimesh.Trimesh:
    sides = int(rng.choice([3, 4, 5]))
    return trimesh.creation.cone(rng.uniform(0.4, 0.7), rng.uniform(0.5, 1.2), sections=sides)


def _cylinder_shape(rng: np.random.Generator) -> trimesh.Trimesh:
    sections = int(rng.integers(10, 17))
    return _cylinder(rng.uniform(0.2, 0.6), rng.uniform(0.5, 1.5), sections, (0, 0, 0))


def _cone(rng: np.random.Generator) -> trimesh.Trimesh:
    sections = int(rng.integers(10, 17))
    return trimesh.creation.cone(rng.uniform(0.2, 0.6), rng.uniform(0.6, 1.5), sections=sections)


def _sphere(rng: np.random.Generator) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.apply_scale(rng.uniform(0.8, 1.2, 3))
    return sphere


def _legs(rng, half_x: float, half_y: float, top_z: float, thickness: float, square: bool):
    """Four legs under a rectangle of half-sizes (half_x, half_y), ending inside the part above."""
    inset = thickness * rng.uniform(0.8, 1.5)
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            center = (sx * (half_x - inset), sy * (half_y - inset), top_z / 2)
            if square:
                parts.append(_box((thickness, thickness, top_z), center))
            else:
                parts.append(_cylinder(thickness / 2, top_z, 6, center))
    return parts


def _table(rng: np.random.Generator) -> trimesh.Trimesh:
    width, depth = rng.uniform(0.8, 1.6), rng.uniform(0.5, 1.0)
    height, top = rng.uniform(0.5, 0.9), rng.uniform(0.04, 0.08)
    leg_top = height - top / 2
    if rng.random() < 0.3:
        radius = depth / 2
        parts = [_cylinder(radius, top, int(rng.integers(8, 13)), (0, 0, height - top / 2)),
                 _cylinder(0.06, leg_top - top / 2, 6, (0, 0, (leg_top + top / 2) / 2)),
                 _cylinder(radius * 0.5, top, 8, (0, 0, top / 2))]
    else:
        parts = [_box((width, depth, top), (0, 0, height - top / 2))]
        parts += _legs(rng, width / 2, depth / 2, leg_top, rng.uniform(0.05, 0.09), True)
    return trimesh.util.concatenate(parts)


def _chair(rng: np.random.Generator) -> trimesh.Trimesh:
    width, depth = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6)
    seat_z, seat = rng.uniform(0.4, 0.55), rng.uniform(0.05, 0.08)
    back_height = rng.uniform(0.3, 0.6)
    leg = rng.uniform(0.04, 0.07)
    parts = [_box((width, depth, seat), (0, 0, seat_z - seat / 2))]
    parts += _legs(rng, width / 2, depth / 2, seat_z - seat / 2, leg, True)
    back = seat * rng.uniform(0.6, 1.0)
    back_z = seat_z - seat / 2 + back_height / 2
    parts.append(_box((0.9 * width, back, back_height), (0, depth / 2 - back, back_z)))
    return trimesh.util.concatenate(parts)


def _stool(rng: np.random.Generator) -> trimesh.Trimesh:
    radius, height = rng.uniform(0.2, 0.3), rng.uniform(0.4, 0.8)
    seat = rng.uniform(0.05, 0.1)
    parts = [_cylinder(radius, seat, int(rng.integers(8, 13)), (0, 0, height - seat / 2))]
    legs = int(rng.choice([3, 4]))
    leg_top, leg = height - seat / 2, rng.uniform(0.03, 0.05)
    for angle in np.arange(legs) * 2 * np.pi / legs:
        center = (0.6 * radius * np.cos(angle), 0.6 * radius * np.sin(angle), leg_top / 2)
        parts.append(_cylinder(leg, leg_top, 6, center))
    return trimesh.util.concatenate(parts)


def _lamp(rng: np.random.Generator) -> trimesh.Trimesh:
    base_radius, base = rng.uniform(0.15, 0.25), rng.uniform(0.03, 0.06)
    pole_height = rng.uniform(0.6, 1.0)
    shade_bottom, shade_top = rng.uniform(0.2, 0.35), rng.uniform(0.08, 0.18)
    shade_height = rng.uniform(0.2, 0.35)
    sections = int(rng.integers(8, 13))
    shade_z = pole_height - shade_height / 2
    # A closed frustum: revolve a profile that starts and ends on the axis.
    profile = [[0, shade_z], [shade_bottom, shade_z], [shade_top, shade_z + shade_height],
               [0, shade_z + shade_height]]
    parts = [_cylinder(base_radius, base, sections, (0, 0, base / 2)),
             _cylinder(0.02, pole_height - base / 2, 6, (0, 0, (pole_height + base / 2) / 2)),
             trimesh.creation.revolve(profile, sections=sections)]
    return trimesh.util.concatenate(parts)


_BUILDERS: dict[str, Callable[[np.random.Generator], trimesh.Trimesh]] = {
    "cube": _cube, "prism": _prism, "pyramid": _pyramid, "cylinder": _cylinder_shape,
    "cone": _cone, "sphere": _sphere, "table": _table, "chair": _chair, "stool": _stool,
    "lamp": _lamp,
}


def make_shape(class_name: str, index: int = 0, split: str = "train", seed: int = 0):
    """One procedural mesh (z up, rotated randomly about z), determined by its arguments."""
    if class_name not in _BUILDERS:
        raise ValueError(f"class_name must be one of {SHAPE_CLASSES}, got {class_name!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    class_id = SHAPE_CLASSES.index(class_name)
    rng = np.random.default_rng([seed, SPLITS.index(split), class_id, index])
    mesh = _BUILDERS[class_name](rng)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(rng.uniform(0, 2 * np.pi),
                                                                 (0, 0, 1)))
    return mesh


def generate_shapes(
    num_per_class: int, split: str = "train", seed: int = 0, classes: Sequence[str] | None = None
) -> list[tuple[trimesh.Trimesh, int]]:
    """``(mesh, class_id)`` pairs, class by class; ``class_id`` indexes :data:`SHAPE_CLASSES`."""
    classes = SHAPE_CLASSES if classes is None else tuple(classes)
    return [(make_shape(name, i, split, seed), SHAPE_CLASSES.index(name))
            for name in classes for i in range(num_per_class)]


def collate_mesh_tokens(
    batch: Sequence[tuple[torch.Tensor, int]], pad_token_id: int
) -> dict[str, torch.Tensor]:
    """Right-pad ``(tokens, class_id)`` items into ``input_ids``/``attention_mask``/``class_labels``."""
    if not batch:
        raise ValueError("batch must hold at least one (tokens, class_id) item")
    length = max(len(tokens) for tokens, _ in batch)
    input_ids = torch.full((len(batch), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), length), dtype=torch.bool)
    for row, (tokens, _) in enumerate(batch):
        input_ids[row, : len(tokens)] = torch.as_tensor(tokens, dtype=torch.long)
        attention_mask[row, : len(tokens)] = True
    labels = torch.tensor([int(label) for _, label in batch], dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "class_labels": labels}


class MeshCollator:
    """Picklable collate function (for DataLoader workers) bound to a pad id."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: Sequence[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
        return collate_mesh_tokens(batch, self.pad_token_id)


class ShapesDataset(Dataset):
    """Tokenised procedural shapes: items are ``(LongTensor tokens, class_id)``.

    Args:
        tokenizer: the :class:`MeshTokenizer` that encodes each mesh.
        split: ``"train"`` or ``"held_out"`` (disjoint random streams, see the module docstring).
        num_per_class: meshes per class.
        seed: base seed of the whole data set.
        classes: subset of :data:`SHAPE_CLASSES` (class ids stay those of the full list).
    """

    class_names = SHAPE_CLASSES

    def __init__(
        self,
        tokenizer: MeshTokenizer,
        split: str = "train",
        num_per_class: int = 100,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> None:
        if num_per_class < 1:
            raise ValueError(f"num_per_class must be >= 1, got {num_per_class}")
        self.tokenizer = tokenizer
        self.items = generate_shapes(num_per_class, split, seed, classes)
        self.tokens = [
            torch.tensor(tokenizer.encode(mesh, name=f"{SHAPE_CLASSES[label]} #{i}"))
            for i, (mesh, label) in enumerate(tqdm(self.items, desc="tokenizing shapes",
                                                    leave=False))
        ]
        self.collate_fn = MeshCollator(tokenizer.pad_token_id)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.tokens[index], self.items[index][1]

    @property
    def meshes(self) -> list[trimesh.Trimesh]:
        return [mesh for mesh, _ in self.items]

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]
