"""Backends: where live state is read from and where plans are applied.

Each backend is one module satisfying `hsmsync.backends.base.StateBackend`.
"""
