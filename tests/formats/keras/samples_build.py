"""Build real Keras models for the tests: ``python samples_build.py OUTDIR``.

Run in a subprocess (with ``KERAS_BACKEND=torch``) so Keras and torch never load into the test
process. Every model here is benign; the ``*_template`` models carry a harmless ``lambda x: x * 2``
whose bytecode the tests replace with an inert payload by editing the saved config.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from keras import layers


def _sequential() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.2),
            layers.Dense(3, activation="softmax"),
        ],
        name="sequential",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _functional() -> keras.Model:
    inputs = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="functional")
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
    return model


def _nested() -> keras.Model:
    inner = keras.Sequential(
        [keras.Input((6,)), layers.Dense(4, activation="tanh"), layers.Dense(4)], name="inner"
    )
    inputs = keras.Input((6,))
    outputs = layers.Dense(1)(inner(inputs))
    return keras.Model(inputs, outputs, name="outer")


def _recurrent() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.LSTM(4, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
            layers.Bidirectional(layers.GRU(2)),
            layers.Dense(1),
        ],
        name="recurrent",
    )


def _lambda_template() -> keras.Model:
    return keras.Sequential(
        [keras.Input((4,)), layers.Dense(4), layers.Lambda(lambda x: x * 2, name="lambda_3")],
        name="sequential_1",
    )


def _nested_lambda_template() -> keras.Model:
    inner = keras.Sequential(
        [keras.Input((4,)), layers.Dense(4), layers.Lambda(lambda x: x * 2, name="hidden")],
        name="inner_block",
    )
    inputs = keras.Input((4,))
    outputs = layers.Dense(1)(inner(inputs))
    return keras.Model(inputs, outputs, name="model")


def _wrapped_lambda_template() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((3, 4)),
            layers.TimeDistributed(layers.Lambda(lambda x: x * 2), name="per_step"),
        ],
        name="wrapped",
    )


def main(out: Path) -> None:
    """Save every sample under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    benign = {
        "sequential": _sequential(),
        "functional": _functional(),
        "nested": _nested(),
        "recurrent": _recurrent(),
    }
    for name, model in benign.items():
        model.save(out / f"{name}.keras")
        model.save(out / f"{name}.h5")
        (out / f"{name}.json").write_text(model.to_json(), encoding="utf-8")
    templates = {
        "lambda_template": _lambda_template(),
        "nested_lambda_template": _nested_lambda_template(),
        "wrapped_lambda_template": _wrapped_lambda_template(),
    }
    for name, model in templates.items():
        model.save(out / f"{name}.keras")
        model.save(out / f"{name}.h5")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
