"""Training fusion heads on cached features, and the run folders that keep the results."""
