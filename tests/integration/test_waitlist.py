"""Waitlist: a freed slot finds the right entries; booking from the list goes through the
booking service; bad input is refused (translated) and writes nothing."""
import html
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Appointment, AuditEvent
from app.models.scheduling import WaitlistEntry
from app.services import scheduling
from app.services import waitlist as waitlist_service
from app.services.errors import StaleRecordError, ValidationFailed
from app.services.scheduling import AppointmentConflictError
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import book, make_clinic

MONDAY_9 = datetime(2027, 1, 11, 9, 0)  # New York wall clock
WINDOW = dict(earliest_date=date(2027, 1, 4), latest_date=date(2027, 1, 29))


@pytest.fixture
def c():
    return make_clinic()


def entry(c, patient=None, **changes):
    args = dict(patient=patient or PatientFactory(), type=c.type, **WINDOW)
    args.update(changes)
    return waitlist_service.add_entry(c.session, **args)


def freed(c, start=MONDAY_9):
    appt = book(c, start)
    return scheduling.cancel(c.session, appt, reason="Patient called")


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def count_entries():
    return db.session.scalar(select(func.count()).select_from(WaitlistEntry))


def test_a_freed_slot_is_matched_to_the_entries_that_fit_oldest_first(c):
    other_provider = ProviderFactory()
    short = scheduling.add_type(c.session, name="Quick check", default_duration=15, colour="#112233")
    long = scheduling.add_type(c.session, name="New patient", default_duration=60, colour="#445566")
    first = entry(c, part_of_day="morning")
    same_provider = entry(c, provider=c.provider, location=c.location)
    shorter_type = entry(c, type=short)
    entry(c, type=long)  # needs an hour: does not fit in 30 minutes
    entry(c, provider=other_provider)
    entry(c, earliest_date=date(2027, 1, 12), latest_date=date(2027, 1, 20))  # window starts after
    entry(c, latest_date=date(2027, 1, 10))  # window ended before
    entry(c, part_of_day="afternoon")  # 09:00 is morning
    entry(c, patient=c.patient)  # the patient who cancelled
    removed = entry(c)
    waitlist_service.remove(c.session, removed, expected_version=removed.version)

    appt = freed(c)
    assert [e.id for e in waitlist_service.matches_for_freed(c.session, appt)] == [
        first.id, same_provider.id, shorter_type.id]


def test_an_afternoon_slot_matches_afternoon_entries_by_local_time(c):
    morning = entry(c, part_of_day="morning")
    afternoon = entry(c, part_of_day="afternoon")
    appt = freed(c, datetime(2027, 1, 11, 12, 0))  # 17:00 UTC: local noon counts as afternoon
    assert [e.id for e in waitlist_service.matches_for_freed(c.session, appt)] == [afternoon.id]
    assert morning.status == "waiting"


def test_add_entry_reports_every_problem_and_writes_nothing(c):
    deceased = PatientFactory(status="deceased")
    with pytest.raises(ValidationFailed) as err:
        waitlist_service.add_entry(c.session, patient=deceased, type=999999, earliest_date=date(2020, 1, 1),
                                   latest_date=date(2019, 1, 1), part_of_day="night", note="x" * 301)
    assert {f for f, _ in err.value.problems} == {"patient", "type", "earliest_date", "latest_date", "part_of_day",
                                                  "note"}
    assert count_entries() == 0


def test_booking_from_the_waitlist_books_through_the_service_and_marks_the_entry(c):
    wanted = entry(c)
    appt = freed(c)
    booked = waitlist_service.book_from_waitlist(c.session, wanted, provider=c.provider, location=c.location,
                                                 start_at=appt.start_at, expected_version=wanted.version)
    db.session.expire_all()
    stored = db.session.get(WaitlistEntry, wanted.id)
    assert stored.status == "booked" and stored.appointment_id == booked.id
    assert booked.patient_id == wanted.patient_id and booked.start_local == MONDAY_9 and booked.status == "booked"
    assert [(s.from_status, s.to_status) for s in booked.status_changes] == [(None, "booked")]


def test_a_clash_leaves_the_entry_waiting(c):
    wanted = entry(c)
    appt = freed(c)
    book(c, MONDAY_9, patient=PatientFactory())  # someone took the time first
    version = wanted.version
    with pytest.raises(AppointmentConflictError):
        waitlist_service.book_from_waitlist(c.session, wanted, provider=c.provider, location=c.location,
                                            start_at=appt.start_at, expected_version=version)
    db.session.expire_all()
    stored = db.session.get(WaitlistEntry, wanted.id)
    assert (stored.status, stored.appointment_id, stored.version) == ("waiting", None, version)
    assert db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.patient_id == wanted.patient_id)) == 0


def test_a_stale_version_changes_nothing(c):
    wanted = entry(c)
    appt = freed(c)
    with pytest.raises(StaleRecordError):
        waitlist_service.offer(c.session, wanted, appt, expected_version=wanted.version - 1)
    with pytest.raises(StaleRecordError):
        waitlist_service.book_from_waitlist(c.session, wanted, provider=c.provider, location=c.location,
                                            start_at=appt.start_at, expected_version=wanted.version - 1)
    db.session.expire_all()
    assert db.session.get(WaitlistEntry, wanted.id).status == "waiting"
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1  # only the cancelled one


# --------------------------------------------------------------------------- screens

def test_front_desk_offers_then_books_a_freed_slot_from_the_freed_page(c, client, login_as):
    login_as("FrontDesk")
    wanted = entry(c, note="Prefers early mornings")
    appt = freed(c)
    page = text(client.get(f"/waitlist/freed/{appt.id}"))
    assert wanted.patient.display_name in page and "Prefers early mornings" in page and "Offer" in page

    resp = client.post(f"/waitlist/{wanted.id}/offer", data={"csrf_token": client.csrf_token,
                                                            "version": wanted.version, "appointment_id": appt.id})
    assert resp.status_code == 302
    db.session.expire_all()
    wanted = db.session.get(WaitlistEntry, wanted.id)
    assert wanted.status == "offered" and wanted.offered_start_at == appt.start_at
    assert wanted.patient.display_name in text(client.get(f"/waitlist/freed/{appt.id}"))  # still bookable

    resp = client.post(f"/waitlist/{wanted.id}/book", data={"csrf_token": client.csrf_token,
                                                           "version": wanted.version, "appointment_id": appt.id})
    assert resp.status_code == 302
    db.session.expire_all()
    wanted = db.session.get(WaitlistEntry, wanted.id)
    assert wanted.status == "booked"
    new = db.session.get(Appointment, wanted.appointment_id)
    assert new.patient_id == wanted.patient_id and new.start_at == appt.start_at and new.status == "booked"


def test_a_clash_on_the_freed_page_shows_the_reason_and_leaves_the_entry_waiting(c, client, login_as):
    login_as("FrontDesk")
    wanted = entry(c)
    appt = freed(c)
    book(c, MONDAY_9, patient=PatientFactory())
    resp = client.post(f"/waitlist/{wanted.id}/book", data={"csrf_token": client.csrf_token,
                                                           "version": wanted.version, "appointment_id": appt.id},
                       follow_redirects=True)
    assert "The provider is already booked at" in text(resp)
    db.session.expire_all()
    assert db.session.get(WaitlistEntry, wanted.id).status == "waiting"


def test_the_waitlist_filters_by_type_and_is_audited_once_per_view(c, client, login_as):
    login_as("FrontDesk")
    other = scheduling.add_type(c.session, name="Vaccination", default_duration=15, colour="#00aa00")
    follow_up = entry(c)
    vaccine = entry(c, type=other)
    page = text(client.get("/waitlist/"))
    assert follow_up.patient.display_name in page and vaccine.patient.display_name in page
    page = text(client.get(f"/waitlist/?type={other.id}"))
    assert vaccine.patient.display_name in page and follow_up.patient.display_name not in page
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Waitlist",
                                                        AuditEvent.action == "view")).all()
    assert len(views) == 2 and all(v.patient_id is None for v in views)


def test_adding_from_the_chart_and_bad_input_in_spanish(c, client, login_as):
    user = login_as("FrontDesk")
    user.locale = "es"
    db.session.commit()
    patient = PatientFactory()
    assert f"/waitlist/add/{patient.id}" in client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)

    resp = client.post(f"/waitlist/add/{patient.id}", data={
        "csrf_token": client.csrf_token, "type": "", "earliest_date": "2027-01-20", "latest_date": "2027-01-10",
        "part_of_day": "any"})
    assert resp.status_code == 200
    assert "Este campo es obligatorio." in text(resp)
    assert count_entries() == 0

    resp = client.post(f"/waitlist/add/{patient.id}", data={
        "csrf_token": client.csrf_token, "type": str(c.type.id), "provider": str(c.provider.id),
        "earliest_date": "2027-01-04", "latest_date": "2027-01-29", "part_of_day": "morning", "note": "Any day"})
    assert resp.status_code == 302 and resp.location.endswith(f"/patients/{patient.id}/chart#chart-waitlist")
    stored = db.session.scalars(select(WaitlistEntry)).one()
    assert (stored.patient_id, stored.type_id, stored.provider_id, stored.part_of_day, stored.status) == (
        patient.id, c.type.id, c.provider.id, "morning", "waiting")


def test_add_form_refuses_dates_in_the_wrong_order_and_in_the_past(c, client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    resp = client.post(f"/waitlist/add/{patient.id}", data={
        "csrf_token": client.csrf_token, "type": str(c.type.id), "earliest_date": "2020-01-20",
        "latest_date": "2020-01-10", "part_of_day": "any", "note": "n" * 301})
    page = text(resp)
    assert "The earliest date is in the past." in page
    assert "The latest date must not be before the earliest date." in page
    assert "At most 300 characters." in page
    assert count_entries() == 0


def test_remove_with_a_stale_version_says_so_and_changes_nothing(c, client, login_as):
    login_as("OfficeManager")
    wanted = entry(c)
    resp = client.post(f"/waitlist/{wanted.id}/remove", data={"csrf_token": client.csrf_token,
                                                             "version": wanted.version + 5}, follow_redirects=True)
    assert "Someone else changed this record" in text(resp)
    db.session.expire_all()
    assert db.session.get(WaitlistEntry, wanted.id).status == "waiting"
    client.post(f"/waitlist/{wanted.id}/remove", data={"csrf_token": client.csrf_token, "version": wanted.version})
    db.session.expire_all()
    assert db.session.get(WaitlistEntry, wanted.id).status == "removed"


def test_billing_and_clinicians_cannot_see_the_waitlist(c, client, login_as):
    login_as("Billing")
    assert client.get("/waitlist/").status_code == 403
