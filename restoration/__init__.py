"""archive-restoration: restore image archives and measure how well it worked.

The library is plain Python/NumPy: no orchestration imports here. Prefect
tasks and flows live in the top-level ``tasks`` and ``flows`` packages.
"""

__version__ = "0.1.0"
