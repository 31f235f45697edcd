"""`omniar.load` with Hugging Face Hub repo ids, offline: a local Hub cache built by the test
stands in for the Hub, and `push_to_hub` is checked by capturing what it would upload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import omniar
from omniar.assets import asset_path
from omniar.errors import OmniarError
from omniar.hub import is_hub_repo_id

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache with HF_HUB_OFFLINE set (the environment variables and the
    values huggingface_hub read from them at import)."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def cache_snapshot(cache: Path, repo_id: str, source: Path, commit: str = COMMIT) -> Path:
    """Put a copy of `source` into `cache` the way a download of `repo_id` leaves it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(source, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_repo_id_shape():
    assert is_hub_repo_id("user/repo") and is_hub_repo_id("my-org/emoji.t2i_v2")
    for text in ("emoji-t2i", "/abs/path", "a/b/c", "./x", "user/", "user/a..b", "user/a--b"):
        assert not is_hub_repo_id(text), text


def test_load_repo_id_from_the_offline_cache(hub_cache):
    cache_snapshot(hub_cache, "user/repo", asset_path("emoji-t2i"))
    pipe = omniar.load("user/repo")
    assert isinstance(pipe, omniar.ImagePipeline)
    out = pipe("red apple", num_images_per_prompt=1, generator=torch.Generator().manual_seed(0))
    assert out.images[0].size == (32, 32)
    assert type(omniar.load("user/repo", revision=COMMIT)) is type(pipe)


def test_unknown_repo_id_offline_is_one_clear_error(hub_cache):
    with pytest.raises(OmniarError) as caught:
        omniar.load("nobody/no-such-model")
    message = str(caught.value)
    assert "'nobody/no-such-model'" in message and "not in the local cache" in message
    assert "HF_HUB_OFFLINE is set" in message and "\n" not in message


def test_unknown_revision_offline_names_it(hub_cache):
    cache_snapshot(hub_cache, "user/repo", asset_path("graphs-tree"))
    with pytest.raises(OmniarError, match="revision 'v9'.*not in the local cache"):
        omniar.load("user/repo", revision="v9")


def test_a_folder_or_embedded_name_wins_over_the_hub(hub_cache, tmp_path, monkeypatch):
    folder = tmp_path / "user" / "repo"
    shutil.copytree(asset_path("graphs-tree"), folder)
    monkeypatch.chdir(tmp_path)
    assert isinstance(omniar.load("user/repo"), omniar.GraphPipeline)
    with pytest.raises(OmniarError, match="revision=.*Hub repo ids only"):
        omniar.load("graphs-tree", revision="main")


def test_cached_repo_that_is_no_pipeline(hub_cache, tmp_path):
    source = tmp_path / "not-a-pipeline"
    source.mkdir()
    (source / "README.md").write_text("a model card only\n")
    cache_snapshot(hub_cache, "user/card-only", source)
    with pytest.raises(OmniarError, match="'user/card-only' is not a saved pipeline"):
        omniar.load("user/card-only")


def test_push_to_hub_uploads_a_loadable_pipeline(hub_cache, monkeypatch):
    """What push_to_hub uploads (captured instead of sent) loads back through the Hub path."""
    from diffusers.utils import hub_utils

    class Repo:
        repo_id = "me/pushed-graphs"

    def fake_upload_folder(repo_id, folder_path, **kwargs):
        cache_snapshot(hub_cache, repo_id, Path(folder_path))
        return f"https://huggingface.co/{repo_id}"

    monkeypatch.setattr(hub_utils, "create_repo", lambda repo_id, **kwargs: Repo())
    monkeypatch.setattr(hub_utils, "upload_folder", fake_upload_folder)
    pipe = omniar.load("graphs-tree")
    pipe.push_to_hub("me/pushed-graphs")
    snapshot = hub_cache / "models--me--pushed-graphs" / "snapshots" / COMMIT
    assert {"model_index.json", "README.md", "transformer", "tokenizer"} <= {p.name for p in snapshot.iterdir()}
    loaded = omniar.load("me/pushed-graphs")
    assert loaded.config.sampling_presets == pipe.config.sampling_presets
    for name, weight in pipe.transformer.state_dict().items():
        assert torch.equal(weight, loaded.transformer.state_dict()[name]), name
