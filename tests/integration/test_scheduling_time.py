"""Time: weekly hours are local wall-clock and stay right across daylight-saving changes.

In 2027 New York springs forward on Sunday 14 March (02:00 EST -> 03:00 EDT) and falls
back on Sunday 7 November (02:00 EDT -> 01:00 EST).
"""
from datetime import date, datetime, time

import pytest

from app.extensions import db
from app.models import Appointment
from app.services import scheduling
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic, utc


@pytest.fixture
def c():
    return make_clinic(weekdays=range(7))  # every day, so the Sundays themselves count too


@pytest.mark.parametrize("local,instant", [
    (datetime(2027, 3, 8, 9), utc(2027, 3, 8, 14)),     # Monday before: EST, UTC-5
    (datetime(2027, 3, 14, 9), utc(2027, 3, 14, 13)),   # the spring-forward Sunday: already EDT
    (datetime(2027, 3, 15, 9), utc(2027, 3, 15, 13)),   # Monday after: EDT, UTC-4
    (datetime(2027, 11, 1, 9), utc(2027, 11, 1, 13)),   # Monday before fall-back: EDT
    (datetime(2027, 11, 7, 9), utc(2027, 11, 7, 14)),   # the fall-back Sunday: already EST
    (datetime(2027, 11, 8, 9), utc(2027, 11, 8, 14)),   # Monday after: EST
])
def test_a_nine_oclock_appointment_is_nine_oclock_local_on_both_sides_of_dst(c, local, instant):
    appt = book(c, local)
    assert appt.start_at == instant
    assert scheduling.utc_to_local(appt.start_at, appt.timezone) == local == appt.start_local


@pytest.mark.parametrize("day", [date(2027, 3, 14), date(2027, 3, 15), date(2027, 11, 7), date(2027, 11, 8)])
def test_weekly_hours_open_at_nine_and_close_at_five_local_across_dst(c, day):
    slots = scheduling.find_slots(c.session, provider=c.provider, type=c.type, start_date=day, end_date=day,
                                  limit=100, now=utc(2027, 1, 1))
    assert slots[0].start_local == datetime.combine(day, time(9))
    assert scheduling.utc_to_local(slots[-1].end_at, "America/New_York") == datetime.combine(day, time(17))
    assert len(slots) == 16
    offset = 4 if day.month == 3 else 5
    assert slots[0].start_at == utc(day.year, day.month, day.day, 9 + offset)


def test_hours_are_checked_in_local_time_after_the_change(c):
    # 08:30 EDT on the Monday after spring-forward is 12:30 UTC: outside, although 12:30 UTC
    # was inside the hours (09:00-17:00 EST = 14:00-22:00 UTC) a week before... and vice versa.
    with pytest.raises(ValidationFailed, match="working hours"):
        book(c, None, start_at=utc(2027, 3, 15, 12, 30))
    assert book(c, None, start_at=utc(2027, 3, 15, 13, 0)).start_local == datetime(2027, 3, 15, 9)
    with pytest.raises(ValidationFailed, match="working hours"):
        book(c, None, start_at=utc(2027, 3, 15, 20, 45), patient=PatientFactory())  # 16:45 -> 17:15 EDT


def test_a_local_time_that_does_not_exist_is_refused():
    c = make_clinic(weekdays=[6], start=time(0), end=time(23))
    with pytest.raises(ValidationFailed, match="does not exist"):
        book(c, datetime(2027, 3, 14, 2, 30))
    # One that happens twice is the first one (EDT).
    assert book(c, datetime(2027, 11, 7, 1, 30)).start_at == utc(2027, 11, 7, 5, 30)


def test_the_slot_finder_skips_the_missing_hour():
    c = make_clinic(weekdays=[6], start=time(1), end=time(4))
    slots = scheduling.find_slots(c.session, provider=c.provider, type=c.type, start_date=date(2027, 3, 14),
                                  end_date=date(2027, 3, 14), now=utc(2027, 1, 1))
    assert [s.start_local.time() for s in slots] == [time(1), time(1, 30), time(3), time(3, 30)]
    # 01:30 EST is followed, thirty minutes later, by 03:00 EDT.
    assert slots[1].end_at == utc(2027, 3, 14, 7)


def test_a_weekly_series_keeps_its_local_time_across_dst(c):
    booked, _ = scheduling.book_series(c.session, patient=c.patient, provider=c.provider, location=c.location,
                                       type=c.type, start_local=datetime(2027, 3, 1, 9), count=3)
    assert [a.start_at for a in booked] == [utc(2027, 3, 1, 14), utc(2027, 3, 8, 14), utc(2027, 3, 15, 13)]
    assert {a.start_local.time() for a in booked} == {time(9)}


def test_after_a_change_of_dst_rules_appointments_keep_their_wall_clock_time(c):
    appt = book(c, datetime(2027, 3, 15, 9))
    # As if booked under older rules: the stored instant is an hour off.
    db.session.query(Appointment).filter_by(id=appt.id).update(
        {"start_at": utc(2027, 3, 15, 14), "end_at": utc(2027, 3, 15, 14, 30)})
    db.session.commit()
    assert scheduling.resync_utc_from_local(db.session, since=utc(2027, 1, 1)) == 1
    db.session.expire_all()
    again = db.session.get(Appointment, appt.id)
    assert (again.start_at, again.end_at) == (utc(2027, 3, 15, 13), utc(2027, 3, 15, 13, 30))
    assert scheduling.resync_utc_from_local(db.session, since=utc(2027, 1, 1)) == 0
