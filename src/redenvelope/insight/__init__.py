"""Insight: reporting tables kept up to date incrementally, dashboards drawn from them, exports
for analysts, and the planner on the simulation twin (see docs/decisions/0023)."""
