"""`flask clinic seed-demo`: demo data that obeys the registry's own rules and is findable."""
import json
import re
import unicodedata
from datetime import date, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Patient, PatientSearchTerm, Provider
from app.models.audit import AuditEvent
from app.security import ROLE_DEFINITIONS
from app.services import demo_seed
from app.services.checkdigits import npi_valid
from app.services.patient_search import search
from app.services.patients import EDITABLE_FIELDS, age_on, clean, find_duplicates, name_search_for, search_terms_for

COUNT = 300
CREDENTIALS = re.compile(r"^\s+(\w+)\s+(demo_\w+) / (\S+)$", re.M)


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", str(COUNT), "--seed", "7"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _patients():
    return db.session.scalars(select(Patient).order_by(Patient.id)).all()


def test_seed_demo_creates_patients_providers_and_search_terms(seeded):
    assert f"Seeded {COUNT} patients" in seeded
    patients = _patients()
    assert len(patients) == COUNT
    assert len({p.mrn for p in patients}) == COUNT

    providers = db.session.scalars(select(Provider)).all()
    assert len(providers) == len(demo_seed.DEMO_PROVIDERS)
    assert all(npi_valid(p.npi) for p in providers)
    assigned = {p.primary_provider_id for p in patients} - {None}
    assert assigned and assigned <= {p.id for p in providers}

    terms = {}
    for patient_id, term in db.session.execute(select(PatientSearchTerm.patient_id, PatientSearchTerm.term)):
        terms.setdefault(patient_id, set()).add(term)
    for p in patients:
        fields = {f: getattr(p, f) for f in EDITABLE_FIELDS}
        assert terms.get(p.id) == search_terms_for(fields), p
        assert p.name_search == name_search_for(fields)
        assert p.version == 1
        assert p.created_on.tzinfo is not None and p.changed_on.utcoffset().total_seconds() == 0

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "create",
                                                         AuditEvent.object_type == "Patient")).all()
    assert sum(json.loads(e.details)["count"] for e in events) == COUNT


def test_every_seeded_patient_passes_the_registry_rules(seeded):
    today = date.today()
    for p in _patients():
        fields = {f: getattr(p, f) for f in EDITABLE_FIELDS}
        # current=p: a new registration may not be "deceased", an existing record may.
        cleaned = clean(fields, today=today, current=p, session=db.session)
        for field in ("phone_home", "phone_mobile", "phone_work", "emergency_contact_phone", "guardian_phone",
                      "guarantor_phone", "email"):
            assert cleaned[field] == fields[field], (p, field)  # stored already normalised (E.164)
        if age_on(p.birth_date, today) < 18:
            assert p.guardian_name and p.guardian_phone
        registered = p.created_on.date() + timedelta(days=1)  # a day's slack: UTC stamp vs local date
        assert registered >= p.birth_date
        assert p.hipaa_notice_ack_date is None or p.hipaa_notice_ack_date + timedelta(days=2) >= registered
        assert p.deceased_date is None or p.deceased_date + timedelta(days=2) >= registered
        if p.preferred_language == "en":
            assert not p.interpreter_needed
        if p.email:
            assert p.email.rsplit("@", 1)[1] in demo_seed.EMAIL_DOMAINS


def test_seeded_data_is_multilingual_and_varied(seeded):
    patients = _patients()
    languages = {p.preferred_language for p in patients}
    assert languages == {lang for lang, *_ in demo_seed.LOCALES}
    assert any(p.interpreter_needed for p in patients)
    names = " ".join(f"{p.family_name} {p.given_name}" for p in patients)
    scripts = {unicodedata.name(ch).split()[0] for ch in names if ch.isalpha()}
    assert {"LATIN", "CJK", "ARABIC", "CYRILLIC"} <= scripts
    assert any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", names))  # é, ễ, ã ...
    statuses = {p.status for p in patients}
    assert {"active", "inactive"} <= statuses
    assert any(p.hipaa_notice_ack_date for p in patients) and any(p.emergency_contact_name for p in patients)
    assert any(p.consent_sms for p in patients) and any(p.email for p in patients)
    assert any(age_on(p.birth_date, date.today()) < 18 for p in patients)


def test_seeded_near_duplicates_trigger_the_duplicate_warning(seeded):
    assert "near-duplicates" in seeded
    pairs = 0
    for p in _patients():
        fields = {f: getattr(p, f) for f in ("family_name", "given_name", "birth_date")}
        matches = [d for d in find_duplicates(db.session, fields, exclude_id=p.id)
                   if d.birth_date == p.birth_date and d.family_name != p.family_name]
        pairs += bool(matches)
    assert pairs >= 2  # each pair seen from both sides: at least one accent-only duplicate


def test_seeded_patients_are_found_by_name_and_mrn(seeded):
    patients = _patients()
    by_language = {}
    for p in patients:
        by_language.setdefault(p.preferred_language, p)
    for p in by_language.values():
        found, _ = search(db.session, f"{p.family_name} {p.given_name}", limit=50)
        assert p in found, (p, found)
        found, _ = search(db.session, p.mrn)
        assert found == [p]


def test_demo_users_exist_with_their_roles_and_printed_passwords(seeded):
    sm = current_app.appbuilder.sm
    printed = {username: (role, password) for role, username, password in CREDENTIALS.findall(seeded)}
    roles = [sm.auth_role_admin] + list(ROLE_DEFINITIONS)
    assert sorted(role for role, _ in printed.values()) == sorted(roles)
    for username, (role, password) in printed.items():
        user = sm.find_user(username=username)
        assert [r.name for r in user.roles] == [role]
        assert sm.auth_user_db(username, password) is not None
    clinician = sm.find_user(username="demo_clinician")
    assert db.session.scalar(select(Provider).where(Provider.user_id == clinician.id)) is not None


def test_seed_demo_again_keeps_users_and_skips_patients(seeded, runner):
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "50"])
    assert result.exit_code == 0, result.output
    assert "already exists" in result.output and not CREDENTIALS.search(result.output)
    assert "skipped" in result.output
    assert db.session.scalar(select(func.count()).select_from(Patient)) == COUNT
    assert db.session.scalar(select(func.count()).select_from(Provider)) == len(demo_seed.DEMO_PROVIDERS)


def test_same_seed_gives_the_same_patients_inline_or_in_a_second_process(app):
    pools = demo_seed.build_pools(3, size=200)
    options = dict(seed=3, batch_size=40, providers=((1, "all"), (2, "children")), today=date(2026, 1, 15), pools=pools)
    inline = [batch for batch in demo_seed.generate_batches(100, **options)]
    again = [batch for batch in demo_seed.generate_batches(100, **options)]
    assert inline == again
    if demo_seed.can_generate_in_background():
        assert list(demo_seed._batches_from_child(100, options)) == inline


# --------------------------------------------------------------------------- the schedule

def _active_overlaps(appointments, key):
    """Pairs of active, not overbooked appointments sharing `key` (provider, room, patient) that overlap."""
    by_key = {}
    for a in appointments:
        if a.status not in ("cancelled", "no_show") and not a.overbook and getattr(a, f"{key}_id") is not None:
            by_key.setdefault(getattr(a, f"{key}_id"), []).append(a)
    clashes = []
    for items in by_key.values():
        items.sort(key=lambda a: a.start_at)
        clashes += [(x.id, y.id) for x, y in zip(items, items[1:]) if y.start_at < x.end_at]
    return clashes


def test_seed_demo_builds_a_schedule_that_obeys_the_booking_rules(seeded):
    from zoneinfo import ZoneInfo

    from app.models import Appointment, AppointmentStatusChange, AppointmentType, Location, ProviderHours
    from app.models.base import utcnow
    from app.models.scheduling import ProviderException
    from app.services import scheduling

    assert "appointments at 2 locations" in seeded
    locations = db.session.scalars(select(Location)).all()
    assert {loc.timezone for loc in locations} == {"America/New_York", "America/Los_Angeles"}
    assert all(len(loc.rooms) >= 4 for loc in locations)
    types = db.session.scalars(select(AppointmentType)).all()
    assert 5 <= len(types) <= 6 and len({t.colour for t in types}) == len(types)
    assert any(t.telehealth for t in types) and any(t.new_patient for t in types)
    hours = db.session.scalars(select(ProviderHours)).all()
    assert {h.weekday for h in hours} == {0, 1, 2, 3, 4}
    assert {h.provider_id for h in hours} == {p.id for p in db.session.scalars(select(Provider))}
    absences = db.session.scalars(select(ProviderException)).all()
    assert absences

    appointments = db.session.scalars(select(Appointment)).all()
    assert len(appointments) > 500
    for key in ("provider", "room", "patient"):
        assert _active_overlaps(appointments, key) == [], key
    now = utcnow()
    statuses = {a.status for a in appointments}
    assert {"checked_out", "no_show", "cancelled", "booked", "confirmed"} <= statuses
    for a in appointments:
        # Inside the provider's hours at the location, in its local time, outside every absence.
        assert a.timezone == a.location.timezone
        assert scheduling.local_to_utc(a.start_local, a.timezone) == a.start_at
        assert scheduling.within_hours(db.session, a.provider_id, a.location, a.start_at, a.end_at), a.id
        if a.is_active:
            assert not any(e.provider_id == a.provider_id and e.start_at < a.end_at and a.start_at < e.end_at
                           for e in absences), a.id
        if a.end_at <= now:
            assert a.status not in ("booked", "confirmed", "arrived", "in_room"), (a.id, a.status)
        if a.start_at > now + timedelta(minutes=30):
            assert a.status in ("booked", "confirmed", "cancelled"), (a.id, a.status)
        assert (a.telehealth_url or "").startswith("https://") == a.type.telehealth
        assert (a.room_id is not None) == (a.status in ("in_room", "completed", "checked_out"))
        assert a.room is None or a.room.location_id == a.location_id
    earliest = min(a.start_at for a in appointments)
    latest = max(a.start_at for a in appointments)
    assert timedelta(days=11) <= now - earliest <= timedelta(days=15)  # 14 days back, weekends aside
    assert timedelta(days=25) <= latest - now <= timedelta(days=29)

    # Today (at each appointment's location) has a flow board's worth of appointments.
    today = [a for a in appointments if a.start_local.date() == now.astimezone(ZoneInfo(a.timezone)).date()]
    if now.astimezone(ZoneInfo("America/New_York")).weekday() < 5:
        assert len(today) >= 20

    # Each appointment's history leads to its status, in time order, never in the future.
    changes = {}
    for change in db.session.scalars(select(AppointmentStatusChange).order_by(AppointmentStatusChange.id)):
        changes.setdefault(change.appointment_id, []).append(change)
    for a in appointments:
        history = changes[a.id]
        assert history[0].from_status is None and history[0].to_status == "booked"
        assert history[-1].to_status == a.status and a.version == len(history)
        for before, after in zip(history, history[1:]):
            assert after.from_status == before.to_status
            assert after.to_status in scheduling.TRANSITIONS[before.to_status]
            assert before.changed_at <= after.changed_at <= now
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Appointment")).all()
    assert sum(json.loads(e.details)["count"] for e in events) == len(appointments)


def test_seed_demo_again_leaves_the_schedule_alone(seeded, runner):
    from app.models import Appointment, Location

    count = db.session.scalar(select(func.count()).select_from(Appointment))
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "50"])
    assert result.exit_code == 0, result.output
    assert "skipped seeding the schedule" in result.output
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == count
    assert db.session.scalar(select(func.count()).select_from(Location)) == 2


# --------------------------------------------------------------------------- billing

def _billing_counts():
    from app.models.billing import (
        BillingSettings, ChargeLine, CopayPayment, Coverage, EligibilityCheck, Encounter, EncounterDiagnosis,
        FeeScheduleEntry, Payer, ServiceFacility,
    )

    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (BillingSettings, ServiceFacility, Payer, Coverage, FeeScheduleEntry, Encounter,
                          EncounterDiagnosis, ChargeLine, EligibilityCheck, CopayPayment)}


def test_seed_demo_seeds_payers_coverages_and_fees_that_obey_the_rules(seeded):
    from app.models import Location
    from app.models.billing import BillingSettings, CopayPayment, Coverage, FeeScheduleEntry, Payer, ServiceFacility
    from app.models.counter import Counter
    from app.services import coverage as coverage_service
    from app.services.copays import RECEIPT_COUNTER

    assert "Seeded billing: 6 payers" in seeded
    assert "skipped the demo encounters" in seeded  # no ICD-10-CM code set in this database
    assert _billing_counts()["Encounter"] == 0

    settings = db.session.get(BillingSettings, 1)
    assert npi_valid(settings.group_npi) and re.fullmatch(r"\d{9}", settings.tax_id)
    assert settings.taxonomy_code == "207Q00000X" and re.fullmatch(r"\d{9}", settings.postal_code)
    assert settings.usage_indicator == "T" and settings.submitter_id and settings.isa_receiver_id
    facilities = db.session.scalars(select(ServiceFacility)).all()
    assert sorted(f.location_id for f in facilities) == sorted(loc.id for loc in db.session.scalars(select(Location)))
    assert {f.place_of_service for f in facilities} == {"11"} and all(npi_valid(f.npi) for f in facilities)

    payers = db.session.scalars(select(Payer)).all()
    assert len(payers) == 6 and {"MB", "MC", "CI", "BL"} <= {p.claim_filing_indicator for p in payers}
    assert all(90 <= p.timely_filing_days <= 365 and p.active for p in payers)

    fees = db.session.scalars(select(FeeScheduleEntry)).all()
    assert len(fees) == 25 and {f.effective_date for f in fees} == {date(2026, 1, 1)}
    assert all(f.fee > 0 and f.modifier == "" for f in fees)

    patients = {p.id: p for p in _patients()}
    coverages = db.session.scalars(select(Coverage).order_by(Coverage.id)).all()
    today = date.today()
    current = [c for c in coverages if c.priority == 1 and c.end_date is None]
    assert sorted(c.patient_id for c in current) == sorted(patients)  # every patient: insured or self-pay
    self_pay = sum(c.self_pay for c in current) / len(current)
    assert 0.07 <= self_pay <= 0.25, self_pay
    assert 0.05 <= sum(c.priority == 2 for c in coverages) / len(current) <= 0.25
    by_order = {}
    for c in coverages:
        assert c.status == "active" and c.effective_date < today + timedelta(days=1)
        by_order.setdefault((c.patient_id, c.priority), []).append(c)
        if c.self_pay:
            assert c.payer_id is None and c.member_id is None
        else:
            assert re.fullmatch(r"[A-Z]{3}\d{8}", c.member_id), c.member_id
            assert c.copay is None if c.priority == 2 else 0 <= c.copay <= 50
        # The coverage service's own checks (an edit to the same values) accept every seeded row.
        values = {f: getattr(c, f) for f in coverage_service.FIELDS if f not in ("payer", "subscriber_mrn")}
        values.update(payer=c.payer_id, _old_payer_id=c.payer_id)
        coverage_service._validate(db.session, patients[c.patient_id], values, exclude_id=c.id)
        minor = age_on(patients[c.patient_id].birth_date, today) < 18
        if not c.self_pay and minor and patients[c.patient_id].guardian_name:
            assert c.subscriber_relationship in ("child", "other") and c.subscriber_family_name
    for items in by_order.values():  # the same order never overlaps in time
        items.sort(key=lambda c: c.effective_date)
        for before, after in zip(items, items[1:]):
            assert before.end_date is not None and before.end_date < after.effective_date
    assert any(len(items) > 1 for items in by_order.values())  # some patients changed plans

    payments = db.session.scalars(select(CopayPayment)).all()
    counter = db.session.scalar(select(Counter.value).where(Counter.name == RECEIPT_COUNTER))
    numbers = sorted(int(p.receipt_number[1:]) for p in payments)  # the copay service's counter (kept across tests)
    assert numbers == list(range(counter - len(payments) + 1, counter + 1))
    for payment in payments:
        assert payment.appointment.patient_id == payment.patient_id and payment.appointment.status != "booked"
        primary = coverage_service.active_coverages(db.session, payment.patient_id, payment.appointment.start_local.date())
        assert payment.amount == primary[0].copay and payment.received_at <= utc_now()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Coverage")).all()
    assert sum(json.loads(e.details)["count"] for e in events) == len(coverages)


def utc_now():
    from app.models.base import utcnow

    return utcnow()


def test_seed_demo_checks_eligibility_for_about_half_of_todays_insured_visits(seeded):
    from app.models.billing import EligibilityCheck
    from app.services import coverage as coverage_service

    from zoneinfo import ZoneInfo

    checks = db.session.scalars(select(EligibilityCheck)).all()
    if utc_now().astimezone(ZoneInfo("America/New_York")).weekday() < 5:  # the demo practice works weekdays
        assert len(checks) >= 5
    for check in checks:
        assert check.method == "portal" and check.result == "active"
        assert check.appointment.patient_id == check.patient_id == check.coverage.patient_id
        assert check.service_date == check.appointment.start_local.date()
        assert check.coverage in coverage_service.active_coverages(db.session, check.patient_id, check.service_date)
        assert check.coverage.priority == 1 and not check.coverage.self_pay
        assert check.copay == check.coverage.copay and check.checked_at <= utc_now()


def test_seed_demo_with_a_code_set_seeds_encounters_with_valid_diagnoses_and_charges(app, icd10_sets, runner):
    from app.models.billing import ChargeLine, Encounter
    from app.services import fees, icd10

    result = runner.invoke(args=["clinic", "seed-demo", "--patients", str(COUNT), "--seed", "7"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "skipped the demo encounters" not in result.output
    now = utc_now()
    # The last two weeks' visits; the billing office (demo_billing_flow) adds older ones and bills some of these.
    encounters = [e for e in db.session.scalars(select(Encounter)) if e.appointment.start_at >= now - timedelta(days=15)]
    assert len(encounters) >= 50, result.output
    assert {"open", "ready"} <= {e.status for e in encounters} <= {"open", "ready", "billed"}
    for e in encounters:
        a = e.appointment
        assert a.status in ("completed", "checked_out") and now - timedelta(days=15) <= a.start_at <= now
        assert (e.patient_id, e.provider_id, e.service_date) == (a.patient_id, a.provider_id, a.start_local.date())
        assert e.service_facility.location_id == a.location_id
        assert e.place_of_service == ("02" if a.type.telehealth else "11")
        assert 1 <= len(e.diagnoses) <= 3 and 1 <= len(e.charges) <= 2
        for d in e.diagnoses:
            row, problem = icd10.lookup(db.session, d.code, e.service_date)
            assert problem is None and row.code_set_id == d.code_set_id, (d.code, problem)
        positions = {d.position for d in e.diagnoses}
        for line in e.charges:
            assert line.pointers and set(line.pointers) <= positions, (e.id, line.pointers, positions)
            assert line.fee == fees.fee_for(db.session, line.code, line.modifier1, e.service_date)
            assert line.code_kind in ("CPT", "HCPCS") and line.rendering_provider_id == e.provider_id
    assert db.session.scalar(select(func.count()).select_from(ChargeLine)) > len(encounters)  # some 2-line visits


def test_seed_demo_again_does_not_duplicate_billing(seeded, runner):
    before = _billing_counts()
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "50"])
    assert result.exit_code == 0, result.output
    assert "skipped seeding billing" in result.output
    assert _billing_counts() == before and before["Coverage"] >= COUNT
