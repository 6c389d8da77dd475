"""Patient-flow board: today's groups and waiting times at a location (in its own time zone),
one-click steps through the scheduling service, who may do what, audit and idle logoff.

"Now" is frozen by replacing app.views.flow.now; bookings in the past are allowed for the test.
"""
import html
import json
import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Appointment, AppointmentStatusChange, AuditEvent
from app.services import auth as auth_service
from app.services import scheduling
from app.views import flow
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import book, make_clinic, utc

NOW = utc(2026, 11, 27, 17, 0)  # Friday 27 November 2026, noon in New York (EST, UTC-5)
DAY = datetime(2026, 11, 27)


@pytest.fixture
def c(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    monkeypatch.setattr(flow, "now", lambda: NOW)
    return make_clinic()


def at(c, hour, minute=0, day=DAY, **overrides):
    """Book a new patient at hour:minute local time on `day`."""
    overrides.setdefault("patient", PatientFactory())
    return book(c, day.replace(hour=hour, minute=minute), **overrides)


def reload(appointment):
    db.session.expire_all()
    return db.session.get(Appointment, appointment.id)


def changed_at(appointment, status, when):
    """Pretend the change into `status` happened at `when`."""
    change = db.session.scalar(select(AppointmentStatusChange).where(
        AppointmentStatusChange.appointment_id == appointment.id, AppointmentStatusChange.to_status == status))
    change.changed_at = when
    db.session.commit()


def page(client, url="/flow/", **headers):
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200, resp.status_code
    return text_of(resp)


def text_of(resp):
    """The page as read (entities decoded; CLDR puts a narrow no-break space before AM/PM)."""
    return html.unescape(resp.get_data(as_text=True)).replace("\u202f", " ")


def group(text, name):
    """The part of the board showing one group."""
    m = re.search(rf'id="group-{name}".*?(?=<section class="cd-flow-group|<details class="cd-flow-group|\Z)', text, re.S)
    assert m, f"no group {name}"
    return m.group(0)


def step(client, appointment, name, version=None, headers=None, **data):
    appointment = reload(appointment)
    form = {"csrf_token": client.csrf_token, "version": appointment.version if version is None else version, **data}
    return client.post(f"/flow/{appointment.id}/{name}", data=form, headers=headers or {})


def followed(client, resp):
    assert resp.status_code == 302, resp.status_code
    return text_of(client.get(resp.headers["Location"]))


def board_audits():
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "FlowBoard")).all()


# --------------------------------------------------------------------------- what the board shows

def test_board_groups_today_with_minutes_late_waiting_and_in_room(client, login_as, c):
    done = at(c, 9)
    for status in ("arrived",):
        scheduling.transition(c.session, done, status)
    scheduling.room_patient(c.session, done, c.room)
    scheduling.transition(c.session, done, "completed")
    scheduling.transition(c.session, done, "checked_out")
    missed = at(c, 9, 30)
    scheduling.mark_no_show(c.session, missed)
    roomed = at(c, 10)
    scheduling.transition(c.session, roomed, "arrived")
    scheduling.room_patient(c.session, roomed, c.room)
    changed_at(roomed, "in_room", NOW - timedelta(minutes=25))
    waiting = at(c, 10, 30)
    scheduling.transition(c.session, waiting, "arrived")
    changed_at(waiting, "arrived", NOW - timedelta(minutes=12))
    late = at(c, 11)
    later = at(c, 12, 30)
    scheduling.transition(c.session, later, "confirmed")
    tomorrow = at(c, 9, day=DAY + timedelta(days=3))  # Monday: not today
    login_as("FrontDesk")

    text = page(client)
    assert "Main street" in text and "Friday, November 27, 2026" in text
    expected = group(text, "expected")
    assert late.patient.display_name in expected and "60 min late" in expected and "11:00" in expected
    assert later.patient.display_name in expected and "confirmed" in expected
    assert expected.count("min late") == 1  # 12:30 is not late at noon
    waiting_part = group(text, "waiting")
    assert waiting.patient.display_name in waiting_part and "waiting 12 min" in waiting_part
    in_room = group(text, "in_room")
    assert roomed.patient.display_name in in_room and "Room 1" in in_room and "25 min in the room" in in_room
    assert c.provider.display_name in in_room
    assert done.patient.display_name in group(text, "done") and "checked out" in group(text, "done")
    assert missed.patient.display_name in group(text, "gone")
    assert tomorrow.patient.display_name not in text
    # The next step of each row is one button away.
    assert f"/flow/{late.id}/arrive" in expected and f"/flow/{waiting.id}/room" in waiting_part
    assert f"/flow/{roomed.id}/complete" in in_room


def test_today_is_the_locations_local_date_not_the_servers(client, login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    # 03:00 UTC on Saturday 28 November: still Friday evening in New York, Saturday noon in Tokyo.
    monkeypatch.setattr(flow, "now", lambda: utc(2026, 11, 28, 3, 0))
    c = make_clinic(weekdays=range(7), start=time(8), end=time(23))
    tokyo = scheduling.add_location(c.session, name="Tokyo", timezone="Asia/Tokyo")
    doctor = ProviderFactory()
    scheduling.set_hours(c.session, provider=doctor, location=tokyo, weekday=4, start=time(8), end=time(18))
    scheduling.set_hours(c.session, provider=doctor, location=tokyo, weekday=5, start=time(8), end=time(18))
    ny_friday = at(c, 21)  # 02:00 UTC on Saturday
    tokyo_friday = at(c, 15, location=tokyo, provider=doctor)
    tokyo_saturday = at(c, 10, day=DAY + timedelta(days=1), location=tokyo, provider=doctor)
    login_as("FrontDesk")

    ny = page(client, f"/flow/?location={c.location.id}")
    assert "Friday, November 27, 2026" in ny and ny_friday.patient.display_name in ny
    assert tokyo_saturday.patient.display_name not in ny
    board = page(client, f"/flow/?location={tokyo.id}")
    assert "Saturday, November 28, 2026" in board
    assert tokyo_saturday.patient.display_name in board
    assert tokyo_friday.patient.display_name not in board and ny_friday.patient.display_name not in board


def test_clinician_sees_own_patients_at_their_location_by_default_and_may_show_all(client, login_as, c):
    clinician = make_user("Clinician")
    c.provider.user_id = clinician.id
    c.session.commit()
    other_doctor = ProviderFactory()
    scheduling.set_hours(c.session, provider=other_doctor, location=c.location, weekday=4, start=time(9), end=time(17))
    mine = at(c, 14)
    theirs = at(c, 14, provider=other_doctor)
    login_as("Clinician")

    text = page(client)  # no ?location: the provider's default location
    assert mine.patient.display_name in text and theirs.patient.display_name not in text
    assert "Show all patients" in text
    everything = page(client, f"/flow/?location={c.location.id}&all=1")
    assert mine.patient.display_name in everything and theirs.patient.display_name in everything
    assert "Show only my patients" in everything
    fragment = page(client, f"/flow/board?location={c.location.id}&all=1", **{"X-Background-Refresh": "1"})
    assert theirs.patient.display_name in fragment and "<html" not in fragment


# --------------------------------------------------------------------------- one-click steps

def test_check_in_is_one_click_and_moves_the_patient_to_waiting(client, login_as, c):
    appointment = at(c, 12, 30)
    user = login_as("FrontDesk")
    text = followed(client, step(client, appointment, "arrive"))
    assert "The patient of 12:30 PM is checked in." in text
    assert appointment.patient.display_name in group(text, "waiting")
    assert appointment.patient.display_name not in group(text, "expected")
    assert reload(appointment).status == "arrived"
    change = db.session.scalar(select(AppointmentStatusChange).where(
        AppointmentStatusChange.appointment_id == appointment.id, AppointmentStatusChange.to_status == "arrived"))
    assert change.changed_by_fk == user.id


def test_room_complete_and_check_out_through_the_board(client, login_as, c):
    appointment = at(c, 11, 30)
    scheduling.transition(c.session, appointment, "arrived")
    login_as("FrontDesk")
    assert "is in Room 1" in followed(client, step(client, appointment, "room", room=c.room.id))
    assert reload(appointment).status == "in_room" and reload(appointment).room_id == c.room.id
    followed(client, step(client, appointment, "complete"))
    text = followed(client, step(client, appointment, "checkout"))
    assert "The patient of 11:30 AM is checked out." in text
    assert appointment.patient.display_name in group(text, "done")
    assert reload(appointment).status == "checked_out"


def test_the_script_gets_json_answers(client, login_as, c):
    appointment = at(c, 12, 30)
    login_as("FrontDesk")
    resp = step(client, appointment, "arrive", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.get_json()["ok"] is True
    assert [m.replace("\u202f", " ") for m in resp.get_json()["messages"]] == ["The patient of 12:30 PM is checked in."]
    resp = step(client, appointment, "arrive", headers={"Accept": "application/json"})
    assert resp.status_code == 409 and resp.get_json()["messages"] == [
        "An appointment that is arrived cannot become arrived."]


def test_an_illegal_or_stale_step_is_refused_with_the_reason_and_changes_nothing(client, login_as, c):
    appointment = at(c, 12, 30)
    login_as("FrontDesk")
    text = followed(client, step(client, appointment, "complete"))
    assert "An appointment that is booked cannot become completed." in text
    assert reload(appointment).status == "booked" and reload(appointment).version == appointment.version
    text = followed(client, step(client, appointment, "arrive", version=appointment.version - 1))
    assert "Someone else changed this record" in text
    assert reload(appointment).status == "booked"
    assert client.post(f"/flow/{appointment.id}/delete", data={"csrf_token": client.csrf_token}).status_code == 404


def test_a_taken_room_is_refused_and_not_offered(client, login_as, c):
    first, second = at(c, 11), at(c, 11, 30)
    for a in (first, second):
        scheduling.transition(c.session, a, "arrived")
    login_as("Clinician")
    followed(client, step(client, first, "room", room=c.room.id))
    text = followed(client, step(client, second, "room", room=c.room.id))
    assert "The room is" in text and "occupied" in text
    assert reload(second).status == "arrived" and reload(second).room_id is None
    assert "No free room." in group(text, "waiting")


def test_the_desk_collects_the_copay_of_an_arrived_patient_from_the_board(client, login_as, c):
    at(c, 12, 30)  # expected, not arrived: no copay yet
    arrived = at(c, 11, 30)
    scheduling.transition(c.session, arrived, "arrived")
    login_as("FrontDesk")
    html = client.get(f"/flow/?location={c.location.id}").get_data(as_text=True)
    link = f"/copays/collect/{arrived.patient_id}?appointment={arrived.id}"
    assert link.replace("&", "&amp;") in html or link in html
    assert html.count("cd-flow-copay") == 1  # the expected patient has not arrived: no copay yet
    assert client.get(link).status_code == 200


def test_clinician_rooms_and_completes(client, login_as, c):
    appointment = at(c, 11, 30)
    scheduling.transition(c.session, appointment, "arrived")
    login_as("Clinician")
    assert step(client, appointment, "room", room=c.room.id).status_code == 302
    assert step(client, appointment, "complete").status_code == 302
    assert reload(appointment).status == "completed"


# --------------------------------------------------------------------------- who may

def test_billing_may_not_open_the_board_or_change_anything(client, login_as, c):
    appointment = at(c, 12, 30)
    login_as("Billing")
    assert client.get("/flow/").status_code == 403
    assert client.get(f"/flow/board?location={c.location.id}").status_code == 403
    assert step(client, appointment, "arrive").status_code == 403
    assert reload(appointment).status == "booked"


@pytest.mark.changes_roles
@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_without_can_update_status_the_board_is_read_only(app, client, login_as, c, role):
    sm = app.appbuilder.sm
    sm.del_permission_role(sm.find_role(role), sm.find_permission_view_menu("can_update_status", "Appointment"))
    db.session.commit()
    appointment = at(c, 12, 30)
    login_as(role)
    text = page(client)
    assert appointment.patient.display_name in text and "Check in" not in text
    assert step(client, appointment, "arrive").status_code == 403
    assert reload(appointment).status == "booked"


# --------------------------------------------------------------------------- audit and idle logoff

def test_opening_the_page_writes_one_audit_row_and_background_refreshes_none(client, login_as, c):
    appointment = at(c, 12, 30)
    user = login_as("FrontDesk")
    page(client)
    (event,) = board_audits()
    details = json.loads(event.details)
    assert event.action == "view" and event.user_id == user.id
    assert details["location"] == c.location.id and details["date"] == "2026-11-27"
    assert details["patients"] == [appointment.patient_id]
    for _ in range(3):
        page(client, f"/flow/board?location={c.location.id}", **{"X-Background-Refresh": "1"})
    assert len(board_audits()) == 1
    page(client)
    assert len(board_audits()) == 2


@pytest.fixture
def clock(monkeypatch):
    """auth.now() under the test's control (the idle logoff's clock)."""
    state = {"now": auth_service.now()}
    monkeypatch.setattr(auth_service, "now", lambda: state["now"])

    def advance(minutes):
        state["now"] += timedelta(minutes=minutes)

    return advance


def test_background_refresh_does_not_keep_an_idle_session_alive(app, client, login_as, c, clock):
    login_as("FrontDesk")
    assert app.config["SESSION_IDLE_MINUTES"] == 15
    page(client)  # real activity at minute 0
    board = f"/flow/board?location={c.location.id}"
    for _ in range(2):
        clock(7)  # minutes 7 and 14: refreshed in the background, still signed in
        assert client.get(board, headers={"X-Background-Refresh": "1"}).status_code == 200
    clock(2)  # minute 16 since the last real activity
    resp = client.get(board, headers={"X-Background-Refresh": "1"})
    assert resp.status_code == 401 and "without activity" in resp.get_json()["message"]
    assert "/login/" in client.get("/flow/").headers["Location"]


def test_a_page_visit_does_keep_the_session_alive(app, client, login_as, c, clock):
    login_as("FrontDesk")
    for _ in range(3):
        clock(10)
        page(client)  # a real request every 10 minutes
    assert client.get(f"/flow/board?location={c.location.id}",
                      headers={"X-Background-Refresh": "1"}).status_code == 200


# --------------------------------------------------------------------------- home cards

def test_home_cards_count_today_and_show_the_clinicians_next_patient(client, login_as, c, auth):
    clinician = make_user("Clinician")
    c.provider.user_id = clinician.id
    c.session.commit()
    seen = at(c, 9)
    scheduling.transition(c.session, seen, "arrived")
    scheduling.room_patient(c.session, seen, c.room)
    scheduling.transition(c.session, seen, "completed")
    waiting = at(c, 11)
    scheduling.transition(c.session, waiting, "arrived")
    at(c, 13, 30)
    cancelled = at(c, 15)
    scheduling.cancel(c.session, cancelled, reason="Patient called")
    at(c, 9, day=DAY + timedelta(days=3))  # not today

    login_as("FrontDesk")
    text = page(client, "/")
    card = re.search(r'id="card-flow_today".*?</section>', text, re.S).group(0)
    assert ">3<" in card and "appointments today at Main street: 2 arrived, 1 waiting now" in card
    assert "/flow/?location=" in card
    assert 'id="card-flow_my_day"' not in text  # not linked to a provider

    auth.logout()
    login_as("Clinician")
    text = page(client, "/")
    card = re.search(r'id="card-flow_my_day".*?</section>', text, re.S).group(0)
    assert "Next patient at 11:00 AM; 2 still to see today." in card
    assert waiting.patient.family_name not in card


def test_billing_sees_no_flow_cards(client, login_as, c):
    at(c, 12, 30)
    login_as("Billing")
    text = page(client, "/")
    assert 'id="card-flow_today"' not in text and 'id="card-flow_my_day"' not in text
