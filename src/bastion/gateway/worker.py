"""The app factory uvicorn calls in each worker process (``bastion serve --workers N``).

uvicorn starts workers by import string, so the settings travel in the environment: the config
path in ``BASTION_GATEWAY_CONFIG`` and command-line overrides as JSON in
``BASTION_GATEWAY_OVERRIDES``. Each worker then claims its own audit log slot.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bastion.gateway import logs
from bastion.gateway.app import GatewayApp, create_app
from bastion.gateway.settings import load_settings

CONFIG_ENV = "BASTION_GATEWAY_CONFIG"
OVERRIDES_ENV = "BASTION_GATEWAY_OVERRIDES"


def create_from_env() -> GatewayApp:
    """Build this worker's app from the environment the parent process set."""
    overrides = json.loads(os.environ.get(OVERRIDES_ENV, "{}"))
    settings = load_settings(Path(os.environ[CONFIG_ENV]), overrides=overrides)
    logs.configure(settings.log_level)
    sys.setswitchinterval(0.0005)  # NOTE: as in the single-process server (see cli/serve.py)
    return create_app(settings)
