"""Booking rules: hours, exceptions, conflicts (also refused by the database), overbook, status
workflow, reschedule, cancel, series, slot finder, merge."""
import json
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Appointment, AppointmentStatusChange, AuditEvent, Patient
from app.services import patients as patient_service
from app.services import scheduling
from app.services.errors import StaleRecordError, ValidationFailed
from app.services.scheduling import AppointmentConflictError
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import book, make_clinic, utc

MONDAY = datetime(2027, 1, 11, 9, 0)  # a Monday in January (EST, UTC-5)


@pytest.fixture
def c():
    return make_clinic()


def count():
    return db.session.scalar(select(func.count()).select_from(Appointment))


def fields(exc):
    return {f for f, _ in exc.problems}


def test_a_booking_within_hours_is_stored_with_its_local_time_status_and_audit(c):
    appt = book(c, MONDAY, room=c.room)
    assert appt.start_at == utc(2027, 1, 11, 14, 0) and appt.end_at == utc(2027, 1, 11, 14, 30)
    assert appt.start_local == MONDAY and appt.timezone == "America/New_York"
    assert appt.status == "booked" and not appt.overbook
    assert [(s.from_status, s.to_status) for s in appt.status_changes] == [(None, "booked")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Appointment")).one()
    assert event.action == "create" and event.patient_id == c.patient.id


def test_a_booking_outside_the_working_hours_is_refused_and_nothing_is_stored(c):
    for start in (datetime(2027, 1, 11, 8, 30), datetime(2027, 1, 11, 16, 45), datetime(2027, 1, 16, 10, 0)):
        with pytest.raises(ValidationFailed) as err:
            book(c, start)
        assert "working hours" in str(err.value)
    assert count() == 0


def test_hours_count_only_at_their_location_and_within_their_validity(c):
    other = scheduling.add_location(c.session, name="Annex", timezone="America/New_York")
    with pytest.raises(ValidationFailed, match="working hours"):
        book(c, MONDAY, location=other)
    scheduling.set_hours(c.session, provider=c.provider, location=other, weekday=5, start=time(9), end=time(12),
                         valid_from=date(2027, 1, 1), valid_to=date(2027, 1, 31))
    assert book(c, datetime(2027, 1, 16, 9, 0), location=other).location_id == other.id
    with pytest.raises(ValidationFailed, match="working hours"):
        book(c, datetime(2027, 2, 6, 9, 0), location=other)


def test_a_provider_exception_blocks_booking(c):
    scheduling.add_exception(c.session, provider=c.provider, start_at=utc(2027, 1, 11, 0), end_at=utc(2027, 1, 12, 0),
                             kind="leave", reason="Conference")
    with pytest.raises(ValidationFailed, match="away or blocked"):
        book(c, MONDAY)
    assert count() == 0


def test_every_problem_is_reported_at_once(c):
    c.provider.active = False
    c.type.active = False
    c.room.active = False
    c.session.commit()
    with pytest.raises(ValidationFailed) as err:
        book(c, datetime(2027, 1, 11, 7, 0), room=c.room)
    assert {"provider", "type", "room", "start"} <= fields(err.value)
    assert "inactive" in str(err.value)
    assert count() == 0


def test_merged_and_deceased_patients_cannot_be_booked(c):
    dead = PatientFactory(status="deceased")
    with pytest.raises(ValidationFailed, match="deceased"):
        book(c, MONDAY, patient=dead)
    dup = PatientFactory()
    patient_service.merge(db.session, source_id=dup.id, target_id=c.patient.id)
    with pytest.raises(ValidationFailed, match="merged"):
        book(c, MONDAY, patient=db.session.get(Patient, dup.id))
    assert count() == 0


def test_the_past_is_refused_unless_configured(c, app, monkeypatch):
    now = utc(2027, 1, 12, 0)
    with pytest.raises(ValidationFailed, match="past"):
        book(c, MONDAY, now=now)
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    assert book(c, MONDAY, now=now).id


@pytest.mark.parametrize("duration", [0, -15, 24 * 60 + 1, "30", 1.5])
def test_bad_durations_are_refused(c, duration):
    with pytest.raises(ValidationFailed) as err:
        book(c, MONDAY, duration=duration)
    assert fields(err.value) == {"duration"} and "minutes" in str(err.value)
    assert count() == 0


def test_unknown_or_missing_references_are_refused(c):
    with pytest.raises(ValidationFailed) as err:
        book(c, MONDAY, type=999999, room=999999)
    assert fields(err.value) == {"type", "room"}
    with pytest.raises(ValidationFailed) as err:
        book(c, MONDAY, type=None, patient=None)
    assert {"type", "patient"} <= fields(err.value)
    with pytest.raises(ValidationFailed):
        book(c, None)  # no start at all
    with pytest.raises(ValidationFailed):
        book(c, MONDAY, start_at=utc(2027, 1, 11, 14))  # both starts
    with pytest.raises(ValidationFailed):
        book(c, None, start_at=datetime(2027, 1, 11, 14))  # naive instant
    assert count() == 0


def test_reference_data_is_checked(c):
    with pytest.raises(ValidationFailed, match="time zone"):
        scheduling.add_location(c.session, name="Nowhere", timezone="Mars/Olympus_Mons")
    with pytest.raises(ValidationFailed, match="rrggbb"):
        scheduling.add_type(c.session, name="New", default_duration=30, colour="red")
    with pytest.raises(ValidationFailed, match="minutes"):
        scheduling.add_type(c.session, name="New", default_duration=0)
    with pytest.raises(ValidationFailed, match="after the start"):
        scheduling.set_hours(c.session, provider=c.provider, location=c.location, weekday=0, start=time(17),
                             end=time(9))
    with pytest.raises(ValidationFailed) as err:
        scheduling.set_hours(c.session, provider=c.provider, location=c.location, weekday=7, start=time(9),
                             end=time(10))
    assert fields(err.value) == {"weekday"}
    with pytest.raises(ValidationFailed, match="after the start"):
        scheduling.add_exception(c.session, provider=c.provider, start_at=utc(2027, 1, 2), end_at=utc(2027, 1, 1),
                                 kind="holiday")
    with pytest.raises(ValidationFailed):
        scheduling.add_exception(c.session, provider=c.provider, start_at=utc(2027, 1, 1), end_at=utc(2027, 1, 2),
                                 kind="vacation")


# --------------------------------------------------------------------------- conflicts

def test_a_provider_is_never_double_booked(c):
    book(c, MONDAY)
    other = PatientFactory()
    with pytest.raises(AppointmentConflictError) as err:
        book(c, MONDAY + timedelta(minutes=15), patient=other)
    assert err.value.status_code == 409
    assert [x.kind for x in err.value.conflicts] == ["provider"]
    assert "provider is already booked" in str(err.value) and "9:00" in str(err.value)
    assert count() == 1


def test_a_room_and_a_patient_are_never_double_booked(c):
    book(c, MONDAY, room=c.room)
    second = ProviderFactory()
    scheduling.set_hours(c.session, provider=second, location=c.location, weekday=0, start=time(9), end=time(17))
    with pytest.raises(AppointmentConflictError) as err:
        book(c, MONDAY, provider=second, patient=PatientFactory(), room=c.room)
    assert [x.kind for x in err.value.conflicts] == ["room"]
    with pytest.raises(AppointmentConflictError) as err:
        book(c, MONDAY, provider=second)
    assert [x.kind for x in err.value.conflicts] == ["patient"]
    assert "patient already has an appointment" in str(err.value)
    assert count() == 1


def test_back_to_back_is_fine_and_cancelled_or_no_show_frees_the_time(c):
    first = book(c, MONDAY)
    book(c, MONDAY + timedelta(minutes=30))
    scheduling.cancel(c.session, first, reason="Patient called")
    again = book(c, MONDAY, patient=PatientFactory())
    scheduling.mark_no_show(c.session, again)
    assert book(c, MONDAY, patient=PatientFactory()).status == "booked"


def test_overbook_needs_permission_and_a_reason_and_is_audited(c):
    first = book(c, MONDAY)
    other = PatientFactory()
    with pytest.raises(ValidationFailed, match="not allowed"):
        book(c, MONDAY, patient=other, overbook_reason="Urgent")
    with pytest.raises(ValidationFailed):
        book(c, MONDAY, patient=other, overbook_reason="  ", may_overbook=True)
    appt = book(c, MONDAY, patient=other, overbook_reason="Urgent: chest pain", may_overbook=True)
    assert appt.overbook and appt.overbook_reason == "Urgent: chest pain"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "overbook")).one()
    assert event.patient_id == other.id and event.object_id == str(appt.id)
    assert json.loads(event.details) == {"reason": "Urgent: chest pain", "overlaps": [first.id]}


def _raw_row(c, start_at, **over):
    row = dict(patient_id=c.patient.id, provider_id=c.provider.id, location_id=c.location.id, type_id=c.type.id,
               start_at=start_at, end_at=start_at + timedelta(minutes=30), start_local=datetime(2027, 1, 11, 9),
               timezone="America/New_York", status="booked", overbook=False, version=1,
               created_on=utc(2026, 1, 1), changed_on=utc(2026, 1, 1))
    row.update(over)
    return row


@pytest.mark.parametrize("key", ["provider", "room", "patient"])
def test_the_database_itself_refuses_an_overlapping_insert(c, key):
    table = Appointment.__table__
    with db.engine.begin() as conn:
        conn.execute(insert(table).values(**_raw_row(c, utc(2027, 1, 11, 14), room_id=c.room.id)))
    other = {"provider": dict(patient_id=PatientFactory().id),
             "room": dict(patient_id=PatientFactory().id, provider_id=ProviderFactory().id),
             "patient": dict(provider_id=ProviderFactory().id)}[key]
    row = _raw_row(c, utc(2027, 1, 11, 14, 15), room_id=c.room.id if key == "room" else None, **other)
    with pytest.raises(IntegrityError) as err, db.engine.begin() as conn:
        conn.execute(insert(table).values(**row))
    assert scheduling.overlap_kind(err.value) == key
    # Not active, or an approved overbook: the database lets it through.
    with db.engine.begin() as conn:
        conn.execute(insert(table).values(**dict(row, status="cancelled")))
        conn.execute(insert(table).values(**dict(row, overbook=True, overbook_reason="urgent")))
    assert count() == 3


def test_the_database_refuses_an_update_into_an_overlap(c):
    book(c, MONDAY)
    # Another patient: only the provider overlaps, so the database has one rule to name.
    second = book(c, MONDAY + timedelta(hours=1), patient=PatientFactory())
    with pytest.raises(IntegrityError) as err, db.engine.begin() as conn:
        conn.execute(update(Appointment.__table__).where(Appointment.id == second.id)
                     .values(start_at=utc(2027, 1, 11, 14, 10), end_at=utc(2027, 1, 11, 14, 40)))
    assert scheduling.overlap_kind(err.value) == "provider"


def test_a_race_lost_in_the_database_gives_the_same_conflict_error(c, monkeypatch):
    book(c, MONDAY)
    # As if a concurrent request committed between our check and our insert.
    monkeypatch.setattr(scheduling, "find_conflicts", lambda session, **kw: [])
    with pytest.raises(AppointmentConflictError) as err:
        book(c, MONDAY, patient=PatientFactory())
    monkeypatch.undo()
    assert err.value.status_code == 409 and err.value.conflicts[0].kind == "provider"
    assert count() == 1


# --------------------------------------------------------------------------- workflow

def test_the_status_workflow_records_when_and_who(c):
    appt = book(c, MONDAY)
    for status in ("confirmed", "arrived", "in_room", "completed", "checked_out"):
        scheduling.transition(c.session, appt, status)
    changes = db.session.scalars(select(AppointmentStatusChange).where(
        AppointmentStatusChange.appointment_id == appt.id).order_by(AppointmentStatusChange.id)).all()
    assert [x.to_status for x in changes] == ["booked", "confirmed", "arrived", "in_room", "completed", "checked_out"]
    assert set(scheduling.status_times(appt)) == {x.to_status for x in changes}


def test_who_changed_the_status_and_who_overbooked_are_kept(c):
    desk = make_user("FrontDesk")
    appt = book(c, MONDAY, actor=desk)
    scheduling.transition(c.session, appt, "confirmed", actor=desk)
    assert {s: who for s, (when, who) in scheduling.status_times(appt).items()} == {"booked": desk.id,
                                                                                   "confirmed": desk.id}
    extra = book(c, MONDAY, patient=PatientFactory(), overbook_reason="Urgent", may_overbook=True, actor=desk)
    assert extra.overbook_by_fk == desk.id


@pytest.mark.parametrize("path,illegal", [
    ((), "completed"), ((), "in_room"), (("confirmed", "arrived"), "cancelled"),
    (("confirmed", "arrived"), "no_show"), (("no_show",), "confirmed"), ((), "teleported"),
])
def test_illegal_transitions_are_refused_with_a_clear_message(c, path, illegal):
    appt = book(c, MONDAY)
    for status in path:
        scheduling.transition(c.session, appt, status)
    before = appt.status
    with pytest.raises(ValidationFailed) as err:
        scheduling.transition(c.session, appt, illegal)
    assert "cannot become" in str(err.value)
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).status == before


def test_cancel_needs_a_reason(c):
    appt = book(c, MONDAY)
    with pytest.raises(ValidationFailed):
        scheduling.cancel(c.session, appt, reason=" ")
    scheduling.cancel(c.session, appt, reason="Feeling better", expected_version=appt.version)
    assert appt.status == "cancelled" and appt.cancel_reason == "Feeling better"


def test_reschedule_moves_checks_and_detects_stale_edits(c):
    appt = book(c, MONDAY)
    blocker = book(c, MONDAY + timedelta(hours=2), patient=PatientFactory())
    with pytest.raises(AppointmentConflictError):
        scheduling.reschedule(c.session, appt, expected_version=appt.version, start_local=MONDAY + timedelta(hours=2))
    with pytest.raises(ValidationFailed, match="working hours"):
        scheduling.reschedule(c.session, appt, expected_version=appt.version, start_local=datetime(2027, 1, 11, 18))
    moved = scheduling.reschedule(c.session, appt, expected_version=appt.version,
                                  start_local=MONDAY + timedelta(minutes=15))  # overlaps only itself
    assert moved.start_at == utc(2027, 1, 11, 14, 15) and moved.id == appt.id
    with pytest.raises(StaleRecordError):
        scheduling.reschedule(c.session, appt, expected_version=appt.version - 1, start_local=MONDAY)
    scheduling.cancel(c.session, blocker, reason="x")
    with pytest.raises(ValidationFailed, match="cannot be moved"):
        scheduling.reschedule(c.session, blocker, expected_version=blocker.version, start_local=MONDAY)


def test_optimistic_locking_refuses_a_second_writer(c, app):
    appt = book(c, MONDAY)
    from sqlalchemy.orm import Session
    with Session(db.engine) as other:
        mine = other.get(Appointment, appt.id)
        scheduling.transition(c.session, appt, "confirmed")
        with pytest.raises(StaleRecordError):
            scheduling.transition(other, mine, "arrived")


# --------------------------------------------------------------------------- series

def test_a_series_is_one_row_per_occurrence_sharing_a_series_id(c):
    booked, skipped = scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location,
                                             type=c.type, start_local=MONDAY, every_weeks=2, count=4)
    assert [a.start_local.date() for a in booked] == [date(2027, 1, 11), date(2027, 1, 25), date(2027, 2, 8),
                                                      date(2027, 2, 22)]
    assert len({a.series_id for a in booked}) == 1 and booked[0].series_id and skipped == []
    until, _ = scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location,
                                      type=c.type, start_local=MONDAY + timedelta(hours=1), until=date(2027, 2, 1))
    assert len(until) == 4


def test_a_series_is_all_or_nothing_and_names_every_conflict(c):
    other = PatientFactory()
    book(c, datetime(2027, 1, 18, 9), patient=other)
    book(c, datetime(2027, 2, 1, 9), patient=other)
    with pytest.raises(AppointmentConflictError) as err:
        scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location, type=c.type,
                               start_local=MONDAY, count=5)
    assert [x.start_local.date() for x in err.value.conflicts] == [date(2027, 1, 18), date(2027, 2, 1)]
    assert count() == 2
    booked, skipped = scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location,
                                             type=c.type, start_local=MONDAY, count=5, skip_conflicts=True)
    assert [a.start_local.date() for a in booked] == [date(2027, 1, 11), date(2027, 1, 25), date(2027, 2, 8)]
    assert len(skipped) == 2 and count() == 5


@pytest.mark.parametrize("rule", [dict(count=0), dict(count=500), dict(every_weeks=0, count=2), dict(),
                                  dict(count=2, until=date(2027, 3, 1)), dict(until=date(2026, 1, 1))])
def test_bad_series_rules_are_refused(c, rule):
    with pytest.raises(ValidationFailed):
        scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location, type=c.type,
                               start_local=MONDAY, **rule)
    assert count() == 0


# --------------------------------------------------------------------------- slots

def test_the_slot_finder_honours_hours_exceptions_and_bookings():
    c = make_clinic(weekdays=[0, 1], start=time(9), end=time(11))
    book(c, datetime(2027, 1, 11, 9, 30))
    scheduling.add_exception(c.session, provider=c.provider, start_at=utc(2027, 1, 12, 15),
                             end_at=utc(2027, 1, 12, 16), kind="blocked")  # Tue 10:00-11:00 local
    slots = scheduling.find_slots(c.session, provider=c.provider, type=c.type, start_date=date(2027, 1, 11),
                                  end_date=date(2027, 1, 13), now=utc(2027, 1, 1))
    assert [s.start_local for s in slots] == [
        datetime(2027, 1, 11, 9, 0), datetime(2027, 1, 11, 10, 0), datetime(2027, 1, 11, 10, 30),
        datetime(2027, 1, 12, 9, 0), datetime(2027, 1, 12, 9, 30)]
    assert slots[0].start_at == utc(2027, 1, 11, 14)
    few = scheduling.find_slots(c.session, provider=c.provider, type=c.type, start_date=date(2027, 1, 11),
                                end_date=date(2027, 12, 31), limit=2, now=utc(2027, 1, 11, 14, 30))
    assert [s.start_local for s in few] == [datetime(2027, 1, 11, 10, 0), datetime(2027, 1, 11, 10, 30)]
    # Every slot offered can be booked.
    book(c, slots[-1].start_local, patient=PatientFactory())


def test_the_slot_finder_runs_three_queries_whatever_the_range(c):
    for week in range(16):
        book(c, MONDAY + timedelta(weeks=week))
    provider, kind = c.provider, c.type
    assert provider.id and kind.id  # loaded before counting
    statements = []

    def count_statement(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        slots = scheduling.find_slots(c.session, provider=provider, type=kind, start_date=date(2027, 1, 11),
                                      end_date=date(2027, 4, 30), limit=10000, now=utc(2027, 1, 1))
    finally:
        event.remove(db.engine, "before_cursor_execute", count_statement)
    assert len(statements) == 3, statements  # hours, bookings, exceptions
    assert len(slots) == 16 * 80 - 16  # 80 working days of 16 slots, 16 of them booked


def test_the_slot_finder_refuses_bad_input(c):
    with pytest.raises(ValidationFailed):
        scheduling.find_slots(c.session, provider=c.provider, type=999999, start_date=date(2027, 1, 1),
                              end_date=date(2027, 1, 2))
    with pytest.raises(ValidationFailed):
        scheduling.find_slots(c.session, provider=c.provider, type=c.type, start_date=date(2027, 1, 2),
                              end_date=date(2027, 1, 1))


# --------------------------------------------------------------------------- merge

def test_a_patient_merge_moves_appointments_to_the_kept_record(c):
    dup = PatientFactory()
    appt = book(c, MONDAY, patient=dup)
    patient_service.merge(db.session, source_id=dup.id, target_id=c.patient.id)
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).patient_id == c.patient.id


def test_a_merge_that_would_double_book_the_kept_patient_is_refused(c):
    second = ProviderFactory()
    scheduling.set_hours(c.session, provider=second, location=c.location, weekday=0, start=time(9), end=time(17))
    dup = PatientFactory()
    book(c, MONDAY)
    book(c, MONDAY, patient=dup, provider=second)
    with pytest.raises(patient_service.MergeError):
        patient_service.merge(db.session, source_id=dup.id, target_id=c.patient.id)
