"""Where the run history lives: ``--store``, ``BASTION_STORE``, ``[store]``, or the default.

No database code is imported here, so deciding where (and whether) to save costs nothing.

>>> from bastion.store.history_config import store_settings
>>> store_settings("sqlite:///h.db", environ={}).source
'--store'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.config import LoadedConfig
from bastion.errors import ConfigError

ENV_URL = "BASTION_STORE"
ENV_SCHEMA = "BASTION_STORE_SCHEMA"


@dataclass(frozen=True)
class StoreSettings:
    """Which database holds the history, and whether someone chose it (vs the default)."""

    url: str
    schema: str | None = None
    project: str | None = None
    configured: bool = True
    source: str = "--store"


class _StoreTable(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str | None = None
    schema_: str | None = None
    project: str | None = None


def default_url() -> str:
    """SQLite in the user data directory."""
    import platformdirs

    return "sqlite:///" + str(Path(platformdirs.user_data_dir("bastion")) / "history.db")


def store_settings(
    cli_url: str | None,
    loaded: LoadedConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> StoreSettings:
    """Resolve where the history lives: flag, environment, policy ``[store]``, default."""
    env = os.environ if environ is None else environ
    table = _store_table(loaded)
    schema = env.get(ENV_SCHEMA) or table.schema_
    project = table.project
    if cli_url:
        return StoreSettings(cli_url, schema, project, True, "--store")
    if env.get(ENV_URL):
        return StoreSettings(env[ENV_URL], schema, project, True, ENV_URL)
    if table.url:
        from bastion.store.engine import resolve_url  # a store will be opened: import it now

        base = loaded.path.parent if loaded is not None and loaded.path is not None else None
        source = f"{loaded.path if loaded is not None else 'policy'} [store]"
        return StoreSettings(resolve_url(table.url, base), schema, project, True, source)
    return StoreSettings(default_url(), None, project, False, "default")


def _store_table(loaded: LoadedConfig | None) -> _StoreTable:
    if loaded is None or "store" not in loaded.sections:
        return _StoreTable()
    raw = loaded.sections["store"]
    source = str(loaded.path) if loaded.path else "(policy)"
    if not isinstance(raw, dict):
        raise ConfigError(source, "[store] must be a table (url, schema, project)")
    data = {("schema_" if k == "schema" else k): v for k, v in raw.items()}
    try:
        return _StoreTable.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"store.{'.'.join(str(p) for p in e['loc']).rstrip('_')}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(source, problems) from None
