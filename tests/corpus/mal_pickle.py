"""Malicious pickle streams, technique by technique: protocols, opcodes, obfuscation, stream shape.

Every stream is written with :mod:`tests.corpus.pickle_asm`; its only effect, were it loaded,
would be to create the sample's marker file (``touch <marker_dir>/<sample>``). Gadget functions
from denylist-bypass reports live in :mod:`tests.corpus.mal_gadgets`.
"""

from __future__ import annotations

import base64
import pickle
import zlib
from collections.abc import Callable

from tests.corpus.pickle_asm import Asm
from tests.corpus.sample import CorpusWriter

Build = Callable[[CorpusWriter, str], bytes]


def _system(protocol: int) -> Build:
    return lambda w, n: Asm(protocol).call("os", "system", w.touch_command(n)).stop().bytes()


def _global_in_p4(w: CorpusWriter, n: str) -> bytes:
    # Protocol 4 header, but the old GLOBAL opcode instead of STACK_GLOBAL.
    return Asm(4).glob("os", "system").tuple([w.touch_command(n)]).reduce().stop().bytes()


def _framed_p5(w: CorpusWriter, n: str) -> bytes:
    return Asm(5).call("subprocess", "call", ["touch", str(w.marker(n))]).stop().framed()


def _exec(w: CorpusWriter, n: str) -> bytes:
    return Asm(2).call("builtins", "exec", w.touch_code(n)).stop().bytes()


def _eval(w: CorpusWriter, n: str) -> bytes:
    code = f"__import__('os').system({w.touch_command(n)!r})"
    return Asm(3).call("builtins", "eval", code).stop().bytes()


def _popen(w: CorpusWriter, n: str) -> bytes:
    return Asm(4).call("subprocess", "Popen", ["touch", str(w.marker(n))]).stop().framed()


def _posix(w: CorpusWriter, n: str) -> bytes:
    return Asm(2).call("posix", "system", w.touch_command(n)).stop().bytes()


def _os_popen(w: CorpusWriter, n: str) -> bytes:
    return Asm(0).call("os", "popen", w.touch_command(n)).stop().bytes()


def _inst_p0(w: CorpusWriter, n: str) -> bytes:
    return Asm(0).mark().string(w.touch_command(n)).inst("os", "system").stop().bytes()


def _inst_p1(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(1).mark().push(["touch", str(w.marker(n))])
    return asm.inst("subprocess", "check_call").stop().bytes()


def _obj(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(1).mark().glob("os", "system").string(w.touch_command(n))
    return asm.obj().stop().bytes()


def _newobj_partial(w: CorpusWriter, n: str) -> bytes:
    # functools.partial builds itself in __new__, so NEWOBJ yields a ready partial; REDUCE calls it.
    asm = Asm(2).glob("functools", "partial")
    asm.glob("os", "system").string(w.touch_command(n)).raw(b"\x86").newobj()
    return asm.tuple([]).reduce().stop().bytes()


def _newobj_ex_partial(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(4).stack_glob("functools", "partial")
    asm.stack_glob("os", "system").raw(b"\x85").push({}).newobj_ex()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _build_setstate(w: CorpusWriter, n: str) -> bytes:
    # BUILD with slot state on the imported class plants os.system as its __setstate__; a second
    # BUILD on a fresh instance then calls it with the command as "state".
    asm = Asm(2).glob("argparse", "Namespace")
    asm.none().mark().string("__setstate__").glob("os", "system").dict_from_mark().raw(b"\x86")
    asm.build().pop()
    asm.glob("argparse", "Namespace").tuple([]).newobj()
    return asm.string(w.touch_command(n)).build().stop().bytes()


def _reconstructor_py2(w: CorpusWriter, n: str) -> bytes:
    # copy_reg is the Python 2 name that protocol 0-2 loaders map to copyreg.
    asm = Asm(2).glob("copy_reg", "_reconstructor")
    asm.glob("subprocess", "Popen").glob("subprocess", "Popen")
    asm.push(["touch", str(w.marker(n))]).raw(b"\x87").reduce()
    return asm.stop().bytes()


def _builtin_py2(w: CorpusWriter, n: str) -> bytes:
    code = f"__import__('os').system({w.touch_command(n)!r})"
    return Asm(2).call("__builtin__", "eval", code).stop().bytes()


def _builtin_py2_p0(w: CorpusWriter, n: str) -> bytes:
    return Asm(0).call("__builtin__", "exec", w.touch_code(n)).stop().bytes()


def _memo_callable(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(2).glob("os", "system").put(7).pop()
    asm.push({"weights": [0.5, 0.25]}).pop()
    return asm.get(7).tuple([w.touch_command(n)]).reduce().stop().bytes()


def _memo_names(w: CorpusWriter, n: str) -> bytes:
    # The module and function names reach STACK_GLOBAL from the memo, stored as dict values.
    asm = Asm(4).mark().string("layer").string("os").put(3).string("act").string("system").put(4)
    asm.raw(b"d").pop()
    asm.get(3).get(4).stack_glob()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _computed_name_add(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(4).string("os").call("operator", "add", "sys", "tem").stack_glob()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _computed_name_rot13(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(5).call("codecs", "decode", "bf", "rot13").call("codecs", "decode", "flfgrz", "rot13")
    return asm.stack_glob().tuple([w.touch_command(n)]).reduce().stop().framed()


def _computed_name_dotted_lower(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(4).string("os").call("builtins", "str.lower", "SYSTEM").stack_glob()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _getattr_import(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(2).glob("builtins", "getattr").call("builtins", "__import__", "os")
    asm.string("system").raw(b"\x86").reduce()
    return asm.tuple([w.touch_command(n)]).reduce().stop().bytes()


def _getattr_importlib_builtins(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(3).glob("builtins", "getattr").call("importlib", "import_module", "builtins")
    asm.string("exec").raw(b"\x86").reduce()
    return asm.tuple([w.touch_code(n)]).reduce().stop().bytes()


def _getattr_sys_modules(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(4).stack_glob("builtins", "getattr")
    asm.stack_glob("operator", "getitem").stack_glob("sys", "modules").string("os").raw(b"\x86")
    asm.reduce().string("system").raw(b"\x86").reduce()
    return asm.tuple([w.touch_command(n)]).reduce().stop().framed()


def _getattr_chain_p0(w: CorpusWriter, n: str) -> bytes:
    asm = Asm(0).glob("__builtin__", "getattr").mark()
    asm.glob("__builtin__", "__import__").mark().string("subprocess").tuple_from_mark().reduce()
    asm.string("getoutput").tuple_from_mark().reduce()
    return asm.mark().string(w.touch_command(n)).tuple_from_mark().reduce().stop().bytes()


def _dunder(module: str, name: str, arg: str = "command") -> Build:
    def build(w: CorpusWriter, n: str) -> bytes:
        value = w.touch_command(n) if arg == "command" else w.touch_code(n)
        return Asm(4).stack_glob(module, name).tuple([value]).reduce().stop().framed()

    return build


def _nested_loads(w: CorpusWriter, n: str) -> bytes:
    inner = Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()
    return Asm(3).call("pickle", "loads", inner).stop().bytes()


def _nested_c_loads(w: CorpusWriter, n: str) -> bytes:
    inner = Asm(4).call("subprocess", "run", ["touch", str(w.marker(n))]).stop().framed()
    return Asm(4).call("_pickle", "loads", inner).stop().framed()


def _nested_base64(w: CorpusWriter, n: str) -> bytes:
    inner = Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()
    asm = Asm(4).stack_glob("pickle", "loads")
    asm.call("base64", "b64decode", base64.b64encode(inner).decode()).raw(b"\x85").reduce()
    return asm.stop().framed()


def _nested_zlib(w: CorpusWriter, n: str) -> bytes:
    inner = Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()
    asm = Asm(3).glob("pickle", "loads")
    asm.call("zlib", "decompress", zlib.compress(inner)).raw(b"\x85").reduce()
    return asm.stop().bytes()


def _marshal_function(w: CorpusWriter, n: str) -> bytes:
    import marshal

    code = compile(w.touch_code(n), "<payload>", "exec")
    asm = Asm(3).glob("types", "FunctionType")
    asm.call("marshal", "loads", marshal.dumps(code)).push({}).raw(b"\x86").reduce()
    return asm.tuple([]).reduce().stop().bytes()


def _broken_after_payload(w: CorpusWriter, n: str) -> bytes:
    # The REDUCE runs before the loader meets the invalid opcode; there is no STOP.
    return Asm(2).call("os", "system", w.touch_command(n)).raw(b"\xff\xfe garbage").bytes()


def _truncated_after_payload(w: CorpusWriter, n: str) -> bytes:
    return Asm(4).call("os", "system", w.touch_command(n)).raw(b"\x8c\x40trunc").bytes()


def _second_pickle(w: CorpusWriter, n: str) -> bytes:
    first = pickle.dumps({"epoch": 3, "lr": 0.001}, protocol=4)
    return first + Asm(4).call("os", "system", w.touch_command(n)).stop().framed()


def _third_pickle_p0(w: CorpusWriter, n: str) -> bytes:
    first = pickle.dumps([1, 2, 3], protocol=0)
    second = pickle.dumps("metadata", protocol=0)
    return first + second + Asm(0).call("os", "system", w.touch_command(n)).stop().bytes()


def _ext1(w: CorpusWriter, n: str) -> bytes:
    # EXT1 resolves through copyreg's extension registry at load time: the scanner cannot know it.
    return Asm(2).ext1(0x42).tuple([w.touch_command(n)]).reduce().stop().bytes()


def _ext2(w: CorpusWriter, n: str) -> bytes:
    return Asm(2).ext2(0x1234).tuple([w.touch_code(n)]).reduce().stop().bytes()


def _payload_in_state(w: CorpusWriter, n: str) -> bytes:
    # A realistic checkpoint dict whose nested value is the call.
    asm = Asm(2).mark().string("epoch").integer(12).string("config")
    asm.mark().string("hook").call("os", "system", w.touch_command(n)).raw(b"d")
    return asm.raw(b"d").stop().bytes()


#: (file name, technique, advisory, builder) for every opcode-level technique.
TECHNIQUES: tuple[tuple[str, str, str | None, Build], ...] = (
    *(
        (f"reduce_os_system_p{p}.pkl", f"GLOBAL+REDUCE os.system, protocol {p}", None, _system(p))
        for p in range(6)
    ),
    ("global_opcode_p4.pkl", "GLOBAL opcode inside a protocol-4 stream", None, _global_in_p4),
    ("framed_subprocess_p5.pkl", "STACK_GLOBAL subprocess.call in a FRAME", None, _framed_p5),
    ("builtins_exec.pkl", "builtins.exec of Python source", None, _exec),
    ("builtins_eval.pkl", "builtins.eval of an expression", None, _eval),
    ("subprocess_popen.pkl", "subprocess.Popen argv list", None, _popen),
    ("posix_system.pkl", "posix.system (os.system's real module)", None, _posix),
    ("os_popen_p0.pkl", "os.popen, protocol 0", None, _os_popen),
    ("inst_os_system_p0.pkl", "INST opcode calling os.system", None, _inst_p0),
    ("inst_check_call_p1.pkl", "INST opcode calling subprocess.check_call", None, _inst_p1),
    ("obj_os_system_p1.pkl", "OBJ opcode calling os.system", None, _obj),
    (
        "newobj_partial_p2.pkl",
        "NEWOBJ functools.partial(os.system) then REDUCE",
        None,
        _newobj_partial,
    ),
    (
        "newobj_ex_partial_p4.pkl",
        "NEWOBJ_EX functools.partial(os.system) then REDUCE",
        None,
        _newobj_ex_partial,
    ),
    ("build_setstate_hijack.pkl", "BUILD plants os.system as __setstate__", None, _build_setstate),
    (
        "copy_reg_reconstructor.pkl",
        "Python-2 copy_reg._reconstructor on Popen",
        None,
        _reconstructor_py2,
    ),
    ("builtin_py2_eval.pkl", "Python-2 __builtin__.eval", None, _builtin_py2),
    ("builtin_py2_exec_p0.pkl", "Python-2 __builtin__.exec, protocol 0", None, _builtin_py2_p0),
    ("memo_callable.pkl", "callable stored in the memo, fetched by BINGET", None, _memo_callable),
    ("memo_names_stack_global.pkl", "STACK_GLOBAL names fetched from the memo", None, _memo_names),
    (
        "computed_name_add.pkl",
        "STACK_GLOBAL on operator.add('sys', 'tem')",
        None,
        _computed_name_add,
    ),
    ("computed_name_rot13.pkl", "STACK_GLOBAL on codecs.decode(rot13)", None, _computed_name_rot13),
    (
        "computed_name_str_lower.pkl",
        "STACK_GLOBAL on builtins.str.lower('SYSTEM')",
        None,
        _computed_name_dotted_lower,
    ),
    (
        "getattr_import_os.pkl",
        "getattr(__import__('os'), 'system')",
        "https://github.com/mmaitre314/picklescan/issues/66",
        _getattr_import,
    ),
    (
        "getattr_importlib_builtins_exec.pkl",
        "getattr(importlib.import_module('builtins'), 'exec')",
        "https://github.com/mmaitre314/picklescan/issues/66",
        _getattr_importlib_builtins,
    ),
    ("getattr_sys_modules.pkl", "getattr(sys.modules['os'], 'system')", None, _getattr_sys_modules),
    ("getattr_chain_py2_p0.pkl", "__builtin__.getattr chain, protocol 0", None, _getattr_chain_p0),
    (
        "dunder_getattr_self_exec.pkl",
        "dotted name builtins getattr.__self__.exec (protocol 4)",
        None,
        _dunder("builtins", "getattr.__self__.exec", "code"),
    ),
    (
        "dotted_pathlib_os_system.pkl",
        "dotted name pathlib os.system",
        None,
        _dunder("pathlib", "os.system"),
    ),
    (
        "dotted_shutil_os_system.pkl",
        "dotted name shutil os.system",
        None,
        _dunder("shutil", "os.system"),
    ),
    (
        "dunder_system_call.pkl",
        "dotted name os system.__call__",
        None,
        _dunder("os", "system.__call__"),
    ),
    ("nested_pickle_loads.pkl", "pickle.loads of an embedded payload", None, _nested_loads),
    ("nested_c_pickle_loads.pkl", "_pickle.loads of an embedded payload", None, _nested_c_loads),
    ("nested_base64_loads.pkl", "pickle.loads(base64.b64decode(...))", None, _nested_base64),
    ("nested_zlib_loads.pkl", "pickle.loads(zlib.decompress(...))", None, _nested_zlib),
    ("marshal_function.pkl", "types.FunctionType(marshal.loads(code))", None, _marshal_function),
    (
        "broken_after_payload.pkl",
        "payload then an invalid opcode, no STOP",
        None,
        _broken_after_payload,
    ),
    (
        "truncated_after_payload.pkl",
        "payload then a truncated opcode",
        None,
        _truncated_after_payload,
    ),
    ("second_pickle_after_stop.pkl", "benign pickle, STOP, then the payload", None, _second_pickle),
    (
        "third_pickle_p0.pkl",
        "two benign protocol-0 pickles then the payload",
        None,
        _third_pickle_p0,
    ),
    ("ext1_registry.pkl", "EXT1 extension code called with REDUCE", None, _ext1),
    ("ext2_registry.pkl", "EXT2 extension code called with REDUCE", None, _ext2),
    (
        "payload_in_checkpoint_dict.pkl",
        "os.system nested inside a checkpoint dict",
        None,
        _payload_in_state,
    ),
)


def generate(w: CorpusWriter) -> None:
    """Write every opcode-level technique under ``pickle/``."""
    if not w.wants("pickle"):
        return
    for filename, technique, advisory, build in TECHNIQUES:
        name = f"pickle/{filename}"
        w.add(
            name,
            build(w, name),
            label="malicious",
            family="pickle",
            technique=technique,
            advisory=advisory,
        )
