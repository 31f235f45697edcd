"""An image-folder data set in the Hugging Face ``imagefolder`` layout.

``root`` holds image files (any depth of sub-folders) and, optionally, ``root/metadata.jsonl``
with one JSON object per line: ``{"file_name": "<path relative to root>", "text": "<caption>"}``
(other keys are ignored; images without a line get the caption ``""``).

Every other file must be a readable image: the folder is checked when the data set is created
(Pillow opens and verifies each file) and a corrupt or non-image file raises a ValueError naming
it. With ``skip_bad_files=True`` such files are left out instead; the data set then warns and
lists them, each with the reason, in :attr:`ImageFolderDataset.skipped` (how many:
:attr:`ImageFolderDataset.num_skipped`). Hidden files (names starting with ".") are ignored.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from omniar.tokenizers.image_inputs import pil_to_tensor

METADATA_FILE = "metadata.jsonl"
# What Pillow raises for truncated, corrupt or non-image files.
_PIL_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    Image.DecompressionBombError,
)


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop ``image`` to a square and resize it to ``size`` x ``size`` (Lanczos).

    Images with transparency are resized in RGBA so that edges blend with the alpha channel.
    """
    width, height = image.size
    if (width, height) == (size, size):
        return image
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(
            "RGBA" if "transparency" in image.info or "A" in image.mode else "RGB"
        )
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    return image.resize((size, size), Image.Resampling.LANCZOS, box=box)


def load_image_tensor(path: Path, image_size: int | None = None) -> torch.Tensor:
    """Read one image file as a (3, H, W) tensor in [-1, 1]; ValueError naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            if image_size is not None:
                image = resize_square(image, image_size)
            return pil_to_tensor(image)
    except _PIL_ERRORS as error:
        raise ValueError(f"{path}: not a readable image file ({error})") from error


def _check_image(path: Path) -> str | None:
    """None when Pillow can open and verify ``path``, else the reason it cannot."""
    try:
        with Image.open(path) as image:
            image.verify()
    except _PIL_ERRORS as error:
        return f"{type(error).__name__}: {error}"
    return None


def _read_metadata(path: Path) -> dict[str, str]:
    captions: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not valid JSON ({error})") from error
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
                f"{path}, line {number}: expected an object with a 'file_name' string"
            )
        text = entry.get("text", "")
        if not isinstance(text, str):
            raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
                f"{path}, line {number}: 'text' must be a string, got {text!r}"
            )
        captions[Path(entry["file_name"]).as_posix()] = text
    return captions


class ImageFolderDataset(Dataset):
    """Images under ``root`` with optional captions (see module docstring).

    Args:
        root: the folder.
        image_size: centre-crop and resize every image to this square size when given;
            otherwise images keep their size (batching then needs them to match).
        skip_bad_files: leave out unreadable files instead of raising ValueError.

    Items are ``(image, caption, index)``: a (3, H, W) float tensor in [-1, 1] (transparency
    composited on white), the caption (``""`` when none) and the item's index.
    """

    def __init__(
        self, root: str | Path, image_size: int | None = None, skip_bad_files: bool = False
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"root: {str(root)!r} is not a folder")
        if image_size is not None and image_size < 1:
            raise ValueError(f"image_size: expected a positive size, got {image_size}")
        metadata_path = root / METADATA_FILE
        captions = _read_metadata(metadata_path) if metadata_path.is_file() else {}
        candidates = sorted(
            path
            for path in root.rglob("*")
            if path.is_file()
            and path != metadata_path
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
        )
        self.paths: list[Path] = []
        skipped: list[tuple[Path, str]] = []
        for path in candidates:
            problem = _check_image(path)
            if problem is None:
                self.paths.append(path)
            elif skip_bad_files:
                skipped.append((path, problem))
            else:
                raise ValueError(
                    f"{path}: not a readable image file ({problem}); remove it or pass "
                    "skip_bad_files=True"
                )
        relative = [path.relative_to(root).as_posix() for path in self.paths]
        missing = sorted(
            set(captions) - set(relative) - {p.relative_to(root).as_posix() for p, _ in skipped}
        )
        if missing:
            raise ValueError(f"{metadata_path}: file_name {missing[0]!r} is not an image in {root}")
        if not self.paths:
            raise ValueError(f"root: no readable images in {str(root)!r}")
        self.root = root
        self.image_size = image_size
        self.captions = [captions.get(name, "") for name in relative]
        self.skipped = skipped
        self.num_skipped = len(skipped)
        self.skipped_files = [path for path, _ in skipped]
        if skipped:
            warnings.warn(
                f"skipped {len(skipped)} unreadable file(s) in {root}, e.g. {skipped[0][0].name}",
                stacklevel=2,
            )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, int]:
        return load_image_tensor(self.paths[index], self.image_size), self.captions[index], index
