"""Subcommands of the `omniar` command line, one module each."""
