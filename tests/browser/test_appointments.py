"""Booking in a real Chromium: the patient picker searches by POST (never the URL), the chosen
patient goes into the form, the booking lands on the appointment's page; English and Arabic."""
import os

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Appointment
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.scheduling_setup import make_clinic

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("A2_SCREENSHOTS")  # a directory: save screenshots there for a look


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"a2-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_book_with_the_patient_picker_then_see_the_appointment(page, lang):
    c = make_clinic(weekdays=range(7))
    c.room.name = "Room 1"
    user = make_user("OfficeManager")
    user.locale = lang
    db.session.commit()
    log_in(page, user.username)
    page.goto(f"/appointments/book?provider={c.provider.id}&location={c.location.id}&type={c.type.id}"
              f"&start=2027-01-11T09:00")
    page.fill("#patient-picker-q", c.patient.family_name)
    row = page.locator("#patient-picker-results tbody tr")
    row.first.wait_for()
    assert c.patient.mrn in row.first.inner_text()
    row.first.locator("button").click()
    assert c.patient.display_name in page.locator("#chosen-patient").inner_text()
    page.fill("#reason", "Knee pain")
    page.select_option("#room", str(c.room.id))
    shot(page, f"book-{lang}")
    with page.expect_navigation():
        page.locator("#booking-form button[type=submit]").click()
    appt = db.session.scalars(select(Appointment)).one()
    assert page.url.endswith(f"/appointments/{appt.id}") and appt.patient_id == c.patient.id
    assert appt.reason == "Knee pain" and appt.room_id == c.room.id
    assert c.patient.display_name in page.locator("#appointment-patient").inner_text()
    shot(page, f"detail-{lang}")
    # The search query went in a POST body, never in a URL; nothing left the machine.
    assert not any(c.patient.family_name in url for url in page.requests.urls())
    assert any(method == "POST" and url.endswith("/patients/search") and c.patient.family_name in (body or "")
               for method, url, body in page.requests)
    assert page.requests.foreign() == []


def test_a_clash_shows_the_overbook_field_to_the_office_manager_and_books_over_it(page):
    from datetime import datetime

    from tests.factories import PatientFactory
    from tests.scheduling_setup import book

    c = make_clinic(weekdays=range(7))
    first = book(c, datetime(2027, 1, 11, 9, 0), patient=PatientFactory())
    log_in(page, make_user("OfficeManager").username)
    page.goto(f"/appointments/book?patient={c.patient.id}&provider={c.provider.id}&location={c.location.id}"
              f"&type={c.type.id}&start=2027-01-11T09:00")
    with page.expect_navigation():
        page.locator("#booking-form button[type=submit]").click()
    assert "The provider is already booked at" in page.locator("#conflicts").inner_text()
    shot(page, "conflict-en")
    page.fill("#overbook_reason", "Acute pain")
    with page.expect_navigation():
        page.locator("#booking-form button[type=submit]").click()
    appt = db.session.scalars(select(Appointment).where(Appointment.id != first.id)).one()
    assert appt.overbook and "Acute pain" in page.locator("#appointment-overbook").inner_text()
    page.goto(f"/appointments/slots?provider={c.provider.id}&type={c.type.id}&start_date=2027-01-11"
              f"&end_date=2027-01-12")
    assert page.locator(".cd-slot").count() > 0
    shot(page, "slots-en")
