"""The downtime pack (contingency plan): tomorrow's schedule with contacts, on paper."""
import json
import subprocess
from datetime import datetime, time, timedelta

import pytest
from babel.dates import format_time

from app.documents import downtime
from app.extensions import db
from app.models import AuditEvent
from app.services import dates, scheduling
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory
from tests.scheduling_setup import NY, make_clinic


def pdf_text(data, tmp_path):
    path = tmp_path / "pack.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def flat(text):
    return " ".join(text.split())


def local_time(hour, minute=0):
    return " ".join(format_time(time(hour, minute), "short", locale="en").split())


@pytest.fixture
def day():
    return dates.clinic_today() + timedelta(days=1)


@pytest.fixture
def schedule(day):
    c = make_clinic(weekdays=range(7))
    other = ProviderFactory(family_name="Okafor")
    for weekday in range(7):
        scheduling.set_hours(c.session, provider=other, location=c.location, weekday=weekday, start=time(8), end=time(18))
    at = lambda h, m=0: datetime.combine(day, time(h, m))  # noqa: E731
    alice = PatientFactory(family_name="Lindqvist", given_name="Alice", phone_mobile="+12025550143",
                           emergency_contact_name="Bo Lindqvist", emergency_contact_phone="+12025550177",
                           interpreter_needed=True)
    bruno = PatientFactory(family_name="Moreau", given_name="Bruno", phone_home="+12025550188")
    secret = PatientFactory(family_name="Quiet", given_name="Rae", phone_mobile="+12025550199", restricted=True)
    gone = PatientFactory(family_name="Cancelledson", given_name="Cy", phone_mobile="+12025550111")
    scheduling.book(c.session, patient=alice, provider=c.provider, location=c.location, type=c.type,
                    start_local=at(9), room=c.room)
    scheduling.book(c.session, patient=bruno, provider=other, location=c.location, type=c.type, start_local=at(14, 30))
    scheduling.book(c.session, patient=secret, provider=other, location=c.location, type=c.type, start_local=at(10))
    cancelled = scheduling.book(c.session, patient=gone, provider=c.provider, location=c.location, type=c.type,
                                start_local=at(11))
    scheduling.cancel(c.session, cancelled, reason="patient called")
    return c, other, {"alice": alice, "bruno": bruno, "secret": secret, "gone": gone}


def test_pack_lists_the_day_in_local_time_without_restricted_contacts(schedule, day, tmp_path):
    c, other, p = schedule
    pack = downtime.build_pack(db.session, day)
    assert (pack.appointments, pack.patients) == (3, 3)
    text = flat(pdf_text(downtime.render(pack, locale="en", printed_by="desk1", title="Downtime pack"), tmp_path))
    for patient in (p["alice"], p["bruno"], p["secret"]):
        assert patient.family_name in text and patient.mrn in text
    assert "(202) 555-0143" in text and "(202) 555-0177" in text and "Bo Lindqvist" in text  # phone, emergency
    assert "(202) 555-0188" in text
    assert "Interpreter" in text
    for start, end in ((9, (9, 30)), (14, (15, 0)), (10, (10, 30))):
        assert local_time(start, 30 if start == 14 else 0) in text
    assert local_time(9) + " – " + local_time(9, 30) in text.replace("–", " – ").replace("  ", " ")
    assert "(202) 555-0199" not in text  # restricted: no contacts
    assert "restricted: see the privacy officer" in text
    assert "Cancelledson" not in text and "(202) 555-0111" not in text
    assert "CONFIDENTIAL: contains patient information; shred after use" in text and "desk1" in text
    assert "Walk-ins" in text and "Phone list" in text and "Okafor" in text


def test_times_are_the_locations_local_time(day):
    c = make_clinic(weekdays=range(7))
    la = scheduling.add_location(c.session, name="West", timezone="America/Los_Angeles")
    scheduling.set_hours(c.session, provider=c.provider, location=la, weekday=day.weekday(), start=time(7), end=time(22))
    scheduling.book(c.session, patient=c.patient, provider=c.provider, location=la, type=c.type,
                    start_local=datetime.combine(day, time(20)))  # 04:00 UTC the next day
    pack = downtime.build_pack(db.session, day, la.id)
    rows = [r for ld in pack.locations for pd in ld.providers for r in pd.rows]
    assert [r.start for r in rows] == [format_time(time(20), "short", locale="en")]
    assert downtime.build_pack(db.session, day + timedelta(days=1), la.id).appointments == 0


def test_an_empty_day_says_so(day, tmp_path):
    make_clinic(weekdays=range(7))
    pack = downtime.build_pack(db.session, day)
    text = flat(pdf_text(downtime.render(pack, locale="en", printed_by="x", title="Downtime pack"), tmp_path))
    assert "No appointments on this day." in text


def test_cli_writes_the_pack_and_refuses_a_user_without_permission(schedule, day, runner, tmp_path):
    make_user("FrontDesk")
    make_user("Billing")
    out = tmp_path / "pack.pdf"
    result = runner.invoke(args=["clinic", "downtime-pack", "--out", str(out), "--as-user", "frontdesk1"])
    assert result.exit_code == 0, result.output
    text = flat(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout)
    assert schedule[2]["alice"].mrn in text
    event = db.session.query(AuditEvent).filter_by(action="print", object_type="DowntimePack").one()
    assert event.username == "frontdesk1"
    assert json.loads(event.details) == {"date": day.isoformat(), "location": None, "appointments": 3, "patients": 3}
    refused = tmp_path / "refused.pdf"
    result = runner.invoke(args=["clinic", "downtime-pack", "--date", day.isoformat(), "--out", str(refused),
                                 "--as-user", "billing1"])
    assert result.exit_code != 0 and "may not print" in result.output
    assert not refused.exists()


def test_front_desk_prints_from_the_screen_and_the_print_is_audited(schedule, day, client, login_as, tmp_path):
    login_as("FrontDesk")
    page = client.get("/downtime-pack/")
    assert page.status_code == 200
    resp = client.post("/downtime-pack/", data={"csrf_token": client.csrf_token, "day": day.strftime("%m/%d/%Y"),
                                                "location": str(schedule[0].location.id)})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    text = flat(pdf_text(resp.data, tmp_path))
    assert schedule[2]["bruno"].mrn in text and "(202) 555-0188" in text
    event = db.session.query(AuditEvent).filter_by(action="print", object_type="DowntimePack").one()
    details = json.loads(event.details)
    assert details == {"date": day.isoformat(), "location": schedule[0].location.id, "appointments": 3, "patients": 3}
    assert "Lindqvist" not in event.details


def test_a_bad_date_is_refused_on_the_form(client, login_as):
    login_as("FrontDesk")
    resp = client.post("/downtime-pack/", data={"csrf_token": client.csrf_token, "day": "31/31/2020"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "Not a valid date." in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", ["Billing", "Clinician", "Auditor"])
def test_other_roles_are_refused(client, login_as, role):
    login_as(role)
    resp = client.post("/downtime-pack/", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 403
    assert resp.mimetype != "application/pdf"
    assert db.session.query(AuditEvent).filter_by(object_type="DowntimePack").count() == 0
