"""The README's gateway config is valid (docs stay in sync with the settings)."""

from __future__ import annotations

import re
from pathlib import Path

from bastion.gateway.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_config_validates(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[gateway]" in b)
    config = tmp_path / "gateway.toml"
    config.write_text(block)
    settings = load_settings(config)
    assert settings.models[0].name == "iris"
    assert settings.siem.sinks[0].format == "cef"
    assert settings.playbooks[0].actions[0].type == "suspend_key"
