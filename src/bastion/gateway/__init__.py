"""``bastion serve``: the zero-trust inference gateway.

Every request passes, in order: transport limits → authentication (API keys, JWT) → rate limits
and query budgets → RBAC → input validation and anomaly scores → the model (verified before it
was loaded) → output hardening → an audit record, hash-chained and durable before the response
leaves. Detections feed playbooks; audit records flow to SIEMs as ECS, OCSF or CEF.

>>> from bastion.gateway.settings import load_settings      # doctest: +SKIP
>>> from bastion.gateway.app import create_app              # doctest: +SKIP
>>> app = create_app(load_settings(Path("gateway.toml")))   # doctest: +SKIP

The package is imported lazily: ``bastion.gateway.rules`` needs nothing beyond bastion's core.
"""
