"""Data files in a repository (CSV/TSV, JSON Lines, Parquet, Arrow): personal data columns,
spreadsheet formulas, and pickles hidden in Parquet/Arrow metadata (``BST-DATA``)."""
