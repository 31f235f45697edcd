"""omniar.tokenizers."""
