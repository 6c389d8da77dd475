"""Claims: built from a ready encounter (lines snapshotted), the scrubber naming every problem with
a clear message, the lifecycle (legal and illegal transitions, each stamped who/when), corrections
by replacement (7) or void (8) carrying the payer's claim control number, and the claim as data
for the 837P / CMS-1500 writers."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import Coverage, EncounterDiagnosis, Payer
from app.models.claims import Claim, ClaimDiagnosis, ClaimLine, ClaimStatusChange
from app.services import authorizations, billing_setup, claims, encounters
from app.services import coverage as coverage_service
from app.services.errors import StaleRecordError, ValidationFailed
from tests.billing_setup import DAY, GROUP_NPI, PROVIDER_NPI, SETTINGS, TODAY, VISIT, billing_clinic, ready_encounter
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import utc

OTHER_NPI = "1111111112"
SETTINGS = dict(SETTINGS, pay_to_line1="PO Box 9", pay_to_city="Boston", pay_to_state="MA", pay_to_postal_code="02111")


@pytest.fixture
def c(icd10_sets):
    return billing_clinic(settings=SETTINGS)


def built(c, **kw):
    return claims.build_claim(c.session, ready_encounter(c, **kw), actor=c.user)


def messages(problems):
    return [str(m) for _, m in problems]


def only_problem(c, claim, today=TODAY):
    db.session.expire_all()
    problems = claims.scrub(c.session, claim, today=today)
    assert len(problems) == 1, messages(problems)
    return problems[0][0], str(problems[0][1])


def move(c, claim, *statuses, **kw):
    for status in statuses:
        claims.transition(c.session, claim, status, actor=c.user, expected_version=claim.version,
                          today=kw.get("today", TODAY))
    return claim


def state(claim_id):
    db.session.expire_all()
    claim = db.session.get(Claim, claim_id)
    return (claim.status, claim.version, claim.frequency_code, len(claim.status_changes),
            [(line.code, line.units, line.charge, line.pointers) for line in claim.lines])


# ------------------------------------------------------------------ building

def test_a_ready_encounter_becomes_a_draft_claim_with_its_lines_snapshotted(c):
    enc = ready_encounter(c, lines=({"code": "99213", "fee": "100.00", "pointers": "A B", "modifiers": "25"},
                                    {"code": "81002", "fee": "12.50", "units": "2", "pointers": "B"}))
    claim = claims.build_claim(c.session, enc, actor=c.user)
    assert claim.claim_number.startswith("C") and len(claim.claim_number) == 9
    assert (claim.status, claim.frequency_code, claim.payer_id, claim.coverage_id, claim.patient_id) == (
        "draft", "1", c.payer.id, c.coverage.id, c.patient.id)
    assert claim.total_charge == Decimal("125.00")
    assert [(l.line_number, l.code, l.modifiers, l.units, l.charge, l.pointers, l.service_date,
             l.rendering_provider_id) for l in claim.lines] == [
        (1, "99213", ["25"], Decimal("1"), Decimal("100.00"), [1, 2], DAY, c.provider.id),
        (2, "81002", [], Decimal("2"), Decimal("25.00"), [2], DAY, c.provider.id)]
    stamp = claim.status_changes[0]
    assert (stamp.from_status, stamp.to_status, stamp.changed_by_fk) == (None, "draft", c.user.id)
    # a snapshot: changing the encounter afterwards leaves the claim as built
    enc = encounters.set_diagnoses(c.session, enc, ["E11.9", "I10"], expected_version=enc.version)
    encounters.update_charge(c.session, enc, enc.charges[0], {"code": "99214", "fee": "150.00", "pointers": "A"},
                             expected_version=enc.version)
    db.session.expire_all()
    assert [l.code for l in db.session.get(Claim, claim.id).lines] == ["99213", "81002"]


def test_an_open_encounter_without_coverage_or_twice_is_refused_and_nothing_is_written(c):
    enc = ready_encounter(c)
    enc = encounters.update_charge(c.session, enc, enc.charges[0], {"code": "99213", "fee": "90", "pointers": "A"},
                                   expected_version=enc.version).encounter  # back to open
    with pytest.raises(ValidationFailed) as exc:
        claims.build_claim(c.session, enc, actor=c.user)
    assert "ready to bill" in str(exc.value)
    other = PatientFactory()
    lonely = ready_encounter(c, when=VISIT + timedelta(hours=1), patient=other)
    with pytest.raises(ValidationFailed) as exc:
        claims.build_claim(c.session, lonely, actor=c.user)
    assert "no active primary coverage" in str(exc.value)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0
    enc = encounters.mark_ready(c.session, enc, expected_version=enc.version)
    first = claims.build_claim(c.session, enc, actor=c.user)
    with pytest.raises(ValidationFailed) as exc:
        claims.build_claim(c.session, enc, actor=c.user)
    assert f"already has claim {first.claim_number} (draft) for Acme Health" in str(exc.value)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1


def test_claim_numbers_come_from_the_counter_and_are_never_reused(c):
    one = built(c)
    move(c, one, "void")
    two = claims.build_claim(c.session, one.encounter, actor=c.user)  # a void claim does not block a new one
    assert int(two.claim_number[1:]) == int(one.claim_number[1:]) + 1


# ------------------------------------------------------------------ the scrubber, one rule at a time

def test_a_clean_claim_has_no_problems(c):
    assert claims.scrub(c.session, built(c), today=TODAY) == []


def test_no_active_coverage_on_the_date_of_service(c):
    claim = built(c)
    c.coverage.end_date = date(2026, 1, 1)
    db.session.commit()
    assert only_problem(c, claim) == ("coverage", "The coverage with Acme Health is not active on the date of service "
                                                  "Jan 12, 2026.")


def test_missing_member_id(c):
    claim = built(c)
    c.coverage.member_id = None
    db.session.commit()
    assert only_problem(c, claim)[1] == "The coverage with Acme Health has no member id."


def test_missing_subscriber_data_of_a_non_self_subscriber(c):
    claim = built(c)
    c.coverage.subscriber_relationship, c.coverage.subscriber_family_name = "spouse", "Doe"
    c.coverage.subscriber_given_name = "Sam"
    c.coverage.subscriber_birth_date = date(1980, 5, 1)
    db.session.commit()
    assert only_problem(c, claim) == ("subscriber", "The subscriber's sex is missing on the coverage with "
                                                    "Acme Health.")
    c.coverage.subscriber_birth_date = None
    c.coverage.subscriber_given_name = None
    db.session.commit()
    problems = messages(claims.scrub(c.session, claim, today=TODAY))
    assert problems == ["The subscriber's name is missing on the coverage with Acme Health.",
                        "The subscriber's birth date is missing on the coverage with Acme Health.",
                        "The subscriber's sex is missing on the coverage with Acme Health."]


def test_invalid_rendering_npi(c):
    claim = built(c)
    c.provider.npi = "1234567890"
    db.session.commit()
    assert only_problem(c, claim) == ("rendering_provider", f"The rendering provider {c.provider.display_name} "
                                                            "(line 1) has no valid NPI.")


def test_incomplete_billing_settings(c):
    claim = built(c)
    settings = billing_setup.get_settings(db.session)
    settings.group_npi = "1234567890"
    db.session.commit()
    assert only_problem(c, claim) == ("billing_settings", "The practice's group NPI is missing or not valid: "
                                                          "complete the billing settings.")
    settings.group_npi, settings.postal_code = GROUP_NPI, "02110"
    db.session.commit()
    assert "full ZIP+4" in only_problem(c, claim)[1]


def test_a_non_billable_diagnosis(c):
    claim = built(c)
    dx = db.session.scalars(select(ClaimDiagnosis).where(ClaimDiagnosis.claim_id == claim.id,
                                                         ClaimDiagnosis.position == 2)).one()
    dx.code = "E11"  # a category header
    db.session.commit()
    assert only_problem(c, claim) == ("diagnoses", "Diagnosis B: E11 is a category, not a billable code: choose a "
                                                   "more specific code.")


def test_a_pointer_to_nothing(c):
    claim = built(c)
    claims.update_line(c.session, claim, claim.lines[0], pointers=[1, 3], expected_version=claim.version)
    assert only_problem(c, claim) == ("lines", "Line 1 (99213) points at diagnosis C, which is not on the claim.")


def test_a_charge_with_no_diagnosis(c):
    claim = built(c)
    claims.update_line(c.session, claim, claim.lines[0], pointers=[], expected_version=claim.version)
    assert only_problem(c, claim) == ("lines", "Line 1 (99213) points at no diagnosis.")


def test_units_not_positive(c):
    claim = built(c)
    claims.update_line(c.session, claim, claim.lines[0], units="0", expected_version=claim.version)
    assert only_problem(c, claim) == ("lines", "Line 1 (99213): the units must be more than zero.")


def test_fee_not_positive(c):
    claim = built(c)
    claims.update_line(c.session, claim, claim.lines[0], charge="0.00", expected_version=claim.version)
    assert only_problem(c, claim) == ("lines", "Line 1 (99213): the charge must be more than zero.")
    assert db.session.get(Claim, claim.id).total_charge == Decimal("0.00")


def test_date_of_service_in_the_future(c):
    claim = built(c)
    assert only_problem(c, claim, today=DAY - timedelta(days=1)) == (
        "lines", "Line 1 (99213): the date of service Jan 12, 2026 is in the future.")


def test_timely_filing_limit_passed(c):
    claim = built(c)
    assert claims.scrub(c.session, claim, today=DAY + timedelta(days=90)) == []
    assert only_problem(c, claim, today=DAY + timedelta(days=91)) == (
        "service_date", "The timely filing limit of Acme Health (90 days after the date of service) has passed: the "
                        "service was 91 days ago.")


def test_duplicate_claim_for_the_same_patient_date_and_code(c):
    first = built(c)
    second = built(c, when=VISIT + timedelta(hours=2))
    assert only_problem(c, second) == ("lines", f"Line 1 (99213 on Jan 12, 2026) duplicates claim "
                                                f"{first.claim_number} for the same patient.")
    move(c, first, "void")  # a void claim is no duplicate
    assert claims.scrub(c.session, second, today=TODAY) == []


def test_an_appointment_type_that_needs_a_prior_authorization(c):
    claim = built(c)
    c.payer.auth_types.append(c.type)
    db.session.commit()
    assert only_problem(c, claim) == ("prior_authorization", "A Follow-up visit needs a prior authorization from "
                                                             "Acme Health; none is on file.")
    claims.set_prior_authorization(c.session, claim, "AUTH-991", expected_version=claim.version)
    field, message = only_problem(c, claim)  # a number typed on the claim must be an authorization on record
    assert field == "prior_authorization" and "AUTH-991" in message
    authorizations.add_authorization(c.session, c.patient, payer=c.payer, number="AUTH-991", valid_from=DAY,
                                     valid_to=DAY)
    assert claims.scrub(c.session, claim, today=TODAY) == []


def test_ready_is_refused_with_every_problem_listed_and_nothing_changed(c):
    claim = built(c)
    c.provider.npi = None
    c.coverage.member_id = None
    claim.lines[0].units = Decimal("0")
    db.session.commit()
    before = state(claim.id)
    with pytest.raises(ValidationFailed) as exc:
        claims.transition(c.session, claim, "ready", actor=c.user, expected_version=claim.version,
                          today=DAY + timedelta(days=100))
    found = messages(exc.value.problems)
    assert len(found) == 4, found
    assert "The coverage with Acme Health has no member id." in found
    assert any("has no valid NPI" in m for m in found)
    assert "Line 1 (99213): the units must be more than zero." in found
    assert any("timely filing limit" in m for m in found)
    assert state(claim.id) == before


# ------------------------------------------------------------------ lifecycle

def test_the_lifecycle_is_stamped_with_who_and_when(c):
    claim = built(c)
    other = make_user("OfficeManager")
    move(c, claim, "ready")
    claims.transition(c.session, claim, "submitted", actor=other, expected_version=claim.version,
                      now=utc(2026, 2, 2, 15, 0))
    move(c, claim, "accepted", "denied", "appealed", "paid")
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert claim.status == "paid" and claim.submitted_at == utc(2026, 2, 2, 15, 0)
    stamps = [(s.from_status, s.to_status, s.changed_by_fk) for s in claim.status_changes]
    assert stamps == [(None, "draft", c.user.id), ("draft", "ready", c.user.id), ("ready", "submitted", other.id),
                      ("submitted", "accepted", c.user.id), ("accepted", "denied", c.user.id),
                      ("denied", "appealed", c.user.id), ("appealed", "paid", c.user.id)]
    assert all(s.changed_at is not None and s.changed_at.tzinfo is not None for s in claim.status_changes)


@pytest.mark.parametrize("path, illegal", [
    ((), "submitted"), ((), "accepted"), (("ready",), "paid"), (("ready", "submitted"), "void"),
    (("ready", "submitted"), "draft"), (("ready", "submitted", "accepted"), "void"),
    (("ready", "submitted", "accepted"), "draft"), (("ready", "submitted", "accepted", "paid"), "appealed"),
    (("void",), "draft"), ((), "nonsense"),
])
def test_illegal_transitions_are_refused_and_change_nothing(c, path, illegal):
    claim = move(c, built(c), *path)
    before = state(claim.id)
    with pytest.raises(ValidationFailed) as exc:
        claims.transition(c.session, claim, illegal, actor=c.user, expected_version=claim.version, today=TODAY)
    assert f"Claim {claim.claim_number} is " in str(exc.value) and "cannot become" in str(exc.value)
    assert state(claim.id) == before


def test_a_stale_version_is_refused(c):
    claim = built(c)
    with pytest.raises(StaleRecordError):
        claims.transition(c.session, claim, "ready", actor=c.user, expected_version=claim.version - 1, today=TODAY)
    assert state(claim.id)[0] == "draft"


def test_a_rejected_claim_goes_back_to_draft_is_fixed_and_resent_as_an_original(c):
    claim = move(c, built(c), "ready", "submitted", "rejected", "draft")
    claims.update_line(c.session, claim, claim.lines[0], modifiers=["25"], expected_version=claim.version)
    move(c, claim, "ready", "submitted")
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert (claim.status, claim.frequency_code, claim.original_claim_id, claim.lines[0].modifiers) == (
        "submitted", "1", None, ["25"])
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1


def test_a_never_sent_claim_is_simply_voided(c):
    for path in ((), ("ready",), ("ready", "submitted", "rejected")):
        claim = move(c, built(c, when=VISIT + timedelta(hours=len(path))), *path)
        move(c, claim, "void")
        assert state(claim.id)[0] == "void"


def test_lines_cannot_be_edited_once_the_claim_left_draft(c):
    claim = move(c, built(c), "ready", "submitted", "accepted")
    before = state(claim.id)
    with pytest.raises(ValidationFailed) as exc:
        claims.update_line(c.session, claim, claim.lines[0], units="2", expected_version=claim.version)
    assert str(exc.value) == f"Claim {claim.claim_number} is accepted: it can only be changed while it is a draft."
    with pytest.raises(ValidationFailed):
        claims.refresh_lines(c.session, claim, expected_version=claim.version)
    assert state(claim.id) == before


def test_refresh_takes_the_lines_again_from_the_encounter(c):
    claim = built(c)
    enc = claim.encounter
    move(c, claim, "ready", "submitted", "rejected", "draft")
    enc = encounters.add_charge(c.session, enc, {"code": "81002", "fee": "12.00", "pointers": "A"},
                                expected_version=enc.version).encounter
    claims.refresh_lines(c.session, claim, expected_version=claim.version)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert [l.code for l in claim.lines] == ["99213", "81002"] and claim.total_charge == Decimal("112.00")
    trail = db.session.execute(select(AuditEvent.action, AuditEvent.patient_id)
                               .where(AuditEvent.object_type == "ClaimLine")).all()
    assert sorted(set(trail)) == [("create", c.patient.id), ("delete", c.patient.id)]


def test_bad_line_values_are_refused_and_nothing_changes(c):
    claim = built(c)
    before = state(claim.id)
    with pytest.raises(ValidationFailed) as exc:
        claims.update_line(c.session, claim, claim.lines[0], units="two", pointers=["X"], colour="red",
                           expected_version=claim.version)
    assert sorted(f for f, _ in exc.value.problems) == ["colour", "pointers", "units"]
    assert state(claim.id) == before


# ------------------------------------------------------------------ corrections (7 / 8)

def test_replacement_and_void_carry_the_payer_claim_control_number(c):
    claim = move(c, built(c), "ready", "submitted", "accepted")
    with pytest.raises(ValidationFailed) as exc:
        claims.correct(c.session, claim, kind="replace", actor=c.user)
    assert str(exc.value) == (f"Claim {claim.claim_number} has no payer claim control number yet: a replacement or "
                              "void must carry it. Post the payer's remittance first.")
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1
    claims.set_payer_control_number(c.session, claim, "ICN20260201777")
    move(c, claim, "paid")
    enc = claim.encounter  # the encounter corrected: 99214 instead of 99213
    enc.status = "open"
    db.session.commit()
    encounters.update_charge(c.session, enc, enc.charges[0], {"code": "99214", "fee": "150.00", "pointers": "A"},
                             expected_version=enc.version)
    replacement = claims.correct(c.session, claim, kind="replace", actor=c.user)
    assert (replacement.frequency_code, replacement.original_claim_id, replacement.status) == ("7", claim.id, "draft")
    assert [(l.code, l.charge) for l in replacement.lines] == [("99214", Decimal("150.00"))]
    data = claims.claim_data(c.session, replacement)
    assert (data.frequency, data.payer_claim_control_number, data.claim_number) == (
        "7", "ICN20260201777", replacement.claim_number)
    assert claims.scrub(c.session, replacement, today=TODAY) == []  # its original is no duplicate
    with pytest.raises(ValidationFailed) as exc:
        claims.correct(c.session, claim, kind="void", actor=c.user)
    assert f"Claim {replacement.claim_number} already corrects this claim" in str(exc.value)
    move(c, replacement, "void")
    voiding = claims.correct(c.session, claim, kind="void", actor=c.user)
    assert (voiding.frequency_code, voiding.original_claim_id) == ("8", claim.id)
    assert [(l.code, l.charge) for l in voiding.lines] == [("99213", Decimal("100.00"))]  # the original's lines
    assert claims.claim_data(c.session, voiding).payer_claim_control_number == "ICN20260201777"


def test_a_claim_not_adjudicated_is_not_corrected(c):
    claim = move(c, built(c), "ready", "submitted")
    claims.set_payer_control_number(c.session, claim, "ICN1")
    with pytest.raises(ValidationFailed) as exc:
        claims.correct(c.session, claim, kind="void", actor=c.user)
    assert "only a claim the payer accepted, paid or denied" in str(exc.value)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1


# ------------------------------------------------------------------ the claim as data

def test_claim_data_for_a_self_subscriber(c):
    enc = ready_encounter(c, codes=("E11.9", "I10", "E66.9"), lines=(
        {"code": "99213", "fee": "100.00", "pointers": "A C"},
        {"code": "81002", "fee": "12.50", "units": "2", "pointers": "B"}))
    second = ProviderFactory(npi=OTHER_NPI)
    encounters.update_charge(c.session, enc, enc.charges[1], {"code": "81002", "fee": "12.50", "units": "2",
                                                              "pointers": "B", "rendering_provider": second.id},
                             expected_version=enc.version)
    enc = encounters.mark_ready(c.session, enc, expected_version=enc.version)
    claim = claims.build_claim(c.session, enc, actor=c.user)
    data = claims.claim_data(c.session, claim)
    assert data.total_charge == sum(line.charge for line in data.lines) == Decimal("125.00")
    assert data.diagnoses == ["E119", "I10", "E669"]
    assert [line.pointers for line in data.lines] == [[1, 3], [2]]
    assert all(1 <= p <= len(data.diagnoses) for line in data.lines for p in line.pointers)
    assert (data.relationship, data.payer_responsibility, data.claim_filing_indicator, data.member_group,
            data.plan_name, data.frequency, data.payer_claim_control_number) == (
        "18", "P", "CI", "GRP7", "Acme Gold", "1", None)
    assert data.patient == data.subscriber
    assert (data.subscriber.name, data.subscriber.id_qualifier, data.subscriber.id, data.subscriber.sex,
            data.subscriber.address.postal_code) == (c.patient.family_name, "MI", "XYZ123456", "F", "02115")
    assert (data.billing_provider.id, data.billing_provider.tax_id, data.billing_provider.address.postal_code) == (
        GROUP_NPI, "123456789", "021101234")
    assert data.pay_to.line1 == "PO Box 9"
    assert (data.payer.name, data.payer.id_qualifier, data.payer.id) == ("Acme Health", "PI", "ACME1")
    assert (data.rendering_provider.id, data.lines[0].rendering, data.lines[1].rendering.id) == (
        PROVIDER_NPI, None, OTHER_NPI)
    assert data.place_of_service == "11" and data.lines[0].service_date == DAY


@pytest.mark.parametrize("relationship, code", [("spouse", "01"), ("child", "19"), ("other", "G8")])
def test_claim_data_for_a_dependent(c, relationship, code):
    c.coverage.subscriber_relationship = relationship
    c.coverage.subscriber_family_name, c.coverage.subscriber_given_name = "Parent", "Pat"
    c.coverage.subscriber_birth_date, c.coverage.subscriber_sex = date(1970, 3, 4), "male"
    c.coverage.priority = 1
    db.session.commit()
    claim = built(c)
    assert claims.scrub(c.session, claim, today=TODAY) == []
    data = claims.claim_data(c.session, claim)
    assert data.relationship == code
    assert (data.subscriber.name, data.subscriber.given_name, data.subscriber.birth_date, data.subscriber.sex,
            data.subscriber.id) == ("Parent", "Pat", date(1970, 3, 4), "M", "XYZ123456")
    assert (data.patient.name, data.patient.birth_date, data.patient.id) == (
        c.patient.family_name, c.patient.birth_date, None)


def test_claim_data_for_a_subscriber_who_is_another_patient_and_a_secondary_coverage(c):
    parent = PatientFactory(sex="male")
    c.coverage.end_date = date(2025, 12, 31)
    db.session.commit()
    primary = coverage_service.add_coverage(db.session, c.patient, payer=c.payer, priority=1, member_id="P1",
                                            effective_date=date(2026, 1, 1), subscriber_relationship="child",
                                            subscriber_mrn=parent.mrn)
    other_payer = Payer(name="Beta Care", payer_code="BETA", claim_filing_indicator="BL", timely_filing_days=180)
    db.session.add(other_payer)
    db.session.commit()
    secondary = coverage_service.add_coverage(db.session, c.patient, payer=other_payer, priority=2, member_id="S2",
                                              effective_date=date(2026, 1, 1))
    enc = ready_encounter(c)
    first = claims.build_claim(c.session, enc, actor=c.user)
    assert first.coverage_id == primary.id
    data = claims.claim_data(c.session, first)
    assert (data.relationship, data.subscriber.name, data.subscriber.sex, data.subscriber.id) == (
        "19", parent.family_name, "M", "P1")
    later = claims.build_claim(c.session, enc, coverage=secondary, actor=c.user)
    data = claims.claim_data(c.session, later)
    assert (data.payer_responsibility, data.claim_filing_indicator, data.relationship) == ("S", "BL", "18")
    assert isinstance(db.session.get(Coverage, secondary.id), Coverage)
    assert db.session.scalar(select(func.count()).select_from(ClaimStatusChange)) == 2
    assert db.session.scalar(select(func.count()).select_from(ClaimLine)) == 2


def test_a_charge_line_removed_from_the_encounter_leaves_the_claim_line_as_billed(c):
    enc = ready_encounter(c, lines=({"code": "99213", "fee": "100.00", "pointers": "A"},
                                    {"code": "81002", "fee": "12.50", "pointers": "B"}))
    claim = claims.build_claim(c.session, enc, actor=c.user)
    encounters.remove_charge(c.session, enc, enc.charges[1], expected_version=enc.version)
    db.session.expire_all()
    lines = db.session.get(Claim, claim.id).lines
    assert [(l.code, l.charge_line_id is None) for l in lines] == [("99213", False), ("81002", True)]


# ------------------------------------------------------------------ the claim's own diagnoses

def test_a_built_claim_keeps_its_diagnoses_when_the_encounter_changes_later(c):
    enc = ready_encounter(c, codes=("E11.9", "I10", "E66.9"), lines=(
        {"code": "99213", "fee": "100.00", "pointers": "A C"},
        {"code": "81002", "fee": "12.50", "pointers": "B"}))
    claim = claims.build_claim(c.session, enc, actor=c.user)
    move(c, claim, "ready", "submitted", "rejected")  # rejected: the encounter is open to fixes again
    assert [(d.position, d.code) for d in claim.diagnoses] == [(1, "E119"), (2, "I10"), (3, "E669")]
    # After the claim was sent (and rejected), the encounter's diagnoses are reordered and one is added.
    enc = db.session.get(Claim, claim.id).encounter
    encounters.set_diagnoses(c.session, enc, ["E66.9", "J45.909", "I10", "E11.9"], expected_version=enc.version)
    db.session.expire_all()
    enc = db.session.get(Claim, claim.id).encounter
    assert [d.code for d in enc.diagnoses] == ["E669", "J45909", "I10", "E119"]
    assert [c_.pointers for c_ in enc.charges] == [[4, 1], [3]]  # the encounter's lines follow its codes
    claim = db.session.get(Claim, claim.id)
    data = claims.claim_data(c.session, claim)
    assert data.diagnoses == ["E119", "I10", "E669"]
    assert [[data.diagnoses[p - 1] for p in line.pointers] for line in data.lines] == [["E119", "E669"], ["I10"]]
    assert [(d.position, d.code) for d in claim.diagnoses] == [(1, "E119"), (2, "I10"), (3, "E669")]


def test_the_scrubber_judges_the_claims_diagnoses_not_the_encounters(c):
    claim = built(c)  # E11.9 (A), I10 (B); line 1 points at A and B
    enc = claim.encounter
    # The encounter drops I10 behind the claim's back (its charge line points at it, so directly).
    db.session.delete(db.session.scalars(select(EncounterDiagnosis).where(EncounterDiagnosis.encounter_id == enc.id,
                                                                          EncounterDiagnosis.position == 2)).one())
    db.session.commit()
    db.session.expire_all()
    assert claims.scrub(c.session, db.session.get(Claim, claim.id), today=TODAY) == []


def test_refresh_on_a_draft_takes_the_encounters_new_diagnoses(c):
    claim = built(c)  # E11.9 (A), I10 (B); line 1 points at A and B
    move(c, claim, "ready", "submitted", "rejected", "draft")
    enc = db.session.get(Claim, claim.id).encounter
    encounters.set_diagnoses(c.session, enc, ["I10", "J45.909", "E11.9"], expected_version=enc.version)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert claims.claim_data(c.session, claim).diagnoses == ["E119", "I10"]  # not refreshed yet
    claims.refresh_lines(c.session, claim, expected_version=claim.version)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    data = claims.claim_data(c.session, claim)
    assert data.diagnoses == ["I10", "J45909", "E119"]
    assert [[data.diagnoses[p - 1] for p in line.pointers] for line in data.lines] == [["E119", "I10"]]
    assert db.session.scalar(select(func.count()).select_from(ClaimDiagnosis)) == 3
    trail = db.session.execute(select(AuditEvent.action, AuditEvent.patient_id)
                               .where(AuditEvent.object_type == "ClaimDiagnosis")).all()
    assert sorted(set(trail)) == [("create", c.patient.id), ("delete", c.patient.id)]
