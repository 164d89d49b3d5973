"""Dependency sources of ML projects: manifests and lockfiles (``lockfiles``).

>>> from bastion.scan.deps.lockfiles import Dependency
>>> Dependency("torch", "2.3.1", None, "uv.lock").purl
'pkg:pypi/torch@2.3.1'
"""
