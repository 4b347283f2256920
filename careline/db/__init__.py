"""Storage plumbing: declarative base, portable types, engine, unit of work, migrations."""

from careline.db.base import Base, UTCDateTime, utcnow
from careline.db.engine import make_engine, make_sessionmaker
from careline.db.uow import UnitOfWork

__all__ = ["Base", "UTCDateTime", "UnitOfWork", "make_engine", "make_sessionmaker", "utcnow"]
