"""Prefect tasks: thin wrappers over the ``restoration`` library that pass file paths."""
