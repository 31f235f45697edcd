"""Saved pipelines on the Hugging Face Hub: a repo id ("user/name") becomes a local snapshot folder.

`huggingface_hub.snapshot_download` keeps the local cache (`HF_HUB_CACHE`) and honours
`HF_HUB_OFFLINE`; its failures become one-line `OmniarError`s that name the repo id and say what
to do. Pipelines are pushed with diffusers' `pipe.push_to_hub("user/name")`.
"""

from __future__ import annotations

import re
from pathlib import Path

from omniar.errors import OmniarError

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}")


def is_hub_repo_id(text: str) -> bool:
    """Whether `text` has the shape of a Hub repo id: "user/name" (one slash, no path prefix)."""
    return bool(_REPO_ID.fullmatch(text)) and ".." not in text and "--" not in text


def download_snapshot(repo_id: str, revision: str | None = None) -> Path:
    """The local folder of `repo_id` at `revision` (default: the main branch), downloaded into the
    Hugging Face cache unless it is there already."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    try:
        return Path(snapshot_download(repo_id, revision=revision))
    except RevisionNotFoundError as error:
        raise OmniarError(
            f"revision={revision!r} is not a branch, tag or commit of the Hub repo {repo_id!r}"
        ) from error
    except RepositoryNotFoundError as error:
        raise OmniarError(
            f"no Hub repo {repo_id!r}: it does not exist, or it is private or gated and no valid "
            "token was given (log in with `hf auth login`)"
        ) from error
    except LocalEntryNotFoundError as error:
        if constants.HF_HUB_OFFLINE:
            raise OmniarError(
                f"Hub repo {repo_id!r}{at} is not in the local cache ({constants.HF_HUB_CACHE}) and "
                "HF_HUB_OFFLINE is set; unset HF_HUB_OFFLINE to download it, or pass a local folder"
            ) from error
        raise OmniarError(
            f"Hub repo {repo_id!r}{at} could not be downloaded (is the Hub reachable?) and is not "
            f"in the local cache ({constants.HF_HUB_CACHE})"
        ) from error
    except HFValidationError as error:
        raise OmniarError(f"{repo_id!r} is not a valid Hub repo id: {error}") from error
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OmniarError(f"Hub repo {repo_id!r}{at} could not be downloaded: {first_line}") from error
