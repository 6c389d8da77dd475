"""Encounters: opened from a visit that took place, ICD-10-CM diagnoses checked on the date of
service, CPT/HCPCS charge lines with modifiers, units, fees from the fee schedule and pointers
A-L; every bad input refused with a clear message and nothing written; the row rule that keeps
a clinician to their own encounters; who may reach the screens."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import ChargeLine, Encounter, EncounterDiagnosis, FeeScheduleEntry, ServiceFacility
from app.services import encounters, scheduling
from app.services.errors import StaleRecordError, ValidationFailed
from tests.factories import ProviderFactory
from tests.scheduling_setup import book, make_clinic, utc

VISIT = datetime(2026, 1, 12, 9, 0)  # a Monday, FY2026 code set in force (E11.A exists)
OLD_VISIT = datetime(2025, 3, 3, 9, 0)  # FY2025 code set: E11.A not yet in force
LONG_AGO = utc(2020, 1, 1)


@pytest.fixture
def c(icd10_sets):
    clinic = make_clinic(weekdays=range(7))
    clinic.sets = icd10_sets
    return clinic


def visit(c, when=VISIT, status="arrived", **over):
    """An appointment that took place (booked in the past, then checked in)."""
    appointment = book(c, when, now=LONG_AGO, **over)
    if status != "booked":
        scheduling.transition(c.session, appointment, "arrived")
    return appointment


def opened(c, when=VISIT, **over):
    return encounters.encounter_for_appointment(c.session, visit(c, when, **over))


def fee(code, amount, effective=date(2025, 1, 1), modifier=""):
    db.session.add(FeeScheduleEntry(code=code, modifier=modifier, fee=Decimal(amount), effective_date=effective))
    db.session.commit()


def with_dx(c, codes=("E11.9", "I10"), **over):
    enc = opened(c, **over)
    return encounters.set_diagnoses(c.session, enc, list(codes), expected_version=enc.version)


def charge(enc, **data):
    values = {"code": "99213", "fee": "100.00", "units": "1", "pointers": "A"}
    values.update(data)
    return encounters.add_charge(db.session, enc, values, expected_version=enc.version)


def counts():
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Encounter, EncounterDiagnosis,
                                                                                    ChargeLine))


def snapshot(enc_id):
    """Everything about an encounter that a refused change must leave as it was."""
    db.session.expire_all()
    enc = db.session.get(Encounter, enc_id)
    return (enc.version, enc.status, [(d.position, d.code) for d in enc.diagnoses],
            [(line.line_number, line.code, line.fee, line.units, line.pointers, line.modifiers)
             for line in enc.charges])


def refused(call, *fields):
    """The call raises ValidationFailed naming exactly these fields (in any order); its messages."""
    with pytest.raises(ValidationFailed) as exc:
        call()
    assert sorted({f for f, _ in exc.value.problems}) == sorted(set(fields)), exc.value.problems
    return " | ".join(str(m) for _, m in exc.value.problems)


def text(resp):
    return unescape(resp.get_data(as_text=True))


def linked_clinician(login_as, provider):
    user = login_as("Clinician")
    provider.user_id = user.id
    db.session.commit()
    return user


# ------------------------------------------------------------------ opening an encounter

def test_an_arrived_visit_opens_one_encounter_with_the_visit_details(c):
    appointment = visit(c)
    enc = encounters.encounter_for_appointment(c.session, appointment)
    assert (enc.patient_id, enc.provider_id, enc.service_date, enc.place_of_service, enc.status) == (
        c.patient.id, c.provider.id, date(2026, 1, 12), "11", "open")
    again = encounters.encounter_for_appointment(c.session, appointment)
    assert again.id == enc.id and counts()[0] == 1


def test_a_booked_visit_gets_no_encounter(c):
    appointment = visit(c, status="booked")
    message = refused(lambda: encounters.encounter_for_appointment(c.session, appointment), "appointment")
    assert "arrived" in message and counts() == (0, 0, 0)


def test_telehealth_is_place_of_service_02_and_the_location_facility_is_used(c):
    facility = ServiceFacility(name="Main street clinic", address_line1="1 Main St", city="Boston", state="MA",
                               postal_code="02110", place_of_service="22", location_id=c.location.id)
    db.session.add(facility)
    db.session.commit()
    office = opened(c)
    assert (office.service_facility_id, office.place_of_service) == (facility.id, "22")
    tele = scheduling.add_type(c.session, name="Video visit", default_duration=20, telehealth=True)
    remote = opened(c, when=VISIT + timedelta(hours=2), type=tele, telehealth_url="https://video.example.org/x1")
    assert remote.place_of_service == "02"


# ------------------------------------------------------------------ diagnoses

def test_diagnoses_are_stored_without_the_dot_in_order_with_their_code_set(c):
    enc = with_dx(c, ["e11.9", "I10 ", "", "E11.A"])
    rows = [(d.position, d.code, d.code_set_id) for d in enc.diagnoses]
    fy2026 = c.sets["ICD-10-CM FY2026 sample"].id
    assert rows == [(1, "E119", fy2026), (2, "I10", fy2026), (3, "E11A", fy2026)]


def test_unknown_header_and_not_yet_effective_codes_are_refused_all_at_once(c):
    enc = opened(c, when=OLD_VISIT)
    before = snapshot(enc.id)
    message = refused(lambda: encounters.set_diagnoses(c.session, enc, ["E11.9", "XYZ.1", "E11", "E11.A", "E11.9"],
                                                       expected_version=enc.version),
                      "dx2", "dx3", "dx4", "dx5")
    assert "Unknown ICD-10-CM code XYZ.1" in message
    assert "E11 is a category, not a billable code" in message
    assert "E11.A is not in force on" in message
    assert "E11.9 is listed twice" in message
    assert snapshot(enc.id) == before and counts()[1] == 0


def test_an_encounter_needs_one_to_twelve_diagnoses(c):
    enc = opened(c)
    refused(lambda: encounters.set_diagnoses(c.session, enc, ["", " "], expected_version=enc.version), "diagnoses")
    thirteen = ["A00.0", "A00.1", "A00.9", "E11.00", "E11.01", "E11.10", "E11.11", "E11.9", "E66.9", "E66.01",
                "I10", "I11.0", "I11.9"]
    message = refused(lambda: encounters.set_diagnoses(c.session, enc, thirteen, expected_version=enc.version),
                      "diagnoses")
    assert "at most 12" in message and counts()[1] == 0
    encounters.set_diagnoses(c.session, enc, thirteen[:12], expected_version=enc.version)
    assert [d.position for d in enc.diagnoses] == list(range(1, 13))


def test_removing_a_diagnosis_a_charge_points_at_is_refused_but_reordering_moves_the_pointer(c):
    enc = with_dx(c, ["E11.9", "I10", "J06.9"])
    charge(enc, pointers="B")
    before = snapshot(enc.id)
    message = refused(lambda: encounters.set_diagnoses(c.session, enc, ["E11.9", "J06.9"],
                                                       expected_version=enc.version), "diagnoses")
    assert "I10 cannot be removed: charge line 1 points at it" in message
    assert snapshot(enc.id) == before
    encounters.set_diagnoses(c.session, enc, ["I10", "E11.9"], expected_version=enc.version)  # J06.9 unpointed
    db.session.expire_all()
    enc = db.session.get(Encounter, enc.id)
    assert [d.code for d in enc.diagnoses] == ["I10", "E119"] and enc.charges[0].pointers == [1]


# ------------------------------------------------------------------ charge lines

@pytest.mark.parametrize("code,kind", [("99213", "CPT"), ("0001F", "CPT"), ("0042T", "CPT"), ("A0428", "HCPCS"),
                                       ("j1885", "HCPCS")])
def test_cpt_and_hcpcs_codes_are_accepted(c, code, kind):
    enc = with_dx(c)
    line = charge(enc, code=code)
    assert (line.code, line.code_kind, line.line_number) == (code.upper(), kind, 1)


@pytest.mark.parametrize("code", ["9921", "W1234", "99213X", "0001Z", "A042", "992 13", "ABCDE"])
def test_codes_in_neither_format_are_refused(c, code):
    enc = with_dx(c)
    before = snapshot(enc.id)
    message = refused(lambda: charge(enc, code=code), "code")
    assert "is not a CPT code" in message and snapshot(enc.id) == before


def test_every_problem_of_a_charge_line_is_named_at_once_and_nothing_is_written(c):
    enc = with_dx(c)
    before, rows = snapshot(enc.id), counts()
    message = refused(lambda: charge(enc, code="W1234", modifiers="25 59 76 77 91", units="0", fee="-5",
                                     place_of_service="1", rendering_provider="999999", pointers="A C"),
                      "code", "modifiers", "units", "fee", "place_of_service", "rendering_provider", "pointers")
    assert "at most 4 modifiers" in message
    assert "Diagnosis C does not exist on this encounter" in message
    assert "The fee must be an amount of 0 or more" in message
    assert snapshot(enc.id) == before and counts() == rows


@pytest.mark.parametrize("field,value", [("units", "1000"), ("units", "1.005"), ("units", "abc"), ("units", "-1"),
                                         ("fee", "12.345"), ("fee", "ten"), ("modifiers", "2"), ("modifiers", "25 25"),
                                         ("modifiers", "2-"), ("pointers", ""), ("pointers", "A A"),
                                         ("pointers", "M"), ("pointers", "A B A B A")])
def test_bad_values_are_refused(c, field, value):
    enc = with_dx(c)
    before = snapshot(enc.id)
    refused(lambda: charge(enc, **{field: value}), field)
    assert snapshot(enc.id) == before


def test_modifiers_units_and_pointers_are_stored(c):
    enc = with_dx(c, ["E11.9", "I10", "J06.9", "R05.1", "I11.9"])
    line = charge(enc, modifiers="25, 59 xu", units="2.5", pointers="C A E D")
    assert (line.modifiers, line.units, line.pointers) == (["25", "59", "XU"], Decimal("2.50"), [3, 1, 5, 4])
    assert encounters.total(enc) == Decimal("250.00")


def test_the_fee_comes_from_the_schedule_by_date_and_modifier(c):
    fee("99213", "90.00", date(2025, 1, 1))
    fee("99213", "95.00", date(2026, 1, 1))
    fee("99213", "120.00", date(2026, 2, 1))  # after the visit: not used
    fee("99213", "60.00", date(2025, 1, 1), modifier="52")
    enc = with_dx(c)
    assert charge(enc, fee="").fee == Decimal("95.00")
    assert charge(enc, fee="", modifiers="52").fee == Decimal("60.00")
    assert charge(enc, fee="", modifiers="25").fee == Decimal("95.00")  # no fee for -25: the plain one
    assert charge(enc, fee="80").fee == Decimal("80.00")  # typed wins
    assert charge(enc, fee="0").fee == Decimal("0.00")


def test_no_fee_in_the_schedule_asks_for_one(c):
    enc = with_dx(c)
    message = refused(lambda: charge(enc, code="A0428", fee=""), "fee")
    assert "No fee in the fee schedule for A0428 on" in message and "type the fee" in message
    assert counts()[2] == 0


def test_an_inactive_rendering_provider_is_refused(c):
    other = ProviderFactory(active=False)
    enc = with_dx(c)
    refused(lambda: charge(enc, rendering_provider=str(other.id)), "rendering_provider")
    assert charge(enc).rendering_provider_id == c.provider.id


def test_update_and_remove_a_charge_line(c):
    enc = with_dx(c)
    line = charge(enc)
    encounters.update_charge(db.session, enc, line, {"code": "99214", "fee": "150", "units": "1", "pointers": "A B"},
                             expected_version=enc.version)
    assert (line.code, line.fee, line.pointers) == ("99214", Decimal("150.00"), [1, 2])
    before = snapshot(enc.id)
    refused(lambda: encounters.update_charge(db.session, enc, line, {"code": "99214", "fee": "-1", "units": "1",
                                                                      "pointers": "A"},
                                             expected_version=enc.version), "fee")
    assert snapshot(enc.id) == before
    encounters.remove_charge(db.session, enc, db.session.get(ChargeLine, line.id), expected_version=enc.version)
    assert counts()[2] == 0


def test_a_stale_version_is_refused_and_changes_nothing(c):
    enc = with_dx(c)
    seen = enc.version
    charge(enc)
    assert enc.version > seen
    before = snapshot(enc.id)
    with pytest.raises(StaleRecordError):
        encounters.add_charge(db.session, enc, {"code": "99214", "fee": "1", "pointers": "A"}, expected_version=seen)
    with pytest.raises(StaleRecordError):
        encounters.set_diagnoses(db.session, enc, ["I10"], expected_version=seen)
    assert snapshot(enc.id) == before


def test_mark_ready_needs_a_diagnosis_and_a_charge_and_billed_is_read_only(c):
    enc = opened(c)
    message = refused(lambda: encounters.mark_ready(db.session, enc, expected_version=enc.version),
                      "diagnoses", "charges")
    assert "at least one diagnosis" in message and enc.status == "open"
    encounters.set_diagnoses(db.session, enc, ["I10"], expected_version=enc.version)
    charge(enc)
    encounters.mark_ready(db.session, enc, expected_version=enc.version)
    assert enc.status == "ready"
    charge(enc, code="99214")  # a change sends it back to be checked again
    assert enc.status == "open"
    enc.status = "billed"
    db.session.commit()
    message = refused(lambda: charge(enc, code="99215"), None)
    assert "billed" in message and counts()[2] == 2


def test_diagnosis_changes_are_in_the_audit_trail(c):
    enc = with_dx(c, ["I10"])
    encounters.set_diagnoses(c.session, enc, ["E11.9"], expected_version=enc.version)
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "EncounterDiagnosis")
                              .order_by(AuditEvent.id)).all()
    assert [(r.action, r.patient_id) for r in rows] == [("create", c.patient.id), ("delete", c.patient.id),
                                                        ("create", c.patient.id)]
    assert '"I10"' in rows[0].details and '"E119"' in rows[2].details


# ------------------------------------------------------------------ screens

def page_of(client, enc):
    return client.get(f"/encounters/{enc.id}")


def test_billing_works_an_encounter_through_the_screens(client, login_as, c):
    login_as("Billing")
    fee("99213", "95.00", date(2026, 1, 1))
    appointment = visit(c)
    show = client.get(f"/appointments/{appointment.id}")
    assert "Encounter / charges" in text(show)
    resp = client.post(f"/encounters/from-appointment/{appointment.id}", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 302
    enc = db.session.scalars(select(Encounter)).one()
    assert resp.headers["Location"].endswith(f"/encounters/{enc.id}")
    resp = client.post(f"/encounters/{enc.id}/diagnoses", data={"csrf_token": client.csrf_token,
                                                                "version": enc.version, "dx1": "E11.9", "dx2": "i10"},
                       follow_redirects=True)
    html = text(resp)
    assert "The diagnoses were saved." in html and "Type 2 diabetes mellitus without complications" in html
    db.session.expire_all()
    enc = db.session.get(Encounter, enc.id)
    resp = client.post(f"/encounters/{enc.id}/charges", data={
        "csrf_token": client.csrf_token, "version": enc.version, "code": "99213", "modifiers": "25",
        "units": "2", "fee": "", "place_of_service": "11", "rendering_provider": str(c.provider.id),
        "pointers": "B A"}, follow_redirects=True)
    html = text(resp)
    assert "The charge line was added." in html
    assert "$95.00" in html and "$190.00" in html and "B A" in html
    db.session.expire_all()
    enc = db.session.get(Encounter, enc.id)
    resp = client.post(f"/encounters/{enc.id}/ready", data={"csrf_token": client.csrf_token, "version": enc.version},
                       follow_redirects=True)
    assert "The encounter is ready to bill." in text(resp)
    worklist = text(client.get("/encounters/?status=ready"))
    assert c.patient.display_name in worklist and "$190.00" in worklist
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Encounter",
                                                        AuditEvent.action == "view")).all()
    assert views and all(v.patient_id == c.patient.id for v in views)


def test_a_bad_charge_form_shows_every_problem_beside_its_field_and_saves_nothing(client, login_as, c):
    login_as("Billing")
    enc = with_dx(c)
    before = snapshot(enc.id)
    resp = client.post(f"/encounters/{enc.id}/charges", data={
        "csrf_token": client.csrf_token, "version": enc.version, "code": "9921", "modifiers": "25 59 76 77 91",
        "units": "0", "fee": "-3", "place_of_service": "11", "rendering_provider": str(c.provider.id),
        "pointers": "D"})
    html = text(resp)
    assert resp.status_code == 422
    for message in ("9921 is not a CPT code", "at most 4 modifiers", "Units must be a number above 0",
                    "The fee must be an amount of 0 or more", "Diagnosis D does not exist on this encounter"):
        assert message in html
    assert 'value="25 59 76 77 91"' in html  # what was typed stays in the form
    assert snapshot(enc.id) == before


def test_a_charge_line_is_edited_and_removed_through_the_screens(client, login_as, c):
    login_as("Billing")
    enc = with_dx(c)
    line = charge(enc, modifiers="25", pointers="B")
    html = text(client.get(f"/encounters/{enc.id}?edit={line.id}"))
    assert "Change charge line 1" in html and 'value="25"' in html and 'value="B"' in html
    resp = client.post(f"/encounters/{enc.id}/charges/{line.id}", data={
        "csrf_token": client.csrf_token, "version": enc.version, "code": "99214", "modifiers": "", "units": "1",
        "fee": "150", "place_of_service": "11", "rendering_provider": str(c.provider.id), "pointers": "A"},
        follow_redirects=True)
    assert "The charge line was changed." in text(resp)
    db.session.expire_all()
    line = db.session.get(ChargeLine, line.id)
    assert (line.code, line.modifiers, line.fee, line.pointers) == ("99214", [], Decimal("150.00"), [1])
    enc = db.session.get(Encounter, enc.id)
    resp = client.post(f"/encounters/{enc.id}/charges/{line.id}/remove",
                       data={"csrf_token": client.csrf_token, "version": enc.version}, follow_redirects=True)
    assert "The charge line was removed." in text(resp) and counts()[2] == 0


def test_a_booked_visit_cannot_be_opened_from_its_page(client, login_as, c):
    login_as("Billing")
    appointment = visit(c, status="booked")
    assert "Encounter / charges" not in text(client.get(f"/appointments/{appointment.id}"))
    resp = client.post(f"/encounters/from-appointment/{appointment.id}", data={"csrf_token": client.csrf_token},
                       follow_redirects=True)
    assert "An encounter can only be opened once the patient has arrived" in text(resp) and counts()[0] == 0


def test_the_worklist_filters_by_status_provider_and_date(client, login_as, c):
    login_as("Billing")
    first = with_dx(c)
    charge(first)
    encounters.mark_ready(db.session, first, expected_version=first.version)
    second = opened(c, when=VISIT + timedelta(days=1))
    link = lambda enc: f'href="/encounters/{enc.id}"'  # noqa: E731
    html = text(client.get("/encounters/"))
    assert link(first) in html and link(second) in html
    html = text(client.get("/encounters/?status=open"))
    assert link(first) not in html and link(second) in html
    html = text(client.get("/encounters/?status=all&from=01/13/2026&to=01/13/2026"))
    assert link(first) not in html and link(second) in html
    html = text(client.get(f"/encounters/?provider={c.provider.id + 1000}"))
    assert link(first) not in html and "No encounters match this filter." in html
    html = text(client.get("/encounters/?from=13/45/2026"))
    assert "Write the date as 12/31/1987." in html
    listed = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "EncounterWorklist")).all()
    assert len(listed) == 5


def test_a_bad_diagnosis_form_names_the_code_and_saves_nothing(client, login_as, c):
    login_as("Billing")
    enc = with_dx(c, ["I10"])
    before = snapshot(enc.id)
    resp = client.post(f"/encounters/{enc.id}/diagnoses", data={"csrf_token": client.csrf_token,
                                                                "version": enc.version, "dx1": "I10", "dx2": "E11"})
    assert resp.status_code == 422
    assert "E11 is a category, not a billable code" in text(resp)
    assert snapshot(enc.id) == before


def test_a_stale_form_is_refused_with_a_message(client, login_as, c):
    login_as("Billing")
    enc = with_dx(c)
    old = enc.version
    charge(enc)
    before = snapshot(enc.id)
    resp = client.post(f"/encounters/{enc.id}/diagnoses", data={"csrf_token": client.csrf_token, "version": old,
                                                                "dx1": "I10"}, follow_redirects=True)
    assert "Someone else changed this record" in text(resp) and snapshot(enc.id) == before


def test_a_clinician_works_on_their_own_encounters_only(client, login_as, c):
    linked_clinician(login_as, c.provider)
    mine = with_dx(c)
    other_provider = ProviderFactory(default_location_id=c.location.id)
    for weekday in range(7):
        scheduling.set_hours(c.session, provider=other_provider, location=c.location, weekday=weekday,
                             start=time(9), end=time(17))
    theirs = with_dx(c, provider=other_provider, when=VISIT + timedelta(hours=3))
    assert page_of(client, mine).status_code == 200
    resp = client.post(f"/encounters/{mine.id}/charges", data={
        "csrf_token": client.csrf_token, "version": mine.version, "code": "99213", "units": "1", "fee": "50",
        "place_of_service": "11", "rendering_provider": str(c.provider.id), "pointers": "A"})
    assert resp.status_code == 302 and counts()[2] == 1
    before = snapshot(theirs.id)
    assert page_of(client, theirs).status_code == 404
    for url, data in ((f"/encounters/{theirs.id}/charges", {"code": "99213", "fee": "1", "pointers": "A"}),
                      (f"/encounters/{theirs.id}/diagnoses", {"dx1": "I10"}),
                      (f"/encounters/{theirs.id}/ready", {})):
        resp = client.post(url, data={"csrf_token": client.csrf_token, "version": theirs.version, **data})
        assert resp.status_code == 404, url
    assert snapshot(theirs.id) == before
    worklist = text(client.get("/encounters/"))
    assert f"/encounters/{mine.id}\"" in worklist and f"/encounters/{theirs.id}\"" not in worklist
    other_visit = visit(c, provider=other_provider, when=VISIT + timedelta(hours=5))
    resp = client.post(f"/encounters/from-appointment/{other_visit.id}", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 404 and counts()[0] == 2


def test_the_service_enforces_the_row_rule_too(login_as, c):
    user = login_as("Clinician")  # linked to no provider
    enc = with_dx(c)
    with pytest.raises(encounters.NotYourEncounter):
        encounters.add_charge(db.session, enc, {"code": "99213", "fee": "1", "pointers": "A"},
                              expected_version=enc.version, actor=user)
    assert not encounters.may_edit(user, enc) and counts()[2] == 0


def test_the_office_manager_reads_but_changes_nothing(client, login_as, c):
    login_as("OfficeManager")
    enc = with_dx(c)
    charge(enc)
    html = text(page_of(client, enc))
    assert "E11.9" in html and "99213" in html and 'id="charge-form"' not in html and 'id="diagnosis-form"' not in html
    before = snapshot(enc.id)
    resp = client.post(f"/encounters/{enc.id}/diagnoses", data={"csrf_token": client.csrf_token,
                                                                "version": enc.version, "dx1": "I10"})
    assert resp.status_code == 403 and snapshot(enc.id) == before


def test_the_front_desk_reaches_no_encounter_screen_and_sees_no_diagnosis(client, login_as, c):
    login_as("FrontDesk")
    enc = with_dx(c)
    charge(enc)
    appointment = enc.appointment
    for url in ("/encounters/", f"/encounters/{enc.id}"):
        assert client.get(url).status_code == 403, url
    for url in (f"/encounters/from-appointment/{appointment.id}", f"/encounters/{enc.id}/diagnoses",
                f"/encounters/{enc.id}/charges", f"/encounters/{enc.id}/charges/{enc.charges[0].id}",
                f"/encounters/{enc.id}/charges/{enc.charges[0].id}/remove", f"/encounters/{enc.id}/ready"):
        assert client.post(url, data={"csrf_token": client.csrf_token, "version": enc.version}).status_code == 403, url
    html = text(client.get(f"/appointments/{appointment.id}"))
    assert "Encounter / charges" not in html and "E11.9" not in html and "99213" not in html


def test_front_desk_sees_no_diagnosis_code_on_any_screen_it_uses(client, login_as, c):
    """Minimum necessary: the desk's screens show the visit, never its diagnoses or charges."""
    enc = with_dx(c, codes=("E11.9", "J45.909"))
    charge(enc, code="99214", pointers="A B")
    appointment = enc.appointment
    login_as("FrontDesk")
    pages = [f"/patients/{c.patient.id}/chart", f"/appointments/{appointment.id}",
             f"/schedule/day?date={VISIT.date().isoformat()}&provider={c.provider.id}",
             f"/flow/?location={c.location.id}", "/eligibility/", "/copays/"]
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = text(resp)
        for secret in ("E11.9", "E119", "J45.909", "Type 2 diabetes", "99214"):
            assert secret not in html, (url, secret)
    assert client.get(f"/encounters/{enc.id}").status_code == 403
    assert client.post("/icd10/search", json={"q": "diabetes"},
                       headers={"X-CSRFToken": client.csrf_token}).status_code == 403
    client.get("/logout/")
    login_as("Billing")  # the same codes, where the work needs them: the check above looks for the right text
    html = text(client.get(f"/encounters/{enc.id}"))
    assert "E11.9" in html and "J45.909" in html and "99214" in html
