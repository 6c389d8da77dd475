"""Accounts receivable aging: what is still owed, by how long ago the service was given.

One function, `aging()`, for the statement's aging summary and the two AR aging reports:
buckets 0–30, 31–60, 61–90, 91–120 and 121+ days counted from the **date of service** (not
from the billing or statement date) up to a chosen "as of" date. The amounts come from the one
place that computes balances, app/services/posting.py: the insurance balance of each claim
(claim_balance) grouped by payer, or each patient's account (patient_account: claims' patient
balances, self-pay visits, copays and payments on account) grouped by patient. Money stays
Decimal to the cent.

Balances are as posted now; the "as of" date sets where the days are counted from, and leaves
out services after it.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..models.claims import Claim

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
BUCKETS = ("current", "days_31_60", "days_61_90", "days_91_120", "days_121_plus")
LIMITS = (30, 60, 90, 120)  # the last day of each bucket but the last
# Column headings of the buckets and their total, for both AR aging reports.
BUCKET_LABELS = {"current": _l("0–30 days"), "days_31_60": _l("31–60 days"), "days_61_90": _l("61–90 days"),
                 "days_91_120": _l("91–120 days"), "days_121_plus": _l("121 days and more"), "total": _l("Total")}
# Claims that are on the books: not drafts (nothing billed yet), not void, not a void (8) of another.
OPEN_STATUSES = ("ready", "submitted", "accepted", "rejected", "paid", "denied", "appealed")


def bucket(service_date, as_of):
    """The bucket of a service given on `service_date`, counted in days up to `as_of`:
    day 0..30 current, 31..60, 61..90, 91..120, 121 and more."""
    days = (as_of - service_date).days
    for name, limit in zip(BUCKETS, LIMITS):
        if days <= limit:
            return name
    return BUCKETS[-1]


def money(value):
    return Decimal(str(value or 0)).quantize(CENT)


@dataclass
class AgingRow:
    key: object  # payer id or patient id
    name: str = ""
    amounts: dict = field(default_factory=lambda: {b: ZERO for b in BUCKETS})
    items: int = 0  # claims (payer) or visits with a balance (patient)

    @property
    def total(self):
        return sum(self.amounts.values(), ZERO)

    def add(self, name, amount):
        self.amounts[name] = (self.amounts[name] + amount).quantize(CENT)

    def as_dict(self):
        return {**self.amounts, "total": self.total, "items": self.items}


def billed_claims(session, *, as_of=None, patient_ids=None):
    """The claims whose balances count: billed (not draft or void), not a void (8), not replaced by a
    later claim that was sent (its successor carries the balance), with a date of service up to `as_of`."""
    successor = select(Claim.original_claim_id).where(
        Claim.original_claim_id.is_not(None), Claim.status.in_(OPEN_STATUSES))
    stmt = select(Claim).where(Claim.status.in_(OPEN_STATUSES), Claim.frequency_code != "8",
                               Claim.id.not_in(successor)).order_by(Claim.service_date, Claim.id)
    if as_of is not None:
        stmt = stmt.where(Claim.service_date <= as_of)
    if patient_ids is not None:
        stmt = stmt.where(Claim.patient_id.in_(list(patient_ids)))
    return session.scalars(stmt).all()


def _age_account(row, account, as_of):
    """Put one patient's account into `row`: each dated balance in its bucket; credits (payments not
    applied to a visit) paid off the oldest balances first, so the buckets add up to the account balance."""
    credit = ZERO
    for item in account_items(account):
        amount = money(item["balance"])
        if item["date"] is None or amount < 0:
            credit += -amount
            continue
        if item["date"] > as_of:
            continue
        if amount:
            row.items += 1
            row.add(bucket(item["date"], as_of), amount)
    for name in reversed(BUCKETS):  # oldest first
        if credit <= 0:
            break
        used = min(credit, row.amounts[name])
        if used > 0:
            row.add(name, -used)
            credit -= used
    if credit > 0:  # more paid than owed: a credit balance, shown as current
        row.add("current", -credit)


def account_items(account):
    """[{"date": date of service or None, "balance": Decimal}] of an Account (posting.patient_account):
    each visit's patient balance, and the payments not applied to a visit as one undated credit."""
    items = [{"date": line.service_date, "balance": line.balance.patient_balance} for line in account.lines]
    if account.unapplied:
        items.append({"date": None, "balance": -money(account.unapplied)})
    return items


def _owing_claim(family):
    """Of the claims billing one encounter, the one whose payer owes now: the first payer (by coverage
    order) that has not answered yet, else the last one that did."""
    live = sorted((c for c in family if c.status in OPEN_STATUSES and c.frequency_code != "8"),
                  key=lambda c: (c.coverage.priority, c.id))
    if not live:
        return None
    waiting = [c for c in live if c.status in ("ready", "submitted", "accepted", "rejected", "appealed")]
    return waiting[0] if waiting else live[-1]


def aging(session, *, as_of, by="payer", patients=None):
    """AgingRows with the amounts per bucket as of `as_of` (a date), sorted by name.

    by="payer": the insurance balance of every billed claim, by payer.
    by="patient": each patient's balance due (their account), by patient; `patients` limits it
    to those Patient objects (the statement ages one account).
    """
    from . import posting

    if not isinstance(as_of, date):
        raise TypeError("as_of must be a date")
    rows = {}
    if by == "payer":
        families = {}
        for claim in billed_claims(session, as_of=as_of):
            families.setdefault(claim.encounter_id, []).append(claim)
        for family in families.values():
            claim = _owing_claim(family)
            if claim is None:
                continue
            balance = money(posting.claim_balance(session, claim).insurance_balance)
            if not balance:
                continue
            row = rows.setdefault(claim.payer_id, AgingRow(claim.payer_id, claim.payer.name))
            row.items += 1
            row.add(bucket(claim.service_date, as_of), balance)
    elif by == "patient":
        for patient in (patients if patients is not None else account_holders(session)):
            row = AgingRow(patient.id, patient.display_name)
            _age_account(row, posting.patient_account(session, patient), as_of)
            if any(row.amounts.values()):  # owing, or a credit balance
                rows[patient.id] = row
    else:
        raise ValueError(f"unknown aging grouping {by!r}")
    return sorted(rows.values(), key=lambda r: (r.name.casefold(), r.key))


def account_holders(session):
    """Patients with anything on account: a billed claim, an encounter, a copay or a payment."""
    from ..models import Patient
    from ..models.billing import CopayPayment, Encounter
    from ..models.payments import PatientPayment

    ids = select(Claim.patient_id).union(select(Encounter.patient_id), select(CopayPayment.patient_id),
                                         select(PatientPayment.patient_id))
    return session.scalars(select(Patient).where(Patient.id.in_(ids), or_(Patient.status != "merged",
                                                                           Patient.status.is_(None)))
                           .order_by(Patient.family_name, Patient.given_name, Patient.id)).all()
