"""omniar."""
