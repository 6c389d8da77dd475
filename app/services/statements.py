"""Patient statements: what the guarantor owes on a patient's account, as a letter (PDF) in the
guarantor's language, one at a time from the chart or in a batch for every account that owes.

The amounts come from app/services/posting.py (patient_account: the one place balances are
computed) and the aging summary from app/services/aging.py; this module only decides who the
statement goes to, numbers it (counter "statement": S00000001), and lays the figures out as plain
strings for the sandboxed letter template (letters/statement/<lang>.html). A statement names
visits by date and provider only: never a diagnosis or procedure code.

Every statement printed is kept in the statement history (app/models/statements.py,
PatientStatement): the row is written in the transaction that takes the number, so a statement that
could not be written leaves no row and uses no number (the numbers stay gapless; printers queue on
the counter row while a letter renders). The batch run skips accounts with a history row in the last
N days. Printing is also recorded in the audit trail (action "print", object type "Statement", the
number in the details), as every read of patient data is.
"""
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..documents import letters
from ..models.base import _current_user_id, utcnow
from ..models.statements import AGING_COLUMNS, PatientStatement
from . import aging, counters, posting
from .errors import ValidationFailed
from .patients import address_lines

COUNTER = "statement"
BATCH_COUNTER = "statement_batch"
PREFIX = "S"
DIGITS = 8
OBJECT_TYPE = "Statement"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass
class Addressee:
    """Who receives the statement: the guarantor (a registered patient, or the person described on
    the patient's record) or the patient when self-responsible."""
    name: str
    address: list
    language: str
    patient: object = None  # the guarantor's own record, when registered
    is_patient: bool = False


@dataclass
class Statement:
    patient: object
    addressee: Addressee
    number: str
    account: object
    amount_due: Decimal
    letter: object = None
    record: object = None  # its PatientStatement (history) row


@dataclass
class Batch:
    """A batch run: numbered (counter "statement_batch") with its first statement, in that statement's
    transaction, so a run that prints nothing uses no number."""
    number: int = None


def addressee(patient):
    """The statement's reader: the guarantor patient's name, address and language; else the guarantor
    described on the record (their language, else the patient's); else the patient."""
    region = current_app.config.get("CLINIC_COUNTRY", "US")
    if patient.guarantor_relationship != "self" and patient.guarantor_patient is not None:
        g = patient.guarantor_patient
        return Addressee(g.full_name, address_lines(g, region), g.preferred_language or "en", patient=g)
    if patient.guarantor_relationship != "self" and patient.guarantor_name:
        lines = [line.strip() for line in (patient.guarantor_address or "").replace("\r", "").split("\n")
                 if line.strip()]
        return Addressee(patient.guarantor_name, lines,
                         patient.guarantor_language or patient.preferred_language or "en")
    return Addressee(patient.full_name, address_lines(patient, region), patient.preferred_language or "en",
                     patient=patient, is_patient=True)


def language(patient):
    """(language the statement will be written in, the guarantor's language)."""
    wanted = addressee(patient).language
    return letters.choose_language("statement", wanted), wanted


def money(value):
    return Decimal(str(value or 0)).quantize(CENT)


def amount_due(account):
    """What the guarantor owes now on the account (the patient balance, never the insurance's)."""
    return money(account.patient_balance)


def nothing_due_problem(patient, due):
    from flask_babel import format_currency as user_currency  # the reader's locale, not the letter's

    return (None, _l("%(name)s (MRN %(mrn)s) owes nothing: the account balance is %(amount)s, so there is no "
                     "statement to print.", name=patient.display_name, mrn=patient.mrn,
                     amount=user_currency(due, current_app.config["CLINIC_CURRENCY"])))


def _fmt(value, locale):
    return format_currency(money(value), current_app.config["CLINIC_CURRENCY"], locale=locale)


def _date(value, locale):
    return format_date(value, "long", locale=locale) if value else ""


def aging_amounts(session, patient, today):
    """{bucket: amount} of the patient's account aged on `today` (what the statement prints)."""
    buckets = aging.aging(session, as_of=today, by="patient", patients=[patient])
    return dict(buckets[0].amounts) if buckets else {b: ZERO for b in aging.BUCKETS}


def statement_data(session, patient, account, *, number, today, lang, amounts=None):
    """The plain data the template prints: strings formatted in the letter's language; `amounts`: the
    aging summary (computed when not given)."""
    locale = letters._locale(lang)
    reader = addressee(patient)
    rows = []
    totals = {"charges": ZERO, "insurance_paid": ZERO, "adjustments": ZERO, "patient_paid": ZERO, "balance": ZERO}
    pending = ZERO
    for line in posting_lines(account, current_app.config["BABEL_DEFAULT_TIMEZONE"]):
        row = {"kind": line["kind"], "date": _date(line["date"], locale), "provider": line["provider"],
               "reference": line["reference"], "pending": "",
               "charges": "", "insurance_paid": "", "adjustments": "", "patient_paid": "", "balance": ""}
        for key in totals:
            if line[key] is not None:
                totals[key] += money(line[key])
                row[key] = _fmt(line[key], locale)
        if line["insurance_balance"]:
            pending += money(line["insurance_balance"])
            row["pending"] = _fmt(line["insurance_balance"], locale)
        rows.append(row)
    if amounts is None:
        amounts = aging_amounts(session, patient, today)
    return {
        "guarantor": {"name": reader.name, "address": reader.address},
        "statement": {
            "number": number, "date": _date(today, locale), "amount_due": _fmt(amount_due(account), locale),
            "insurance_pending": _fmt(pending, locale) if pending else "",
            "rows": rows, "totals": {k: _fmt(v, locale) for k, v in totals.items()},
            "aging": {b: _fmt(amounts[b], locale) for b in aging.BUCKETS},
        },
    }


def posting_lines(account, timezone):
    """The account's open items as dicts: kind (visit, copay, payment), date, provider, reference, charges,
    insurance_paid, adjustments, patient_paid, balance (the patient's), insurance_balance. Visits settled on
    both sides are left out; payments and copays not applied to a visit are listed (they lower the balance)."""
    out = []
    for line in sorted(account.lines, key=lambda item: (item.service_date, item.encounter.id)):
        b = line.balance
        if not money(b.patient_balance) and not money(b.insurance_balance):
            continue
        provider = line.encounter.provider.display_name if line.encounter.provider is not None else ""
        out.append({"kind": "visit", "date": line.service_date, "provider": provider, "reference": "",
                    "charges": b.charge, "insurance_paid": b.payer_paid, "adjustments": b.adjustments,
                    "patient_paid": b.patient_paid, "balance": b.patient_balance,
                    "insurance_balance": b.insurance_balance})
    zone = ZoneInfo(timezone)
    visits = {line.encounter.appointment_id for line in account.lines if line.encounter.appointment_id}
    credits = [("payment", p) for p in account.payments if not p.voided and p.claim_id is None]
    credits += [("copay", c) for c in account.copays if not c.voided and c.appointment_id not in visits]
    credits.sort(key=lambda item: item[1].received_at)
    rows = [{"kind": kind, "date": item.received_at.astimezone(zone).date(), "provider": "",
             "reference": item.receipt_number, "charges": None, "insurance_paid": None, "adjustments": None,
             "patient_paid": item.amount, "balance": -money(item.amount), "insurance_balance": None}
            for kind, item in credits]
    if sum((money(item.amount) for _, item in credits), ZERO) != money(account.unapplied):
        # Never print figures that do not add up: one line with what posting counts as unapplied.
        rows = [{"kind": "payment", "date": None, "provider": "", "reference": "", "charges": None,
                 "insurance_paid": None, "adjustments": None, "patient_paid": account.unapplied,
                 "balance": -money(account.unapplied), "insurance_balance": None}] if money(account.unapplied) else []
    return out + rows


def next_number(session):
    return f"{PREFIX}{counters.take(session, COUNTER):0{DIGITS}d}"


def prepare(session, patient, *, today, with_pdf=True, batch=None, now=None):
    """Number, write and record one patient's statement (its history row, in `batch` when in a batch run).

    ValidationFailed (nothing numbered, nothing recorded) when nothing is due. The number, the history
    row (and the batch number of a run's first statement) are taken in the caller's transaction: the
    caller commits, then audits the print. If the letter cannot be written the transaction is rolled
    back (no row, no number used) and the error raised."""
    account = posting.patient_account(session, patient)
    due = amount_due(account)
    if due <= 0:
        session.rollback()
        raise ValidationFailed([nothing_due_problem(patient, due)])
    reader = addressee(patient)
    lang = letters.choose_language("statement", reader.language)
    numbered_batch = False
    try:
        if batch is not None and batch.number is None:
            batch.number, numbered_batch = counters.take(session, BATCH_COUNTER), True
        number = next_number(session)
        amounts = aging_amounts(session, patient, today)
        data = statement_data(session, patient, account, number=number, today=today, lang=lang, amounts=amounts)
        letter = letters.render("statement", patient, data, today=today, with_pdf=with_pdf,
                                language=reader.language)
        record = PatientStatement(
            statement_number=number, patient_id=patient.id, addressee_name=reader.name[:300],
            to_guarantor=not reader.is_patient, language=letter.language, amount_due=due,
            printed_at=now or utcnow(), printed_by_fk=_current_user_id(),
            batch_number=batch.number if batch is not None else None,
            **{column: money(amounts.get(bucket)) for bucket, column in AGING_COLUMNS.items()})
        session.add(record)
        session.flush()
    except Exception:
        session.rollback()
        if numbered_batch:
            batch.number = None
        raise
    return Statement(patient, reader, number, account, due, letter, record)


def audit_details(statement):
    return {"statement_number": statement.number, "language": statement.letter.language,
            "amount_due": f"{statement.amount_due:.2f}",
            "addressee": "patient" if statement.addressee.is_patient else "guarantor"}


def last_printed(session, patient_ids):
    """{patient_id: when their last statement was printed} (from the statement history)."""
    ids = sorted(set(patient_ids))
    last = {}
    for start in range(0, len(ids), 500):
        last.update(session.execute(
            select(PatientStatement.patient_id, func.max(PatientStatement.printed_at))
            .where(PatientStatement.patient_id.in_(ids[start:start + 500]))
            .group_by(PatientStatement.patient_id)).all())
    return last


def sent_since(session, since):
    """The ids of patients sent a statement at or after `since`."""
    return set(session.scalars(select(PatientStatement.patient_id).where(PatientStatement.printed_at >= since)
                               .distinct()))


def history(session, patient, *, limit=None):
    """(the patient's statements, newest first, at most `limit`; how many there are in all)."""
    query = (select(PatientStatement).where(PatientStatement.patient_id == patient.id)
             .order_by(PatientStatement.printed_at.desc(), PatientStatement.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    rows = session.scalars(query).all()
    total = len(rows) if limit is None or len(rows) < limit else session.scalar(
        select(func.count()).select_from(PatientStatement).where(PatientStatement.patient_id == patient.id))
    return rows, total


def due_accounts(session, *, days, now):
    """Patients whose account owes something and who were not sent a statement in the last `days` days,
    with the amount due: [(patient, amount)] by name."""
    if days is None or days < 0:
        raise ValidationFailed([("days", _l("Give a number of days, 0 or more."))])
    recent = sent_since(session, now - dt.timedelta(days=days)) if days else set()
    owing = []
    for patient in aging.account_holders(session):
        if patient.id in recent:
            continue
        due = amount_due(posting.patient_account(session, patient))
        if due > 0:
            owing.append((patient, due))
    return owing


def combined_pdf(statements):
    """One PDF of several statements, each starting on a new page in its own language and direction."""
    from ..documents.pdf import render_pdf

    parts = [{"body": s.letter.body_html, "lang": s.letter.language,
              "dir": letters.text_direction(s.letter.language)} for s in statements]
    return render_pdf("statements/batch_pdf.html", locale=current_app.config["BABEL_DEFAULT_LOCALE"],
                      title=str(_l("Statements")), parts=parts)


def record_print(engine, statement):
    """The audit row of a printed statement (the read of patient data; the history row is its PatientStatement)."""
    from . import audit

    audit.access(engine, patient_id=statement.patient.id, action="print", object_type=OBJECT_TYPE,
                 object_id=statement.number, details=audit_details(statement))


def run_batch(session, engine, patients, *, today, progress=None, now=None):
    """Write a statement for each of `patients` one at a time (each numbered, recorded in the history
    under the run's batch number, committed and audited on its own, so a long run can report progress
    and a failure keeps what was done); return (statements, skipped) where skipped lists (patient,
    message) of accounts that owed nothing by then or whose statement could not be written."""
    done, skipped = [], []
    total = len(patients)
    batch = Batch()
    for i, patient in enumerate(patients, start=1):
        name, mrn = patient.display_name, patient.mrn
        try:
            statement = prepare(session, patient, today=today, with_pdf=False, batch=batch, now=now)
        except ValidationFailed as exc:
            skipped.append((patient, exc.problems[0][1]))
        except Exception:  # noqa: BLE001 - one account that cannot be written must not stop the run
            current_app.logger.exception("statement batch: the statement of patient id %s failed", patient.id)
            skipped.append((patient, _l("The statement for %(name)s (MRN %(mrn)s) could not be written and was "
                                        "not numbered: print it again from the chart.", name=name, mrn=mrn)))
        else:
            session.commit()
            record_print(engine, statement)
            done.append(statement)
        if progress is not None:
            progress(i, total, patient)
    return done, skipped
