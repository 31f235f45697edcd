"""omniar.training."""
