"""hsmsync: manage access to Azure Key Vault Managed HSM (and Key Vaults) as code."""

__version__ = "0.1.0"
