"""Helm chart templates: YAML with Go-template actions, made parseable without rendering.

A chart's ``templates/*.yaml`` are not YAML until Helm renders them with the chart's values, and
bastion does not render (that would need the values, the chart's helpers and Helm itself). What
can be checked is what the template states literally: a line that holds only template actions
(``{{- if … }}``, ``{{- toYaml .Values.resources | nindent 12 }}``) is blanked, and an action
inside a line (``image: "{{ .Values.image }}"``) becomes :data:`PLACEHOLDER`. Line numbers are
kept, so findings point at the template. Both branches of an ``if``/``else`` survive (the later
key wins), which is why checks on templated documents report only what is literally present and
never what is missing: a missing ``resources`` may well come from the values file.

Argo Workflows (``{{inputs.parameters.x}}``) and KFP (``{{$}}``, ``{{$.inputs.parameters['x']}}``)
use placeholders in strings too; those are valid YAML and are not treated as Helm (see
:func:`is_helm_template`).

>>> text = ('image: "{{ .Values.image }}"\\n{{- if .Values.debug }}\\n'
...         'privileged: true\\n{{- end }}\\n')
>>> is_helm_template(text)
True
>>> print(neutralize(text))
image: "__helm__"
<BLANKLINE>
privileged: true
<BLANKLINE>
<BLANKLINE>
"""

from __future__ import annotations

import re

#: What an inline template action becomes; checks treat values containing it as unknown.
PLACEHOLDER = "__helm__"

_HELM_ACTION = re.compile(
    r"\{\{-?\s*(?:\.[A-Za-z$]|\$(?!\}\}|\.(?:inputs|outputs|pipeline|workspace))|/\*"
    r"|(?:if|else|end|range|with|include|template|define|block|toYaml|toJson|tpl|required"
    r"|default|quote|printf|lookup|fail|indent|nindent)\b)"
)
_ACTION = re.compile(r"\{\{(?:[^}]|\}(?!\}))*\}\}")
_ONLY_ACTIONS = re.compile(r"\s*(?:\{\{(?:[^}]|\}(?!\}))*\}\}\s*)+")
#: Physical lines one action may span before the template is treated as unparseable.
_MAX_ACTION_LINES = 64


def is_helm_template(text: str) -> bool:
    """Whether the text holds Helm/Go-template actions (not Argo's ``{{inputs.…}}`` strings)."""
    return "{{" in text and _HELM_ACTION.search(text) is not None


def neutralize(text: str) -> str:
    """The template with action-only lines blanked and inline actions replaced, lines kept."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        extra = 0
        # An action that spans lines ({{/* comment */}}, a long include) is joined first; the
        # lines it consumed come back as blanks after it so later line numbers do not move.
        while (
            line.count("{{") > line.count("}}")
            and index + extra + 1 < len(lines)
            and extra < _MAX_ACTION_LINES
        ):
            extra += 1
            line = f"{line} {lines[index + extra]}"
        if _ONLY_ACTIONS.fullmatch(line):
            out.append("")
        else:
            out.append(_ACTION.sub(PLACEHOLDER, line))
        out.extend([""] * extra)
        index += 1 + extra
    return "\n".join(out)
