"""PyTorch artifacts beyond plain state dicts: every optimizer and scheduler, quantized and
parametrized modules, tensors of every dtype and layout, TorchScript, ``torch.export``, and
safetensors written from torch and from NumPy.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from tests.benign_real.base import Recorder


def _save(rec: Recorder, rel: str, obj: object, fmt: str, *, legacy: bool = False) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    rec.path(rel).write_bytes(buffer.getvalue())
    rec.add(rel, "torch", fmt)


def _net() -> Any:
    from torch import nn

    return nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))


def generate_optimizers(rec: Recorder) -> None:
    """State dicts of every optimizer after two steps, and of every scheduler."""
    import torch
    from torch.optim import lr_scheduler as sched

    torch.manual_seed(0)
    names = [
        "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam",
        "RMSprop", "Rprop", "Adafactor", "LBFGS",
    ]  # fmt: skip
    for name in names:
        model = _net()
        opt = getattr(torch.optim, name)(model.parameters(), lr=0.01)

        def closure(model: Any = model, opt: Any = opt) -> Any:
            opt.zero_grad()
            loss = model(torch.randn(4, 8)).pow(2).mean()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        _save(rec, f"optim/{name.lower()}.pt", opt.state_dict(), "optimizer-state")

    def schedulers(opt: Any) -> dict[str, Any]:
        return {
            "step": sched.StepLR(opt, 2),
            "multistep": sched.MultiStepLR(opt, [1, 3]),
            "exponential": sched.ExponentialLR(opt, 0.9),
            "cosine": sched.CosineAnnealingLR(opt, 10),
            "cosine_restarts": sched.CosineAnnealingWarmRestarts(opt, 5),
            "cyclic": sched.CyclicLR(opt, 0.001, 0.01),
            "onecycle": sched.OneCycleLR(opt, 0.01, total_steps=20),
            "plateau": sched.ReduceLROnPlateau(opt),
            "linear": sched.LinearLR(opt),
            "constant": sched.ConstantLR(opt),
            "polynomial": sched.PolynomialLR(opt),
            "lambda": sched.LambdaLR(opt, lambda epoch: 0.95**epoch),
            "multiplicative": sched.MultiplicativeLR(opt, lambda epoch: 0.95),
        }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in schedulers(torch.optim.SGD(_net().parameters(), lr=0.01, momentum=0.9)):
            opt = torch.optim.SGD(_net().parameters(), lr=0.01, momentum=0.9)
            scheduler = schedulers(opt)[name]
            for _ in range(2):
                opt.step()
                scheduler.step(1.0) if name == "plateau" else scheduler.step()
            _save(rec, f"sched/{name}.pt", scheduler.state_dict(), "scheduler-state")
        opt = torch.optim.SGD(_net().parameters(), lr=0.01)
        warm = sched.LinearLR(opt, 0.1, total_iters=2)
        seq = sched.SequentialLR(opt, [warm, sched.CosineAnnealingLR(opt, 5)], milestones=[2])
        _save(rec, "sched/sequential.pt", seq.state_dict(), "scheduler-state")
        chained = sched.ChainedScheduler([sched.ConstantLR(opt), sched.ExponentialLR(opt, 0.9)])
        _save(rec, "sched/chained.pt", chained.state_dict(), "scheduler-state")
    scaler = torch.amp.GradScaler("cpu", enabled=True)
    _save(rec, "optim/grad_scaler.pt", scaler.state_dict(), "grad-scaler-state")
    _save(rec, "optim/grad_scaler_object.pt", scaler, "grad-scaler-object")
    averaged = torch.optim.swa_utils.AveragedModel(_net())
    _save(rec, "optim/ema_state.pt", averaged.state_dict(), "ema-state")


def _modules() -> dict[str, Any]:
    from torch import nn
    from torch.nn.utils import parametrizations

    return {
        "conv_stack": nn.Sequential(
            nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.SiLU(), nn.Conv2d(1, 1, 1),
            nn.ConvTranspose2d(1, 1, 2), nn.GroupNorm(1, 1), nn.InstanceNorm2d(1),
            nn.AdaptiveAvgPool2d(1), nn.Upsample(scale_factor=2), nn.PixelShuffle(1),
        ),
        "recurrent": nn.ModuleList([nn.LSTM(4, 8), nn.GRU(4, 8), nn.RNN(4, 8), nn.LSTMCell(4, 8)]),
        "transformer": nn.Transformer(
            d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16
        ),
        "attention": nn.MultiheadAttention(8, 2),
        "embedding": nn.ModuleDict(
            {"emb": nn.Embedding(10, 4, padding_idx=0), "bag": nn.EmbeddingBag(10, 4)}
        ),
        "activations": nn.Sequential(
            nn.PReLU(), nn.LeakyReLU(), nn.ELU(), nn.Hardswish(), nn.Mish(), nn.Softplus(),
            nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=-1), nn.LogSoftmax(dim=-1), nn.Identity(),
            nn.Dropout(0.1), nn.AlphaDropout(0.1), nn.Unflatten(1, (1, -1)), nn.Flatten(),
        ),
        "losses": nn.ModuleList([
            nn.CrossEntropyLoss(label_smoothing=0.1), nn.MSELoss(), nn.BCEWithLogitsLoss(),
            nn.SmoothL1Loss(), nn.CTCLoss(), nn.KLDivLoss(reduction="batchmean"),
            nn.TripletMarginLoss(),
        ]),
        "weight_norm": parametrizations.weight_norm(nn.Linear(4, 4)),
        "spectral_norm": parametrizations.spectral_norm(nn.Linear(4, 4)),
        "orthogonal": parametrizations.orthogonal(nn.Linear(4, 4)),
        "bilinear": nn.Bilinear(3, 3, 2),
    }  # fmt: skip


def generate_modules(rec: Recorder) -> None:
    """Whole modules (torch.save(model)) and their state dicts, zip and legacy format."""
    import torch

    torch.manual_seed(0)
    # Parametrized modules can only be saved as state dicts (torch refuses to pickle them).
    parametrized = {"weight_norm", "spectral_norm", "orthogonal"}
    for name, module in _modules().items():
        if name not in parametrized:
            _save(rec, f"modules/{name}.pt", module, "whole-module")
        _save(rec, f"modules/{name}.state.pt", module.state_dict(), "state-dict")
        if name in {"recurrent", "transformer", "activations"}:
            _save(rec, f"modules/{name}.legacy.pth", module, "whole-module-legacy", legacy=True)
    quantized = torch.ao.quantization.quantize_dynamic(
        torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)),
        {torch.nn.Linear},
        dtype=torch.qint8,
    )
    lazy = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.ReLU())
    lazy(torch.randn(2, 5))  # materialized, as after the first batch of any training run
    _save(rec, "modules/lazy_materialized.pt", lazy, "whole-module")
    _save(rec, "modules/quantized_dynamic.state.pt", quantized.state_dict(), "quantized-state")
    _save(rec, "modules/quantized_dynamic.pt", quantized, "quantized-module")


def generate_tensors(rec: Recorder) -> None:
    """Tensors of every dtype, layout and memory format, and the small objects beside them."""
    import torch

    dtypes = [
        torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex128,
        torch.complex64, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
        torch.uint16, torch.uint32, torch.uint64, torch.bool, torch.float8_e4m3fn,
        torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz,
    ]  # fmt: skip
    zoo = {str(d).removeprefix("torch."): torch.ones(3, dtype=torch.float32).to(d) for d in dtypes}
    _save(rec, "tensors/dtypes.pt", zoo, "tensors")
    _save(rec, "tensors/dtypes.legacy.pt", zoo, "tensors-legacy", legacy=True)
    quant = torch.quantize_per_tensor(torch.randn(4), 0.1, 10, torch.quint8)
    per_channel = torch.quantize_per_channel(
        torch.randn(2, 3), torch.tensor([0.1, 0.2]), torch.tensor([0, 1]), 0, torch.qint8
    )
    layouts = {
        "quantized": quant,
        "quantized_per_channel": per_channel,
        "csr": torch.eye(3).to_sparse_csr(),
        "csc": torch.eye(3).to_sparse_csc(),
        "coo": torch.eye(3).to_sparse(),
        "bsr": torch.eye(4).to_sparse_bsr((2, 2)),
        "channels_last": torch.randn(1, 3, 4, 4).to(memory_format=torch.channels_last),
        "transposed": torch.randn(3, 5).t(),
        "scalar": torch.tensor(3.5),
        "empty": torch.empty(0, 4),
        "parameter": torch.nn.Parameter(torch.randn(2)),
        "buffer": torch.nn.Buffer(torch.randn(2)),
        "meta": torch.empty(3, device="meta"),
        "nested": torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
        "requires_grad": torch.randn(2, requires_grad=True),
    }
    _save(rec, "tensors/layouts.pt", layouts, "tensors")
    gen = torch.Generator().manual_seed(3)
    misc = {
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "device": torch.device("cpu"),
        "layout": torch.sparse_coo,
        "generator_state": gen.get_state(),
        "rng_state": torch.get_rng_state(),
        "generator": gen,
        "finfo": torch.finfo(torch.float32).eps,
        "packed": torch.nn.utils.rnn.pack_sequence([torch.ones(3, 2), torch.ones(2, 2)]),
        "version": torch.__version__,
    }
    _save(rec, "tensors/misc.pt", misc, "torch-objects")
    dists = {
        "normal": torch.distributions.Normal(torch.zeros(2), torch.ones(2)),
        "categorical": torch.distributions.Categorical(logits=torch.zeros(3)),
    }
    _save(rec, "tensors/distributions.pt", dists, "distributions")


def generate_scripted(rec: Recorder) -> None:
    """TorchScript (script and trace) and a torch.export program."""
    import torch

    model = _net().eval()
    torch.jit.save(torch.jit.script(model), str(rec.path("scripted/script.pt")))
    rec.add("scripted/script.pt", "torch", "torchscript")
    traced = torch.jit.trace(model, torch.randn(2, 8))
    torch.jit.save(traced, str(rec.path("scripted/trace.pt")))
    rec.add("scripted/trace.pt", "torch", "torchscript")
    program = torch.export.export(model, (torch.randn(2, 8),))
    torch.export.save(program, str(rec.path("scripted/exported.pt2")))
    rec.add("scripted/exported.pt2", "torch", "torch-export")


def generate_safetensors(rec: Recorder) -> None:
    """safetensors from torch (with metadata) and from NumPy, every dtype both support."""
    import numpy as np
    import safetensors.numpy
    import safetensors.torch
    import torch

    state = {k: v.contiguous() for k, v in _modules()["transformer"].state_dict().items()}
    safetensors.torch.save_file(state, rec.path("safetensors/torch.safetensors"), {"format": "pt"})
    rec.add("safetensors/torch.safetensors", "safetensors", "safetensors")
    dtypes = [
        torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
        torch.int16, torch.int8, torch.uint8, torch.bool, torch.float8_e4m3fn, torch.float8_e5m2,
        torch.uint16, torch.uint32, torch.uint64,
    ]  # fmt: skip
    zoo = {str(d): torch.zeros(2, 2, dtype=d) for d in dtypes}
    zoo["empty"] = torch.zeros(0)
    zoo["scalar"] = torch.tensor(1.0)
    safetensors.torch.save_file(zoo, rec.path("safetensors/dtypes.safetensors"))
    rec.add("safetensors/dtypes.safetensors", "safetensors", "safetensors")
    arrays = {
        n: np.ones((2, 3), dtype=n)
        for n in ("float64", "float32", "float16", "int64", "int8", "uint32", "bool")
    }
    safetensors.numpy.save_file(arrays, rec.path("safetensors/numpy.safetensors"), {"k": "v"})
    rec.add("safetensors/numpy.safetensors", "safetensors", "safetensors")


def generate(rec: Recorder) -> None:
    """Every PyTorch artifact of this module."""
    generate_optimizers(rec)
    generate_modules(rec)
    generate_tensors(rec)
    generate_scripted(rec)
    generate_safetensors(rec)
