"""cargohold: a self-hosted OCI registry with GitHub's package permission model."""

__version__ = "0.1.0"
