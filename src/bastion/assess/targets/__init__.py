"""Targets: the models an assessment attacks (PyTorch, scikit-learn, ONNX, HTTP endpoints).

>>> from bastion.assess.targets import Target
>>> Target.__name__
'Target'
"""

from __future__ import annotations

import json
from pathlib import Path

from bastion.assess.config import DPStatement, TargetSpec
from bastion.assess.device import pick_device, require_torch
from bastion.assess.entry import load_entry
from bastion.assess.errors import TargetError
from bastion.assess.targets.interface import DifferentiableTarget, Target, Trainer

__all__ = ["DifferentiableTarget", "Target", "Trainer", "load_target", "read_dp_record"]


def read_dp_record(path: Path, target: str) -> DPStatement:
    """Read the guarantee ``bastion harden dp`` writes next to a model."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DPStatement(
            float(data["epsilon"]), float(data.get("delta", 0.0)), str(data["mechanism"])
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TargetError(target, f"{path}: not a readable DP record: {exc}") from exc


def load_target(spec: TargetSpec, n_classes: int, *, base_dir: Path, device: str) -> Target:
    """Build the target a spec names (imports the framework it needs, lazily)."""
    target: Target
    if spec.kind == "torch":
        require_torch(f"assessing the PyTorch target {spec.name!r}")
        from bastion.assess.targets.torch_target import build_torch_target

        assert spec.entry is not None
        builder = load_entry(spec.entry, base_dir, what=f"targets.{spec.name}.entry")
        train_fn = (
            load_entry(spec.train, base_dir, what=f"targets.{spec.name}.train")
            if spec.train
            else None
        )
        target = build_torch_target(
            spec.name,
            builder,
            spec.path,
            n_classes,
            device=pick_device(device),  # type: ignore[arg-type]
            output=spec.output,
            feature_layer=spec.feature_layer,
            train_fn=train_fn,
        )
    elif spec.kind == "sklearn":
        from bastion.assess.targets.sklearn_target import SklearnTarget, load_skops

        if spec.path is not None:
            estimator = load_skops(spec.path, spec.trusted, spec.name)
        else:
            assert spec.entry is not None
            estimator = load_entry(spec.entry, base_dir, what=f"targets.{spec.name}.entry")()
        target = SklearnTarget(spec.name, estimator, n_classes)
    elif spec.kind == "onnx":
        from bastion.assess.targets.onnx_target import OnnxTarget

        assert spec.path is not None
        target = OnnxTarget(
            spec.name, spec.path, n_classes, output=spec.output, use_cuda=device != "cpu"
        )
    else:
        from bastion.assess.targets.http_target import HttpTarget

        assert spec.url is not None
        target = HttpTarget(
            spec.name,
            spec.url,
            n_classes,
            output=spec.output,
            query_budget=spec.query_budget,
            rate=spec.rate,
            timeout_s=spec.timeout_s,
            max_retries=spec.max_retries,
            batch_size=spec.batch_size,
            request_field=spec.request_field,
            response_field=spec.response_field,
            headers_from_env=spec.headers_from_env,
        )
    target.source = str(spec.path) if spec.path else (spec.url or spec.entry or spec.name)
    if spec.dp is not None:
        target.dp = spec.dp
    elif spec.dp_record is not None:
        target.dp = read_dp_record(spec.dp_record, spec.name)
    elif spec.path is not None and spec.path.with_name(spec.path.name + ".dp.json").is_file():
        target.dp = read_dp_record(spec.path.with_name(spec.path.name + ".dp.json"), spec.name)
    return target
