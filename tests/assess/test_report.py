"""Report pieces: the PNG encoder, SVG escaping, the example policy, adversarial training."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bastion.assess.config import parse_assess
from bastion.assess.report.png import encode_png, to_pixels
from bastion.assess.report.svg import histogram, line_chart
from bastion.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assess" / "bastion.toml"


def _decode(png: bytes) -> tuple[int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
        if kind == b"IDAT":
            idat += data
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_png_roundtrip() -> None:
    image = np.arange(12, dtype=np.float64).reshape(1, 3, 4) / 11
    pixels = to_pixels(image, (0.0, 1.0))
    width, height, raw = _decode(encode_png(pixels))
    assert (width, height) == (4, 3)
    rows = [raw[i * 5 + 1 : i * 5 + 5] for i in range(3)]
    assert list(b"".join(rows)) == pixels.ravel().tolist()


def test_svg_escapes_labels_and_handles_log_axes() -> None:
    svg = line_chart(
        [("<script>", [(1e-3, 1e-2), (1.0, 1.0)])],
        title="t&t",
        x_label="fpr",
        y_label="tpr",
        log_x=True,
        log_y=True,
        diagonal=True,
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t&amp;t" in svg
    hist = histogram([("a", [0.0, 1.0, np.inf]), ("b", [])], title="h", x_label="score")
    assert hist.startswith("<svg") and "nan" not in hist


def test_example_policy_is_valid() -> None:
    loaded = load_config(EXAMPLE)
    settings = parse_assess(loaded.sections["assess"], source=str(EXAMPLE), base_dir=EXAMPLE.parent)
    assert {t.name for t in settings.targets} == {"cnn", "forest"}
    assert settings.robustness.robust_threshold(0.05) == 0.5


@pytest.mark.slow
def test_adversarial_training_raises_pgd_accuracy(digits: Any) -> None:
    import torch

    from bastion.assess.harden.adversarial import AdversarialTraining, adversarial_train
    from bastion.assess.robustness.whitebox import WhiteBoxParams, pgd
    from bastion.assess.targets.torch_target import TorchTarget
    from tests.assess.conftest import build_cnn, train_cnn

    x = digits.x[digits.train].reshape(-1, 1, 8, 8)
    y = digits.y[digits.train]
    plain = train_cnn(x, y, epochs=6)
    hardened = adversarial_train(
        build_cnn, x, y, AdversarialTraining(epsilon=0.1, epochs=6, steps=5)
    )
    xt = torch.as_tensor(digits.x[digits.test].reshape(-1, 1, 8, 8))
    yt = torch.as_tensor(digits.y[digits.test])

    def robust(model: Any) -> float:
        target = TorchTarget("m", model, 10, device=torch.device("cpu"))
        adv, _ = pgd(target, xt, yt, WhiteBoxParams(0.1), torch.Generator().manual_seed(0))
        with torch.inference_mode():
            return float((model(adv).argmax(1) == yt).float().mean())

    assert robust(hardened) > robust(plain) + 0.1
