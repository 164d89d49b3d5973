"""Format analyzers: one module (or package) per model or container format."""
