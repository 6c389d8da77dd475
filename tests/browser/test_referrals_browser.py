"""Referrals in a real Chromium: the front desk refers a patient to a specialist from the chart, sends the
referral, prints the patient's letter (a PDF in a new tab), and finds it on the chart's Referrals panel;
the overdue list shows a referral sent 15 days ago and still not scheduled."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Referral
from app.services import referrals as referral_service
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_letters import pdf_words

pytestmark = pytest.mark.browser


@pytest.fixture
def r(icd10_sets):
    class Setup:
        pass

    s = Setup()
    s.patient = PatientFactory(preferred_language="es")
    s.provider = ProviderFactory()
    s.specialist = referral_service.save_specialist(
        db.session, name="Dr. Paul Heart", specialty="Cardiology", organisation="Springfield Cardiology",
        npi="1234567893", phone="617-253-1000", fax="617-253-1001", address="5 Oak St\nSpringfield, MA 01103",
        languages_spoken=["en", "es"])
    s.user = make_user("FrontDesk")
    return s


def test_front_desk_refers_sends_prints_the_letter_and_sees_it_on_the_chart(page, r, tmp_path):
    log_in(page, r.user.username)
    page.goto(f"/patients/{r.patient.id}/chart")
    with page.expect_navigation():
        page.click("#chart-referrals #new-referral")
    page.select_option("#referring_provider", str(r.provider.id))
    page.select_option("#specialist", str(r.specialist.id))
    page.select_option("#urgency", "urgent")
    page.fill("#reason", "Chest pain on exertion")
    page.fill("#diagnoses", "I10")
    with page.expect_navigation():
        page.click("#referral-form button[type=submit]")
    assert "The referral was saved." in page.inner_text(".alert-success")
    referral = db.session.scalars(select(Referral)).one()
    assert (referral.direction, referral.status, referral.specialist_id, referral.urgency) == (
        "outgoing", "draft", r.specialist.id, "urgent")
    assert referral.due_date == referral.referral_date + timedelta(days=3)
    assert "Dr. Paul Heart" in page.inner_text("#referral-specialist")
    assert "Essential (primary) hypertension" in page.inner_text("#referral-diagnoses")

    # Send it.
    with page.expect_navigation():
        page.locator("#status-form").get_by_role("button", name="Mark as sent").click()
    assert page.inner_text("#referral-status") == "sent"
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    assert referral.status == "sent" and referral.sent_at is not None

    # The letter to the patient opens in a new tab as a PDF, in the patient's language (what the server
    # answered is kept: the tab itself shows Chromium's PDF viewer).
    answers = []

    def keep(route):
        answer = route.fetch()
        answers.append((answer.status, answer.headers.get("content-type"), answer.body()))
        route.fulfill(response=answer)

    page.context.route(f"**/referrals/{referral.id}/letter/patient", keep)
    with page.context.expect_page() as opened:
        page.click("#letter-patient")
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.endswith(f"/referrals/{referral.id}/letter/patient")
    ((status, mimetype, body),) = answers
    assert (status, mimetype) == (200, "application/pdf") and body.startswith(b"%PDF")
    words = " ".join(pdf_words(body, tmp_path).split())
    assert r.patient.given_name in words and "Dr. Paul Heart" in words
    tab.close()
    db.session.expire_all()
    printed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                          AuditEvent.object_type == "Letter")).all()
    assert [(e.patient_id, e.object_id) for e in printed] == [(r.patient.id, "referral_patient")]

    # The chart's Referrals panel lists it, open and sent.
    page.goto(f"/patients/{r.patient.id}/chart")
    row = page.locator("#chart-referrals-open tbody tr")
    assert row.count() == 1
    cells = [" ".join(t.split()) for t in row.locator("td").all_inner_texts()]
    assert cells[1:5] == ["outgoing", "Dr. Paul Heart · Cardiology", "urgent", "sent"]
    assert page.requests.foreign() == []


def test_the_overdue_list_shows_a_referral_sent_15_days_ago(page, r):
    today = date.today()
    late = referral_service.save_outgoing(
        db.session, patient=r.patient, referring_provider=r.provider, specialist=r.specialist,
        reason="Palpitations", urgency="routine", referral_date=today - timedelta(days=15), actor=r.user)
    referral_service.transition(db.session, late, "sent", actor=r.user, expected_version=late.version,
                                now=datetime.now(timezone.utc) - timedelta(days=15))
    other = PatientFactory()
    fresh = referral_service.save_outgoing(
        db.session, patient=other, referring_provider=r.provider, specialist=r.specialist, reason="Rash",
        urgency="routine", actor=r.user)
    referral_service.transition(db.session, fresh, "sent", actor=r.user, expected_version=fresh.version)
    log_in(page, r.user.username)
    page.goto("/referrals/overdue")
    rows = page.locator("#referral-list tbody tr")
    assert rows.count() == 1
    text = " ".join(rows.first.inner_text().split())
    assert r.patient.display_name in text and text.startswith("overdue") and " sent " in text
    assert other.display_name not in page.inner_text("#referral-list")
    assert late.due_date == today - timedelta(days=1)
    assert page.requests.foreign() == []
