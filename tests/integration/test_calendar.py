"""The calendar: day and week grids in the location's wall clock, who sees what, drag-to-move
through scheduling.reschedule() (conflicts, stale versions and times outside the hours refused
with the translated message and nothing changed), one audit row per page view."""
import json
import re
from datetime import datetime, time

import pytest

from app.extensions import db
from app.models import Appointment, AuditEvent
from app.services import scheduling
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import book, make_clinic


@pytest.fixture
def c():
    return make_clinic(weekdays=range(7))  # every day, so the DST Sundays count too


def page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def blocks(html):
    """(appointment id, the block's text) of every appointment block on the page."""
    found = re.findall(r'<a class="cd-appt[^"]*"[^>]*data-id="(\d+)"[^>]*>(.*?)</a>', html, re.S)
    return {int(i): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for i, text in found}


def columns(html):
    return [int(p) for p in re.findall(r'<section class="cd-cal-col[^"]*" data-provider="(\d+)"', html)]


def move(client, appointment, start, *, version=None, provider=None):
    body = {"id": appointment.id, "version": appointment.version if version is None else version, "start": start}
    if provider is not None:
        body["provider"] = provider
    return client.post("/schedule/move", data=json.dumps(body), content_type="application/json",
                       headers={"X-CSRFToken": client.csrf_token})


def schedule_views():
    return db.session.query(AuditEvent).filter_by(action="view", object_type="Schedule").order_by(AuditEvent.seq).all()


@pytest.mark.parametrize("day,offset", [("2027-03-14", 4), ("2027-11-07", 5)])
def test_day_view_shows_patients_at_local_times_on_dst_days(client, login_as, c, day, offset):
    y, m, d = (int(x) for x in day.split("-"))
    a = book(c, datetime(y, m, d, 9))
    b = book(c, datetime(y, m, d, 16, 30), patient=PatientFactory(family_name="Okafor", given_name="Chidi"))
    assert a.start_at.hour == 9 + offset  # UTC differs on either side of the change
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date={day}&provider={c.provider.id}")
    shown = blocks(html)
    assert set(shown) == {a.id, b.id}
    assert "9:00 AM – 9:30 AM" in shown[a.id] and c.patient.family_name in shown[a.id]
    assert "Follow-up" in shown[a.id] and "booked" in shown[a.id]
    assert "4:30 PM – 5:00 PM" in shown[b.id] and "Okafor, Chidi" in shown[b.id]
    # Rows are the local working day, 09:00 to 17:00, whatever the UTC offset that day.
    starts = re.findall(r'data-start="(\S+)"', html)
    assert starts[0] == f"{day}T09:00" and starts[-1] == f"{day}T16:45" and len(starts) == 32


def test_spring_forward_night_marks_the_hour_that_does_not_exist(client, login_as):
    c = make_clinic(weekdays=[6], start=time(0), end=time(23))
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date=2027-03-14&provider={c.provider.id}")
    assert re.search(r'class="cd-slot cd-gap[^"]*" data-start="2027-03-14T02:30"', html)
    assert re.search(r'class="cd-slot cd-work[^"]*"[^>]* data-start="2027-03-14T03:00"', html)


def test_several_providers_side_by_side_each_with_their_own_appointments(client, login_as, c):
    other = ProviderFactory(family_name="Lindqvist", default_location_id=c.location.id)
    scheduling.set_hours(c.session, provider=other, location=c.location, weekday=0, start=time(8), end=time(12))
    mine = book(c, datetime(2027, 3, 15, 10))
    theirs = book(c, datetime(2027, 3, 15, 10), provider=other, patient=PatientFactory(family_name="Haddad"))
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date=2027-03-15&provider={other.id}&provider={c.provider.id}")
    assert columns(html) == [other.id, c.provider.id]
    sections = html.split('<section class="cd-cal-col')[1:]
    assert list(blocks(sections[0])) == [theirs.id] and "Haddad" in blocks(sections[0])[theirs.id]
    assert list(blocks(sections[1])) == [mine.id]
    # The rows start at the earliest working hour of anyone shown (08:00) ...
    assert re.findall(r'data-start="(\S+)"', sections[0])[0] == "2027-03-15T08:00"
    # ... and the hours nobody works are shaded as such.
    assert 'class="cd-slot cd-off cd-hour" data-start="2027-03-15T08:00"' in sections[1]
    # Without a choice, front desk sees every active provider of the location.
    assert columns(page(client, "/schedule/day?date=2027-03-15")) == sorted(
        [other.id, c.provider.id], key=lambda i: "Lindqvist" if i == other.id else c.provider.family_name)


def test_clinician_sees_own_column_by_default(client, login_as, c):
    other = ProviderFactory(default_location_id=c.location.id)
    user = make_user("Clinician")
    c.provider.user_id = user.id
    db.session.commit()
    book(c, datetime(2027, 3, 15, 9))
    login_as("Clinician")
    html = page(client, "/schedule/?date=2027-03-15")
    assert columns(html) == [c.provider.id]
    html = page(client, "/schedule/day?date=2027-03-15")
    assert columns(html) == [c.provider.id] and len(blocks(html)) == 1
    assert 'draggable="true"' not in html  # reading is not moving
    # The picker still lets them look at a colleague's day.
    assert columns(page(client, f"/schedule/day?date=2027-03-15&provider={other.id}")) == [other.id]


def test_week_view_shows_seven_localized_days_of_one_provider(client, login_as, c):
    a = book(c, datetime(2027, 3, 17, 11))
    login_as("FrontDesk")
    html = page(client, f"/schedule/week?date=2027-03-17&provider={c.provider.id}")
    heads = re.findall(r'<a href="/schedule/day\?date=(\d{4}-\d\d-\d\d)[^"]*">([^<]+)</a>', html)
    assert [d for d, _ in heads] == [f"2027-03-{n}" for n in range(15, 22)]  # CLDR "en": weeks start on Monday
    assert heads[2][1] == "Wed, Mar 17"
    assert list(blocks(html)) == [a.id] and "11:00 AM" in blocks(html)[a.id]


def test_billing_reads_the_calendar_but_may_not_move(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    login_as("Billing")
    html = page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")
    assert a.id in blocks(html) and 'draggable="true"' not in html
    resp = move(client, a, "2027-03-15T11:00")
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(Appointment, a.id).start_local == datetime(2027, 3, 15, 9)


def test_front_desk_moves_an_appointment_to_a_free_time_and_another_provider(client, login_as, c):
    other = ProviderFactory(default_location_id=c.location.id)
    scheduling.set_hours(c.session, provider=other, location=c.location, weekday=0, start=time(9), end=time(17))
    a = book(c, datetime(2027, 3, 15, 9))
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")
    assert re.search(rf'data-id="{a.id}" data-version="{a.version}"\s+draggable="true"', html)
    resp = move(client, a, "2027-03-15T14:15", provider=other.id)
    assert resp.status_code == 200 and resp.json["ok"], resp.json
    db.session.expire_all()
    moved = db.session.get(Appointment, a.id)
    assert (moved.start_local, moved.provider_id) == (datetime(2027, 3, 15, 14, 15), other.id)


def test_move_into_a_taken_slot_is_refused_with_the_translated_message(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    book(c, datetime(2027, 3, 15, 10), patient=PatientFactory())
    user = login_as("FrontDesk")
    user.locale = "fr"
    db.session.commit()
    resp = move(client, a, "2027-03-15T10:15")
    assert resp.status_code == 409
    assert resp.json["ok"] is False
    assert any(m.startswith("Le praticien a déjà un rendez-vous à") for m in resp.json["messages"]), resp.json
    db.session.expire_all()
    row = db.session.get(Appointment, a.id)
    assert (row.start_local, row.version) == (datetime(2027, 3, 15, 9), a.version)


def test_stale_version_is_refused_and_nothing_changes(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    login_as("FrontDesk")
    resp = move(client, a, "2027-03-15T11:00", version=a.version - 1)
    assert resp.status_code == 409
    assert "Someone else changed this record" in resp.json["messages"][0]
    db.session.expire_all()
    assert db.session.get(Appointment, a.id).start_local == datetime(2027, 3, 15, 9)


def test_move_outside_working_hours_is_refused(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    login_as("FrontDesk")
    resp = move(client, a, "2027-03-15T18:00")
    assert resp.status_code == 400
    assert resp.json["messages"] == ["This is outside the provider's working hours at this location."]
    resp = move(client, a, "not a time")
    assert resp.status_code == 400 and resp.json["messages"] == ["Give the new start as a date and time."]
    db.session.expire_all()
    assert db.session.get(Appointment, a.id).start_local == datetime(2027, 3, 15, 9)


def test_plain_form_move_flashes_the_refusal_and_redirects_to_the_day(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    book(c, datetime(2027, 3, 15, 10), patient=PatientFactory())
    login_as("FrontDesk")
    resp = client.post("/schedule/move", data={"id": a.id, "version": a.version, "start": "2027-03-15T10:00",
                                               "csrf_token": client.csrf_token}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "The provider is already booked at" in html
    assert a.id in blocks(html)


def test_one_audit_row_per_page_view_without_patient_data(client, login_as, c):
    book(c, datetime(2027, 3, 15, 9))
    other = book(c, datetime(2027, 3, 15, 11), patient=PatientFactory())
    login_as("FrontDesk")
    page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")
    events = schedule_views()
    assert len(events) == 1
    details = json.loads(events[0].details)
    assert details == {"screen": "day", "date": "2027-03-15", "providers": [c.provider.id], "appointments": 2,
                       "patients": sorted([c.patient.id, other.patient_id])}  # ids, for the auditor
    assert c.patient.family_name not in events[0].details
    page(client, f"/schedule/week?date=2027-03-15&provider={c.provider.id}")
    assert [json.loads(e.details)["screen"] for e in schedule_views()] == ["day", "week"]


@pytest.mark.parametrize("locale,expected", [("fr", "dimanche 14 mars 2027"), ("ar", "الأحد")])
def test_day_and_month_names_in_the_staff_members_language(client, login_as, c, locale, expected):
    user = login_as("FrontDesk")
    user.locale = locale
    db.session.commit()
    html = page(client, f"/schedule/day?date=2027-03-14&provider={c.provider.id}")
    title = re.search(r'<h2 id="cd-cal-title">([^<]+)</h2>', html).group(1)
    assert expected in title
    if locale == "ar":
        assert 'dir="rtl"' in html and "مارس" in title


def test_cancelled_appointments_are_shown_struck_and_not_movable(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    scheduling.cancel(c.session, a, reason="Patient called")
    b = book(c, datetime(2027, 3, 15, 9), patient=PatientFactory())
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")
    assert set(blocks(html)) == {a.id, b.id}
    assert re.search(rf'class="cd-appt cd-status-cancelled cd-inactive"[^>]*data-id="{a.id}" data-version="\d+"\s+style', html)
    assert "inset-inline-start: 50.00%" in html  # side by side, not on top of each other


def test_free_working_cells_link_to_the_booking_form_and_blocks_to_the_appointment(client, login_as, c):
    a = book(c, datetime(2027, 3, 15, 9))
    c.session.add(scheduling.ProviderException(provider_id=c.provider.id, kind="leave",
                                               start_at=scheduling.local_to_utc(datetime(2027, 3, 15, 13), c.location.timezone),
                                               end_at=scheduling.local_to_utc(datetime(2027, 3, 15, 14), c.location.timezone)))
    c.session.commit()
    login_as("FrontDesk")
    html = page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")
    href = (f'/appointments/book?provider={c.provider.id}&amp;location={c.location.id}'
            f'&amp;start=2027-03-15T11:30')
    assert f'href="{href}" data-start="2027-03-15T11:30"' in html
    assert f'href="/appointments/{a.id}" data-id="{a.id}"' in html
    # Time off is greyed, labelled once, and not offered for booking.
    assert re.search(r'<div class="cd-slot cd-away[^"]*" data-start="2027-03-15T13:00"><span class="cd-away-label">'
                     r'On leave</span></div>', html)
    assert "start=2027-03-15T13:15" not in html
    # Clinicians read it: no booking links for them.
    client.get("/logout/")
    login_as("Clinician")
    assert "/appointments/book" not in page(client, f"/schedule/day?date=2027-03-15&provider={c.provider.id}")


def test_the_day_costs_the_same_queries_for_two_providers_or_eight(client, login_as, c):
    """One query per kind for all the columns: no query per provider, appointment or patient."""
    from sqlalchemy import event

    providers = [c.provider]
    for n in range(7):
        p = ProviderFactory(default_location_id=c.location.id)
        scheduling.set_hours(c.session, provider=p, location=c.location, weekday=0, start=time(9), end=time(17))
        providers.append(p)
    for n, p in enumerate(providers):
        for h in range(3):
            book(c, datetime(2027, 3, 15, 9 + 2 * h), provider=p, patient=PatientFactory())
    login_as("FrontDesk")

    def statements(ids):
        url = "/schedule/day?date=2027-03-15&" + "&".join(f"provider={i}" for i in ids)
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            html = page(client, url)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(blocks(html)) == 3 * len(ids)
        return len(seen)

    ids = [p.id for p in providers]
    statements(ids)  # the first page of a session loads the user's roles and permissions
    assert statements(ids[:2]) == statements(ids)


def test_without_any_location_the_calendar_says_what_to_do(client, login_as):
    login_as("FrontDesk")
    html = page(client, "/schedule/")
    assert "There is no active location yet: add one under Administration." in html


def test_clinician_week_defaults_to_their_own_provider(client, login_as, c):
    ProviderFactory(family_name="Aaronson", default_location_id=c.location.id)  # first by name
    user = make_user("Clinician")
    c.provider.user_id = user.id
    db.session.commit()
    a = book(c, datetime(2027, 3, 16, 10))
    login_as("Clinician")
    html = page(client, "/schedule/week?date=2027-03-16")
    assert set(columns(html)) == {c.provider.id} and len(columns(html)) == 7
    assert list(blocks(html)) == [a.id]
