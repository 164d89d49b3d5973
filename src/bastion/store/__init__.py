"""Database access shared by bastion's stateful commands (gateway audit and keys, scan history).

One URL picks the backend: SQLite by default (a file next to the config, WAL journal, synchronous
commits), PostgreSQL with ``postgresql+psycopg://user@host/db``. Each feature keeps its tables in
its own module and builds them on the :class:`~bastion.store.engine.Store` this package opens.

>>> from bastion.store import open_store
>>> store = open_store("sqlite://")            # in memory
>>> store.dialect
'sqlite'
"""

from __future__ import annotations

from bastion.store.engine import Store, StoreError, open_store, resolve_url

__all__ = ["Store", "StoreError", "open_store", "resolve_url"]
