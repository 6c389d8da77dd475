"""A billing-ready clinic, one setup for the claim, claim-screen, payment and authorization tests:
practice settings, a payer, the clinic's patient with a primary coverage, and ready encounters.

tests/integration/test_claims.py, tests/integration/claims_ui_setup.py, tests/payments_setup.py and
tests/integration/test_authorizations.py build on it, each with the settings and payer it needs.
"""
from datetime import date, datetime

from app.extensions import db
from app.models.billing import Payer
from app.services import billing_setup, encounters, scheduling
from app.services import coverage as coverage_service
from tests.conftest import make_user
from tests.scheduling_setup import book, make_clinic, utc

VISIT = datetime(2026, 1, 12, 9, 0)  # a Monday, FY2026 code set in force
DAY = VISIT.date()
TODAY = date(2026, 2, 1)  # 20 days after the visit: within the payer's 90 days
LONG_AGO = utc(2020, 1, 1)
GROUP_NPI = "1234567893"
PROVIDER_NPI = "9876543213"

# What a claim needs (the scrubber and the 837P's billing provider).
SETTINGS = dict(billing_name="Main Street Medical", group_npi=GROUP_NPI, tax_id="12-3456789",
                taxonomy_code="207Q00000X", address_line1="1 Main St", city="Boston", state="MA",
                postal_code="02110-1234", phone="6175550100", usage_indicator="T",
                isa_sender_qualifier="ZZ", isa_receiver_qualifier="ZZ")
# And what a batch sent to the clearinghouse needs (interchange, submitter and receiver).
CLEARINGHOUSE_SETTINGS = dict(SETTINGS, isa_sender_id="MAINSTREET01", isa_receiver_id="CLEARHOUSE",
                              submitter_id="SUB12345", submitter_name="Main Street Medical",
                              submitter_contact_name="Maria Lopez", submitter_contact_phone="6175550142",
                              receiver_id="CLEARHOUSE", receiver_name="Clear Claims Inc")

CHARGE = {"code": "99213", "fee": "100.00", "pointers": "A B"}


def billing_clinic(role="Billing", *, settings=SETTINGS, timely_filing_days=90):
    """make_clinic's clinic with an NPI, an addressed patient insured by Acme Health (c.payer, c.coverage),
    the practice's billing settings, and c.user, a user with `role`."""
    clinic = make_clinic(weekdays=range(7))
    clinic.provider.npi = PROVIDER_NPI
    clinic.patient.address_line1, clinic.patient.city, clinic.patient.state, clinic.patient.postal_code = (
        "5 Elm St", "Boston", "MA", "02115")
    clinic.payer = Payer(name="Acme Health", payer_code="ACME1", claim_filing_indicator="CI",
                         timely_filing_days=timely_filing_days, address_line1="PO Box 1", city="Hartford", state="CT",
                         postal_code="06101")
    db.session.add(clinic.payer)
    db.session.commit()
    billing_setup.save_settings(db.session, settings)
    clinic.coverage = coverage_service.add_coverage(
        db.session, clinic.patient, payer=clinic.payer, priority=1, member_id="XYZ123456",
        group_number="GRP7", plan_name="Acme Gold", effective_date=date(2025, 1, 1))
    clinic.user = make_user(role)
    return clinic


def ready_encounter(c, when=VISIT, codes=("E11.9", "I10"), lines=(CHARGE,), patient=None):
    """A visit of the clinic's patient (or `patient`) at `when`, arrived, coded and marked ready; each line
    a charge ({"code", "fee", "pointers", "units" (default 1)})."""
    appointment = book(c, when, now=LONG_AGO, **({"patient": patient} if patient else {}))
    scheduling.transition(c.session, appointment, "arrived")
    enc = encounters.encounter_for_appointment(c.session, appointment)
    enc = encounters.set_diagnoses(c.session, enc, list(codes), expected_version=enc.version)
    for data in lines:
        encounters.add_charge(c.session, enc, dict({"units": "1"}, **data), expected_version=enc.version)
    return encounters.mark_ready(c.session, enc, expected_version=enc.version)
