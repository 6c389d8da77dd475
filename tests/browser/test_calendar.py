"""The calendar in a real Chromium: drag an appointment to a free time, click a free time to book,
see a refused move put back with the server's message. Nothing is asked of another host."""
from datetime import datetime

import pytest
from werkzeug.routing import BuildError

from app.extensions import db
from app.models import Appointment
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic

pytestmark = pytest.mark.browser

DAY = "2027-03-15"  # a Monday


@pytest.fixture
def clinic():
    c = make_clinic()
    c.appointment = book(c, datetime(2027, 3, 15, 9))
    make_user("FrontDesk")
    return c


def open_day(page, c):
    log_in(page, "frontdesk1")
    page.goto(f"/schedule/day?date={DAY}&provider={c.provider.id}")
    page.wait_for_selector(f".cd-appt[data-id='{c.appointment.id}']")


def test_dragging_an_appointment_to_a_free_time_moves_it(page, clinic):
    open_day(page, clinic)
    block = page.locator(f".cd-appt[data-id='{clinic.appointment.id}']")
    with page.expect_navigation():  # the page reloads once the server has moved it
        block.drag_to(page.locator(f".cd-slot[data-start='{DAY}T11:00']"))
    page.wait_for_selector(f".cd-appt[data-id='{clinic.appointment.id}']")
    shown = page.locator(f".cd-appt[data-id='{clinic.appointment.id}'] .cd-appt-time").inner_text()
    assert shown.replace("\u202f", " ").startswith("11:00 AM")
    db.session.expire_all()
    assert db.session.get(Appointment, clinic.appointment.id).start_local == datetime(2027, 3, 15, 11)
    assert page.requests.foreign() == []


def test_a_refused_move_shows_the_reason_and_puts_the_block_back(page, clinic):
    book(clinic, datetime(2027, 3, 15, 10), patient=PatientFactory())
    open_day(page, clinic)
    block = page.locator(f".cd-appt[data-id='{clinic.appointment.id}']")
    # force: the other appointment covers the cell; while dragging, blocks let the drop through
    block.drag_to(page.locator(f".cd-slot[data-start='{DAY}T10:00']"), force=True)
    alert = page.locator("#cd-cal-alert[role=alert]")
    alert.wait_for(state="visible")
    assert "The provider is already booked at" in alert.inner_text()
    page.wait_for_function(f"!document.querySelector(\".cd-appt[data-id='{clinic.appointment.id}']\")"
                           ".classList.contains('cd-busy')")
    # Back at 09:00 (the alert above the grid has pushed the whole grid down).
    assert block.bounding_box()["y"] == pytest.approx(
        page.locator(f".cd-slot[data-start='{DAY}T09:00']").bounding_box()["y"], abs=2)
    db.session.expire_all()
    assert db.session.get(Appointment, clinic.appointment.id).start_local == datetime(2027, 3, 15, 9)


def test_clicking_a_free_time_opens_the_booking_form_for_it(app, page, clinic):
    with app.test_request_context():
        try:
            from flask import url_for
            url_for("AppointmentView.book")
        except BuildError:
            pytest.skip("AppointmentView.book is not registered yet")
    open_day(page, clinic)
    with page.expect_navigation():
        page.locator(f"a.cd-slot[data-start='{DAY}T14:30']").click()
    assert page.url.endswith(f"/appointments/book?provider={clinic.provider.id}&location={clinic.location.id}"
                             f"&start={DAY}T14:30")
    assert page.locator("form").count() > 0
    assert page.requests.foreign() == []
