"""The tamper-evident audit log: hash chain, group-commit writer, signed checkpoints, verify."""
