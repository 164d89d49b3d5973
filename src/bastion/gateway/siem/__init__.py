"""SIEM export of audit records and detections: ECS, OCSF, CEF to file, stdout, syslog or HTTPS."""
