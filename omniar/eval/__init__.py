"""omniar.eval."""
