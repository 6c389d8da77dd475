"""Front-desk smoke tests in a real Chromium: find a patient, register one, fix a mistake.

Every test also checks that the page asked nothing of any host but the live server.
"""
import json
import re
from datetime import date

import pytest
from playwright.sync_api import Error as PlaywrightError

from app.extensions import db
from app.models import Patient
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.factories import PatientFactory

pytestmark = pytest.mark.browser

RESULT_ROWS = "#patient-search-results tbody tr"


@pytest.fixture
def front_desk():
    return make_user("FrontDesk")


@pytest.fixture
def patients():
    """A small registry with accents, a Vietnamese name and near-misses."""
    return {
        "jose": PatientFactory(family_name="García", given_name="José", birth_date=date(1975, 6, 14), sex="male"),
        "an": PatientFactory(family_name="Nguyễn", given_name="Văn An", birth_date=date(1990, 1, 2), sex="male",
                             preferred_language="vi"),
        "maria": PatientFactory(family_name="Garcia", given_name="María", birth_date=date(1982, 9, 30)),
        "joanna": PatientFactory(family_name="Smith", given_name="Joanna", birth_date=date(2001, 11, 5)),
    }


def typed_date(page, selector, day):
    """Write `day` the way the field's hint shows dates (the hint is 31 December 1987)."""
    example = page.get_attribute(selector, "placeholder")
    assert example and "1987" in example, example
    return example.replace("1987", f"{day.year:04d}").replace("12", f"{day.month:02d}").replace("31", f"{day.day:02d}")


def search_requests(page):
    return [(m, url, body) for m, url, body in page.requests if url.endswith("/patients/search")]


def test_type_ahead_finds_jose_without_accents_in_any_order_and_enter_opens_chart(page, front_desk, patients):
    jose = patients["jose"]
    log_in(page, front_desk.username)
    page.goto("/")
    box = page.locator("#patient-search-q")
    box.press_sequentially("garcia jo", delay=40)
    page.wait_for_selector(f"{RESULT_ROWS}:has-text('{jose.mrn}')")
    page.wait_for_load_state("networkidle")  # the last keystroke's search has answered
    rows = page.locator(RESULT_ROWS)
    assert rows.count() == 1, rows.all_inner_texts()
    assert "García, José" in rows.first.inner_text()

    searches = search_requests(page)
    assert searches, page.requests.urls()
    for method, url, body in searches:
        assert method == "POST"
        assert "garcia" not in url.lower() and "?" not in url
    assert json.loads(searches[-1][2]) == {"q": "garcia jo"}
    # The query is in no URL at all: not in a GET, not in a redirect, not in the history.
    assert not [u for u in page.requests.urls() if "garcia" in u.lower()]

    with page.expect_navigation():
        box.press("Enter")
    chart = page.locator("#patient-chart")
    chart.wait_for()
    assert jose.mrn in chart.inner_text()
    assert "García, José" in chart.locator("h2").inner_text()
    assert page.url.endswith(f"/patients/{jose.id}/chart")
    assert page.requests.foreign() == []


def test_vietnamese_name_found_without_diacritics_and_a_click_opens_chart(page, front_desk, patients):
    an = patients["an"]
    log_in(page, front_desk.username)
    page.goto("/")
    page.locator("#patient-search-q").press_sequentially("nguyen van", delay=40)
    row = page.locator(f"{RESULT_ROWS}:has-text('{an.mrn}')")
    row.wait_for()
    assert "Nguyễn, Văn An" in row.inner_text()
    with page.expect_navigation():
        row.locator("td").nth(1).click()  # the name cell: the whole row is the target
    chart = page.locator("#patient-chart")
    assert an.mrn in chart.inner_text()
    assert "Nguyễn, Văn An" in chart.locator("h2").inner_text()
    assert page.requests.foreign() == []


def test_registering_a_patient_through_the_form_lands_on_the_chart(page, front_desk):
    log_in(page, front_desk.username)
    page.goto("/patients/register")
    page.fill("#family_name", "Okonkwo")
    page.fill("#given_name", "Chidi")
    page.fill("#birth_date", typed_date(page, "#birth_date", date(1990, 5, 17)))
    page.select_option("#sex", "male")
    with page.expect_navigation():
        page.click("button[type=submit]")

    chart = page.locator("#patient-chart")
    chart.wait_for()
    success = page.locator(".alert-success")
    assert "registered with MRN" in success.inner_text()
    db.session.expire_all()
    patient = db.session.query(Patient).filter_by(family_name="Okonkwo").one()
    assert patient.given_name == "Chidi" and patient.birth_date == date(1990, 5, 17) and patient.sex == "male"
    assert patient.mrn in success.inner_text()
    assert patient.mrn in chart.inner_text()
    assert "Okonkwo, Chidi" in chart.locator("h2").inner_text()
    assert "May 17, 1990" in chart.inner_text()
    assert page.url.endswith(f"/patients/{patient.id}/chart")
    assert page.requests.foreign() == []


def test_a_future_birth_date_is_refused_and_what_was_typed_is_kept(page, front_desk):
    log_in(page, front_desk.username)
    page.goto("/patients/register")
    future = date(date.today().year + 1, 12, 31)
    typed = typed_date(page, "#birth_date", future)
    page.fill("#family_name", "Ferreira")
    page.fill("#given_name", "Inês")
    page.fill("#birth_date", typed)
    page.select_option("#sex", "female")
    page.fill("#phone_mobile", "617 555 0147")
    with page.expect_navigation():
        page.click("button[type=submit]")

    group = page.locator(".form-group.has-error", has=page.locator("#birth_date"))
    assert "cannot be in the future" in group.inner_text()
    assert page.locator(".alert-danger").count() >= 1
    assert page.input_value("#family_name") == "Ferreira"
    assert page.input_value("#given_name") == "Inês"
    assert page.input_value("#birth_date") == typed
    assert page.input_value("#sex") == "female"
    assert page.input_value("#phone_mobile") == "617 555 0147"
    assert re.search(r"/patients/register$", page.url)
    db.session.expire_all()
    assert db.session.query(Patient).count() == 0
    assert page.requests.foreign() == []


def test_the_request_log_sees_and_blocks_a_request_to_another_host(page):
    """The harness itself: a request to another host is recorded and aborted, so the checks
    above mean something. (A top-level navigation, because the app's CSP already stops
    in-page fetches to other hosts before they reach the network.)"""
    page.goto("/login/")
    assert any(u.endswith("/static/css/clinicdesk.css") for u in page.requests.urls())
    with pytest.raises(PlaywrightError):
        page.goto("https://cdn.example.org/lib.js")
    assert page.requests.foreign() == ["https://cdn.example.org/lib.js"]
