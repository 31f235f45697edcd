"""omniar.models."""
