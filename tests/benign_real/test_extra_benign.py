"""The extra benign artifacts of :mod:`tests.benign_real.gen_extra`, and regressions for the
false positives they found, each with the malicious twin that must still be caught.

The group is generated and scanned once per module (about half a minute); it checks what
``test_benign_real`` checks for the registered groups: nothing blocked, no undeclared finding
below HIGH, no skip that is not allowed.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import warnings
from pathlib import Path

import pytest

from bastion.core import Severity
from bastion.scan.engine import ScanOptions, scan
from tests.benign_real import gen_extra
from tests.benign_real.base import Expected, GroupResult, Recorder, describe, scan_group
from tests.benign_real.groups import AllowedSkip
from tests.conftest import inert_command

_REQUIRES = (
    "torch", "sklearn", "scipy", "pandas", "pyarrow", "ml_dtypes", "xgboost", "lightgbm",
    "catboost", "statsmodels", "gensim", "nltk", "optuna", "dill", "cloudpickle", "datasets",
    "tokenizers", "transformers", "accelerate", "skl2onnx", "onnxruntime", "networkx", "plotly",
    "opacus", "joblib", "lz4",
)  # fmt: skip

_EXPECTED = (
    Expected(
        "numpy/*", "BST-NPY-001", "object arrays saved with allow_pickle hold a (clean) pickle"
    ),
    *(
        Expected(
            f"hf/{name}.pkl",
            "BST-PKL-003",
            "a datasets/tokenizers class rebuilt with arguments: MEDIUM until reviewed",
        )
        for name in ("dataset", "features", "tokenizer", "fast_tokenizer")
    ),
    *(
        Expected(
            f"misc/{name}.pkl",
            "BST-PKL-003",
            "networkx is not a framework profile: its classes are MEDIUM",
        )
        for name in ("graph", "digraph")
    ),
)

_SKIPS = (
    AllowedSkip(
        "*.pt2!*/data/weights/weight_*",
        "no analyzer for format 'unknown'",
        "torch.export raw weights (see groups._EXPORT_WEIGHTS)",
    ),
)


@pytest.fixture(scope="module")
def extra(tmp_path_factory: pytest.TempPathFactory) -> GroupResult:
    missing = [m for m in _REQUIRES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"extra benign group needs {', '.join(missing)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    root = tmp_path_factory.mktemp("benign-extra")
    recorder = Recorder(root / "artifacts")
    recorder.root.mkdir()
    recorder.expected.extend(_EXPECTED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen_extra.generate(recorder)
    return scan_group("extra", recorder)


@pytest.mark.slow
def test_extra_no_blocking_findings(extra: GroupResult) -> None:
    blocking = [describe(rel, f) for rel, f in extra.blocking()]
    assert not blocking, "benign files blocked:\n" + "\n".join(blocking)
    assert len(extra.files) >= 200


@pytest.mark.slow
def test_extra_only_declared_findings_and_skips(extra: GroupResult) -> None:
    unexpected = [describe(rel, f) for rel, f in extra.unexpected()]
    assert not unexpected, "undeclared findings on benign files:\n" + "\n".join(unexpected)
    bad = [
        f"{s.path}!{s.member}: {s.detail}"
        for s in extra.skips()
        if not any(a.matches(s.path, s.member, s.detail) for a in _SKIPS)
    ]
    assert not bad, "benign files skipped:\n" + "\n".join(bad)


def _findings(path: Path) -> list[tuple[str, Severity]]:
    return [(f.rule_id, f.severity) for f in scan(path, ScanOptions(workers=1)).findings]


def _blocking(path: Path) -> list[str]:
    return [
        f.rule_id
        for f in scan(path, ScanOptions(workers=1)).findings
        if f.severity >= Severity.HIGH
    ]


def _global(module: str, name: str) -> bytes:
    return b"\x80\x02c" + f"{module}\n{name}\n".encode()


def test_torch_named_tuple_results_are_clean(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    target = tmp_path / "ckpt.pt"
    torch.save({"topk": torch.topk(torch.arange(4.0), 2)}, target)
    assert _blocking(target) == []
    # A name merely under torch.return_types that is no return type stays unknown.
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(_global("torch.return_types", "pytree_register_structseq") + b"N\x85R.")
    assert ("BST-PKL-002", Severity.HIGH) in _findings(evil)


def test_distributed_checkpoint_metadata_is_clean(tmp_path: Path, marker_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    dcp = pytest.importorskip("torch.distributed.checkpoint")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(2), "step": 1}, checkpoint_id=str(tmp_path / "ckpt"))
    assert _blocking(tmp_path / "ckpt" / ".metadata") == []
    # Everything else under torch.distributed stays critical.
    command = inert_command(marker_dir).encode()
    text = b"X" + len(command).to_bytes(4, "little") + command
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(_global("torch.distributed.rpc", "rpc_sync") + text + b"\x85R.")
    assert ("BST-PKL-001", Severity.CRITICAL) in _findings(evil)


def test_numpy_stringdtype_and_pyarrow_types_are_clean(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    pa = pytest.importorskip("pyarrow")
    strings = np.array(["a", "b"], dtype=np.dtypes.StringDType())
    target = tmp_path / "s.npy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns that a custom dtype is pickled
        np.save(target, strings, allow_pickle=True)
    assert _blocking(target) == []
    types = tmp_path / "types.pkl"
    types.write_bytes(
        pickle.dumps([pa.uuid(), pa.bool8(), pa.json_(), pa.run_end_encoded(pa.int32(), pa.int8())])
    )
    assert _blocking(types) == []


def test_hist_gradient_boosting_with_categories_is_clean(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    ensemble = pytest.importorskip("sklearn.ensemble")
    x = np.column_stack([np.arange(40.0), np.arange(40) % 3])
    model = ensemble.HistGradientBoostingClassifier(max_iter=2, categorical_features=[1])
    target = tmp_path / "hgb.pkl"
    target.write_bytes(pickle.dumps(model.fit(x, np.arange(40) % 2)))
    assert _blocking(target) == []
    # The same partial around a function that is not check_array is still judged.
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(
        _global("functools", "partial")
        + _global("sklearn.utils.validation", "check_memory")[2:]
        + b"\x85R."
    )
    assert _blocking(evil)


def test_frozen_torchscript_constants_are_tensor_data(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()).eval()
    target = tmp_path / "frozen.pt"
    torch.jit.save(torch.jit.freeze(torch.jit.script(model)), str(target))
    result = scan(target, ScanOptions(workers=1))
    assert not result.skipped and not result.findings


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_legacy_torch_save_with_newer_protocols_is_legacy(tmp_path: Path, protocol: int) -> None:
    torch = pytest.importorskip("torch")
    target = tmp_path / "legacy.pt"
    buffer = io.BytesIO()
    torch.save(
        {"w": torch.ones(2)}, buffer, _use_new_zipfile_serialization=False, pickle_protocol=protocol
    )
    target.write_bytes(buffer.getvalue())
    result = scan(target, ScanOptions(workers=1))
    assert [a.format for a in result.artifacts] == ["pytorch-legacy"]
    assert not result.findings


def test_plain_pickle_of_a_torch_tensor_is_not_blocked(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    target = tmp_path / "tensor.pkl"
    target.write_bytes(pickle.dumps({"w": torch.ones(2)}))
    assert _blocking(target) == []
