class AuditUnavailable(Exception):
    """The audit entry could not be written, so the action it describes must not happen (fail closed)."""
