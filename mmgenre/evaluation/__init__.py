"""Scoring predictions: metrics, thresholds, trivial references, slices and significance."""
