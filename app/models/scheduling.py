"""Scheduling: locations, rooms, appointment types, provider hours and exceptions, appointments.

The rule "never double-booked" lives in the booking service and in the database
(OVERLAP_DDL below): a provider, a room and a patient never hold two overlapping
active appointments unless one is an approved overbook.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship
from sqlalchemy.sql.expression import false as sa_false

from .base import AuditMixin, Model, UTCDateTime

# The appointment types a provider takes; a provider with none listed takes every type.
provider_appointment_type = Table(
    "provider_appointment_type", Model.metadata,
    Column("provider_id", Integer, ForeignKey("provider.id"), primary_key=True),
    Column("type_id", Integer, ForeignKey("appointment_type.id"), primary_key=True),
)

STATUSES = ("booked", "confirmed", "arrived", "in_room", "completed", "checked_out", "cancelled", "no_show")
INACTIVE_STATUSES = ("cancelled", "no_show")  # these free the time again
EXCEPTION_KINDS = ("leave", "holiday", "blocked")
STATUS_LABELS = {
    "booked": _l("booked"),
    "confirmed": _l("confirmed"),
    "arrived": _l("arrived"),
    "in_room": _l("in room"),
    "completed": _l("completed"),
    "checked_out": _l("checked out"),
    "cancelled": _l("cancelled"),
    "no_show": _l("no-show"),
}

_ACTIVE = "status NOT IN ('cancelled', 'no_show') AND NOT overbook"
OVERLAP_KEYS = ("provider", "room", "patient")
OVERLAP_MESSAGE = "appointment overlaps another for the same "  # + key; read back by the service


def _sqlite_trigger(event):
    other = "AND a.id <> NEW.id" if event == "UPDATE" else ""
    checks = "\n".join(
        f"""SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}{key}') WHERE EXISTS (
              SELECT 1 FROM appointment a WHERE a.{key}_id = NEW.{key}_id {other}
              AND a.status NOT IN ('cancelled', 'no_show') AND NOT a.overbook
              AND a.start_at < NEW.end_at AND NEW.start_at < a.end_at);"""
        for key in OVERLAP_KEYS
    )
    return (f"CREATE TRIGGER appointment_no_overlap_{event.lower()} BEFORE {event} ON appointment "
            f"WHEN NEW.status NOT IN ('cancelled', 'no_show') AND NOT NEW.overbook BEGIN {checks} END")


# The database's own refusal of double bookings (used by migration 0008).
OVERLAP_DDL = {
    "postgresql": ["CREATE EXTENSION IF NOT EXISTS btree_gist"] + [
        f"""ALTER TABLE appointment ADD CONSTRAINT ex_appointment_{key}_overlap
            EXCLUDE USING gist ({key}_id WITH =, tstzrange(start_at, end_at) WITH &&) WHERE ({_ACTIVE})"""
        for key in OVERLAP_KEYS
    ],
    "sqlite": [_sqlite_trigger("INSERT"), _sqlite_trigger("UPDATE")],
}
DROP_OVERLAP_DDL = {
    "postgresql": [f"ALTER TABLE appointment DROP CONSTRAINT IF EXISTS ex_appointment_{key}_overlap"
                   for key in OVERLAP_KEYS],
    "sqlite": ["DROP TRIGGER IF EXISTS appointment_no_overlap_insert",
               "DROP TRIGGER IF EXISTS appointment_no_overlap_update"],
}


class Location(AuditMixin, Model):
    __tablename__ = "location"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    timezone = Column(String(64), nullable=False)  # IANA name, checked with zoneinfo by the service
    address = Column(String(400))
    active = Column(Boolean, nullable=False, default=True)

    rooms = relationship("Room", back_populates="location", order_by="Room.name")

    def __str__(self):
        return self.name


class Room(AuditMixin, Model):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("location_id", "name", name="uq_room_location_name"),)

    id = Column(Integer, primary_key=True)
    location_id = Column(Integer, ForeignKey("location.id"), nullable=False)
    name = Column(String(100), nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    location = relationship("Location", back_populates="rooms")

    def __str__(self):
        return self.name


class AppointmentType(AuditMixin, Model):
    __tablename__ = "appointment_type"
    __table_args__ = (
        CheckConstraint("default_duration > 0 AND default_duration <= 1440", name="ck_appointment_type_duration"),
    )

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    default_duration = Column(Integer, nullable=False)  # minutes
    colour = Column(String(7), nullable=False, default="#3a87ad")
    new_patient = Column(Boolean, nullable=False, default=False)
    telehealth = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return self.name


class ProviderHours(Model):
    """A weekly working block in the location's local wall-clock time (stays right across DST)."""

    __tablename__ = "provider_hours"
    __table_args__ = (
        Index("ix_provider_hours_provider", "provider_id", "weekday"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_provider_hours_weekday"),
        CheckConstraint("end_time > start_time", name="ck_provider_hours_order"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
                        name="ck_provider_hours_validity"),
    )

    id = Column(Integer, primary_key=True)
    provider_id = Column(Integer, ForeignKey("provider.id"), nullable=False)
    location_id = Column(Integer, ForeignKey("location.id"), nullable=False)
    weekday = Column(Integer, nullable=False)  # 0 = Monday, as date.weekday()
    start_time = Column(Time, nullable=False)
    end_time = Column(Time, nullable=False)
    valid_from = Column(Date)
    valid_to = Column(Date)

    provider = relationship("Provider")
    location = relationship("Location")


class ProviderException(Model):
    """Time a provider is away (leave, holiday) or blocked, as UTC instants."""

    __tablename__ = "provider_exception"
    __table_args__ = (
        Index("ix_provider_exception_provider", "provider_id", "start_at"),
        CheckConstraint("end_at > start_at", name="ck_provider_exception_order"),
        CheckConstraint("kind IN ('leave', 'holiday', 'blocked')", name="ck_provider_exception_kind"),
    )

    id = Column(Integer, primary_key=True)
    provider_id = Column(Integer, ForeignKey("provider.id"), nullable=False)
    start_at = Column(UTCDateTime, nullable=False)
    end_at = Column(UTCDateTime, nullable=False)
    kind = Column(String(10), nullable=False)
    reason = Column(String(200))

    provider = relationship("Provider")


class Appointment(AuditMixin, Model):
    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_provider_start", "provider_id", "start_at"),
        Index("ix_appointment_patient_start", "patient_id", "start_at"),
        Index("ix_appointment_room_start", "room_id", "start_at"),
        Index("ix_appointment_location_start", "location_id", "start_at"),  # a location's day (flow board)
        Index("ix_appointment_series", "series_id"),
        CheckConstraint("end_at > start_at", name="ck_appointment_order"),
        CheckConstraint("status IN ('booked', 'confirmed', 'arrived', 'in_room', 'completed', 'checked_out', "
                        "'cancelled', 'no_show')", name="ck_appointment_status"),
        CheckConstraint("NOT overbook OR overbook_reason IS NOT NULL", name="ck_appointment_overbook_reason"),
    )

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    provider_id = Column(Integer, ForeignKey("provider.id"), nullable=False)
    location_id = Column(Integer, ForeignKey("location.id"), nullable=False)
    room_id = Column(Integer, ForeignKey("room.id"))
    type_id = Column(Integer, ForeignKey("appointment_type.id"), nullable=False)
    start_at = Column(UTCDateTime, nullable=False)
    end_at = Column(UTCDateTime, nullable=False)
    # The wall-clock time agreed with the patient, in `timezone` (the location's zone when
    # booked): if DST rules change, start_at is recomputed from it, not the other way round.
    start_local = Column(DateTime, nullable=False)
    timezone = Column(String(64), nullable=False)
    status = Column(String(12), nullable=False, default="booked")
    overbook = Column(Boolean, nullable=False, default=False, server_default=sa_false())
    overbook_reason = Column(String(300))
    overbook_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    cancel_reason = Column(String(300))
    series_id = Column(String(32))  # shared by the occurrences of a recurring series
    # Why the patient comes (for the clinic only: never in reminders or other messages).
    reason = Column(String(300))
    telehealth_url = Column(String(500))  # the join link of a telehealth visit
    version = Column(Integer, nullable=False)

    patient = relationship("Patient")
    provider = relationship("Provider")
    location = relationship("Location")
    room = relationship("Room")
    type = relationship("AppointmentType")
    status_changes = relationship("AppointmentStatusChange", back_populates="appointment",
                                  order_by="AppointmentStatusChange.id")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"

    @property
    def is_active(self):
        return self.status not in INACTIVE_STATUSES

    @property
    def duration_minutes(self):
        return int((self.end_at - self.start_at).total_seconds() // 60)


class AppointmentStatusChange(Model):
    """When an appointment changed status, and who changed it."""

    __tablename__ = "appointment_status_change"
    __table_args__ = (Index("ix_appointment_status_change_appointment", "appointment_id"),)

    id = Column(Integer, primary_key=True)
    appointment_id = Column(Integer, ForeignKey("appointment.id"), nullable=False)
    from_status = Column(String(12))
    to_status = Column(String(12), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    changed_by_fk = Column(Integer, ForeignKey("ab_user.id"))

    appointment = relationship("Appointment", back_populates="status_changes")


WAITLIST_STATUSES = ("waiting", "offered", "booked", "removed")
PARTS_OF_DAY = ("any", "morning", "afternoon")


class WaitlistEntry(AuditMixin, Model):
    """A patient who wants an earlier (or any) slot: offered freed slots that fit."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        Index("ix_waitlist_entry_status", "status", "type_id"),
        Index("ix_waitlist_entry_patient", "patient_id"),
        CheckConstraint("status IN ('waiting', 'offered', 'booked', 'removed')", name="ck_waitlist_entry_status"),
        CheckConstraint("part_of_day IN ('any', 'morning', 'afternoon')", name="ck_waitlist_entry_part_of_day"),
        CheckConstraint("latest_date >= earliest_date", name="ck_waitlist_entry_dates"),
    )

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    type_id = Column(Integer, ForeignKey("appointment_type.id"), nullable=False)
    provider_id = Column(Integer, ForeignKey("provider.id"))  # None: any provider
    location_id = Column(Integer, ForeignKey("location.id"))  # None: any location
    earliest_date = Column(Date, nullable=False)
    latest_date = Column(Date, nullable=False)
    part_of_day = Column(String(10), nullable=False, default="any")
    note = Column(String(300))
    status = Column(String(10), nullable=False, default="waiting")
    offered_at = Column(UTCDateTime)
    offered_start_at = Column(UTCDateTime)  # the freed slot last offered
    appointment_id = Column(Integer, ForeignKey("appointment.id"))  # the booking that ended the wait
    version = Column(Integer, nullable=False)

    patient = relationship("Patient")
    type = relationship("AppointmentType")
    provider = relationship("Provider")
    location = relationship("Location")
    appointment = relationship("Appointment")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"


REMINDER_STATUSES = ("pending", "sent", "skipped", "failed")


class ReminderOutbox(Model):
    """One message about one appointment, queued then sent by `flask clinic send-reminders`.

    (appointment, kind) is unique, so a reminder is queued, and sent, once.
    """

    __tablename__ = "reminder_outbox"
    __table_args__ = (
        UniqueConstraint("appointment_id", "kind", name="uq_reminder_outbox_appointment_kind"),
        Index("ix_reminder_outbox_status", "status", "due_at"),
        CheckConstraint("status IN ('pending', 'sent', 'skipped', 'failed')", name="ck_reminder_outbox_status"),
    )

    id = Column(Integer, primary_key=True)
    appointment_id = Column(Integer, ForeignKey("appointment.id"), nullable=False)
    kind = Column(String(20), nullable=False, default="reminder")
    channel = Column(String(10), nullable=False, default="email")
    due_at = Column(UTCDateTime, nullable=False)
    status = Column(String(10), nullable=False, default="pending")
    skip_reason = Column(String(40))  # no_consent, no_address, cancelled, past ...
    recipient = Column(String(254))  # the address it went to, when sent
    language = Column(String(16))
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(String(300))
    queued_at = Column(UTCDateTime, nullable=False)
    sent_at = Column(UTCDateTime)

    appointment = relationship("Appointment")
