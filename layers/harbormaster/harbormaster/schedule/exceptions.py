"""Errors of the scheduler."""


class ScheduleError(ValueError):
    """A schedule cannot be evaluated as written."""


class ExpressionError(ScheduleError):
    """A weekdays, monthdays or months item is not valid."""
