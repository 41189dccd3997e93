"""Sweeps: experiment files, task kinds, executors (local processes, Dask) and the resumable result store."""
