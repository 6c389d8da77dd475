"""A billing setup for payment tests (tests/billing_setup.py's clinic, with the clearinghouse settings),
claims sent to its payer, and remittances built as plain data (app/claims/remit.py), like the 835
reader and the manual form do."""
from datetime import date
from decimal import Decimal

from app.claims import Adjustment
from app.claims.remit import ClaimPayment, LinePayment, Remittance
from app.services import claims
from tests import billing_setup
from tests.billing_setup import CLEARINGHOUSE_SETTINGS, TODAY, VISIT


def billing_clinic(role="Billing"):
    return billing_setup.billing_clinic(role, settings=CLEARINGHOUSE_SETTINGS)


def ready_encounter(c, when=VISIT, lines=(("99213", "100.00"),), patient=None):
    """A ready encounter; each line (code, fee) pointing at the first diagnosis."""
    return billing_setup.ready_encounter(c, when, lines=[{"code": code, "fee": fee, "pointers": "A"}
                                                         for code, fee in lines], patient=patient)


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
