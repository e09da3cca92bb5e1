"""Package data: role catalogs."""
