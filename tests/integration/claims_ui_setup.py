"""A billing-ready clinic for the claim screens and batches: practice settings with a clearinghouse,
a payer, a patient with primary coverage, and helpers to make ready encounters and claims.

(Copied from tests/integration/test_claims.py's setup; the payer's timely filing limit is 730 days so
the screens, which scrub against today's date, find visits of January 2026 in time.)
"""
import io
from datetime import date, datetime

import pytest

from app.extensions import db
from app.models.billing import Payer
from app.services import billing_setup, claims, encounters, scheduling
from app.services import coverage as coverage_service
from tests.conftest import make_user
from tests.scheduling_setup import book, make_clinic, utc

VISIT = datetime(2026, 1, 12, 9, 0)  # a Monday, FY2026 code set in force
DAY = VISIT.date()
LONG_AGO = utc(2020, 1, 1)
GROUP_NPI = "1234567893"
PROVIDER_NPI = "9876543213"

SETTINGS = dict(billing_name="Main Street Medical", group_npi=GROUP_NPI, tax_id="12-3456789",
                taxonomy_code="207Q00000X", address_line1="1 Main St", city="Boston", state="MA",
                postal_code="02110-1234", phone="6175550100", usage_indicator="T",
                isa_sender_qualifier="ZZ", isa_sender_id="MAINSTREET01", isa_receiver_qualifier="ZZ",
                isa_receiver_id="CLEARHOUSE", submitter_id="SUB12345", submitter_name="Main Street Medical",
                submitter_contact_name="Maria Lopez", submitter_contact_phone="6175550142",
                receiver_id="CLEARHOUSE", receiver_name="Clear Claims Inc")


@pytest.fixture
def c(icd10_sets):
    clinic = make_clinic(weekdays=range(7))
    clinic.provider.npi = PROVIDER_NPI
    clinic.patient.address_line1, clinic.patient.city, clinic.patient.state, clinic.patient.postal_code = (
        "5 Elm St", "Boston", "MA", "02115")
    clinic.patient.sex = "female"
    clinic.payer = Payer(name="Acme Health", payer_code="ACME1", claim_filing_indicator="CI", timely_filing_days=730,
                         address_line1="PO Box 1", city="Hartford", state="CT", postal_code="06101")
    clinic.other_payer = Payer(name="Beta Care", payer_code="BETA", claim_filing_indicator="BL",
                               timely_filing_days=730)
    db.session.add_all([clinic.payer, clinic.other_payer])
    db.session.commit()
    billing_setup.save_settings(db.session, SETTINGS)
    clinic.coverage = coverage_service.add_coverage(
        db.session, clinic.patient, payer=clinic.payer, priority=1, member_id="XYZ123456",
        group_number="GRP7", plan_name="Acme Gold", effective_date=date(2025, 1, 1))
    clinic.user = make_user("Billing")
    clinic.hour = 0
    return clinic


def ready_encounter(c, codes=("E11.9", "I10"), lines=({"code": "99213", "fee": "100.00", "pointers": "A B"},),
                    patient=None):
    """A ready encounter of the clinic's patient (or `patient`), each at its own hour of VISIT's day."""
    c.hour += 1
    appointment = book(c, VISIT.replace(hour=8 + c.hour), now=LONG_AGO, **({"patient": patient} if patient else {}))
    scheduling.transition(c.session, appointment, "arrived")
    enc = encounters.encounter_for_appointment(c.session, appointment)
    enc = encounters.set_diagnoses(c.session, enc, list(codes), expected_version=enc.version)
    for data in lines:
        encounters.add_charge(c.session, enc, dict({"units": "1"}, **data), expected_version=enc.version)
    return encounters.mark_ready(c.session, enc, expected_version=enc.version)


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
