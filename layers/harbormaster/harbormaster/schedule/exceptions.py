"""Errors of the scheduler."""


class ScheduleError(ValueError):
    """A schedule cannot be evaluated as written."""


class UnknownSchedule(ScheduleError):
    """A one-shot run names a schedule the configuration does not define."""


class ExpressionError(ScheduleError):
    """A weekdays, monthdays or months item is not valid."""
