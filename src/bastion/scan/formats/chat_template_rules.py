"""The ``BST-TPL`` rules: Jinja chat templates in GGUF metadata, tokenizer configs and files.

Inference servers render a model's chat template on every request. The template ships with
the model (GGUF ``tokenizer.chat_template``, ``tokenizer_config.json``, ``chat_template.jinja``)
and is code: a hostile one is a server-side template injection waiting for the first prompt.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

_INJECTION = References(
    cwe=("CWE-1336", "CWE-94"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0011.000", "AML.T0018.002"),
    nist=("MANAGE 3.2", "NISTAML.051"),
    urls=(
        "https://nvd.nist.gov/vuln/detail/CVE-2024-34359",
        "https://github.com/abetlen/llama-cpp-python/security/advisories/GHSA-56xg-wfcc-g829",
    ),
)
_COMMAND = References(
    cwe=("CWE-1336", "CWE-78", "CWE-94"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0011.000", "AML.T0018.002"),
    nist=("MANAGE 3.2", "NISTAML.051"),
)
_INCLUSION = References(
    cwe=("CWE-1336", "CWE-22", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003",),
    nist=("MANAGE 3.2",),
)
_RESOURCES = References(
    cwe=("CWE-400", "CWE-834", "CWE-1336"),
    owasp=("ML06:2023", "LLM10:2025"),
    atlas=("AML.T0029",),
    nist=("MANAGE 3.2",),
)
_MALFORMED = References(
    cwe=("CWE-20", "CWE-436"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003",),
    nist=("MANAGE 3.2",),
)

INTERNALS = Rule(
    "BST-TPL-001",
    "Chat template reaches Python internals (template injection)",
    Severity.CRITICAL,
    "models",
    doc="""
    The template accesses special attributes (``__class__``, ``__mro__``, ``__subclasses__``,
    ``__globals__``, ``__builtins__``, ``__init__``…), frame or code objects, or builds such
    names from pieces (``'__cla' ~ 'ss__'``, ``'%c%c'|format(95, 95)``, ``dict(__x=1)|join``).
    That is the shape of server-side template injection: a server that renders the template
    outside Jinja's sandbox (llama-cpp-python before 0.2.72, CVE-2024-34359) runs arbitrary
    Python on the first chat request. Chat templates only format messages and have no use for
    any of it. Private attributes (``_name``) and strings that merely mention special names
    are reported with lower severity and confidence.
    """,
    remediation=(
        "Do not serve this model. Replace the chat template with the publisher's original and "
        "render templates only in jinja2's ImmutableSandboxedEnvironment."
    ),
    references=_INJECTION,
)

REFLECTION = Rule(
    "BST-TPL-002",
    "Chat template uses reflective attribute lookups",
    Severity.HIGH,
    "models",
    doc="""
    The template looks attributes up by computed names (the ``attr`` filter with a name built at
    render time, attribute paths in ``map``/``selectattr`` that are not constants), calls
    Python reflection builtins (``getattr``, ``vars``, ``globals``…), or reaches ``str.format``
    through ``attr`` or with a format string that walks attributes (``'{0.__class__}'``, the
    trick behind Jinja sandbox escapes CVE-2016-10745 and CVE-2025-27516). These hide which
    attributes are accessed from review and from scanners. A constant, ordinary name looked up
    with ``attr`` is reported as medium.
    """,
    remediation="Use plain attribute or item access with constant names.",
    references=_INJECTION,
)

GLOBALS = Rule(
    "BST-TPL-003",
    "Chat template reaches into Jinja global objects",
    Severity.HIGH,
    "models",
    doc="""
    The template reads attributes or items of Jinja's global helpers (``cycler``, ``joiner``,
    ``namespace``, ``lipsum``, ``range``, ``dict``), of framework globals (``config``,
    ``request``, ``url_for``, ``get_flashed_messages``), or of ``self``. Their functions
    carry ``__globals__`` (the module namespace, with ``os`` in it), which is why
    ``cycler.__init__.__globals__.os.popen(…)`` and ``lipsum.__globals__`` are the standard
    Jinja injection payloads. Calling ``namespace()`` or ``cycler()`` is ordinary; reaching
    into them is not.
    """,
    remediation="Remove the access; chat templates never need the internals of Jinja helpers.",
    references=_INJECTION,
)

COMMAND = Rule(
    "BST-TPL-004",
    "Chat template references command execution or Python modules",
    Severity.CRITICAL,
    "models",
    doc="""
    The template refers to ``os``, ``subprocess``, ``sys``, ``builtins``, ``__import__`` or
    calls ``popen``, ``system``, ``eval``, ``exec``, ``open`` and similar. No chat template
    formats messages with them; in a rendered template they are the payload of an injection
    (``…__globals__.os.popen('…').read()``).
    """,
    remediation="Do not serve this model; replace the chat template with a reviewed one.",
    references=_COMMAND,
)

INCLUSION = Rule(
    "BST-TPL-005",
    "Chat template includes, imports or extends other templates",
    Severity.MEDIUM,
    "models",
    doc="""
    The template uses ``{% include %}``, ``{% import %}``, ``{% from … import %}`` or
    ``{% extends %}``. Chat templates are self-contained; on a server whose Jinja environment
    has a loader, these read other files (other templates, or any file the loader can reach)
    into the prompt.
    """,
    remediation="Inline what the template needs; remove the inclusion.",
    references=_INCLUSION,
)

RESOURCES = Rule(
    "BST-TPL-006",
    "Chat template can exhaust the server",
    Severity.MEDIUM,
    "models",
    doc="""
    The template asks for more work than formatting messages ever needs: ``range()`` beyond
    the 100,000 items Jinja's sandbox allows, nested constant loops with millions of
    iterations, strings repeated into megabytes, huge exponents or widths, nesting deep enough
    to exhaust a parser, or a template too large to be one. Rendering it on each request
    ties up the inference server (denial of service).
    """,
    remediation="Replace the chat template with the publisher's original.",
    references=_RESOURCES,
)

SYNTAX = Rule(
    "BST-TPL-007",
    "Chat template does not parse",
    Severity.MEDIUM,
    "models",
    doc="""
    Jinja's parser (plain or sandboxed, with the extensions ``transformers`` enables) rejects
    the template. Servers with other template engines (llama.cpp's own Jinja subset, minja)
    may still accept it, so what reviewers can read and what servers run differ; nothing in
    an unparsable template could be inspected.
    """,
    remediation="Fix or replace the chat template.",
    references=_MALFORMED,
    confidence=Confidence.MEDIUM,
)

MALFORMED = Rule(
    "BST-TPL-008",
    "Chat template entry is malformed or ambiguous",
    Severity.MEDIUM,
    "models",
    doc="""
    A ``chat_template`` entry is neither a string nor a list of ``{"name", "template"}``
    objects, names the same template twice, or appears twice in the same JSON object. Loaders
    pick different templates (first or last copy) from such a file: one can be reviewed while
    another is served. Every copy found is inspected.
    """,
    remediation="Keep exactly one template per name.",
    references=_MALFORMED,
)

TEMPLATE_RULES = (INTERNALS, REFLECTION, GLOBALS, COMMAND, INCLUSION, RESOURCES, SYNTAX, MALFORMED)
