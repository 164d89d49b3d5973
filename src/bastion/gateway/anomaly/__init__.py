"""Behavioural anomaly detection: per-identity online baselines and the detectors on them."""
