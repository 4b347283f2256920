class AuditedRefusal(Exception):
    """An expected refusal whose audit entry must survive it: the boundary commits, then reports the error."""


class AuditUnavailable(Exception):
    """The audit entry could not be written, so the action it describes must not happen (fail closed)."""
