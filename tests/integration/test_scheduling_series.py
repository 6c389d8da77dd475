"""Room a patient; "this and following" for recurring series (cancel / reschedule, all or nothing)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Appointment, AppointmentStatusChange, Room
from app.services import scheduling
from app.services.errors import StaleRecordError, ValidationFailed
from app.services.scheduling import AppointmentConflictError
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic

MONDAY = datetime(2027, 1, 11, 9, 0)


@pytest.fixture
def c():
    return make_clinic()


def series(c, count=4, start=MONDAY, **kw):
    booked, _ = scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location,
                                       type=c.type, start_local=start, count=count, **kw)
    return booked


def rows():
    db.session.expire_all()
    return list(db.session.scalars(select(Appointment).order_by(Appointment.start_at)))


def arrived(c, start=MONDAY, **kw):
    appt = book(c, start, **kw)
    return scheduling.transition(c.session, appt, "arrived")


# ------------------------------------------------------------------ room_patient

def test_room_patient_sets_the_room_and_status_in_one_step_with_history(c):
    appt = arrived(c)
    scheduling.room_patient(c.session, appt, c.room, expected_version=appt.version)
    db.session.expire_all()
    appt = db.session.get(Appointment, appt.id)
    assert appt.status == "in_room" and appt.room_id == c.room.id
    assert [s.to_status for s in appt.status_changes] == ["booked", "arrived", "in_room"]


def test_room_patient_accepts_a_room_id(c):
    appt = arrived(c)
    assert scheduling.room_patient(c.session, appt, c.room.id).room_id == c.room.id


def test_room_patient_refuses_a_patient_who_has_not_arrived(c):
    appt = book(c, MONDAY)
    with pytest.raises(ValidationFailed, match="cannot become in room"):
        scheduling.room_patient(c.session, appt, c.room)
    db.session.expire_all()
    assert rows()[0].status == "booked" and rows()[0].room_id is None


def test_room_patient_refuses_a_room_booked_then_by_another_appointment(c):
    other = book(c, MONDAY + timedelta(minutes=30), patient=PatientFactory(), room=c.room)
    appt = arrived(c, MONDAY + timedelta(minutes=15), patient=PatientFactory(),
                   provider=c.provider, overbook_reason="squeeze", may_overbook=True)
    with pytest.raises(AppointmentConflictError) as err:
        scheduling.room_patient(c.session, appt, c.room)
    assert [x.appointment_id for x in err.value.conflicts] == [other.id]
    assert "room is already booked" in str(err.value)
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).status == "arrived"


def test_room_patient_refuses_a_room_still_occupied_by_an_earlier_visit(c):
    first = arrived(c)
    scheduling.room_patient(c.session, first, c.room)
    second = arrived(c, MONDAY + timedelta(minutes=30), patient=PatientFactory())
    with pytest.raises(AppointmentConflictError, match="still occupied"):
        scheduling.room_patient(c.session, second, c.room)
    scheduling.transition(c.session, first, "completed")
    assert scheduling.room_patient(c.session, second, c.room).status == "in_room"


def test_room_patient_refuses_a_room_of_another_location_or_inactive(c):
    other_location = scheduling.add_location(c.session, name="Annex", timezone="America/New_York")
    elsewhere = Room(location=other_location, name="Annex 1")
    closed = Room(location=c.location, name="Closed", active=False)
    c.session.add_all([elsewhere, closed])
    c.session.commit()
    appt = arrived(c)
    with pytest.raises(ValidationFailed, match="another location"):
        scheduling.room_patient(c.session, appt, elsewhere)
    with pytest.raises(ValidationFailed, match="inactive"):
        scheduling.room_patient(c.session, appt, closed)
    with pytest.raises(ValidationFailed, match="required"):
        scheduling.room_patient(c.session, appt, None)
    assert rows()[0].status == "arrived"


def test_room_patient_with_a_stale_version_is_refused(c):
    appt = arrived(c)
    with pytest.raises(StaleRecordError):
        scheduling.room_patient(c.session, appt, c.room, expected_version=appt.version - 1)
    assert rows()[0].status == "arrived"


# ------------------------------------------------------------------ cancel_following

def test_cancel_following_cancels_this_and_later_occurrences_only(c):
    s = series(c)
    done = scheduling.cancel_following(c.session, s[1], reason="Moving away", expected_version=s[1].version)
    assert [a.id for a in done] == [s[1].id, s[2].id, s[3].id]
    assert [a.status for a in rows()] == ["booked", "cancelled", "cancelled", "cancelled"]
    assert {a.cancel_reason for a in rows()[1:]} == {"Moving away"}
    changes = db.session.scalars(select(AppointmentStatusChange).where(
        AppointmentStatusChange.to_status == "cancelled")).all()
    assert len(changes) == 3


def test_cancel_following_skips_occurrences_already_cancelled(c):
    s = series(c)
    scheduling.cancel(c.session, s[2], reason="Holiday")
    done = scheduling.cancel_following(c.session, s[1], reason="Stop")
    assert [a.id for a in done] == [s[1].id, s[3].id]
    assert rows()[2].cancel_reason == "Holiday"


def test_cancel_following_is_all_or_nothing(c):
    s = series(c, start=datetime(2027, 1, 11, 9, 0))
    s[3].status = "arrived"  # cannot be cancelled any more
    c.session.commit()
    with pytest.raises(ValidationFailed, match="cannot become cancelled"):
        scheduling.cancel_following(c.session, s[1], reason="Stop")
    assert [a.status for a in rows()] == ["booked", "booked", "booked", "arrived"]


def test_cancel_following_needs_a_reason_and_the_current_version(c):
    s = series(c)
    with pytest.raises(ValidationFailed, match="required"):
        scheduling.cancel_following(c.session, s[0], reason="  ")
    with pytest.raises(StaleRecordError):
        scheduling.cancel_following(c.session, s[0], reason="x", expected_version=s[0].version + 1)
    assert {a.status for a in rows()} == {"booked"}


def test_cancel_following_of_a_single_appointment_cancels_just_it(c):
    appt = book(c, MONDAY)
    assert [a.id for a in scheduling.cancel_following(c.session, appt, reason="Ill")] == [appt.id]


# ------------------------------------------------------------------ reschedule_following

def test_reschedule_following_moves_each_later_occurrence_by_the_same_wall_clock_shift(c):
    s = series(c, count=4, start=datetime(2027, 2, 22, 9, 0))  # crosses the DST change of 14 March 2027
    moved = scheduling.reschedule_following(c.session, s[1], expected_version=s[1].version,
                                            start_local=datetime(2027, 3, 2, 10, 0))  # Tuesday 10:00
    assert [a.id for a in moved] == [s[1].id, s[2].id, s[3].id]
    got = rows()
    assert [a.start_local for a in got] == [datetime(2027, 2, 22, 9), datetime(2027, 3, 2, 10),
                                            datetime(2027, 3, 9, 10), datetime(2027, 3, 16, 10)]
    # 10:00 EST is 15:00 UTC, 10:00 EDT is 14:00 UTC: the wall clock is kept, not the UTC shift.
    assert [a.start_at.hour for a in got[1:]] == [15, 15, 14]
    assert len({a.series_id for a in got}) == 1


def test_reschedule_following_by_a_whole_week_moves_onto_its_own_old_slots(c):
    s = series(c, count=3)
    scheduling.reschedule_following(c.session, s[0], expected_version=s[0].version,
                                    start_local=MONDAY + timedelta(weeks=1))
    assert [a.start_local for a in rows()] == [MONDAY + timedelta(weeks=n) for n in (1, 2, 3)]
    s = rows()
    scheduling.reschedule_following(c.session, s[0], expected_version=s[0].version, start_local=MONDAY)
    assert [a.start_local for a in rows()] == [MONDAY + timedelta(weeks=n) for n in (0, 1, 2)]


def test_reschedule_following_refuses_all_and_lists_every_clash(c):
    s = series(c, count=3)
    other = PatientFactory()
    clash1 = book(c, MONDAY + timedelta(weeks=1, hours=1), patient=other)
    clash2 = book(c, MONDAY + timedelta(weeks=2, hours=1), patient=other)
    with pytest.raises(AppointmentConflictError) as err:
        scheduling.reschedule_following(c.session, s[0], expected_version=s[0].version,
                                        start_local=MONDAY + timedelta(hours=1))
    assert {x.appointment_id for x in err.value.conflicts} == {clash1.id, clash2.id}
    assert [a.start_local.hour for a in rows() if a.patient_id == c.patient.id] == [9, 9, 9]


def test_reschedule_following_refuses_all_when_one_occurrence_falls_outside_hours(c):
    s = series(c, count=3)
    scheduling.add_exception(c.session, provider=c.provider, kind="leave",
                             start_at=s[2].start_at - timedelta(hours=5), end_at=s[2].start_at + timedelta(hours=5))
    with pytest.raises(ValidationFailed) as err:
        scheduling.reschedule_following(c.session, s[0], expected_version=s[0].version,
                                        start_local=MONDAY + timedelta(hours=2))
    assert "2027-01-25" in str(err.value.problems) and "away or blocked" in str(err.value.problems)
    assert [a.start_local.hour for a in rows()] == [9, 9, 9]


def test_reschedule_following_with_a_stale_version_changes_nothing(c):
    s = series(c, count=2)
    with pytest.raises(StaleRecordError):
        scheduling.reschedule_following(c.session, s[0], expected_version=s[0].version + 1,
                                        start_local=MONDAY + timedelta(hours=1))
    assert [a.start_local.hour for a in rows()] == [9, 9]
