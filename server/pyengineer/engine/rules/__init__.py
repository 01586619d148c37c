"""Rule modules, one per family; importing this package registers them all."""

from pyengineer.engine.rules import branch, ml

__all__ = ["branch", "ml"]
