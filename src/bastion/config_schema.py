"""The pydantic schema of the policy file (imported only when a policy file is read).

Kept apart from :mod:`bastion.config` so a scan without a policy file never imports pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.core import Severity


def severity(value: object) -> Severity:
    """A severity from its name; a clear error for anything else."""
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a severity name (info, low, medium, high, critical)")
    return Severity.parse(value)


class LimitsModel(BaseModel):
    """The ``[limits]`` table."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int | None = Field(default=None, gt=0)
    max_pickle_bytes: int | None = Field(default=None, gt=0)
    max_opcodes: int | None = Field(default=None, gt=0)
    max_members: int | None = Field(default=None, gt=0)
    max_member_bytes: int | None = Field(default=None, gt=0)
    max_total_decompressed: int | None = Field(default=None, gt=0)
    max_compression_ratio: int | None = Field(default=None, gt=0)
    max_depth: int | None = Field(default=None, gt=0, le=64)
    max_text_bytes: int | None = Field(default=None, gt=0)
    seconds_per_artifact: float | None = Field(default=None, gt=0)


class OverrideModel(BaseModel):
    """One ``[[overrides]]`` entry."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1)
    fail_on: str | None = None
    disable: list[str] = []

    @field_validator("fail_on")
    @classmethod
    def _check_fail_on(cls, value: str | None) -> str | None:
        if value is not None:
            severity(value)
        return value


class PolicyModel(BaseModel):
    """The policy keys of the file (other commands' tables are removed first)."""

    model_config = ConfigDict(extra="forbid")

    fail_on: str = "high"
    fail_on_skipped: bool = False
    select: list[str] = []
    disable: list[str] = []
    allow_globals: list[str] = []
    deny_globals: list[str] = []
    exclude: list[str] = []
    overrides: list[OverrideModel] = []
    limits: LimitsModel = LimitsModel()
    vuln_db: str | None = Field(default=None, min_length=1)

    @field_validator("fail_on")
    @classmethod
    def _check_fail_on(cls, value: str) -> str:
        severity(value)
        return value
