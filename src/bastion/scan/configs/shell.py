"""A small POSIX-shell lexer: enough to see which commands a script or ``RUN`` line runs.

Scripts are never run. :func:`parse_script` splits text into :class:`Command` values (words with
quotes removed, their offsets, and whether they contain an expansion such as ``$VAR``), grouped
into pipelines; heredoc bodies, comments and redirections are skipped. :func:`invocation` strips
what comes before the real program (``VAR=x``, ``exec``, ``env``, ``sudo``, ``nohup``…).
Constructs the lexer does not model (``case`` arms, functions) degrade to extra or fewer words,
never to an error: the checks built on it only ever look for specific programs and options.

>>> [[w.text for w in c.words] for c in parse_script("curl -fsSL https://x.sh | sh\\n")]
[['curl', '-fsSL', 'https://x.sh'], ['sh']]
>>> parse_script("curl -fsSL https://x.sh | sh")[1].piped
True
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

#: Characters the lexer reads at most from one script (the rest is ignored).
MAX_SCRIPT_CHARS = 1 << 20

_OPERATORS = ("&&", "||", ";;", "|&", ">>", "&>", ">&", "<<-", "<<", "<", ">", "|", "&", ";")
_SEPARATORS = frozenset({"&&", "||", ";;", "&", ";", "\n", "(", ")"})
_PIPES = frozenset({"|", "|&"})
_REDIRECTS = frozenset({">>", "&>", ">&", "<", ">"})
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"}
)
_SKIP_COMMANDS = frozenset({"for", "case", "select", "esac", "function"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = frozenset(
    {"exec", "nohup", "command", "builtin", "nice", "stdbuf", "tini", "dumb-init"}
)
_WRAPPER_ARGS = {
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"},
    "env": {"-u", "-C"},
}


@dataclass(frozen=True)
class Word:
    """One shell word: ``text`` without quotes (expansions kept as written), where it starts."""

    text: str
    start: int
    #: Contains an unquoted or double-quoted expansion (``$x``, ``$(…)``, backticks).
    dynamic: bool = False


@dataclass(frozen=True)
class Command:
    """A simple command: its words, where it starts, and its place in a pipeline."""

    words: tuple[Word, ...]
    start: int
    #: Index of the pipeline it belongs to (commands joined by ``|`` share it).
    pipeline: int
    #: Whether another command's output is piped into this one.
    piped: bool = False


@dataclass(frozen=True)
class Invocation:
    """A command with its prefix removed: assignments, the program's words, and sudo."""

    env: dict[str, str]
    argv: tuple[Word, ...]
    sudo: bool

    @property
    def program(self) -> str:
        """The program's base name (``/usr/bin/pip3`` → ``pip3``), or ``""``."""
        return posixpath.basename(self.argv[0].text) if self.argv else ""

    def texts(self) -> list[str]:
        """The argument texts, program included."""
        return [w.text for w in self.argv]


def parse_script(text: str) -> list[Command]:
    """The simple commands of a script, in order."""
    text = text[:MAX_SCRIPT_CHARS]
    commands: list[Command] = []
    words: list[Word] = []
    pipeline = 0
    piped = False
    for token, is_op in _Lexer(text).tokens():
        if not is_op:
            words.append(token)
            continue
        op = token.text
        if op in _PIPES:
            if words:
                commands.append(_command(words, pipeline, piped))
            words, piped = [], True
        elif op in _SEPARATORS:
            if words:
                commands.append(_command(words, pipeline, piped))
            words, piped = [], False
            pipeline += 1
    if words:
        commands.append(_command(words, pipeline, piped))
    return [c for c in commands if c.words]


def _command(words: list[Word], pipeline: int, piped: bool) -> Command:
    while words and words[0].text in _RESERVED:
        words = words[1:]
    if words and words[0].text in _SKIP_COMMANDS:
        words = []
    start = words[0].start if words else 0
    return Command(tuple(words), start, pipeline, piped)


def invocation(command: Command) -> Invocation:
    """Strip assignments and wrapper programs (``env``, ``sudo``, ``exec``…) from a command."""
    env: dict[str, str] = {}
    words = list(command.words)
    sudo = False
    while words:
        first = words[0].text
        name = posixpath.basename(first)
        if _ASSIGNMENT.match(first):
            key, _, value = first.partition("=")
            env[key] = value
            words.pop(0)
        elif name in _WRAPPERS or name in _WRAPPER_ARGS:
            sudo = sudo or name == "sudo"
            words.pop(0)
            takes_value = _WRAPPER_ARGS.get(name, set())
            while words and words[0].text.startswith("-") and words[0].text != "-":
                flag = words.pop(0).text
                if flag == "--":
                    break
                if flag in takes_value and words:
                    words.pop(0)
                elif name == "nice" and flag == "-n" and words:
                    words.pop(0)
        elif name in {"timeout", "gosu", "su-exec"} and len(words) > 1:
            words = words[2:]  # timeout DURATION / gosu USER, then the program
        else:
            break
    return Invocation(env, tuple(words), sudo)


class _Lexer:
    """Character-level tokenizer; yields (Word, is_operator)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.heredocs: list[tuple[str, bool]] = []

    def tokens(self) -> list[tuple[Word, bool]]:
        out: list[tuple[Word, bool]] = []
        text, n = self.text, len(self.text)
        skip_next = False
        while self.pos < n:
            c = text[self.pos]
            if c == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif c in " \t\r":
                self.pos += 1
            elif c == "\n":
                out.append((Word("\n", self.pos), True))
                self.pos += 1
                self._skip_heredocs()
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif text.startswith(("<(", ">("), self.pos):
                start = self.pos
                self.pos = _balanced(text, self.pos + 1, "(", ")")
                out.append((Word(text[start : self.pos], start, True), False))
            elif c in "|&;()<>":
                op = next(o for o in (*_OPERATORS, c) if text.startswith(o, self.pos))
                start = self.pos
                self.pos += len(op)
                if op in {"<<", "<<-"}:
                    word = self._word()
                    self.heredocs.append((word.text, op == "<<-"))
                elif op in _REDIRECTS:
                    skip_next = True
                else:
                    out.append((Word(op, start), True))
            else:
                word = self._word()
                if skip_next:
                    skip_next = False
                elif word.text.isdigit() and self.pos < n and text[self.pos] in "<>":
                    pass  # a file descriptor number: 2>&1
                else:
                    out.append((word, False))
        return out

    def _word(self) -> Word:
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] in " \t":
            self.pos += 1
        start = self.pos
        parts: list[str] = []
        dynamic = False
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n|&;()<>":
                break
            if c == "\\":
                if text.startswith("\\\n", self.pos):
                    self.pos += 2
                    continue
                parts.append(text[self.pos + 1 : self.pos + 2])
                self.pos += 2
            elif c == "'":
                end = text.find("'", self.pos + 1)
                end = n if end < 0 else end
                parts.append(text[self.pos + 1 : end])
                self.pos = end + 1
            elif c == '"':
                inner, dyn = self._double_quoted()
                parts.append(inner)
                dynamic = dynamic or dyn
            elif c == "$" or c == "`":
                end = self._expansion()
                parts.append(text[self.pos : end])
                self.pos = end
                dynamic = True
            else:
                parts.append(c)
                self.pos += 1
        return Word("".join(parts), start, dynamic)

    def _double_quoted(self) -> tuple[str, bool]:
        text, n = self.text, len(self.text)
        self.pos += 1
        parts: list[str] = []
        dynamic = False
        while self.pos < n and text[self.pos] != '"':
            c = text[self.pos]
            if c == "\\" and self.pos + 1 < n:
                nxt = text[self.pos + 1]
                parts.append(nxt if nxt in '"\\$`' else ("" if nxt == "\n" else c + nxt))
                self.pos += 2
            elif c == "$" or c == "`":
                end = self._expansion()
                parts.append(text[self.pos : end])
                self.pos = end
                dynamic = True
            else:
                parts.append(c)
                self.pos += 1
        self.pos += 1
        return "".join(parts), dynamic

    def _expansion(self) -> int:
        """End offset of the ``$…`` or backtick expansion starting at ``self.pos``."""
        text, pos = self.text, self.pos
        if text[pos] == "`":
            end = text.find("`", pos + 1)
            return len(text) if end < 0 else end + 1
        if text.startswith("$(", pos):
            return _balanced(text, pos + 1, "(", ")")
        if text.startswith("${", pos):
            return _balanced(text, pos + 1, "{", "}")
        end = pos + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        if end == pos + 1 and end < len(text) and text[end] in "@*#?$!-0123456789":
            end += 1
        return end

    def _skip_heredocs(self) -> None:
        """After a newline, skip the bodies of the heredocs opened on that line."""
        text = self.text
        for delimiter, strip_tabs in self.heredocs:
            while self.pos < len(text):
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                line = text[self.pos : end]
                self.pos = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self.heredocs = []


def _balanced(text: str, pos: int, open_: str, close: str) -> int:
    """End offset just after the bracket matching the one at ``pos`` (quotes respected)."""
    depth = 0
    quote = ""
    i = pos
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                i += 1
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)
