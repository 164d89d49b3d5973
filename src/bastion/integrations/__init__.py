"""MLOps integrations: model stores and caches as scan targets, pipeline components.

- :mod:`.sources`: ``mlflow://MODEL_URI`` and ``hf-cache://[DIR]`` targets for ``bastion scan``.
- :mod:`.mlflow`: MLflow model URIs resolved to artifact files (optional extra ``mlflow``).
- :mod:`.mlflow_webhook`: a registry webhook payload in, an allow/deny decision out.
- :mod:`.hf_cache`: Hugging Face caches, reported per repository and revision.
- :mod:`.kfp`: Kubeflow Pipelines v2 components running ``bastion`` (optional extra ``kfp``).

Heavy SDKs (``mlflow``, ``kfp``) are imported only by the function that needs them.
"""
