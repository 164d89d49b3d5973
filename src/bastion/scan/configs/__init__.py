"""Containers and deployment manifests: Dockerfiles, Kubernetes, KServe/Seldon, Kubeflow
Pipelines/Argo, docker-compose and MLflow server settings.

Nothing here runs what it reads. YAML and JSON go through a bounded, position-aware loader
(:mod:`.yamlload`) into immutable values with line numbers (:mod:`.tree`); Dockerfiles through
an own parser (:mod:`.dockerfile`); shell text through a small lexer (:mod:`.shell`). The checks
are pure functions that return :class:`~bastion.scan.configs.issues.Issue` values; the analyzers
(:mod:`.analyzer`) turn them into findings.
"""
