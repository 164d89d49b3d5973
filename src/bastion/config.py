"""Loading the policy file: ``bastion.toml``, or ``[tool.bastion]`` in ``pyproject.toml``.

The file is validated with pydantic; any mistake is a :class:`~bastion.errors.ConfigError` that
names the file, the key and the problem. Sections other commands own (``[assess]``, ``[gateway]``,
``[sign]``…) are kept as raw tables in :attr:`LoadedConfig.sections` for those commands to validate.

Example ``bastion.toml``::

    fail_on = "high"
    fail_on_skipped = true
    allow_globals = ["mycompany.models.*"]
    exclude = ["tests/fixtures/**"]
    vuln_db = "ci/osv-PyPI-all.zip"   # OSV data for dependency checks (relative to this file)

    [[overrides]]
    paths = ["legacy/**"]
    fail_on = "critical"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.errors import ConfigError
from bastion.policy.model import PathOverride, Policy
from bastion.scan.limits import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAMES = ("bastion.toml", ".bastion.toml")

#: Top-level tables owned by other commands; validated where they are used.
OTHER_SECTIONS = (
    "assess",
    "gateway",
    "sign",
    "verify",
    "deploy",
    "attest",
    "bom",
    "store",
    "baseline",
    "posture",
    "report",
    "scan",
)


def _relative_to(config: Path | None, value: str | None) -> str | None:
    """A path from the policy file, resolved against the file's folder when relative."""
    if value is None or config is None or Path(value).expanduser().is_absolute():
        return str(Path(value).expanduser()) if value else value
    return str(config.parent / value)


@dataclass(frozen=True)
class LoadedConfig:
    """The policy plus the raw sections other commands read."""

    policy: Policy
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def find_config(start: Path) -> Path | None:
    """The nearest ``bastion.toml`` or ``pyproject.toml`` with ``[tool.bastion]``, upwards."""
    here = start if start.is_dir() else start.parent
    for directory in (here.absolute(), *here.absolute().parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _has_tool_section(pyproject):
            return pyproject
        if (directory / ".git").exists():
            break
    return None


def _has_tool_section(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool"), dict) and "bastion" in data["tool"]


def load_config(path: Path | None) -> LoadedConfig:
    """Load and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return LoadedConfig(Policy())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from exc
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("bastion", {}) if isinstance(tool, dict) else {}
        if not isinstance(data, dict):
            raise ConfigError(str(path), "[tool.bastion] must be a table")
    return parse_config(data, source=str(path), path=path)


def parse_config(data: dict[str, Any], *, source: str, path: Path | None = None) -> LoadedConfig:
    """Validate an already-parsed config table."""
    sections = {k: data[k] for k in OTHER_SECTIONS if k in data}
    policy_data = {k: v for k, v in data.items() if k not in OTHER_SECTIONS}
    from pydantic import ValidationError

    from bastion.config_schema import PolicyModel, severity

    try:
        model = PolicyModel.model_validate(policy_data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(source, problems) from None
    limit_values = {k: v for k, v in model.limits.model_dump().items() if v is not None}
    policy = Policy(
        fail_on=severity(model.fail_on),
        fail_on_skipped=model.fail_on_skipped,
        select=tuple(model.select),
        disable=tuple(model.disable),
        allow_globals=tuple(model.allow_globals),
        deny_globals=tuple(model.deny_globals),
        exclude=tuple(model.exclude),
        overrides=tuple(
            PathOverride(
                paths=tuple(o.paths),
                fail_on=severity(o.fail_on) if o.fail_on else None,
                disable=tuple(o.disable),
            )
            for o in model.overrides
        ),
        limits=Limits(**limit_values),
        source=source,
        vuln_db=_relative_to(path, model.vuln_db),
    )
    return LoadedConfig(policy, sections, path)
