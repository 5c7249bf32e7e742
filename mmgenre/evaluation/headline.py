"""The headline metrics, in the order every table shows them (CLI, reports, ablations)."""

HEADLINE = ("macro_f1", "micro_f1", "samples_f1", "hit_ratio", "hit_at_1", "map")
