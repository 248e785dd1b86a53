from .run import DayReport, simulate

__all__ = ["DayReport", "simulate"]
