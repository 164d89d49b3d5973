"""Dependency sources of ML projects and the checks on them (``BST-DEP``).

``lockfiles`` reads manifests and lock files into :class:`~bastion.scan.deps.lockfiles.Dependency`
records; ``analyzer`` runs the checks on them during a scan: known vulnerabilities from offline
OSV data (``osv``, ``osv_export``, ``vulndb``, ``vulns``), typosquats (``typosquat``), pinning,
hashes and URLs (``pins``) and package-index settings (``indexes``).

>>> from bastion.scan.deps.lockfiles import Dependency
>>> Dependency("torch", "2.3.1", None, "uv.lock").purl
'pkg:pypi/torch@2.3.1'
"""
