"""Referral letters: to the specialist in the clinic's language (patient summary, insurance, diagnoses with
descriptions, documents enclosed), to the patient in the patient's language (who, where, what to bring);
real PDFs whose text is extracted; printing is audited."""
import json
from datetime import date

import pytest

from app.documents import letters
from app.extensions import db
from app.models import AuditEvent
from app.models.billing import Payer
from app.services import coverage as coverage_service
from app.services import referrals as referral_service
from tests.document_files import upload_folder  # noqa: F401  (fixture: files go to tmp)
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_letters import normalised, pdf_words
from tests.integration.test_referrals import add_document, add_specialist, outgoing

TODAY = date.today()


@pytest.fixture
def r(icd10_sets):
    class Setup:
        pass

    s = Setup()
    s.patient = PatientFactory(preferred_language="es", given_name="Lucía", family_name="Gómez",
                               phone_mobile="+16172531002")
    payer = Payer(name="Acme Health", payer_code="ACME1")
    db.session.add(payer)
    db.session.commit()
    coverage_service.add_coverage(db.session, s.patient, payer=payer, priority=1, member_id="XYZ123456",
                                  group_number="GRP7", plan_name="Acme Gold", effective_date=date(2025, 1, 1))
    s.provider = ProviderFactory(given_name="Ana", family_name="Ruiz", npi="1245319599")
    s.specialist = add_specialist()
    s.document = add_document(s.patient, title="ECG tracing")
    s.user = make_user("FrontDesk")
    s.referral = outgoing(s, urgency="urgent")
    return s


def test_the_specialist_letter_is_in_the_clinic_language_with_the_patient_summary(r, tmp_path):
    letter = referral_service.render_letter(db.session, r.referral, "specialist", today=TODAY)
    assert letter.language == "en"  # the clinic's default, whatever the patient's language
    text = pdf_words(letter.pdf, tmp_path)
    for phrase in ("Referral", "URGENT", "Lucía Gómez", r.patient.mrn, "(617) 253-1002", "Acme Health",
                   "XYZ123456", "GRP7", "E11.9", "Type 2 diabetes mellitus without complications", "I10",
                   "Essential (primary) hypertension", "ECG tracing", "Chest pain on exertion", "Dr. Paul Heart",
                   "Fax: (617) 253-1001", "Ruiz"):
        assert phrase in text, phrase


@pytest.mark.parametrize("lang, expected", [
    ("es", ["Su remisión a un especialista", "tarjeta del seguro médico", "documento de identidad con foto",
            "lista de todos los medicamentos", "esta carta de remisión", "Es urgente"]),
    # (pdftotext splits the lam-alef ligature: the phrases avoid it)
    ("ar", ["طبيب مختص", "بطاقة التأمين الصحي", "بطاقة هوية تحمل صورتك", "يرجى إحضار ما يلي", "هذا أمر عاجل"]),
])
def test_the_patient_letter_is_in_the_patients_language(r, tmp_path, lang, expected):
    r.patient.preferred_language = lang
    db.session.commit()
    letter = referral_service.render_letter(db.session, r.referral, "patient", today=TODAY)
    assert letter.language == lang and not letter.fell_back
    text = pdf_words(letter.pdf, tmp_path)
    for phrase in expected:
        assert normalised(phrase) in text, (lang, phrase)
    for phrase in ("Dr. Paul Heart", "5 Oak St", "(617) 253-1000", r.patient.mrn):
        assert phrase in text, phrase
    assert "Essential" not in text and "E11.9" not in text  # no diagnoses in the patient's letter


def test_every_language_has_both_referral_letters_and_they_render(app):
    assert letters.missing_templates(("referral_specialist", "referral_patient"),
                                     ["en", "es", "fr", "pt", "vi", "zh", "ar", "ru"]) == []
    assert letters.check_templates(("referral_specialist", "referral_patient")) == []


def test_printing_from_the_screen_is_audited_and_a_draft_cancelled_cannot_print(r, client, login_as, tmp_path):
    login_as("FrontDesk")
    resp = client.get(f"/referrals/{r.referral.id}/letter/patient")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "Su remisión" in pdf_words(resp.data, tmp_path)
    event = db.session.query(AuditEvent).filter_by(action="print", patient_id=r.patient.id).one()
    assert (event.object_type, event.object_id) == ("Letter", "referral_patient")
    assert json.loads(event.details)["referral_id"] == r.referral.id
    assert client.get(f"/referrals/{r.referral.id}/letter/specialist").status_code == 200
    referral_service.transition(db.session, r.referral, "cancelled", actor=r.user, note="Declined",
                                expected_version=r.referral.version)
    resp = client.get(f"/referrals/{r.referral.id}/letter/patient", follow_redirects=True)
    assert "This referral was cancelled." in resp.get_data(as_text=True)
    assert db.session.query(AuditEvent).filter_by(action="print", patient_id=r.patient.id).count() == 2
