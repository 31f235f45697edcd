"""A data set of the user's own mesh files: one subfolder per class.

Layout::

    root/
      chair/  a.obj  b.glb  ...
      table/  c.ply  nested/d.stl  ...

The class of a file is the name of the first-level subfolder it is in (files deeper down count
for that subfolder); class ids follow the sorted subfolder names. Files directly in ``root`` and
files with other suffixes are ignored. Files are read with trimesh (OBJ, PLY, STL, GLB/glTF,
OFF; polygons are triangulated) and tokenised on first access.

Unreadable or untokenisable files (unparseable, empty, point clouds, NaN vertices, bad indices,
too many faces) raise a ``ValueError`` naming the file when accessed, unless
``skip_invalid=True``: then every file is checked up front, the bad ones are left out and
listed in :attr:`MeshFolderDataset.skipped`, and a warning says how many were skipped.
:meth:`MeshFolderDataset.scan` reports every file without raising.

Faces that the tokenizer's quantisation collapses (or that duplicate others) are dropped; how
many is counted per file (``MeshFileReport.dropped_faces``, :attr:`MeshFolderDataset.encode_reports`)
and ``dropped_faces=`` says whether that warns (default), is an error for the file, or passes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from omniar.data.shapes import MeshCollator
from omniar.tokenizers.mesh import MESH_FILE_TYPES, MeshEncodeReport, MeshTokenizer, load_mesh


@dataclass(frozen=True)
class MeshFileReport:
    """Outcome of reading and tokenising one file; ``problem`` is None when it worked."""

    path: Path
    class_name: str
    num_tokens: int | None = None
    problem: str | None = None
    input_faces: int | None = None
    dropped_faces: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def find_mesh_files(root: str | Path) -> list[tuple[Path, str]]:
    """``(path, class_name)`` for every mesh file under ``root``'s subfolders, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root: {root} is not a directory")
    suffixes = {f".{kind}" for kind in MESH_FILE_TYPES}
    files = [
        (path, folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix.lower() in suffixes
    ]
    if not files:
        raise ValueError(
            f"root: no mesh files ({', '.join(sorted(suffixes))}) in class subfolders of {root}"
        )
    return files


class MeshFolderDataset(Dataset):
    """Tokenised meshes from a folder tree; items are ``(LongTensor tokens, class_id)``.

    Args:
        root: folder with one subfolder per class.
        tokenizer: the :class:`MeshTokenizer` that encodes each mesh.
        skip_invalid: check every file now and leave out the bad ones (see the module docstring).
        dropped_faces: "warn", "error" or "ignore" when quantisation drops faces of a file
            (see :meth:`MeshTokenizer.canonicalize`).
    """

    def __init__(
        self,
        root: str | Path,
        tokenizer: MeshTokenizer,
        skip_invalid: bool = False,
        dropped_faces: str = "warn",
    ):
        self.root = Path(root)
        self.tokenizer = tokenizer
        self.dropped_faces = dropped_faces
        self.encode_reports: dict[Path, MeshEncodeReport] = {}
        files = find_mesh_files(self.root)
        self.class_names: list[str] = sorted({name for _, name in files})
        self.files = files
        self.skipped: list[MeshFileReport] = []
        self._cache: dict[Path, list[int]] = {}
        if skip_invalid:
            reports = self.scan()
            self.skipped = [report for report in reports if not report.ok]
            self.files = [(r.path, r.class_name) for r in reports if r.ok]
            if self.skipped:
                warnings.warn(
                    f"{self.root}: skipped {len(self.skipped)} of {len(reports)} mesh files "
                    f"(see .skipped); first: {self.skipped[0].path}: {self.skipped[0].problem}",
                    stacklevel=2,
                )
            if not self.files:
                raise ValueError(f"root: none of the {len(reports)} mesh files in {root} is usable")
        self.collate_fn = MeshCollator(tokenizer.pad_token_id)

    def _tokens(self, path: Path) -> list[int]:
        if path not in self._cache:
            mesh = load_mesh(path)
            self.encode_reports[path] = self.tokenizer.encode_report(mesh, str(path))
            self._cache[path] = self.tokenizer.encode(mesh, str(path), self.dropped_faces)
        return self._cache[path]

    def scan(self) -> list[MeshFileReport]:
        """Read and tokenise every file, returning one report per file; never raises."""
        reports = []
        for path, class_name in tqdm(self.files, desc="checking meshes", leave=False):
            try:
                tokens = self._tokens(path)
            except ValueError as exc:
                reports.append(MeshFileReport(path, class_name, problem=str(exc)))
                continue
            encoded = self.encode_reports[path]
            reports.append(MeshFileReport(path, class_name, len(tokens), None,
                                          encoded.input_faces, encoded.dropped_faces))
        return reports

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, class_name = self.files[index]
        tokens = self._tokens(path)
        return torch.tensor(tokens, dtype=torch.long), self.class_names.index(class_name)
