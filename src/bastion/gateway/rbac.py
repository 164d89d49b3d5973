"""Role-based access control: permissions, built-in roles, custom roles, model scopes.

Least privilege by default: a new key has no role and reaches nothing but the public health
routes. Admins manage keys, models and playbooks but do not read the audit log or call models
(separation of duties); auditors read the audit log and detections and nothing else.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import Enum

from bastion.gateway.identity import Identity
from bastion.gateway.settings import RoleSettings


class Permission(str, Enum):
    """What a route needs."""

    MODELS_READ = "models:read"
    MODELS_INFER = "models:infer"
    MODELS_DEPLOY = "models:deploy"
    MODELS_QUARANTINE = "models:quarantine"
    KEYS_ADMIN = "keys:admin"
    PLAYBOOKS_ADMIN = "playbooks:admin"
    AUDIT_READ = "audit:read"
    DETECTIONS_READ = "detections:read"
    METRICS_READ = "metrics:read"


#: Permissions checked against the model named in the route.
MODEL_SCOPED = frozenset(
    {
        Permission.MODELS_READ,
        Permission.MODELS_INFER,
        Permission.MODELS_DEPLOY,
        Permission.MODELS_QUARANTINE,
    }
)

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "admin": frozenset(
        {
            Permission.KEYS_ADMIN,
            Permission.PLAYBOOKS_ADMIN,
            Permission.MODELS_QUARANTINE,
            Permission.MODELS_DEPLOY,
            Permission.MODELS_READ,
            Permission.METRICS_READ,
            Permission.DETECTIONS_READ,
        }
    ),
    "deployer": frozenset({Permission.MODELS_DEPLOY, Permission.MODELS_READ}),
    "predictor": frozenset({Permission.MODELS_INFER, Permission.MODELS_READ}),
    "auditor": frozenset(
        {Permission.AUDIT_READ, Permission.DETECTIONS_READ, Permission.METRICS_READ}
    ),
}


@dataclass(frozen=True)
class Role:
    """A role: its permissions and the model name patterns they apply to."""

    name: str
    permissions: frozenset[Permission]
    models: tuple[str, ...] = ("*",)


class UnknownRoleError(ValueError):
    """A role name that is neither built in nor configured."""


class Authorizer:
    """Decides whether an identity may use a permission (on a model)."""

    def __init__(self, custom: dict[str, RoleSettings]) -> None:
        roles: dict[str, Role] = {name: Role(name, perms) for name, perms in BUILTIN_ROLES.items()}
        for name, spec in custom.items():
            if spec.permissions is None:
                if name not in roles:
                    raise UnknownRoleError(f"custom role {name!r} needs permissions")
                perms = roles[name].permissions
            else:
                try:
                    perms = frozenset(Permission(p) for p in spec.permissions)
                except ValueError as exc:
                    known = ", ".join(p.value for p in Permission)
                    raise UnknownRoleError(f"role {name!r}: {exc} (known: {known})") from None
            roles[name] = Role(name, perms, spec.models)
        self.roles = roles

    def check_role(self, name: str) -> None:
        """Raise :class:`UnknownRoleError` for a role that does not exist."""
        if name not in self.roles:
            raise UnknownRoleError(
                f"unknown role {name!r} (known: {', '.join(sorted(self.roles))})"
            )

    def allowed(self, identity: Identity, permission: Permission, model: str | None) -> bool:
        """Whether any of the identity's roles grants the permission (on that model)."""
        if model is not None and permission in MODEL_SCOPED:
            if not any(fnmatch.fnmatchcase(model, p) for p in identity.models):
                return False
        for name in identity.roles:
            role = self.roles.get(name)
            if role is None or permission not in role.permissions:
                continue
            if model is None or permission not in MODEL_SCOPED:
                return True
            if any(fnmatch.fnmatchcase(model, p) for p in role.models):
                return True
        return False

    def visible_models(self, identity: Identity, names: list[str]) -> list[str]:
        """The models an identity may read."""
        return [n for n in names if self.allowed(identity, Permission.MODELS_READ, n)]
