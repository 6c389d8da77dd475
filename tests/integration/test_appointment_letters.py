"""Appointment letters (confirmation, reminder, no-show): PDF in the patient's language, no visit reason."""
from datetime import datetime, time

import pytest

from app.extensions import db
from app.models import AuditEvent
from app.services import scheduling
from tests.integration.test_letters import normalised, pdf_words
from tests.scheduling_setup import book, make_clinic, utc

NOW = utc(2027, 3, 1, 12)
VISIT = datetime(2027, 3, 15, 10, 0)
REASON = "Depression follow-up"


@pytest.fixture
def clinic(app):
    return make_clinic(weekdays=range(7), start=time(7), end=time(20))


def flat(data, tmp_path):
    """The PDF's words on one line (a phrase may wrap)."""
    return " ".join(pdf_words(data, tmp_path).split())


def letter_for(client, kind, appointment):
    return client.get(f"/letters/appointment/{kind}/{appointment.id}")


@pytest.mark.parametrize("lang, expected", [
    ("es", ["Confirmación de su cita", "lunes, 15 de marzo de 2027", "10:00", "Main street", "(413) 555-0100",
            "identificación con foto"]),
    ("ar", ["تأكيد موعدك", "يسعدنا تأكيد موعدك", "مارس", "(413) 555-0100", "Main street"]),
    ("zh", ["预约确认", "2027年3月15日星期一", "10:00", "请提前15分钟到达", "(413) 555-0100"]),
])
def test_confirmation_letter_is_in_the_patients_language_without_the_reason(clinic, client, login_as, tmp_path,
                                                                             lang, expected):
    clinic.patient.preferred_language = lang
    db.session.commit()
    appointment = book(clinic, VISIT, reason=REASON, now=NOW)
    login_as("FrontDesk")
    resp = letter_for(client, "confirmation", appointment)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Content-Disposition"].startswith("inline")
    text = flat(resp.data, tmp_path)
    for phrase in expected:
        assert normalised(phrase) in text, (lang, phrase)
    assert clinic.provider.family_name in text and clinic.patient.mrn in text
    assert "Depression" not in text
    event = db.session.query(AuditEvent).filter_by(action="print", patient_id=clinic.patient.id).one()
    assert (event.object_type, event.object_id) == ("Letter", "appointment_confirmation")


def test_reminder_letter_for_a_telehealth_visit_prints_the_join_link(clinic, client, login_as, tmp_path):
    video = scheduling.add_type(db.session, name="Video visit", default_duration=20, telehealth=True)
    link = "https://video.example.org/join/8f3a2c"
    appointment = book(clinic, VISIT, type=video, telehealth_url=link, reason=REASON, now=NOW)
    login_as("OfficeManager")
    text = flat(letter_for(client, "reminder", appointment).data, tmp_path)
    assert "Recordatorio de cita" in text and link in text and "Consulta por video" in text
    assert "Depression" not in text


def test_no_show_letter_only_for_a_no_show(clinic, client, login_as, tmp_path):
    appointment = book(clinic, VISIT, reason=REASON, now=NOW)
    login_as("FrontDesk")
    resp = letter_for(client, "no_show", appointment)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "A no-show letter can only be printed for an appointment marked as a no-show." in page
    assert db.session.query(AuditEvent).filter_by(action="print", patient_id=clinic.patient.id).count() == 0
    scheduling.mark_no_show(db.session, appointment)
    resp = letter_for(client, "no_show", appointment)
    assert resp.status_code == 200
    text = flat(resp.data, tmp_path)
    assert "No pudimos atenderle en su cita" in text and "para programar una nueva cita" in text
    assert "Depression" not in text
    # ... and a missed appointment gets no confirmation.
    resp = letter_for(client, "confirmation", appointment)
    assert resp.status_code == 302


def test_who_may_print_and_unknown_kinds(clinic, client, login_as, auth):
    appointment = book(clinic, VISIT, now=NOW)
    login_as("Billing")
    assert letter_for(client, "confirmation", appointment).status_code == 403
    auth.logout()
    login_as("FrontDesk")
    assert letter_for(client, "referral", appointment).status_code == 404
    assert client.get("/letters/appointment/confirmation/999999").status_code == 404
