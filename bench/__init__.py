"""Benchmarks that print figures against the budgets of the performance issue; not timed tests."""
