"""Keras 3 models (torch backend): Sequential, functional and subclassed-with-registration
models with common and preprocessing layers, saved as ``.keras``, legacy ``.h5``, weights files
and architecture JSON.
"""

from __future__ import annotations

import os
from typing import Any

from tests.benign_real.base import Recorder


def _models() -> dict[str, Any]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np
    from keras import layers

    keras.utils.set_random_seed(0)
    dense = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu", kernel_regularizer="l2"),
            layers.BatchNormalization(),
            layers.Dropout(0.2),
            layers.Dense(3, activation="softmax"),
        ]
    )
    conv = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Rescaling(1 / 255),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.Resizing(12, 12),
            layers.Conv2D(4, 3, padding="same"),
            layers.MaxPooling2D(),
            layers.SeparableConv2D(4, 3),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ]
    )
    tokens = keras.Input((6,), dtype="int32")
    x = layers.Embedding(50, 8, mask_zero=True)(tokens)
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)
    x = layers.GRU(4)(x)
    text = keras.Model(tokens, layers.Dense(1, activation="sigmoid")(x), name="text")

    numeric = keras.Input((3,), name="numeric")
    category = keras.Input((1,), dtype="int32", name="category")
    norm = layers.Normalization()
    norm.adapt(np.arange(30, dtype="float32").reshape(10, 3))
    one_hot = layers.CategoryEncoding(num_tokens=5, output_mode="one_hot")(category)
    attention_in = layers.Reshape((1, 3))(norm(numeric))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=2)(attention_in, attention_in)
    merged = layers.Concatenate()([layers.Flatten()(attended), one_hot])
    merged = layers.LayerNormalization()(merged)
    multi = keras.Model([numeric, category], layers.Dense(2)(merged), name="multi")

    # NOTE: StringLookup/IntegerLookup/Hashing need TensorFlow; the torch backend has these.
    ints = keras.Sequential(
        [
            keras.Input((2,)),
            layers.Discretization(bin_boundaries=[0.0, 1.0]),
            layers.CategoryEncoding(num_tokens=3, output_mode="multi_hot"),
            layers.Activation("gelu"),
            layers.UnitNormalization(),
        ]
    )
    return {"dense": dense, "conv": conv, "text": text, "multi": multi, "ints": ints}  # fmt: skip


def generate(rec: Recorder) -> None:
    """Every Keras artifact of this module."""
    import keras

    models = _models()
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.save(rec.path(f"keras/{name}.keras"))
        rec.add(f"keras/{name}.keras", "keras", "keras-v3")
        rec.path(f"json/{name}.json").write_text(model.to_json())
        rec.add(f"json/{name}.json", "keras", "keras-json")
        if name in {"dense", "conv", "text", "multi"}:
            model.save_weights(rec.path(f"weights/{name}.weights.h5"))
            rec.add(f"weights/{name}.weights.h5", "keras", "keras-weights-h5")
            model.save(rec.path(f"h5/{name}.h5"))
            rec.add(f"h5/{name}.h5", "keras", "keras-legacy-h5")
