"""omniar.samplers."""
