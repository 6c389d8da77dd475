"""Referrals: the specialist directory, outgoing and incoming referrals, the status workflow, replies,
the overdue list (screen, home card, report) and bad input refused with a clear message, nothing changed."""
import html
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Referral, ReferralReply, ReferralStatusChange, Specialist
from app.models.billing import Payer
from app.services import documents as documents_service
from app.services import referrals as referral_service
from app.services.errors import StaleRecordError, ValidationFailed
from tests.conftest import make_user
from tests.document_files import pdf_bytes, upload_folder  # noqa: F401  (fixture: files go to tmp)
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import book, make_clinic

TODAY = date.today()
VALID_NPI, BAD_NPI = "1234567893", "1234567890"


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def messages(exc):
    return [str(m) for _, m in exc.value.problems]


def count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def add_specialist(**changes):
    values = dict(name="Dr. Paul Heart", specialty="Cardiology", organisation="Springfield Cardiology",
                  npi=VALID_NPI, phone="617-253-1000", fax="617-253-1001", email="heart@example.org",
                  address="5 Oak St\nSpringfield, MA 01103", languages_spoken=["en", "Spanish"])
    values.update(changes)
    return referral_service.save_specialist(db.session, **values)


def add_document(patient, title="ECG tracing"):
    return documents_service.store(db.session, patient=patient, stream=io.BytesIO(pdf_bytes(title)),
                                   filename="ecg.pdf", kind="referral", title=title, document_date=TODAY)


@pytest.fixture
def r(icd10_sets):
    """A patient with a document, a provider, a specialist."""
    class Setup:
        pass

    s = Setup()
    s.patient = PatientFactory(preferred_language="es")
    s.provider = ProviderFactory()
    s.specialist = add_specialist()
    s.document = add_document(s.patient)
    s.user = make_user("FrontDesk")
    return s


def outgoing(r, **changes):
    args = dict(patient=r.patient, referring_provider=r.provider, specialist=r.specialist,
                reason="Chest pain on exertion", urgency="routine", diagnoses=["E11.9", "i10"],
                document_ids=[r.document.id], actor=r.user)
    args.update(changes)
    return referral_service.save_outgoing(db.session, **args)


# ------------------------------------------------------------------------------------------ directory

def test_a_specialist_is_stored_with_normalised_phones_languages_and_payers(app):
    payer = Payer(name="Acme Health", payer_code="ACME1")
    db.session.add(payer)
    db.session.commit()
    s = add_specialist(payer_ids=[payer.id])
    assert (s.phone, s.fax, s.languages) == ("+16172531000", "+16172531001", "en,es")
    assert [p.name for p in s.payers] == ["Acme Health"]
    assert s.address_lines == ["5 Oak St", "Springfield, MA 01103"]


def test_an_invalid_npi_phone_or_email_is_refused_and_nothing_is_written(app):
    with pytest.raises(ValidationFailed) as exc:
        add_specialist(npi=BAD_NPI, phone="12", email="not-an-address", name=" ", languages_spoken=["klingonish"])
    problems = dict((f, str(m)) for f, m in exc.value.problems)
    assert "not a valid NPI" in problems["npi"] and BAD_NPI in problems["npi"]
    assert "phone" in problems and "email" in problems and "name" in problems and "languages" in problems
    assert count(Specialist) == 0


def test_the_same_npi_twice_is_refused(app):
    add_specialist()
    with pytest.raises(ValidationFailed) as exc:
        add_specialist(name="Someone else")
    assert "already in the directory" in messages(exc)[0]
    assert count(Specialist) == 1


def test_a_specialist_edited_by_someone_else_meanwhile_is_refused(app):
    s = add_specialist()
    old = s.version
    referral_service.save_specialist(db.session, s, name="Dr. P. Heart", specialty="Cardiology", npi=VALID_NPI,
                                     expected_version=old)
    with pytest.raises(StaleRecordError):
        referral_service.save_specialist(db.session, s, name="Other", specialty="Cardiology", expected_version=old)
    assert db.session.get(Specialist, s.id).name == "Dr. P. Heart"


# ------------------------------------------------------------------------------------------ outgoing

@pytest.mark.parametrize("urgency, days", [("stat", 1), ("urgent", 3), ("routine", 14)])
def test_the_due_date_defaults_by_urgency(r, urgency, days):
    referral = outgoing(r, urgency=urgency)
    assert referral.due_date == referral.referral_date + timedelta(days=days)


def test_an_outgoing_referral_is_a_draft_with_its_diagnoses_documents_and_first_stamp(r):
    referral = outgoing(r)
    assert (referral.direction, referral.status, referral.referral_date) == ("outgoing", "draft", TODAY)
    assert [(d.position, d.code) for d in referral.diagnoses] == [(1, "E119"), (2, "I10")]
    assert [link.document_id for link in referral.documents] == [r.document.id]
    [stamp] = referral.status_changes
    assert (stamp.from_status, stamp.to_status, stamp.changed_by_fk) == (None, "draft", r.user.id)


@pytest.mark.parametrize("change, field, expected", [
    ({"diagnoses": ["Z99.999"]}, "diagnoses", "Unknown ICD-10-CM code Z99.999"),
    ({"diagnoses": ["E11"]}, "diagnoses", "E11 is a category, not a billable code"),
    ({"due_date": TODAY - timedelta(days=1)}, "due_date", "The due date must not be before the referral date."),
    ({"reason": "  "}, "reason", "This field is required."),
    ({"urgency": "whenever"}, "urgency", "Unknown value."),
    ({"specialist": 999999}, "specialist", "Unknown value."),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(r, change, field, expected):
    with pytest.raises(ValidationFailed) as exc:
        outgoing(r, **change)
    assert any(f == field and expected in str(m) for f, m in exc.value.problems), exc.value.problems
    assert count(Referral) == 0 and count(ReferralStatusChange) == 0


def test_a_document_of_another_patient_cannot_be_attached(r):
    other = add_document(PatientFactory(), title="Someone else's scan")
    with pytest.raises(ValidationFailed) as exc:
        outgoing(r, document_ids=[r.document.id, other.id])
    assert messages(exc) == [f"Document {other.id} is not one of this patient's documents."]
    assert "Someone else" not in str(exc.value)  # nothing about the other patient's document is told
    assert count(Referral) == 0


def test_staff_who_may_not_open_results_cannot_send_them(r):
    result = documents_service.store(db.session, patient=r.patient, stream=io.BytesIO(pdf_bytes("Lipids")),
                                     filename="lab.pdf", kind="result", title="Lipid panel", document_date=TODAY)
    with pytest.raises(ValidationFailed) as exc:
        outgoing(r, document_ids=[result.id], clinical=False)
    assert messages(exc) == ["Only staff who may open results can send them."]
    assert count(Referral) == 0
    assert [d.document_id for d in outgoing(r, document_ids=[result.id]).documents] == [result.id]


def test_editing_a_draft_keeps_the_codes_and_bad_edits_change_nothing(r):
    referral = outgoing(r)
    saved = referral_service.save_outgoing(
        db.session, referral, patient=r.patient, referring_provider=r.provider, specialist=r.specialist,
        reason="Chest pain", urgency="urgent", diagnoses=["I10", "E11.9", "J45.909"], document_ids=[],
        expected_version=referral.version, actor=r.user)
    assert [d.code for d in saved.diagnoses] == ["I10", "E119", "J45909"] and saved.documents == []
    assert saved.due_date == TODAY + timedelta(days=3)
    version = saved.version
    other = add_document(PatientFactory())
    with pytest.raises(ValidationFailed):
        referral_service.save_outgoing(
            db.session, saved, patient=r.patient, referring_provider=r.provider, specialist=r.specialist,
            reason="Changed", urgency="routine", diagnoses=["E11"], document_ids=[other.id],
            due_date=TODAY - timedelta(days=3), expected_version=version, actor=r.user)
    db.session.expire_all()
    again = db.session.get(Referral, saved.id)
    assert (again.reason, again.urgency, again.version) == ("Chest pain", "urgent", version)
    assert [d.code for d in again.diagnoses] == ["I10", "E119", "J45909"]


def test_the_workflow_is_stamped_and_illegal_moves_change_nothing(r):
    referral = outgoing(r)
    with pytest.raises(ValidationFailed) as exc:
        referral_service.transition(db.session, referral, "seen", actor=r.user, expected_version=referral.version)
    assert messages(exc) == ["This referral is draft: it cannot become seen."]
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "draft" and count(ReferralStatusChange) == 1
    for status in ("sent", "scheduled", "seen", "report_received", "closed"):
        referral_service.transition(db.session, referral, status, actor=r.user, expected_version=referral.version)
    assert referral.sent_at is not None
    assert [(c.from_status, c.to_status) for c in referral.status_changes] == [
        (None, "draft"), ("draft", "sent"), ("sent", "scheduled"), ("scheduled", "seen"),
        ("seen", "report_received"), ("report_received", "closed")]
    assert all(c.changed_by_fk == r.user.id and c.changed_at is not None for c in referral.status_changes)
    with pytest.raises(ValidationFailed):
        referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version)
    with pytest.raises(ValidationFailed):  # no edit after it was scheduled
        referral_service.save_outgoing(db.session, referral, patient=r.patient, referring_provider=r.provider,
                                       specialist=r.specialist, reason="x", expected_version=referral.version)


def test_cancelling_needs_a_reason_and_a_stale_version_is_refused(r):
    referral = outgoing(r)
    with pytest.raises(ValidationFailed) as exc:
        referral_service.transition(db.session, referral, "cancelled", actor=r.user, expected_version=referral.version)
    assert messages(exc) == ["Say why the referral is cancelled."]
    with pytest.raises(StaleRecordError):
        referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version - 1)
    referral_service.transition(db.session, referral, "cancelled", actor=r.user, note="Patient declined",
                                expected_version=referral.version)
    assert referral.status_changes[-1].note == "Patient declined"


# ------------------------------------------------------------------------------------------ replies

def test_a_reply_with_a_chart_document_moves_the_referral_to_report_received(r):
    referral = outgoing(r)
    referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version)
    report = add_document(r.patient, title="Cardiology consult")
    referral_service.record_reply(db.session, referral, reply_date=TODAY, summary="Stress test normal.",
                                  document_id=report.id, actor=r.user, expected_version=referral.version)
    assert referral.status == "report_received"
    assert [c.to_status for c in referral.status_changes][-3:] == ["scheduled", "seen", "report_received"]
    [reply] = referral.replies
    assert (reply.summary, reply.document_id) == ("Stress test normal.", report.id)


def test_a_bad_reply_is_refused_and_changes_nothing(r):
    referral = outgoing(r)
    with pytest.raises(ValidationFailed) as exc:  # still a draft
        referral_service.record_reply(db.session, referral, reply_date=TODAY, summary="x", actor=r.user,
                                      expected_version=referral.version)
    assert "was sent" in messages(exc)[0]
    referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version)
    other = add_document(PatientFactory())
    with pytest.raises(ValidationFailed) as exc:
        referral_service.record_reply(db.session, referral, reply_date=TODAY - timedelta(days=1), summary="",
                                      document_id=other.id, actor=r.user, expected_version=referral.version)
    fields = {f for f, _ in exc.value.problems}
    assert fields == {"summary", "reply_date", "document"}
    assert count(ReferralReply) == 0
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "sent"


# ------------------------------------------------------------------------------------------ incoming

def test_an_incoming_referral_is_linked_to_the_appointment_it_leads_to(icd10_sets):
    c = make_clinic(weekdays=range(7))
    user = make_user("FrontDesk")
    referral = referral_service.save_incoming(
        db.session, patient=c.patient, referring_practice="Valley Family Practice", referring_provider_name="Dr. Lee",
        reason="Second opinion", urgency="urgent", received_date=TODAY, actor=user)
    assert (referral.status, referral.due_date) == ("received", TODAY + timedelta(days=3))
    with pytest.raises(ValidationFailed) as exc:  # no appointment yet
        referral_service.transition(db.session, referral, "scheduled", actor=user, expected_version=referral.version)
    assert "Link the appointment" in messages(exc)[0]
    start = __import__("datetime").datetime.combine(TODAY + timedelta(days=2), __import__("datetime").time(10))
    others = book(c, start, patient=PatientFactory())
    with pytest.raises(ValidationFailed) as exc:
        referral_service.link_appointment(db.session, referral, others.id, actor=user,
                                          expected_version=referral.version)
    assert messages(exc) == ["This appointment is not the patient's."]
    assert db.session.get(Referral, referral.id).appointment_id is None
    mine = book(c, start + timedelta(hours=1))
    referral_service.link_appointment(db.session, referral, mine.id, actor=user, expected_version=referral.version)
    assert (referral.appointment_id, referral.status) == (mine.id, "scheduled")
    assert referral.status_changes[-1].from_status == "received"


def test_an_incoming_referral_needs_the_referring_practice_and_a_received_date_not_in_the_future(app):
    with pytest.raises(ValidationFailed) as exc:
        referral_service.save_incoming(db.session, patient=PatientFactory(), referring_practice="", reason="x",
                                       received_date=TODAY + timedelta(days=1))
    assert {f for f, _ in exc.value.problems} == {"referring_practice", "referral_date"}
    assert count(Referral) == 0


# ------------------------------------------------------------------------------------------ overdue

def test_the_overdue_list_holds_referrals_due_and_not_scheduled(r):
    late = outgoing(r, referral_date=TODAY - timedelta(days=20))  # routine: due 6 days ago
    referral_service.transition(db.session, late, "sent", actor=r.user, expected_version=late.version)
    scheduled = outgoing(r, referral_date=TODAY - timedelta(days=20))
    for status in ("sent", "scheduled"):
        referral_service.transition(db.session, scheduled, status, actor=r.user, expected_version=scheduled.version)
    outgoing(r)  # due in 14 days
    assert [x.id for x in referral_service.overdue(db.session)] == [late.id]
    assert referral_service.overdue_count(db.session) == 1


# ------------------------------------------------------------------------------------------ screens

def test_the_front_desk_writes_a_referral_through_the_form(r, client, login_as):
    login_as("FrontDesk")
    page = client.get(f"/referrals/new/{r.patient.id}")
    assert page.status_code == 200 and "ECG tracing" in text(page)
    resp = client.post(f"/referrals/new/{r.patient.id}", data={
        "csrf_token": client.csrf_token, "referring_provider": str(r.provider.id), "specialist": str(r.specialist.id),
        "urgency": "urgent", "referral_date": "", "due_date": "", "reason": "Palpitations",
        "diagnoses": "E11.9, I10", "notes": "", "documents": [str(r.document.id)]})
    assert resp.status_code == 302, text(resp)
    referral = db.session.scalars(select(Referral)).one()
    assert referral.reason == "Palpitations" and referral.due_date == TODAY + timedelta(days=3)
    show = client.get(resp.headers["Location"])
    assert "Dr. Paul Heart" in text(show) and "Essential (primary) hypertension" in text(show)
    event = db.session.query(AuditEvent).filter_by(object_type="Referral", patient_id=r.patient.id,
                                                   action="view").order_by(AuditEvent.id.desc()).first()
    assert event is not None and json.loads(event.details)["screen"] == "show"
    chart = text(client.get(f"/patients/{r.patient.id}/chart"))
    assert 'id="chart-referrals"' in chart and "Palpitations" not in chart and "Dr. Paul Heart" in chart


def test_the_form_shows_each_problem_and_writes_nothing(r, client, login_as):
    login_as("FrontDesk")
    other = add_document(PatientFactory())
    resp = client.post(f"/referrals/new/{r.patient.id}", data={
        "csrf_token": client.csrf_token, "referring_provider": str(r.provider.id), "specialist": str(r.specialist.id),
        "urgency": "routine", "referral_date": TODAY.isoformat(), "due_date": (TODAY - timedelta(days=2)).isoformat(),
        "reason": "x", "diagnoses": "E11", "documents": [str(other.id)]})
    page = text(resp)
    assert resp.status_code == 200
    assert "The due date must not be before the referral date." in page
    assert "E11 is a category, not a billable code" in page
    assert f"Document {other.id} is not one of this patient" in page
    assert count(Referral) == 0


def test_an_illegal_move_on_screen_is_refused_with_a_message(r, client, login_as):
    referral = outgoing(r)
    login_as("OfficeManager")
    resp = client.post(f"/referrals/{referral.id}/status", data={
        "csrf_token": client.csrf_token, "to": "closed", "version": str(referral.version)}, follow_redirects=True)
    assert "This referral is draft: it cannot become closed." in text(resp)
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "draft"
    resp = client.post(f"/referrals/{referral.id}/status", data={
        "csrf_token": client.csrf_token, "to": "sent", "version": str(referral.version)}, follow_redirects=True)
    assert "The referral is now sent." in text(resp)


def test_a_reply_uploaded_on_screen_is_filed_to_the_chart(r, client, login_as):
    referral = outgoing(r)
    referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version)
    login_as("FrontDesk")
    resp = client.post(f"/referrals/{referral.id}/reply", data={
        "csrf_token": client.csrf_token, "version": str(referral.version), "reply_date": TODAY.isoformat(),
        "summary": "Seen; beta blocker started.", "document": "",
        "upload": (io.BytesIO(pdf_bytes("Consult")), "consult.pdf", "application/pdf")},
        content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    [reply] = referral.replies
    assert referral.status == "report_received" and reply.document.patient_id == r.patient.id
    assert reply.document.kind == "referral" and "Dr. Paul Heart" in reply.document.title
    chart = text(client.get(f"/patients/{r.patient.id}/chart"))
    assert "Seen; beta blocker started." in chart


def test_lists_log_the_patients_shown_and_the_home_card_counts_overdue(r, client, login_as):
    late = outgoing(r, referral_date=TODAY - timedelta(days=20))
    referral_service.transition(db.session, late, "sent", actor=r.user, expected_version=late.version)
    login_as("FrontDesk")
    page = text(client.get("/referrals/overdue"))
    assert r.patient.mrn in page
    event = db.session.query(AuditEvent).filter_by(object_type="ReferralList", action="view").order_by(
        AuditEvent.id.desc()).first()
    details = json.loads(event.details)
    assert details["screen"] == "overdue" and details["patients"] == [r.patient.id]
    home = text(client.get("/"))
    assert "referrals due and still not scheduled" in home


def test_the_overdue_report_runs_through_the_runner(r, client, login_as):
    late = outgoing(r, referral_date=TODAY - timedelta(days=20))
    referral_service.transition(db.session, late, "sent", actor=r.user, expected_version=late.version)
    login_as("OfficeManager")
    resp = client.post("/reports/referrals_overdue/", data={"csrf_token": client.csrf_token, "format": "csv",
                                                            "as_of": TODAY.isoformat(), "direction": "all"})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert r.patient.mrn in body and "Dr. Paul Heart" in body


def test_billing_reads_referrals_but_writes_none(r, client, login_as):
    referral = outgoing(r)
    login_as("Billing")
    assert client.get(f"/referrals/{referral.id}").status_code == 200
    resp = client.get(f"/referrals/new/{r.patient.id}")
    assert resp.status_code in (302, 403)
    assert client.get("/specialists/add").status_code in (302, 403)


def test_specialist_form_refuses_a_bad_npi(app, client, login_as):
    login_as("OfficeManager")
    resp = client.post("/specialists/add", data={"csrf_token": client.csrf_token, "name": "Dr. A", "specialty": "ENT",
                                                 "npi": BAD_NPI, "active": "y"})
    assert resp.status_code == 200 and "is not a valid NPI" in text(resp)
    assert count(Specialist) == 0
    resp = client.post("/specialists/add", data={"csrf_token": client.csrf_token, "name": "Dr. A", "specialty": "ENT",
                                                 "npi": VALID_NPI, "phone": "617-253-1000", "active": "y"})
    assert resp.status_code == 302
    assert "Dr. A" in text(client.get("/specialists/"))


def test_the_demo_seed_adds_specialists_and_referrals_in_several_states_once(runner, icd10_sets):
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "30", "--seed", "7"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    specialists = db.session.scalars(select(Specialist)).all()
    assert len(specialists) == 4 and all(s.payers for s in specialists)
    statuses = {x.status for x in db.session.scalars(select(Referral))}
    assert {"draft", "sent", "scheduled", "seen", "received"} <= statuses
    assert referral_service.overdue_count(db.session) >= 2
    assert referral_service.seed_demo(db.session) == {}  # the second time: nothing


def test_every_screen_renders(r, client, login_as):
    c = make_clinic(weekdays=range(7))
    incoming = referral_service.save_incoming(db.session, patient=c.patient, referring_practice="Valley Practice",
                                              reason="Hypertension", received_date=TODAY)
    start = __import__("datetime").datetime.combine(TODAY + timedelta(days=2), __import__("datetime").time(10))
    appointment = book(c, start)
    referral = outgoing(r)
    referral_service.transition(db.session, referral, "sent", actor=r.user, expected_version=referral.version)
    login_as("OfficeManager")
    pages = {
        "/referrals/": "Dr. Paul Heart", "/referrals/?direction=incoming&status=received": "Valley Practice",
        f"/referrals/incoming/{r.patient.id}": "Referring practice", f"/referrals/{referral.id}/edit": "E11.9, I10",
        f"/referrals/{referral.id}/reply": "Record the reply", f"/referrals/{incoming.id}": "Appointment it leads to",
        f"/specialists/{r.specialist.id}/edit": "(617) 253-1000", "/specialists/": "Spanish",
    }
    for url, expected in pages.items():
        resp = client.get(url)
        assert resp.status_code == 200 and expected in text(resp), url
    resp = client.post(f"/referrals/{incoming.id}/link", data={
        "csrf_token": client.csrf_token, "appointment": str(appointment.id), "version": str(incoming.version)},
        follow_redirects=True)
    assert "The referral is linked to the appointment." in text(resp)
    db.session.expire_all()
    assert db.session.get(Referral, incoming.id).status == "scheduled"
