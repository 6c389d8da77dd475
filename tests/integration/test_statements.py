"""Patient statements: to the guarantor in the guarantor's language, amounts equal to the account's balance to
the cent, the aging summary, no diagnosis codes, audited printing, the batch run; aging buckets on their edges;
the statement history (one row per number printed, singly or in a batch, none when nothing is due or the letter
failed) and the N-days rule that reads it."""
import datetime as dt
import re
import subprocess
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import ChargeLine, Encounter, EncounterDiagnosis, Payer
from app.models.claims import Claim, ClaimStatusChange
from app.models.counter import Counter
from app.models.payments import ClaimPosting, PayerPayment, PostingAdjustment
from app.models.statements import PatientStatement
from app.models.base import utcnow
from app.services import aging, posting, statements
from app.services import coverage as coverage_service
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_letters import normalised, pdf_words

TODAY = dt.date(2026, 11, 27)
D = Decimal


# --------------------------------------------------------------------------- billing data (shared with test_claim_reports)

def payer(name, code):
    p = Payer(name=name, payer_code=code)
    db.session.add(p)
    db.session.commit()
    return p


def encounter(patient, provider, day, fee, status="billed", icd10_set=None):
    enc = Encounter(patient_id=patient.id, provider_id=provider.id, service_date=day, status=status,
                    place_of_service="11")
    db.session.add(enc)
    db.session.flush()
    if icd10_set is not None:
        db.session.add(EncounterDiagnosis(encounter_id=enc.id, position=1, code="E119", code_set_id=icd10_set.id))
    db.session.add(ChargeLine(encounter_id=enc.id, line_number=1, code="99213", code_kind="CPT", units=D("1"),
                              fee=D(fee), place_of_service="11", rendering_provider_id=provider.id, pointer1=1))
    db.session.commit()
    return enc


_numbers = iter(range(1, 10_000))


def claim(enc, coverage, status, *, adjudicated_at=None):
    """A claim of the encounter's charges in `status`; `adjudicated_at`: when it went to paid/denied."""
    c = Claim(claim_number=f"CT{next(_numbers):07d}", encounter_id=enc.id, patient_id=enc.patient_id,
              coverage_id=coverage.id, payer_id=coverage.payer_id, service_date=enc.service_date, status=status,
              total_charge=sum(line.units * line.fee for line in enc.charges), frequency_code="1")
    db.session.add(c)
    db.session.flush()
    if adjudicated_at is not None:
        db.session.add(ClaimStatusChange(claim_id=c.id, from_status="accepted", to_status=status,
                                         changed_at=adjudicated_at))
    db.session.commit()
    return c


def post(c, *, paid, adjustments=(), status_code="1", reference=None):
    """What the payer said of claim `c`: paid, and (group, CARC, amount) adjustments (claim level)."""
    payment = PayerPayment(payer_id=c.payer_id, method="check", reference=reference or f"CHK{c.id}-{next(_numbers)}",
                           paid_date=TODAY, amount=D(paid), source="manual", posted_at=utcnow())
    cp = ClaimPosting(claim_id=c.id, status_code=status_code, charge=c.total_charge, paid=D(paid),
                      patient_responsibility=sum((D(a) for g, _, a in adjustments if g == "PR"), D("0")),
                      posted_at=utcnow())
    cp.adjustments = [PostingAdjustment(group_code=g, reason_code=r, amount=D(a)) for g, r, a in adjustments]
    payment.claims = [cp]
    db.session.add(payment)
    db.session.commit()
    return cp


def insured(patient, the_payer, since=dt.date(2025, 1, 1)):
    return coverage_service.add_coverage(db.session, patient, payer=the_payer, member_id="M-1", effective_date=since)


@pytest.fixture
def family(app):
    """A child (English) whose mother is the guarantor (another registered patient, Spanish or Arabic).

    Visit 1 (Sep 1, 87 days): 150.00 billed, payer paid 90.00, CO-45 20.00, PR-1 40.00; the mother paid 15.00 on
    that claim: patient balance 25.00, insurance 0. Visit 2 (Nov 1): 200.00 submitted, insurance pending.
    Visit 3 (Jun 15, 165 days, before the coverage began): 80.00 self-pay. 10.00 paid on account (not applied). Due now: 95.00.
    """
    f = SimpleNamespace()
    f.provider = ProviderFactory(family_name="Ruiz", given_name="Ana")
    f.mother = PatientFactory(given_name="Layla", family_name="Haddad", preferred_language="es",
                              address_line1="12 Oak Street", city="Springfield", state="MA", postal_code="01103")
    f.child = PatientFactory(given_name="Omar", family_name="Haddad", preferred_language="en",
                             guarantor_relationship="parent", guarantor_patient_id=f.mother.id)
    f.payer = payer("Acme Health", "ACME01")
    f.coverage = insured(f.child, f.payer, since=dt.date(2026, 7, 1))  # visit 3 was before: self-pay
    f.visit1 = encounter(f.child, f.provider, dt.date(2026, 9, 1), "150.00")
    f.claim1 = claim(f.visit1, f.coverage, "paid")
    post(f.claim1, paid="90.00", adjustments=[("CO", "45", "20.00"), ("PR", "1", "40.00")])
    posting.post_patient_payment(db.session, f.child, amount=D("15.00"), method="cash", claim=f.claim1, actor=None)
    f.visit2 = encounter(f.child, f.provider, dt.date(2026, 11, 1), "200.00")
    f.claim2 = claim(f.visit2, f.coverage, "submitted")
    f.visit3 = encounter(f.child, f.provider, dt.date(2026, 6, 15), "80.00", status="ready")
    f.credit = posting.post_patient_payment(db.session, f.child, amount=D("10.00"), method="check",
                                            reference="1001", actor=None)
    return f


def statement_pdf_text(patient, tmp_path, today=TODAY):
    st = statements.prepare(db.session, patient, today=today)
    db.session.commit()
    return st, " ".join(pdf_words(st.letter.pdf, tmp_path).split())


# --------------------------------------------------------------------------- the statement

def test_account_and_aging_add_up_to_the_cent(family):
    account = posting.patient_account(db.session, family.child)
    assert account.patient_balance == D("95.00") and statements.amount_due(account) == D("95.00")
    [row] = aging.aging(db.session, as_of=TODAY, by="patient", patients=[family.child])
    assert row.amounts == {"current": D("0.00"), "days_31_60": D("0.00"), "days_61_90": D("25.00"),
                           "days_91_120": D("0.00"), "days_121_plus": D("70.00")}  # the credit pays the oldest
    assert row.total == account.patient_balance


def test_english_statement_to_a_self_paying_patient(family, tmp_path):
    family.child.guarantor_relationship, family.child.guarantor_patient_id = "self", None
    db.session.commit()
    st, text = statement_pdf_text(family.child, tmp_path)
    assert st.letter.language == "en" and st.addressee.is_patient
    for phrase in ("Statement", "Omar Haddad", family.child.mrn, st.number, "November 27, 2026",
                   "Amount due now: $95.00", "September 1, 2026", "$150.00", "$90.00", "$20.00", "$15.00",
                   "$25.00", "June 15, 2026", "$80.00", "insurance pending: $200.00", "Ana Ruiz",
                   "How to pay", "61–90 days", "$70.00"):
        assert phrase in text, phrase
    assert st.number.startswith("S") and len(st.number) == 9


def test_statement_to_a_spanish_speaking_guarantor(family, tmp_path):
    st, text = statement_pdf_text(family.child, tmp_path)
    assert st.letter.language == "es" and not st.letter.fell_back and not st.addressee.is_patient
    assert family.child.preferred_language == "en"  # the guarantor's language, not the patient's
    assert st.amount_due == posting.patient_account(db.session, family.child).patient_balance == D("95.00")
    for phrase in ("Estado de cuenta", "Layla Haddad", "12 Oak Street", "Springfield, MA 01103",
                   "Importe a pagar ahora: 95,00 US$", "1 de septiembre de 2026", "150,00 US$", "25,00 US$",
                   "Cómo pagar", "Más de 120 días", "70,00 US$", "Omar Haddad", family.child.mrn):
        assert normalised(phrase) in text, phrase


def test_statement_to_an_arabic_speaking_guarantor_described_on_the_record(family, tmp_path):
    family.child.guarantor_relationship, family.child.guarantor_patient_id = "other", None
    family.child.guarantor_name, family.child.guarantor_language = "Karim Haddad", "ar"
    family.child.guarantor_address = "7 Elm Road\nBoston, MA 02115"
    db.session.commit()
    st, text = statement_pdf_text(family.child, tmp_path)
    assert st.letter.language == "ar" and st.letter.wanted == "ar" and st.addressee.name == "Karim Haddad"
    # pdftotext gives right-to-left lines in visual order: single words, and LTR runs kept whole by the isolates.
    for phrase in ("كشف", "حساب", "المستحق", "95.00 US$", "Karim Haddad", "7 Elm Road", "Boston, MA 02115",
                   "طريقة", "الدفع", "150.00 US$", "25.00 US$", "Omar Haddad", family.child.mrn, st.number):
        assert normalised(phrase) in text, phrase
    # Right to left: the title starts at the right margin (-bbox lists RTL words in visual order).
    (tmp_path / "ar.pdf").write_bytes(st.letter.pdf)
    bbox = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "ar.pdf"), "-"], capture_output=True, text=True).stdout
    word = "حساب"
    xs = [float(m) for m in re.findall(rf'<word xMin="([\d.]+)"[^>]*>(?:{word}|{word[::-1]})</word>', bbox)]
    assert xs and xs[0] > 300  # on a 612-pt wide page


def test_no_diagnosis_codes_on_a_statement(family, tmp_path, icd10_sets):
    code_set = icd10_sets[0] if isinstance(icd10_sets, (list, tuple)) else next(iter(icd10_sets.values()))
    enc = encounter(family.child, family.provider, dt.date(2026, 11, 20), "55.00", status="ready",
                    icd10_set=code_set)
    assert enc.diagnoses
    _, text = statement_pdf_text(family.child, tmp_path)
    assert "55,00 US$" in text  # the visit is there (to the Spanish-speaking mother), its codes are not
    assert "E11" not in text and "E119" not in text and "99213" not in text


def test_a_guarantor_language_without_template_falls_back_and_says_so(family, client, login_as):
    family.mother.preferred_language = "hmn"
    db.session.commit()
    login_as("Billing")
    body = client.get(f"/patients/{family.child.id}/chart").get_data(as_text=True)
    assert 'id="statement-fallback"' in body and "Hmong" in body
    resp = client.post(f"/statements/patient/{family.child.id}/print", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                        AuditEvent.object_type == "Statement")).one()
    assert event.patient_id == family.child.id and '"language":"en"' in event.details
    with client.session_transaction() as s:
        flashes = [m for _, m in s.get("_flashes", [])]
    assert any("There is no statement in Hmong" in m for m in flashes)


def test_printing_from_the_chart_is_audited(family, client, login_as, tmp_path):
    login_as("OfficeManager")
    page = client.get(f"/patients/{family.child.id}/chart").get_data(as_text=True)
    assert 'id="statement-print"' in page and "$95.00" in page
    resp = client.post(f"/statements/patient/{family.child.id}/print", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_words(resp.data, tmp_path)
    assert "Estado de cuenta" in text and "95,00" in text
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                        AuditEvent.object_type == "Statement")).one()
    assert event.patient_id == family.child.id and '"amount_due":"95.00"' in event.details


def counter_value():
    from app.models.counter import Counter

    row = db.session.scalars(select(Counter).where(Counter.name == "statement")).first()
    return row.value if row is not None else None


def test_nothing_due_gives_a_clear_message_and_takes_no_number(app, client, login_as):
    patient = PatientFactory(family_name="Paid", given_name="Up")
    before = counter_value()
    with pytest.raises(ValidationFailed) as info:
        statements.prepare(db.session, patient, today=TODAY)
    assert "owes nothing: the account balance is $0.00" in str(info.value)
    login_as("Billing")
    resp = client.post(f"/statements/patient/{patient.id}/print", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 302 and f"/patients/{patient.id}" in resp.headers["Location"]
    assert "owes nothing" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Statement")).all()
    assert counter_value() == before


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_only_billing_and_the_office_print_statements(family, client, login_as, role):
    login_as(role)
    resp = client.post(f"/statements/patient/{family.child.id}/print", data={"csrf_token": client.csrf_token})
    assert resp.status_code in (302, 403)
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Statement")).all()


# --------------------------------------------------------------------------- batch run

def test_batch_prints_every_account_that_owes_without_a_recent_statement(family, client, login_as, tmp_path):
    other = PatientFactory(given_name="Ines", family_name="Alves", preferred_language="pt")
    encounter(other, family.provider, dt.date(2026, 10, 1), "60.00", status="ready")
    PatientFactory(family_name="Nothing")  # owes nothing: not listed
    login_as("Billing")
    page = client.get("/statements/?days=30").get_data(as_text=True)
    assert "Alves, Ines" in page and "Haddad, Omar" in page and "Nothing" not in page
    listed = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "StatementList")).one()
    assert str(other.id) in listed.details and str(family.child.id) in listed.details

    resp = client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "30"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_words(resp.data, tmp_path)
    assert "Extrato de conta" in text and "60,00" in text  # Portuguese, to Ines herself
    assert "Estado de cuenta" in text and "95,00" in text  # Spanish, to Omar's mother
    assert "Page 1 /" not in text  # no page count running across everyone's statements
    printed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                          AuditEvent.object_type == "Statement")).all()
    assert sorted(e.patient_id for e in printed) == sorted([other.id, family.child.id])

    # Sent today: not again within 30 days; with 0 days, again.
    assert "statements-none" in client.get("/statements/?days=30").get_data(as_text=True)
    again = client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "30"})
    assert again.status_code == 302
    assert "Alves, Ines" in client.get("/statements/?days=0").get_data(as_text=True)


def test_the_batch_loop_reports_progress_and_skips_accounts_that_owe_nothing(family):
    nobody = PatientFactory(family_name="Nobody")
    seen = []
    done, skipped = statements.run_batch(db.session, db.engine, [family.child, nobody], today=TODAY,
                                         progress=lambda i, n, patient: seen.append((i, n, patient.id)))
    assert seen == [(1, 2, family.child.id), (2, 2, nobody.id)]
    assert [s.patient.id for s in done] == [family.child.id] and done[0].amount_due == D("95.00")
    assert [p.id for p, _ in skipped] == [nobody.id] and "owes nothing" in str(skipped[0][1])
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Statement")).all()
    assert [(e.action, e.patient_id, e.object_id) for e in events] == [("print", family.child.id, done[0].number)]


def test_batch_refuses_a_bad_number_of_days(family, client, login_as):
    login_as("Billing")
    page = client.get("/statements/?days=abc").get_data(as_text=True)
    assert "Give a number of days from 0 to 3650." in page and "statements-list" not in page
    resp = client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "-4"})
    assert resp.status_code == 302
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Statement")).all()


# --------------------------------------------------------------------------- aging buckets

@pytest.mark.parametrize("days, expected", [
    (0, "current"), (30, "current"), (31, "days_31_60"), (60, "days_31_60"), (61, "days_61_90"),
    (90, "days_61_90"), (91, "days_91_120"), (120, "days_91_120"), (121, "days_121_plus"), (400, "days_121_plus"),
])
def test_aging_bucket_edges(days, expected):
    assert aging.bucket(TODAY - dt.timedelta(days=days), TODAY) == expected


def test_aging_by_patient_on_the_edges(app):
    provider = ProviderFactory()
    patient = PatientFactory()
    for days, fee in ((30, "1.01"), (31, "2.02"), (120, "3.03"), (121, "4.04")):
        encounter(patient, provider, TODAY - dt.timedelta(days=days), fee, status="ready")
    [row] = aging.aging(db.session, as_of=TODAY, by="patient", patients=[patient])
    assert row.amounts == {"current": D("1.01"), "days_31_60": D("2.02"), "days_61_90": D("0.00"),
                           "days_91_120": D("3.03"), "days_121_plus": D("4.04")}
    # A day later everything moves on; services after the "as of" date are left out.
    [row] = aging.aging(db.session, as_of=TODAY + dt.timedelta(days=1), by="patient", patients=[patient])
    assert row.amounts["current"] == D("0.00") and row.amounts["days_31_60"] == D("3.03")
    [row] = aging.aging(db.session, as_of=TODAY - dt.timedelta(days=31), by="patient", patients=[patient])
    assert row.total == D("9.09") and row.amounts["current"] == D("2.02") and row.amounts["days_61_90"] == D("7.07")


# --------------------------------------------------------------------------- statement history



def history_rows():
    db.session.expire_all()
    return db.session.scalars(select(PatientStatement).order_by(PatientStatement.id)).all()


def counter(name):
    row = db.session.scalars(select(Counter).where(Counter.name == name)).first()
    return row.value if row is not None else None


def sent(patient, days_ago, *, number, now=None, amount="10.00"):
    """A statement of `patient` printed `days_ago` days before `now` (the history row only)."""
    now = now or utcnow()
    row = PatientStatement(statement_number=number, patient_id=patient.id, addressee_name=patient.full_name,
                           to_guarantor=False, language="en", amount_due=D(amount),
                           printed_at=now - dt.timedelta(days=days_ago))
    db.session.add(row)
    db.session.commit()
    return row


def test_the_migration_creates_the_statement_history_table(app):
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    inspector = sa.inspect(db.engine)
    columns = {c["name"] for c in inspector.get_columns("patient_statement")}
    assert {"statement_number", "patient_id", "addressee_name", "to_guarantor", "language", "amount_due",
            "aged_current", "aged_31_60", "aged_61_90", "aged_91_120", "aged_121_plus", "printed_at",
            "printed_by_fk", "batch_number"} <= columns
    assert {i["name"] for i in inspector.get_indexes("patient_statement")} >= {
        "ix_patient_statement_patient", "ix_patient_statement_printed_at", "ix_patient_statement_batch"}
    patient = PatientFactory()
    sent(patient, 1, number="S00000001")
    with pytest.raises(IntegrityError):  # a number is printed once
        sent(patient, 0, number="S00000001")
    db.session.rollback()
    with pytest.raises(IntegrityError):  # nothing due: no statement
        sent(patient, 0, number="S00000002", amount="0.00")
    db.session.rollback()
    assert [r.statement_number for r in history_rows()] == ["S00000001"]


def test_prepare_records_what_the_letter_said(family):
    st = statements.prepare(db.session, family.child, today=TODAY, with_pdf=False)
    db.session.commit()
    [row] = history_rows()
    assert st.record is not None and row.id == st.record.id and row.statement_number == st.number
    assert row.amount_due == D("95.00") and row.printed_by_fk is None and row.batch_number is None
    assert row.aging == {"current": D("0.00"), "days_31_60": D("0.00"), "days_61_90": D("25.00"),
                         "days_91_120": D("0.00"), "days_121_plus": D("70.00")}
    created = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "PatientStatement")).one()
    assert (created.action, created.patient_id) == ("create", family.child.id)  # the write is in the audit trail


def test_printing_from_the_chart_writes_the_history_row_shown_on_the_chart(app, family, client, login_as):
    user = login_as("Billing")
    before = utcnow()
    resp = client.post(f"/statements/patient/{family.child.id}/print", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    [row] = history_rows()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                        AuditEvent.object_type == "Statement")).one()
    assert row.statement_number == event.object_id and row.statement_number.startswith("S")
    assert int(row.statement_number[1:]) == counter("statement")  # the number the counter gave, the letter printed
    assert (row.patient_id, row.addressee_name, row.to_guarantor, row.language) == (
        family.child.id, "Layla Haddad", True, "es")
    assert row.amount_due == D("95.00") and row.printed_by_fk == user.id and row.batch_number is None
    assert before <= row.printed_at <= utcnow()
    printed_on = row.printed_at.astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    assert row.aging == statements.aging_amounts(db.session, family.child, printed_on)  # as the letter printed it
    assert sum(row.aging.values()) == row.amount_due

    page = client.get(f"/patients/{family.child.id}/chart").get_data(as_text=True)
    history = page.split('id="statement-history"')[1].split("</table>")[0]
    for text in (row.statement_number, "$95.00", "Layla Haddad", "Spanish", f"{user.first_name} {user.last_name}"):
        assert text in history, text
    assert "statement-none-yet" not in page


def test_the_chart_lists_the_latest_statements_and_says_how_many_are_not_shown(family, client, login_as):
    login_as("Billing")
    assert 'id="statement-none-yet"' in client.get(f"/patients/{family.child.id}/chart").get_data(as_text=True)
    for i in range(12):
        sent(family.child, 400 - i * 30, number=f"S9{i:07d}")
    page = client.get(f"/patients/{family.child.id}/chart").get_data(as_text=True)
    history = page.split('id="statement-history"')[1].split("</table>")[0]
    assert "S90000011" in history and "S90000002" in history  # the 10 newest
    assert "S90000001" not in history and "S90000000" not in history
    assert history.index("S90000011") < history.index("S90000002")  # newest first
    assert "2 earlier statements are not shown." in page


def test_a_batch_run_writes_one_history_row_per_statement_under_one_batch_number(family, client, login_as):
    other = PatientFactory(given_name="Ines", family_name="Alves", preferred_language="pt")
    encounter(other, family.provider, dt.date(2026, 10, 1), "60.00", status="ready")
    PatientFactory(family_name="Nothing")
    user = login_as("Billing")
    resp = client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "30"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    rows = history_rows()
    assert sorted((r.patient_id, r.amount_due, r.language) for r in rows) == sorted(
        [(other.id, D("60.00"), "pt"), (family.child.id, D("95.00"), "es")])
    assert {r.batch_number for r in rows} == {counter("statement_batch")} and rows[0].batch_number is not None
    assert {r.printed_by_fk for r in rows} == {user.id}
    printed = {e.object_id for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "print", AuditEvent.object_type == "Statement"))}
    assert printed == {r.statement_number for r in rows}  # the audit rows stay, one per statement
    batch_event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "StatementBatch")).one()
    assert f'"batch":{rows[0].batch_number}' in batch_event.details

    # A second run (0 days: everyone again) is another batch.
    client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "0"})
    rows = history_rows()
    assert len(rows) == 4 and len({r.batch_number for r in rows}) == 2
    page = client.get(f"/patients/{other.id}/chart").get_data(as_text=True)
    assert f"batch run {rows[0].batch_number}" in page and f"batch run {rows[-1].batch_number}" in page


def test_the_n_days_rule_reads_the_statement_history(family):
    now = utcnow()
    other = PatientFactory(given_name="Ines", family_name="Alves")
    encounter(other, family.provider, dt.date(2026, 10, 1), "60.00", status="ready")

    def due(days):
        return sorted(p.id for p, _ in statements.due_accounts(db.session, days=days, now=now))

    assert due(30) == sorted([family.child.id, other.id])
    # An audit "print" row alone no longer counts: the history does.
    from app.services import audit
    audit.access(db.engine, patient_id=other.id, action="print", object_type="Statement", object_id="S00000099")
    assert due(30) == sorted([family.child.id, other.id])

    sent(other, 31, number="S00000100", now=now)
    sent(family.child, 30, number="S00000101", now=now)  # exactly 30 days ago: within the last 30 days
    assert due(30) == [other.id]
    assert due(31) == []
    assert due(29) == sorted([family.child.id, other.id])
    assert due(0) == sorted([family.child.id, other.id])  # 0 days: every account that owes
    assert statements.last_printed(db.session, [other.id, family.child.id]) == {
        other.id: now - dt.timedelta(days=31), family.child.id: now - dt.timedelta(days=30)}
    with pytest.raises(ValidationFailed):
        statements.due_accounts(db.session, days=-1, now=now)


def test_nothing_is_written_when_nothing_is_due(family, client, login_as):
    nobody = PatientFactory(family_name="Nobody")
    statement_counter, batch_counter = counter("statement"), counter("statement_batch")
    with pytest.raises(ValidationFailed):
        statements.prepare(db.session, nobody, today=TODAY)
    done, skipped = statements.run_batch(db.session, db.engine, [nobody], today=TODAY)
    assert done == [] and [p.id for p, _ in skipped] == [nobody.id]
    assert history_rows() == []
    assert (counter("statement"), counter("statement_batch")) == (statement_counter, batch_counter)

    # Everyone who owes was sent one today: the batch screen has nothing to print and writes nothing.
    sent(family.child, 0, number="S00000001")
    login_as("Billing")
    resp = client.post("/statements/batch", data={"csrf_token": client.csrf_token, "days": "30"})
    assert resp.status_code == 302
    assert [r.statement_number for r in history_rows()] == ["S00000001"]
    assert (counter("statement"), counter("statement_batch")) == (statement_counter, batch_counter)


def test_a_statement_that_cannot_be_written_leaves_no_row_and_no_gap(family, monkeypatch):
    other = PatientFactory(given_name="Ines", family_name="Alves")
    encounter(other, family.provider, dt.date(2026, 10, 1), "60.00", status="ready")
    render = statements.letters.render

    def broken_for_the_child(kind, patient, data, **kwargs):
        if patient.id == family.child.id:
            raise RuntimeError("renderer down")
        return render(kind, patient, data, **kwargs)

    monkeypatch.setattr(statements.letters, "render", broken_for_the_child)
    before = counter("statement")
    with pytest.raises(RuntimeError):
        statements.prepare(db.session, family.child, today=TODAY)
    assert history_rows() == [] and counter("statement") == before

    # In a batch run the failing account is reported and skipped; the others are numbered without a gap.
    done, skipped = statements.run_batch(db.session, db.engine, [family.child, other], today=TODAY)
    assert [s.patient.id for s in done] == [other.id]
    assert [p.id for p, _ in skipped] == [family.child.id]
    assert "could not be written" in str(skipped[0][1]) and family.child.mrn in str(skipped[0][1])
    [row] = history_rows()
    assert row.patient_id == other.id and row.statement_number == f"S{(before or 0) + 1:08d}"
    assert row.batch_number == counter("statement_batch") is not None
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Statement")).all()
    assert [e.object_id for e in events] == [row.statement_number]


def test_merging_patients_moves_the_statement_history(family):
    from app.services import patients as patient_service

    duplicate = PatientFactory(given_name="Omar", family_name="Haddad")
    sent(duplicate, 5, number="S00000007")
    patient_service.merge(db.session, source_id=duplicate.id, target_id=family.child.id)
    assert [r.patient_id for r in history_rows()] == [family.child.id]
    assert statements.history(db.session, family.child)[1] == 1
