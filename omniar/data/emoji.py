"""Noto Emoji images with captions from their Unicode names, and a fixed train/held-out split.

Files are named ``emoji_u<hex>[_<hex>...].png``: the code points of one emoji, ``_`` joining the
code points of a sequence (ZWJ sequences, skin tones, keycaps, flags). Noto drops the
variation selector U+FE0F from file names.

Captions: the lower-cased Unicode name (``unicodedata.name``) for a single code point; for
sequences, and single code points newer than Python's Unicode database, the CLDR short name from
the ``emoji`` package (``emoji.demojize``), with colons dropped and underscores turned into spaces
(``"woman police officer medium skin tone"``); flags, which the ``emoji`` package names after the
country alone, get "flag" in front, as in CLDR's "flag: France" (``"flag france"``). Noto's one
private-use glyph, U+FE82B, is the "unknown flag". Two files share a caption ("man in tuxedo":
U+1F935's Unicode name and the U+1F935 U+200D U+2642 sequence);
:meth:`NotoEmojiDataset.index_of` returns the first.

Split: an emoji's *base* is its code points without skin-tone modifiers (U+1F3FB-U+1F3FF) and
U+FE0F. A base is held out when the first byte of the SHA-256 of its dash-joined lower-case hex
code points is below ``HELDOUT_HASH_THRESHOLD`` = 31 of 256: 209 of the 1,695 bases and 438 of
the 3,583 Noto images (12.2%) are held out. Every skin-tone variant of a held-out base is held
out, so the held-out set measures generalisation to emoji the model never saw in any skin tone.
The split depends only on file names, so ``png32`` and ``png72`` split identically.

Groups by source, for evaluation (``omniar eval tokenizer --group-by``): the Unicode block of an
emoji (:func:`unicode_block`, the block of the first code point of its base, from fontTools'
Unicode database) and its kind of sequence (:func:`emoji_category`: single code point,
skin-tone variant, ZWJ sequence, keycap, flag). Unlike the hashed split, which holds out single
emoji whose neighbours (same block, same style) are in training, a whole block is a different
source. ``SOURCE_HELDOUT_BLOCK`` names the block planned to be left out of tokenizer training
for an out-of-domain check inside the Noto set (issue 31): the shipped tokenizers trained on
every block. :func:`code_points_from_name` also reads the file names of other emoji sets
(``1f600.png``, ``1F468-200D-1F469.png``), so their images get blocks and categories too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import emoji
import torch
from fontTools.unicodedata import block as _unicode_block
from torch.utils.data import Dataset

from omniar.data.images import load_image_tensor

SPLITS = ("train", "heldout", "all")
SKIN_TONES = range(0x1F3FB, 0x1F400)
VARIATION_SELECTOR_16 = 0xFE0F
REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)
TAG_CHARACTERS = range(0xE0020, 0xE0080)
HELDOUT_HASH_THRESHOLD = 31  # out of 256
_PRIVATE_USE_NAMES = {0xFE82B: "unknown flag"}
ZWJ = 0x200D
COMBINING_KEYCAP = 0x20E3
SOURCE_HELDOUT_BLOCK = "Transport and Map Symbols"
"""201 of the 3,583 Noto png32 images (5.6%): vehicles, buildings, places and signs."""
CATEGORIES = ("single", "skin-tone variant", "zwj sequence", "keycap", "flag", "other sequence")
_ANY_EMOJI_NAME = re.compile(r"^(?:emoji_)?u?([0-9a-f]{4,6}(?:[-_][0-9a-f]{4,6})*)$", re.IGNORECASE)


def code_points_from_file_name(file_name: str) -> tuple[int, ...]:
    """``emoji_u1f44b_1f3fd.png`` -> (0x1F44B, 0x1F3FD)."""
    stem = Path(file_name).stem
    if not stem.startswith("emoji_u"):
        raise ValueError(f"file_name: expected 'emoji_u<hex>[_<hex>...].png', got {file_name!r}")
    try:
        return tuple(int(part, 16) for part in stem[len("emoji_u") :].split("_"))
    except ValueError as error:
        raise ValueError(f"file_name: {file_name!r} has a part that is not hexadecimal") from error


def code_points_from_name(file_name: str) -> tuple[int, ...] | None:
    """The code points in the file name of any common emoji set, or None when it names none.

    Reads Noto's ``emoji_u1f44b_1f3fd.png``, Twemoji's ``1f44b-1f3fd.png`` and OpenMoji's
    ``1F44B-1F3FD.png`` (parts of 4-6 hex digits joined by ``_`` or ``-``).
    """
    match = _ANY_EMOJI_NAME.match(Path(file_name).stem)
    if match is None:
        return None
    return tuple(int(part, 16) for part in re.split("[-_]", match[1]))


def unicode_block(code_points: tuple[int, ...]) -> str:
    """The Unicode block of the emoji's first base code point (e.g. "Emoticons"); keycaps are
    "Basic Latin", flags of regional indicators "Enclosed Alphanumeric Supplement"."""
    points = base_emoji(code_points) or code_points
    return _unicode_block(chr(points[0]))


def emoji_category(code_points: tuple[int, ...]) -> str:
    """The kind of emoji sequence, one of ``CATEGORIES``: a flag (regional-indicator pair or tag
    sequence), a keycap, a skin-tone variant (any skin-tone modifier, ZWJ sequences included),
    a ZWJ sequence, a single code point (with or without U+FE0F), or another sequence."""
    points = tuple(p for p in code_points if p != VARIATION_SELECTOR_16)
    if _is_flag_sequence(points):
        return "flag"
    if COMBINING_KEYCAP in points:
        return "keycap"
    if len(points) > 1 and any(p in SKIN_TONES for p in points):
        return "skin-tone variant"
    if ZWJ in points:
        return "zwj sequence"
    return "single" if len(points) <= 1 else "other sequence"


def emoji_caption(code_points: tuple[int, ...]) -> str:
    """The lower-case name of an emoji (see module docstring)."""
    text = "".join(map(chr, code_points))
    if len(code_points) == 1:
        if code_points[0] in _PRIVATE_USE_NAMES:
            return _PRIVATE_USE_NAMES[code_points[0]]
        name = unicodedata.name(text, "")
        if name:
            return name.lower()
    name = emoji.demojize(text)
    if name.startswith(":") and name.endswith(":") and name.count(":") == 2:
        name = name.strip(":").replace("_", " ").lower()
        return "flag " + name if _is_flag_sequence(code_points) else name
    return "emoji " + " ".join(f"u+{point:04x}" for point in code_points)


def _is_flag_sequence(code_points: tuple[int, ...]) -> bool:
    """Regional-indicator pairs and tag sequences, whose CLDR names are the country's alone."""
    return len(code_points) > 1 and (
        code_points[0] in REGIONAL_INDICATORS or code_points[1] in TAG_CHARACTERS
    )


def base_emoji(code_points: tuple[int, ...]) -> tuple[int, ...]:
    """The code points without skin-tone modifiers and U+FE0F."""
    return tuple(p for p in code_points if p not in SKIN_TONES and p != VARIATION_SELECTOR_16)


def is_heldout(code_points: tuple[int, ...]) -> bool:
    """Whether the emoji belongs to the held-out split (decided by its base, see module doc)."""
    key = "-".join(f"{point:x}" for point in base_emoji(code_points)).encode()
    return hashlib.sha256(key).digest()[0] < HELDOUT_HASH_THRESHOLD


class NotoEmojiDataset(Dataset):
    """Noto emoji PNGs held in memory as (3, S, S) tensors in [-1, 1], composited on white.

    Args:
        root: a folder of ``emoji_u*.png`` files, e.g. ``<data_root>/noto-emoji/png32``.
        split: ``"train"``, ``"heldout"`` or ``"all"``.
        image_size: resize every image to this square size (Lanczos) when given, e.g. 32 for
            ``png72``; otherwise images keep their size (all must match).

    Items are ``(image, caption, index)``, index being the item's position in this data set.
    """

    def __init__(self, root: str | Path, split: str = "train", image_size: int | None = None):
        root = Path(root)
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        if not root.is_dir():
            raise ValueError(f"root: {str(root)!r} is not a folder of emoji_u*.png files")
        paths = sorted(root.glob("emoji_u*.png"))
        if not paths:
            raise ValueError(f"root: no emoji_u*.png files in {str(root)!r}")
        if split != "all":
            paths = [
                p
                for p in paths
                if is_heldout(code_points_from_file_name(p.name)) == (split == "heldout")
            ]
        self.root = root
        self.split = split
        self.file_names = [path.name for path in paths]
        self.code_points = [code_points_from_file_name(name) for name in self.file_names]
        self.captions = [emoji_caption(points) for points in self.code_points]
        self._index_by_caption: dict[str, int] = {}
        for index, caption in enumerate(self.captions):
            self._index_by_caption.setdefault(caption, index)
        images = [load_image_tensor(path, image_size) for path in paths]
        sizes = {tuple(image.shape[-2:]) for image in images}
        if len(sizes) > 1:
            raise ValueError(
                f"image_size: images in {str(root)!r} differ in size {sorted(sizes)}; "
                "pass image_size to resize them to one size"
            )
        self.images = torch.stack(images)

    def __len__(self) -> int:
        return len(self.file_names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, int]:
        return self.images[index], self.captions[index], index

    def index_of(self, caption: str) -> int:
        """The index of the (first) emoji with this caption; ValueError when there is none."""
        try:
            return self._index_by_caption[caption]
        except KeyError:
            raise ValueError(
                f"caption: no emoji named {caption!r} in the {self.split} split"
            ) from None
