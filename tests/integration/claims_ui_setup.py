"""A billing-ready clinic for the claim screens and batches (tests/billing_setup.py) with the
clearinghouse settings a batch needs, a second payer, and helpers to make ready encounters and claims.

(The payer's timely filing limit is 730 days so the screens, which scrub against today's date, find
visits of January 2026 in time.)
"""
import io

import pytest

from app.extensions import db
from app.models.billing import Payer
from app.services import claims
from tests import billing_setup
from tests.billing_setup import CLEARINGHOUSE_SETTINGS, VISIT


@pytest.fixture
def c(icd10_sets):
    clinic = billing_setup.billing_clinic(settings=CLEARINGHOUSE_SETTINGS, timely_filing_days=730)
    clinic.patient.sex = "female"
    clinic.other_payer = Payer(name="Beta Care", payer_code="BETA", claim_filing_indicator="BL",
                               timely_filing_days=730)
    db.session.add(clinic.other_payer)
    db.session.commit()
    clinic.hour = 0
    return clinic


def ready_encounter(c, codes=("E11.9", "I10"), lines=(billing_setup.CHARGE,), patient=None):
    """A ready encounter of the clinic's patient (or `patient`), each at its own hour of VISIT's day."""
    c.hour += 1
    return billing_setup.ready_encounter(c, VISIT.replace(hour=8 + c.hour), codes=codes, lines=lines, patient=patient)


def built(c, code="99213", **kw):
    """A draft claim; each one bills its own code so they are no duplicates of each other."""
    lines = ({"code": code, "fee": "100.00", "pointers": "A B"},)
    return claims.build_claim(c.session, ready_encounter(c, lines=lines, **kw), actor=c.user)


CODES = ["99213", "99214", "81002", "93000", "36415", "87880"]


def ready_claims(c, n):
    out = []
    for i in range(n):
        claim = built(c, code=CODES[i])
        claims.transition(c.session, claim, "ready", actor=c.user, expected_version=claim.version)
        out.append(claim)
    return out


def move(c, claim, *statuses, note=None):
    for status in statuses:
        claims.transition(c.session, claim, status, actor=c.user, expected_version=claim.version, note=note)
    return claim


def pyx12_ack(text):
    """pyx12's 999 for `text` (see tests/integration/test_837p.py)."""
    import pyx12.params
    import pyx12.x12n_document

    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), ack, None)
    return ok, ack.getvalue()


def assert_valid_837p(text):
    ok, ack = pyx12_ack(text)
    assert "AK9*A*1*1*1~" in ack, ack
    assert "IK3" not in ack and "IK4" not in ack, ack
    assert ok, ack


def segments(text):
    return [s.strip().split("*") for s in text.split("~") if s.strip()]
