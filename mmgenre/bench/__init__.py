"""Benchmarks users run from the command line (`mmgenre bench ...`)."""
