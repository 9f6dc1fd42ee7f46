"""Partner digests: periods, building, fan-out, subscribers."""
