"""Append-only, hash-chained audit trail. Public surface: ``record``, ``verify_chain``, ``search``."""

from careline.audit.errors import AuditedRefusal, AuditUnavailable
from careline.audit.schemas import AuditEntryRead, AuditFilter, AuditPage, ChainReport
from careline.audit.service import count_entries, record, search, verify_chain

__all__ = [
    "AuditEntryRead",
    "AuditFilter",
    "AuditPage",
    "AuditUnavailable",
    "AuditedRefusal",
    "ChainReport",
    "count_entries",
    "record",
    "search",
    "verify_chain",
]
