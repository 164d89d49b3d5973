"""bastion: secure AI pipelines end to end.

>>> import bastion
>>> bastion.__version__ >= "0.1"
True
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
