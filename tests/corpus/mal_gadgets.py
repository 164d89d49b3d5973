"""Malicious pickles that call gadgets from denylist-bypass reports.

Each gadget is a function or class in the standard library or a common ML dependency that runs a
command, evaluates source, writes a file or imports by name, and that at least one scanner's
denylist missed at some point. Arguments are inert: the command or source creates the sample's
marker file, and paths point under the marker directory.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.corpus.pickle_asm import Asm, Item
from tests.corpus.sample import CorpusWriter

Build = Callable[[CorpusWriter, str], bytes]

_MODELSCAN_338 = "https://github.com/protectai/modelscan/issues/338"
_PICKLESCAN_66 = "https://github.com/mmaitre314/picklescan/issues/66"


def _call(module: str, name: str, *args: Item, protocol: int = 2) -> Build:
    """``module.name(*args)``; the strings ``"$cmd"``, ``"$code"``, ``"$path"`` are filled in."""

    def build(w: CorpusWriter, n: str) -> bytes:
        filled = [_fill(w, n, a) for a in args]
        asm = Asm(protocol).call(module, name, *filled).stop()
        return asm.framed() if protocol >= 4 else asm.bytes()

    return build


def _fill(w: CorpusWriter, n: str, arg: Item) -> Item:
    if arg == "$cmd":
        return w.touch_command(n)
    if arg == "$code":
        return w.touch_code(n)
    if arg == "$path":
        return str(w.marker(n))
    if arg == "$url":
        return w.marker(n).as_uri()
    if isinstance(arg, list):
        return [_fill(w, n, a) for a in arg]
    return arg


def _method_of_instance(module: str, cls: str, method: str, arg: str) -> Build:
    """``getattr(module.cls(), method)(arg)``: an instance method reached without a dotted name."""

    def build(w: CorpusWriter, n: str) -> bytes:
        asm = Asm(2).glob("builtins", "getattr").glob(module, cls).tuple([]).reduce()
        asm.string(method).raw(b"\x86").reduce()
        return asm.tuple([_fill(w, n, arg)]).reduce().stop().bytes()

    return build


def _unbound_method(module: str, path: str, arg: str) -> Build:
    """``module.Class.method(module.Class(), arg)`` through a protocol-4 dotted name."""

    def build(w: CorpusWriter, n: str) -> bytes:
        cls = path.split(".")[0]
        asm = Asm(4).stack_glob(module, path).stack_glob(module, cls).tuple([]).reduce()
        asm.push(_fill(w, n, arg)).raw(b"\x86").reduce()
        return asm.stop().framed()

    return build


def _methodcaller(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(3).call("operator", "methodcaller", "system", w.touch_command(n))
    asm.call("importlib", "import_module", "os").raw(b"\x85").reduce()
    return asm.stop().bytes()


def _partial(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(2).glob("functools", "partial").glob("os", "system").string(w.touch_command(n))
    asm.raw(b"\x86").reduce()
    return asm.tuple([]).reduce().stop().bytes()


def _import_module_chain(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(4).stack_glob("builtins", "getattr").call("importlib", "import_module", "subprocess")
    asm.string("getstatusoutput").raw(b"\x86").reduce()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _spawnv_passfds(w: CorpusWriter, n: str) -> bytes:
    args: list[Item] = ["touch", str(w.marker(n))]
    asm = Asm(2).glob("multiprocessing.util", "spawnv_passfds")
    return asm.tuple(["/usr/bin/touch", args, ()]).reduce().stop().bytes()


def _run_code(w: CorpusWriter, n: str) -> bytes:
    return Asm(2).call("runpy", "_run_code", w.touch_code(n), {}).stop().bytes()


#: (file name, technique, advisory, builder) for every gadget.
GADGETS: tuple[tuple[str, str, str | None, Build], ...] = (
    (
        "torch_collect_env_run.pkl",
        "torch.utils.collect_env.run(command)",
        _MODELSCAN_338,
        _call("torch.utils.collect_env", "run", "$cmd"),
    ),
    (
        "multiprocessing_spawnv_passfds.pkl",
        "multiprocessing.util.spawnv_passfds",
        _MODELSCAN_338,
        _spawnv_passfds,
    ),
    (
        "ensurepip_run_pip.pkl",
        "ensurepip._run_pip (runs pip with chosen arguments)",
        "GHSA-xp4f-hrf8-rxw7",
        _call("ensurepip", "_run_pip", ["--log", "$path", "--version"]),
    ),
    ("runpy_run_code.pkl", "runpy._run_code(source, globals)", None, _run_code),
    (
        "timeit_timeit.pkl",
        "timeit.timeit with the payload as setup",
        "GHSA-v7x6-rv5q-mhwc",
        _call("timeit", "timeit", "pass", "$code", protocol=4),
    ),
    ("cprofile_run.pkl", "cProfile.run(source)", None, _call("cProfile", "run", "$code")),
    (
        "cprofile_runctx.pkl",
        "cProfile.runctx(source, globals, locals)",
        "GHSA-9w88-8rmg-7g2p",
        _call("cProfile", "runctx", "$code", {}, {}, protocol=3),
    ),
    ("profile_run.pkl", "profile.run(source)", None, _call("profile", "run", "$code", protocol=1)),
    (
        "pydoc_pipepager.pkl",
        "pydoc.pipepager(text, command)",
        None,
        _call("pydoc", "pipepager", "help", "$cmd"),
    ),
    (
        "code_interactive_interpreter.pkl",
        "code.InteractiveInterpreter().runsource(source)",
        None,
        _method_of_instance("code", "InteractiveInterpreter", "runsource", "$code"),
    ),
    (
        "trace_trace_run.pkl",
        "trace.Trace.run(Trace(), source) through a dotted name",
        "GHSA-5qwp-399c-mjwf",
        _unbound_method("trace", "Trace.run", "$code"),
    ),
    (
        "profile_profile_run.pkl",
        "profile.Profile.run(Profile(), source) through a dotted name",
        "GHSA-x696-vm39-cp64",
        _unbound_method("profile", "Profile.run", "$code"),
    ),
    (
        "bdb_run.pkl",
        "bdb.Bdb().run(source)",
        None,
        _method_of_instance("bdb", "Bdb", "run", "$code"),
    ),
    (
        "doctest_debug_script.pkl",
        "doctest.debug_script(source)",
        "GHSA-fqq6-7vqf-w3fg",
        _call("doctest", "debug_script", "$code"),
    ),
    ("operator_methodcaller.pkl", "operator.methodcaller('system', cmd)(os)", None, _methodcaller),
    ("functools_partial_system.pkl", "functools.partial(os.system, cmd)()", None, _partial),
    (
        "numpy_testing_runstring.pkl",
        "numpy.testing._private.utils.runstring(source, globals)",
        None,
        _call("numpy.testing._private.utils", "runstring", "$code", {}),
    ),
    (
        "pandas_read_csv_exfil.pkl",
        "pandas.read_csv(url) exfiltration",
        _MODELSCAN_338,
        _call("pandas", "read_csv", "$url", protocol=4),
    ),
    (
        "pandas_io_parsers_read_csv.pkl",
        "pandas.io.parsers.read_csv(url) exfiltration",
        _MODELSCAN_338,
        _call("pandas.io.parsers", "read_csv", "$url", protocol=4),
    ),
    ("webbrowser_open.pkl", "webbrowser.open(url)", None, _call("webbrowser", "open", "$url")),
    (
        "importlib_import_module_chain.pkl",
        "getattr(importlib.import_module('subprocess'), 'getstatusoutput')",
        _PICKLESCAN_66,
        _import_module_chain,
    ),
    (
        "pip_main.pkl",
        "pip.main(arguments)",
        "CVE-2025-1716",
        _call("pip", "main", ["--log", "$path", "--version"]),
    ),
    (
        "pip_internal_main.pkl",
        "pip._internal.cli.main.main(arguments)",
        "CVE-2025-1716",
        _call("pip._internal.cli.main", "main", ["--log", "$path", "--version"], protocol=4),
    ),
    (
        "uuid_get_command_stdout.pkl",
        "uuid._get_command_stdout(command, args)",
        None,
        _call("uuid", "_get_command_stdout", "touch", "$path"),
    ),
    (
        "osx_support_read_output.pkl",
        "_osx_support._read_output(command)",
        None,
        _call("_osx_support", "_read_output", "$cmd"),
    ),
    (
        "imaplib_imap4_stream.pkl",
        "imaplib.IMAP4_stream(command)",
        None,
        _call("imaplib", "IMAP4_stream", "$cmd"),
    ),
    (
        "shutil_copyfile.pkl",
        "shutil.copyfile writes a chosen path",
        None,
        _call("shutil", "copyfile", "/etc/hostname", "$path"),
    ),
    (
        "torch_serialization_load.pkl",
        "torch.load of another file (nested deserializer)",
        None,
        _call("torch", "load", "$path", protocol=4),
    ),
)


def generate(w: CorpusWriter) -> None:
    """Write every gadget sample under ``pickle/gadgets/``."""
    if not w.wants("pickle"):
        return
    for filename, technique, advisory, build in GADGETS:
        name = f"pickle/gadgets/{filename}"
        w.add(
            name,
            build(w, name),
            label="malicious",
            family="pickle",
            technique=technique,
            advisory=advisory,
        )
