"""Scanning: discovery, format detection, the engine and the format analyzers."""
