"""Reliability: crash, fault, bad-input and store-safety tests (issue 9)."""
