"""Names that matter in chat templates: Python internals, command execution, Jinja globals.

Kept apart from the checks so the lists can be reviewed on their own. Dunder names are
recognized by shape (any ``__name__``); the explicit list below is the set worth flagging even
when it only appears inside a string (a payload assembling attribute names at render time).
"""

from __future__ import annotations

import re

#: An attribute or key that is a Python special name.
DUNDER = re.compile(r"^__\w+__$")
#: Special names that lead from any object to classes, modules, globals or code.
DUNDER_INSIDE = re.compile(
    r"__(?:class|mro|subclasses|globals|builtins|init|import|getattribute|base|bases|dict|"
    r"code|func|self|reduce|reduce_ex|loader|spec|closure|getitem|call|new|subclasshook|"
    r"init_subclass|module|qualname|name)__"
)
#: Non-dunder attributes that lead from an object to frames, globals or the class graph.
REFLECTIVE_ATTRS = frozenset(
    {
        "mro",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "tb_frame",
        "tb_next",
        "func_globals",
        "co_code",
    }
)
#: Attribute names that are command execution or module access whatever the object.
COMMAND_ATTRS = frozenset(
    {
        "popen",
        "subprocess",
        "getoutput",
        "getstatusoutput",
        "check_output",
        "check_call",
        "Popen",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnv",
        "spawnve",
        "spawnvp",
        "execl",
        "execle",
        "execlp",
        "execv",
        "execve",
        "execvp",
        "import_module",
        "load_module",
        "builtins",
        "os",
        "sys",
        "posix",
        "_os",
    }
)
#: Attribute names that are command execution when called (otherwise plausible data keys).
COMMAND_CALLS = frozenset({"system", "run", "eval", "exec", "open", "startfile"})
#: Free names that are always a way to modules (never Jinja globals).
MODULE_NAMES = frozenset(
    {"os", "subprocess", "sys", "importlib", "__import__", "__builtins__", "builtins", "posix"}
)
#: Free names that run or load code when called (Python builtins Jinja does not define).
CODE_CALLS = frozenset({"eval", "exec", "compile", "open", "input", "breakpoint", "__import__"})
#: Free names that give reflective access when called.
REFLECTION_CALLS = frozenset(
    {"getattr", "setattr", "delattr", "vars", "globals", "locals", "type", "object"}
)
#: Jinja and framework globals: functions or objects with ``__globals__`` behind them.
GLOBAL_OBJECTS = frozenset(
    {
        "self",
        "cycler",
        "joiner",
        "namespace",
        "lipsum",
        "range",
        "dict",
        "config",
        "request",
        "url_for",
        "get_flashed_messages",
        "session",
        "g",
    }
)
#: Filters whose ``attribute`` argument is an attribute path, with its positional index (Jinja's
#: signatures: ``groupby(attribute)``, ``sort(reverse, case_sensitive, attribute)``,
#: ``join(d, attribute)``…); ``map`` takes it by keyword only.
ATTRIBUTE_POSITIONS: dict[str, int | None] = {
    "map": None,
    "sort": 2,
    "groupby": 0,
    "sum": 0,
    "unique": 1,
    "min": 1,
    "max": 1,
    "join": 1,
    "selectattr": 0,
    "rejectattr": 0,
}
ATTRIBUTE_FILTERS = frozenset(ATTRIBUTE_POSITIONS)
#: Filters whose first argument is a width or count.
WIDTH_FILTERS = frozenset({"center", "indent", "truncate", "wordwrap", "batch", "slice"})
#: Method names that reach Python's ``str.format`` machinery (attribute traversal in fields).
FORMAT_METHODS = frozenset({"format", "format_map"})
