"""The pure core: manifest model, role catalog, state model, planner.

Nothing here does I/O or imports an Azure package, a backend, a renderer or the CLI
(checked by the import-linter contracts in pyproject.toml).
"""
