"""Prefect flows: the pipeline diagram, one flow per stage plus the benchmark."""
