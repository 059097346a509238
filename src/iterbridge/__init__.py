"""iterbridge: Iterable to SQL, CSV files and relational databases.

The public API is what `__all__` lists; everything else is private and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
