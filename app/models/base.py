"""Shared column types and mixins for ClinicDesk models."""
from datetime import datetime, timezone

from flask import g, has_request_context
from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import declared_attr, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["Model", "UTCDateTime", "AuditMixin", "utcnow", "BinaryString", "only_on", "include_object"]


def only_on(dialect, index):
    """Mark a schema item (e.g. a GIN trigram index) as existing only on `dialect`."""
    index.info["dialects"] = (dialect,)
    return index.ddl_if(dialect=dialect)


def include_object(dialect_name):
    """Alembic include_object hook: compare dialect-only items only on their dialect."""

    def include(obj, name, type_, reflected, compare_to):
        item = compare_to if reflected else obj
        dialects = getattr(item, "info", {}).get("dialects") if item is not None else None
        if dialects is None and reflected and type_ == "index":
            dialects = ONLY_ON_INDEXES.get(name)
        return dialects is None or dialect_name in dialects

    return include


# Names of dialect-only indexes, for reflected objects that carry no `info`.
ONLY_ON_INDEXES = {"ix_patient_name_trgm": ("postgresql",)}


def utcnow():
    """Current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamp stored in UTC on every backend (SQLite included)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def BinaryString(length):
    """A string compared byte-wise so that range scans implement prefix search.

    PostgreSQL's default collation does not order by code point; "C" does, and
    SQLite's default BINARY collation already does.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _current_user_id():
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user.id
    return None


class AuditMixin:
    """Who created and last changed a row, and when (UTC)."""

    created_on = Column(UTCDateTime, default=utcnow, nullable=False)
    changed_on = Column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    @declared_attr
    def created_by_fk(cls):
        return Column(Integer, ForeignKey("ab_user.id"), default=_current_user_id, nullable=True)

    @declared_attr
    def changed_by_fk(cls):
        return Column(
            Integer,
            ForeignKey("ab_user.id"),
            default=_current_user_id,
            onupdate=_current_user_id,
            nullable=True,
        )

    @declared_attr
    def created_by(cls):
        return relationship("User", primaryjoin=f"{cls.__name__}.created_by_fk == User.id", viewonly=True)

    @declared_attr
    def changed_by(cls):
        return relationship("User", primaryjoin=f"{cls.__name__}.changed_by_fk == User.id", viewonly=True)
