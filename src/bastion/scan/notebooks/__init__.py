"""Jupyter notebooks: code cells through the code rules, outputs checked for leaks.

``parse`` reads the JSON (bounded), ``magics`` separates IPython syntax from Python, ``pii``
finds personal data (reusable on any text), ``analyzer`` ties them together.
"""
