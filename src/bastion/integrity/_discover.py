"""Finding the models of an ML project for the AI-BOM, by content (``scan.detect``), never loading.

A *folder model* is a directory holding model files together with a ``config.json`` or
bastion's side files (``model.sig``, ``model.att.json``), or two or more model files (shards);
the whole folder is the model and its digest is the model-signing manifest digest. Any other
model file is a *file model*. What bastion reads about a model is limited to detected formats and
a Hugging Face ``config.json`` (bounded JSON).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.scan.blob import FileBlob
from bastion.scan.detect import MODEL_EXTENSIONS, detect, extension
from bastion.scan.discover import DEFAULT_EXCLUDES, Candidate, Excluder, walk

#: Formats that are models by themselves (numpy arrays and archives are not, alone).
MODEL_FORMATS: dict[str, str] = {
    "pytorch-zip": "PyTorch",
    "pytorch-legacy": "PyTorch",
    "safetensors": "safetensors",
    "gguf": "GGUF (llama.cpp)",
    "onnx": "ONNX",
    "keras": "Keras",
    "tf-savedmodel": "TensorFlow",
    "tf-savedmodel-text": "TensorFlow",
    "tf-graphdef": "TensorFlow",
    "tflite": "TensorFlow Lite",
    "joblib-zfile": "joblib",
    "pickle": "pickle",
}
_NEEDS_MODEL_EXTENSION = {"pickle", "hdf5"}
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelFile:
    """One model file: path relative to the project, detected format and framework."""

    rel: str
    path: Path
    format: str
    framework: str


@dataclass(frozen=True)
class ModelUnit:
    """A model for the BOM: a folder or a single file, with its model files."""

    name: str
    path: Path
    rel: str
    is_folder: bool
    files: tuple[ModelFile, ...]
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def formats(self) -> tuple[str, ...]:
        """Distinct formats of its model files."""
        return tuple(dict.fromkeys(f.format for f in self.files))

    @property
    def frameworks(self) -> tuple[str, ...]:
        """Distinct frameworks of its model files (and ``transformers`` from config.json)."""
        names = [f.framework for f in self.files]
        if "transformers_version" in self.config:
            names.insert(0, "transformers")
        return tuple(dict.fromkeys(names))


def _model_file(candidate: Candidate) -> ModelFile | None:
    try:
        blob = FileBlob(candidate.path)
    except OSError:
        return None
    try:
        formats = detect(blob, candidate.rel)
    except Exception:  # a hostile file must not stop the BOM: it is simply not a model
        return None
    finally:
        blob.close()
    ext = extension(candidate.rel)
    for fmt in formats:
        if fmt in _NEEDS_MODEL_EXTENSION and ext not in MODEL_EXTENSIONS:
            continue
        if fmt == "hdf5":
            return ModelFile(candidate.rel, Path(candidate.path), fmt, "Keras (HDF5)")
        if fmt in MODEL_FORMATS:
            return ModelFile(candidate.rel, Path(candidate.path), fmt, MODEL_FORMATS[fmt])
    return None


def read_config(directory: Path) -> dict[str, Any]:
    """A Hugging Face ``config.json`` (bounded; anything odd gives ``{}``)."""
    path = directory / "config.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def find_models(project: Path, exclude: tuple[str, ...] = ()) -> tuple[ModelUnit, ...]:
    """Every model under ``project`` (a folder or one file), folder models first."""
    root = project.absolute()
    files = [
        found
        for event in walk(root, Excluder(DEFAULT_EXCLUDES + exclude))
        if isinstance(event, Candidate) and (found := _model_file(event)) is not None
    ]
    if root.is_file():
        return tuple(ModelUnit(f.path.name, root, f.path.name, False, (f,)) for f in files)
    by_dir: dict[str, list[ModelFile]] = defaultdict(list)
    for item in files:
        by_dir[os.path.dirname(item.rel)].append(item)
    folders = sorted(
        (d for d in by_dir if _is_model_folder(root, d, len(by_dir[d]))),
        key=lambda d: (d.count("/"), d),
    )
    units: list[ModelUnit] = []
    grouped: dict[str, list[ModelFile]] = {d: [] for d in folders}
    for rel_dir, members in sorted(by_dir.items()):
        owner = next((f for f in folders if _within(rel_dir, f)), None)
        if owner is not None:
            grouped[owner].extend(members)
        else:
            units.extend(ModelUnit(m.path.name, m.path, m.rel, False, (m,)) for m in members)
    for rel_dir in folders:
        if any(_within(rel_dir, other) and other != rel_dir for other in folders):
            continue
        directory = root / rel_dir if rel_dir else root
        units.append(
            ModelUnit(
                directory.name or root.name,
                directory,
                rel_dir or ".",
                True,
                tuple(grouped[rel_dir]),
                read_config(directory),
            )
        )
    return tuple(sorted(units, key=lambda u: (not u.is_folder, u.rel)))


def _within(rel_dir: str, folder: str) -> bool:
    return folder == "" or rel_dir == folder or rel_dir.startswith(folder + "/")


def _is_model_folder(root: Path, rel_dir: str, model_files: int) -> bool:
    directory = root / rel_dir if rel_dir else root
    if (directory / "model.sig").is_file() or (directory / "model.att.json").is_file():
        return True
    config = read_config(directory)
    if "model_type" in config or "architectures" in config:
        return True
    if rel_dir == "" and any(
        (root / n).exists() for n in ("pyproject.toml", "setup.py", "requirements.txt")
    ):
        return False  # a code project's root is not one model, whatever it holds
    return model_files > 1
