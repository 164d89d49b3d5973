"""Hard-coded credentials in every text file: detect-secrets plugins plus ML-platform tokens.

``find_secrets`` (``scanner``) is the entry point analyzers call on text they decoded;
evidence is redacted (``redact``) before it leaves the package.
"""
