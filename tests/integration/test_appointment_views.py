"""Appointment screens: booking form (one or a series, overbook), detail page with the status
workflow, cancel / reschedule (this one or this and following), find a slot, chart panel."""
from datetime import datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Appointment, AuditEvent
from app.services import scheduling
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic

MONDAY = datetime(2027, 1, 11, 9, 0)  # EST


@pytest.fixture
def c():
    return make_clinic(weekdays=range(7))


def count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Appointment))


def text(resp):
    return unescape(resp.get_data(as_text=True))


def form(client, c, **over):
    data = {"csrf_token": client.csrf_token, "patient_id": str(c.patient.id), "provider": str(c.provider.id),
            "location": str(c.location.id), "type": str(c.type.id), "date": "2027-01-11", "time": "09:00"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def post_book(client, c, **over):
    return client.post("/appointments/book", data=form(client, c, **over))


def french(user):
    user.locale = "fr"
    db.session.commit()


def audit_rows(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Appointment",
                                                       AuditEvent.action == action)).all()


# ------------------------------------------------------------------ booking

def test_front_desk_books_through_the_prefilled_form(client, login_as, c):
    login_as("FrontDesk")
    page = client.get(f"/appointments/book?patient={c.patient.id}&provider={c.provider.id}"
                      f"&location={c.location.id}&type={c.type.id}&start=2027-01-11T09:00")
    html = text(page)
    assert page.status_code == 200 and c.patient.display_name in html
    assert 'value="1/11/2027"' in html and 'value="09:00"' in html
    resp = post_book(client, c, date="1/11/2027", reason="Knee pain")
    appt = db.session.scalars(select(Appointment)).one()
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/appointments/{appt.id}")
    assert appt.start_local == MONDAY and appt.reason == "Knee pain" and appt.status == "booked"
    shown = text(client.get(resp.headers["Location"]))
    assert f"Appointment booked for {c.patient.display_name} on Monday, January 11, 2027" in shown
    assert "9:00" in shown and "Knee pain" in shown


def test_missing_fields_give_translated_errors_and_write_nothing(client, login_as, c):
    french(login_as("FrontDesk"))
    resp = post_book(client, c, provider="", date="", time="")
    assert resp.status_code == 200 and text(resp).count("Ce champ est requis.") >= 3
    assert count() == 0


@pytest.mark.parametrize("day,at,message", [
    ("2027-01-11", "07:00", "En dehors des heures de travail du praticien sur ce site."),
    ("2026-01-05", "09:00", "Le début est dans le passé."),
    ("2027-03-14", "02:30", "2027-03-14 02:30 n’existe pas dans America/New_York"),  # the clocks skip it
])
def test_impossible_times_are_refused_in_the_staff_language(client, login_as, c, day, at, message):
    french(login_as("FrontDesk"))
    resp = post_book(client, c, date=day, time=at)
    assert resp.status_code == 200 and message in text(resp)
    assert count() == 0


def test_a_date_that_is_no_date_is_named_at_its_field(client, login_as, c):
    login_as("FrontDesk")
    resp = post_book(client, c, date="31/31/2027", time="25:00")
    html = text(resp)
    assert "Write the date as 12/31/1987." in html and "Write the time as 14:30." in html
    assert count() == 0


def test_a_clash_is_listed_and_nothing_is_written(client, login_as, c):
    other = book(c, MONDAY, patient=PatientFactory())
    login_as("FrontDesk")
    resp = post_book(client, c)
    html = text(resp)
    assert resp.status_code == 200 and "This time clashes with:" in html
    assert "The provider is already booked at" in html and f"/appointments/{other.id}" in html
    assert count() == 1


def test_front_desk_cannot_overbook_not_even_with_a_forged_field(client, login_as, c):
    book(c, MONDAY, patient=PatientFactory())
    login_as("FrontDesk")
    assert 'name="overbook_reason"' not in text(post_book(client, c))
    resp = post_book(client, c, overbook_reason="Urgent")
    assert "You are not allowed to overbook." in text(resp)
    assert count() == 1 and not audit_rows("overbook")


def test_office_manager_overbooks_with_a_reason_and_it_is_audited(client, login_as, c):
    first = book(c, MONDAY, patient=PatientFactory())
    login_as("OfficeManager")
    assert 'name="overbook_reason"' in text(post_book(client, c))
    resp = post_book(client, c, overbook_reason="Acute pain, squeezed in")
    assert resp.status_code == 302
    appt = db.session.scalars(select(Appointment).where(Appointment.id != first.id)).one()
    assert appt.overbook and appt.overbook_reason == "Acute pain, squeezed in"
    (event,) = audit_rows("overbook")
    assert event.object_id == str(appt.id) or event.object_id == appt.id
    assert "Acute pain, squeezed in" in text(client.get(f"/appointments/{appt.id}"))


def test_a_weekly_series_books_one_row_per_date_with_one_series_id(client, login_as, c):
    login_as("FrontDesk")
    resp = post_book(client, c, repeat="y", every_weeks="2", count="3")
    assert resp.status_code == 302
    rows = db.session.scalars(select(Appointment).order_by(Appointment.start_at)).all()
    assert [a.start_local.day for a in rows] == [11, 25, 8] and len({a.series_id for a in rows}) == 1
    page = text(client.get(resp.headers["Location"]))
    assert "3 appointments booked" in page and "Appointment 1 of 3 of a weekly series." in page


def test_a_series_with_a_clash_books_nothing_until_told_to_skip_it(client, login_as, c):
    clash = book(c, datetime(2027, 1, 18, 9, 0), patient=PatientFactory())
    login_as("FrontDesk")
    resp = post_book(client, c, repeat="y", every_weeks="1", count="3")
    assert "These dates of the series clash; nothing was booked:" in text(resp) and count() == 1
    resp = post_book(client, c, repeat="y", every_weeks="1", count="3", skip_conflicts="y")
    assert resp.status_code == 302
    assert count() == 3
    page = text(client.get(resp.headers["Location"]))
    assert "2 appointments booked" in page and "Not booked: The provider is already booked at" in page
    assert clash.id not in [a.id for a in db.session.scalars(select(Appointment).where(
        Appointment.patient_id == c.patient.id))]


def test_clinician_cannot_book(client, login_as, c):
    login_as("Clinician")
    assert client.get("/appointments/book").status_code == 403
    assert client.post("/appointments/book", data=form(client, c)).status_code == 403
    assert count() == 0


def test_restricted_patient_goes_through_break_glass(client, login_as, c):
    c.patient.restricted = True
    db.session.commit()
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    for url in (f"/appointments/book?patient={c.patient.id}", f"/appointments/{appt.id}"):
        resp = client.get(url)
        assert resp.status_code == 302 and f"/patients/{c.patient.id}/break-glass" in resp.headers["Location"]
    assert not audit_rows("view")


# ------------------------------------------------------------------ detail and workflow

def test_detail_page_shows_the_visit_and_writes_one_audit_access(client, login_as, c):
    appt = book(c, MONDAY, room=c.room)
    login_as("FrontDesk")
    html = text(client.get(f"/appointments/{appt.id}"))
    assert c.patient.display_name in html and c.patient.mrn in html and f"/patients/{c.patient.id}/chart" in html
    assert "Monday, January 11, 2027" in html and "Eastern" in html and "Room 1" in html
    assert c.provider.display_name in html and "Follow-up" in html
    (event,) = audit_rows("view")
    assert event.patient_id == c.patient.id and str(event.object_id) == str(appt.id)


def test_the_page_offers_only_the_letters_that_fit_the_status(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    html = text(client.get(f"/appointments/{appt.id}"))
    assert f"/letters/appointment/confirmation/{appt.id}" in html
    assert f"/letters/appointment/no_show/{appt.id}" not in html
    scheduling.mark_no_show(db.session, appt)
    html = text(client.get(f"/appointments/{appt.id}"))
    assert f"/letters/appointment/no_show/{appt.id}" in html
    assert f"/letters/appointment/confirmation/{appt.id}" not in html


def test_french_staff_see_french_day_names(client, login_as, c):
    appt = book(c, MONDAY)
    french(login_as("FrontDesk"))
    html = text(client.get(f"/appointments/{appt.id}"))
    assert "lundi 11 janvier 2027" in html


def status_buttons(html):
    import re
    return set(re.findall(r'name="status" value="([a-z_]+)"', html))


def post_status(client, appt, status, version=None, **extra):
    return client.post(f"/appointments/{appt.id}/status", data=dict(
        csrf_token=client.csrf_token, status=status, version=str(appt.version if version is None else version),
        **extra))


def test_status_buttons_follow_the_workflow_and_illegal_moves_are_refused(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    assert status_buttons(text(client.get(f"/appointments/{appt.id}"))) == {"confirmed", "arrived", "no_show"}
    resp = post_status(client, appt, "completed")
    assert "An appointment that is booked cannot become completed." in text(client.get(resp.headers["Location"]))
    db.session.refresh(appt)
    assert appt.status == "booked"
    post_status(client, appt, "arrived")
    db.session.refresh(appt)
    assert appt.status == "arrived"
    assert status_buttons(text(client.get(f"/appointments/{appt.id}"))) == {"in_room"}
    post_status(client, appt, "in_room", room=str(c.room.id))
    db.session.refresh(appt)
    assert appt.status == "in_room" and appt.room_id == c.room.id
    html = text(client.get(f"/appointments/{appt.id}"))
    assert status_buttons(html) == {"completed"} and "Room 1" in html
    assert [s.to_status for s in appt.status_changes] == ["booked", "arrived", "in_room"]


def test_status_cannot_cancel_that_needs_the_cancel_form(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    post_status(client, appt, "cancelled")
    db.session.refresh(appt)
    assert appt.status == "booked"


def test_clinician_updates_status_but_sees_no_cancel_or_move(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("Clinician")
    html = text(client.get(f"/appointments/{appt.id}"))
    assert status_buttons(html) == {"confirmed", "arrived", "no_show"}
    assert "cancel-form" not in html and "reschedule-form" not in html
    assert post_status(client, appt, "arrived").status_code == 302
    db.session.refresh(appt)
    assert appt.status == "arrived"
    resp = client.post(f"/appointments/{appt.id}/cancel", data={"csrf_token": client.csrf_token, "reason": "x",
                                                                  "version": str(appt.version)})
    assert resp.status_code == 403


def test_billing_reads_but_cannot_change_status(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("Billing")
    html = text(client.get(f"/appointments/{appt.id}"))
    assert not status_buttons(html)
    assert post_status(client, appt, "arrived").status_code == 403


def test_a_stale_version_is_refused_with_its_message(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    old = appt.version
    scheduling.transition(db.session, appt, "confirmed")
    resp = post_status(client, appt, "arrived", version=old)
    assert "Someone else changed this record" in text(client.get(resp.headers["Location"]))
    resp = client.post(f"/appointments/{appt.id}/cancel", data={"csrf_token": client.csrf_token, "reason": "x",
                                                                  "version": str(old)})
    assert "Someone else changed this record" in text(client.get(resp.headers["Location"]))
    db.session.refresh(appt)
    assert appt.status == "confirmed"


def test_cancel_needs_a_reason(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    resp = client.post(f"/appointments/{appt.id}/cancel", data={"csrf_token": client.csrf_token, "reason": " ",
                                                                  "version": str(appt.version)})
    assert "This field is required." in text(client.get(resp.headers["Location"]))
    db.session.refresh(appt)
    assert appt.status == "booked"


def make_series(c, n=3):
    booked, _ = scheduling.book_series(db.session, patient=c.patient, provider=c.provider, location=c.location,
                                       type=c.type, start_local=MONDAY, count=n)
    return booked


def test_cancel_this_and_following(client, login_as, c):
    s = make_series(c)
    login_as("FrontDesk")
    html = text(client.get(f"/appointments/{s[1].id}"))
    assert "This and the following appointments" in html
    resp = client.post(f"/appointments/{s[1].id}/cancel", data={
        "csrf_token": client.csrf_token, "reason": "Moving away", "scope": "following", "version": str(s[1].version)})
    assert "2 appointment(s) cancelled." in text(client.get(resp.headers["Location"]))
    db.session.expire_all()
    assert [a.status for a in db.session.scalars(select(Appointment).order_by(Appointment.start_at))] == [
        "booked", "cancelled", "cancelled"]


def test_cancel_just_one_of_a_series(client, login_as, c):
    s = make_series(c)
    login_as("FrontDesk")
    client.post(f"/appointments/{s[0].id}/cancel", data={
        "csrf_token": client.csrf_token, "reason": "Ill", "scope": "one", "version": str(s[0].version)})
    db.session.expire_all()
    assert [a.status for a in db.session.scalars(select(Appointment).order_by(Appointment.start_at))] == [
        "cancelled", "booked", "booked"]


def test_reschedule_this_and_following_and_a_clash_moves_nothing(client, login_as, c):
    s = make_series(c)
    blocker = book(c, datetime(2027, 1, 25, 11, 0), patient=PatientFactory())
    login_as("FrontDesk")
    url = f"/appointments/{s[0].id}/reschedule"
    resp = client.post(url, data={"csrf_token": client.csrf_token, "date": "2027-01-11", "time": "11:00",
                                  "scope": "following", "version": str(s[0].version)})
    html = text(client.get(resp.headers["Location"]))
    assert "The provider is already booked at" in html and 'value="11:00"' in html
    db.session.expire_all()
    assert [db.session.get(Appointment, a.id).start_local.hour for a in s] == [9, 9, 9]
    scheduling.cancel(db.session, db.session.get(Appointment, blocker.id), reason="freed")
    s0 = db.session.get(Appointment, s[0].id)
    resp = client.post(url, data={"csrf_token": client.csrf_token, "date": "2027-01-12", "time": "11:00",
                                  "scope": "following", "version": str(s0.version)})
    assert "3 appointment(s) moved" in text(client.get(resp.headers["Location"]))
    db.session.expire_all()
    assert [db.session.get(Appointment, a.id).start_local for a in s] == [
        datetime(2027, 1, 12, 11), datetime(2027, 1, 19, 11), datetime(2027, 1, 26, 11)]


def test_reschedule_one_appointment(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    client.post(f"/appointments/{appt.id}/reschedule", data={
        "csrf_token": client.csrf_token, "date": "1/13/2027", "time": "14:30", "version": str(appt.version)})
    db.session.refresh(appt)
    assert appt.start_local == datetime(2027, 1, 13, 14, 30)


# ------------------------------------------------------------------ slots and chart

def test_find_a_slot_lists_local_times_linking_to_the_booking_form(client, login_as, c):
    book(c, MONDAY, patient=PatientFactory())
    login_as("Clinician")
    html = text(client.get(f"/appointments/slots?provider={c.provider.id}&type={c.type.id}"
                           f"&start_date=2027-01-11&end_date=2027-01-11"))
    assert "Monday, January 11, 2027" in html
    assert "start=2027-01-11T09:30" in html and "start=2027-01-11T09:00" not in html
    assert ">9:30\u202fAM<" in html  # babel's short time for English: a narrow no-break space


def test_find_a_slot_defaults_to_the_next_two_weeks_and_names_bad_dates(client, login_as, c):
    login_as("FrontDesk")
    html = text(client.get("/appointments/slots"))
    assert "slot-results" not in html and 'name="start_date"' in html
    html = text(client.get(f"/appointments/slots?provider={c.provider.id}&type={c.type.id}&start_date=nonsense"))
    assert "Write the date as 12/31/1987." in html


def test_patient_chart_lists_appointments_and_offers_booking(client, login_as, c):
    appt = book(c, MONDAY)
    login_as("FrontDesk")
    html = text(client.get(f"/patients/{c.patient.id}/chart"))
    assert f"/appointments/{appt.id}" in html and "Book appointment" in html
    assert f"/appointments/book?patient={c.patient.id}" in html
    client.get("/logout/")
    login_as("Clinician")
    html = text(client.get(f"/patients/{c.patient.id}/chart"))
    assert f"/appointments/{appt.id}" in html and "Book appointment" not in html


def test_a_cancel_or_no_show_that_frees_a_wanted_time_points_to_the_waitlist(client, login_as, c):
    from datetime import date

    from app.services import waitlist

    first, second = book(c, MONDAY), book(c, MONDAY + timedelta(days=1))
    login_as("FrontDesk")
    client.post(f"/appointments/{first.id}/cancel", data={
        "csrf_token": client.csrf_token, "reason": "Ill", "version": str(first.version)})
    assert "/waitlist/freed/" not in text(client.get(f"/appointments/{first.id}"))  # nobody waits yet
    waitlist.add_entry(db.session, patient=PatientFactory(), type=c.type, earliest_date=date(2027, 1, 1),
                       latest_date=date(2027, 1, 31), today=date(2026, 12, 1))
    resp = post_status(client, second, "no_show")
    html = text(client.get(resp.headers["Location"]))
    assert "Patients on the waitlist could take this time." in html and f"/waitlist/freed/{second.id}" in html
