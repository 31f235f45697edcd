"""Image data sets: the image folder (captions, bad files) and the Noto emoji split and captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omniar.data.emoji import (
    NotoEmojiDataset,
    base_emoji,
    code_points_from_file_name,
    emoji_caption,
    is_heldout,
)
from omniar.data.images import ImageFolderDataset


def write_image(path: Path, mode: str = "RGB", size: int = 8, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = np.full((size, size, channels), value, dtype=np.uint8)
    if mode == "RGBA":
        array[..., 3] = 0  # fully transparent
    Image.fromarray(array[..., 0] if mode == "L" else array).save(path)


def test_image_folder_reads_images_captions_and_subfolders(tmp_path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "sub" / "b.png", mode="RGBA")
    write_image(tmp_path / "c.jpg", mode="L", value=0)
    (tmp_path / ".DS_Store").write_bytes(b"\x00junk")
    lines = [
        {"file_name": "a.png", "text": "grey square"},
        {"file_name": "sub/b.png", "text": "empty"},
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(line) for line in lines))

    dataset = ImageFolderDataset(tmp_path)
    assert len(dataset) == 3 and dataset.num_skipped == 0
    by_caption = {dataset[i][1]: dataset[i] for i in range(len(dataset))}
    assert set(by_caption) == {"grey square", "empty", ""}
    image, _, index = by_caption["empty"]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32
    torch.testing.assert_close(image, torch.ones(3, 8, 8))  # transparent -> white
    assert torch.allclose(by_caption[""][0], torch.full((3, 8, 8), -1.0))  # black grayscale
    assert dataset[index][1] == "empty"
    assert ImageFolderDataset(tmp_path, image_size=4)[0][0].shape == (3, 4, 4)


def test_image_folder_rejects_corrupt_and_non_image_files(tmp_path):
    write_image(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="broken.png"):
        ImageFolderDataset(tmp_path)
    (tmp_path / "broken.png").unlink()
    with pytest.raises(ValueError, match="notes.txt.*skip_bad_files"):
        ImageFolderDataset(tmp_path)


def test_image_folder_skips_bad_files_only_when_asked_and_reports_them(tmp_path):
    write_image(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 2"):
        dataset = ImageFolderDataset(tmp_path, skip_bad_files=True)
    assert len(dataset) == 1 and dataset.num_skipped == 2


def test_image_folder_metadata_errors_name_the_file(tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "missing.png", "text": "x"}\n')
    with pytest.raises(ValueError, match="metadata.jsonl.*missing.png"):
        ImageFolderDataset(tmp_path)
    (tmp_path / "metadata.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="metadata.jsonl, line 1"):
        ImageFolderDataset(tmp_path)
    with pytest.raises(ValueError, match="root"):
        ImageFolderDataset(tmp_path / "nowhere")


def test_emoji_captions_and_bases_from_code_points():
    assert code_points_from_file_name("emoji_u1f44b_1f3fd.png") == (0x1F44B, 0x1F3FD)
    assert emoji_caption((0x1F600,)) == "grinning face"
    assert emoji_caption((0x1F44B, 0x1F3FD)) == "waving hand medium skin tone"
    assert emoji_caption((0x0023, 0x20E3)) == "keycap #"
    assert emoji_caption((0x1F1EB, 0x1F1F7)) == "flag france"
    assert emoji_caption((0xFE82B,)) == "unknown flag"
    assert base_emoji((0x1F44B, 0x1F3FD)) == (0x1F44B,)
    assert base_emoji((0x1F3F3, 0xFE0F, 0x200D, 0x1F308)) == (0x1F3F3, 0x200D, 0x1F308)
    for tone in range(0x1F3FB, 0x1F400):
        assert is_heldout((0x1F44B, tone)) == is_heldout((0x1F44B,))
    with pytest.raises(ValueError, match="file_name"):
        code_points_from_file_name("smile.png")


@pytest.fixture
def png32(shared_data: Path) -> Path:
    """The shared Noto emoji png32 folder, skipping when it is absent."""
    root = shared_data / "noto-emoji" / "png32"
    if not root.is_dir():
        pytest.skip(f"shared Noto emoji data not found at {root}")
    return root


def test_emoji_split_holds_out_whole_bases(png32):
    root = png32
    names = sorted(path.name for path in root.glob("emoji_u*.png"))
    heldout = NotoEmojiDataset(root, "heldout")
    heldout_names = set(heldout.file_names)
    train_names = [name for name in names if name not in heldout_names]
    assert len(heldout) >= 0.10 * len(names)
    heldout_bases = {base_emoji(points) for points in heldout.code_points}
    assert not heldout_bases & {base_emoji(code_points_from_file_name(n)) for n in train_names}
    assert all(heldout.captions) and heldout.split == "heldout"

    image, caption, index = heldout[3]
    assert image.shape == (3, 32, 32) and -1 <= image.min() and image.max() <= 1
    assert caption == heldout.captions[3] and index == 3
    assert heldout.index_of(caption) == 3
    with pytest.raises(ValueError, match="caption"):
        heldout.index_of("no such emoji")


def test_emoji_train_split_and_png72_resize(png32):
    root = png32
    train = NotoEmojiDataset(root, "train")
    assert all(train.captions) and not any(is_heldout(points) for points in train.code_points)
    assert len(train) + len(NotoEmojiDataset(root, "heldout")) == len(
        list(root.glob("emoji_u*.png"))
    )
    png72 = root.parent / "png72"
    if png72.is_dir():
        resized = NotoEmojiDataset(png72, "heldout", image_size=32)
        assert resized.images.shape[1:] == (3, 32, 32)
        assert resized.file_names == NotoEmojiDataset(root, "heldout").file_names
    with pytest.raises(ValueError, match="split"):
        NotoEmojiDataset(root, "test")
