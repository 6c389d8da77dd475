"""A billing setup for payment tests: a clinic, a payer with a primary coverage, claims sent to it,
and remittances built as plain data (app/claims/remit.py), like the 835 reader and the manual form do."""
from datetime import date, datetime
from decimal import Decimal

from app.claims import Adjustment
from app.claims.remit import ClaimPayment, LinePayment, Remittance
from app.extensions import db
from app.models.billing import Payer
from app.services import billing_setup, claims, encounters, scheduling
from app.services import coverage as coverage_service
from tests.conftest import make_user
from tests.scheduling_setup import book, make_clinic, utc

VISIT = datetime(2026, 1, 12, 9, 0)
DAY = VISIT.date()
TODAY = date(2026, 2, 1)
LONG_AGO = utc(2020, 1, 1)
SETTINGS = dict(billing_name="Main Street Medical", group_npi="1234567893", tax_id="12-3456789",
                taxonomy_code="207Q00000X", address_line1="1 Main St", city="Boston", state="MA",
                postal_code="02110-1234", phone="6175550100", usage_indicator="T",
                isa_sender_qualifier="ZZ", isa_receiver_qualifier="ZZ", submitter_id="SUB1",
                submitter_name="Main Street Medical", submitter_contact_name="Billing",
                submitter_contact_phone="6175550100", receiver_id="RCV1", receiver_name="Clearing House",
                isa_sender_id="SENDER1", isa_receiver_id="RECEIVER1")


def billing_clinic(role="Billing"):
    clinic = make_clinic(weekdays=range(7))
    clinic.provider.npi = "9876543213"
    p = clinic.patient
    p.address_line1, p.city, p.state, p.postal_code = "5 Elm St", "Boston", "MA", "02115"
    clinic.payer = Payer(name="Acme Health", payer_code="ACME1", claim_filing_indicator="CI", timely_filing_days=90,
                         address_line1="PO Box 1", city="Hartford", state="CT", postal_code="06101")
    db.session.add(clinic.payer)
    db.session.commit()
    billing_setup.save_settings(db.session, SETTINGS)
    clinic.coverage = coverage_service.add_coverage(
        db.session, clinic.patient, payer=clinic.payer, priority=1, member_id="XYZ123456",
        group_number="GRP7", plan_name="Acme Gold", effective_date=date(2025, 1, 1))
    clinic.user = make_user(role)
    return clinic


def ready_encounter(c, when=VISIT, lines=(("99213", "100.00"),), patient=None):
    appointment = book(c, when, now=LONG_AGO, **({"patient": patient} if patient else {}))
    scheduling.transition(c.session, appointment, "arrived")
    enc = encounters.encounter_for_appointment(c.session, appointment)
    enc = encounters.set_diagnoses(c.session, enc, ["E11.9", "I10"], expected_version=enc.version)
    for code, fee in lines:
        encounters.add_charge(c.session, enc, {"units": "1", "code": code, "fee": fee, "pointers": "A"},
                              expected_version=enc.version)
    return encounters.mark_ready(c.session, enc, expected_version=enc.version)


def sent_claim(c, when=VISIT, lines=(("99213", "100.00"),), coverage=None, status="submitted"):
    enc = ready_encounter(c, when=when, lines=lines)
    claim = claims.build_claim(c.session, enc, coverage=coverage, actor=c.user)
    for step in ("ready", "submitted", "accepted")[: ("ready", "submitted", "accepted").index(status) + 1]:
        claims.transition(c.session, claim, step, actor=c.user, expected_version=claim.version, today=TODAY)
    return claim


def D(value):
    return Decimal(str(value))


def claim_payment(claim, paid, *, co=None, pr=None, status="1", icn="PCN1", remarks=(), line_level=True,
                  adjustments=None):
    """A payment of `claim` that balances: paid + CO (contractual) + PR (patient) = charge, spread on its lines
    (the first line takes what the others leave)."""
    charge = D(claim.total_charge)
    sign = -1 if status == "22" else 1
    paid = D(paid)
    pr = D(pr or 0)
    co = charge - abs(paid) - pr if co is None else D(co)
    lines = []
    rest_paid, rest_co, rest_pr = abs(paid), co, pr
    ordered = list(claim.lines)
    for i, line in enumerate(ordered):
        lc = D(line.charge)
        if i < len(ordered) - 1:
            lp = min(rest_paid, lc)
            lpr = min(rest_pr, lc - lp)
            lco = lc - lp - lpr
        else:
            lp, lpr, lco = rest_paid, rest_pr, rest_co
        rest_paid, rest_pr, rest_co = rest_paid - lp, rest_pr - lpr, rest_co - lco
        adj = []
        if lco:
            adj.append(Adjustment("CO", "45", sign * lco))
        if lpr:
            adj.append(Adjustment("PR", "2", sign * lpr))
        lines.append(LinePayment(code=line.code, modifiers=line.modifiers, charge=sign * lc, paid=sign * lp,
                                 line_number=line.line_number, service_date=line.service_date, adjustments=adj,
                                 remarks=list(remarks)))
    claim_adj = []
    if not line_level:
        for ln in lines:
            claim_adj += ln.adjustments
        lines = []
    if adjustments is not None:
        claim_adj, lines = adjustments, []
    return ClaimPayment(claim_number=claim.claim_number, status_code=status, charge=sign * charge, paid=sign * paid,
                        patient_responsibility=sign * pr, payer_claim_control_number=icn, adjustments=claim_adj,
                        remarks=[] if line_level else list(remarks), lines=lines)


def remittance(c, *payments, reference="CHK1001", amount=None, method="check", source="manual", sha=None,
               paid_date=date(2026, 2, 10)):
    total = sum((p.paid for p in payments), Decimal(0)) if amount is None else D(amount)
    return Remittance(payer_name=c.payer.name, payer_identifier=c.payer.payer_code, method=method,
                      reference=reference, paid_date=paid_date, amount=total, claims=list(payments),
                      source=source, file_sha256=sha, file_name="era.835" if sha else None)
