"""The dispatch engine: pure numpy/numba, no Django. Arrays (or Parquet files) in, arrays out.

from redenvelope.engine import Instance, Params, solve
result = solve(Instance.from_parquet("dir"), Params())
"""

from .instance import Instance, Params
from .solve import Result, solve

__all__ = ["Instance", "Params", "Result", "solve"]
