"""The scheduling reports: daily schedule (a page per provider, local times) and no-show rate by month."""
import csv
import datetime as dt
import io
import json
import textwrap

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.reports import ReportDefinitionError, load_reports
from app.services import scheduling
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_reports import pdf_text, post_report
from tests.scheduling_setup import make_clinic, utc

LA = "America/Los_Angeles"
PAST = utc(2026, 1, 1)  # "now" for bookings in March and April 2026


@pytest.fixture
def clinic():
    """Two providers (Rosa Alvarez works in New York and, late, in Los Angeles; Kofi Boateng in New York)."""
    c = make_clinic()
    c.provider.family_name, c.provider.given_name = "Alvarez", "Rosa"
    c.la = scheduling.add_location(db.session, name="Los Angeles", timezone=LA)
    for weekday in range(5):
        scheduling.set_hours(db.session, provider=c.provider, location=c.la, weekday=weekday,
                             start=dt.time(18), end=dt.time(22))
    c.other = ProviderFactory(family_name="Boateng", given_name="Kofi")
    for weekday in range(5):
        scheduling.set_hours(db.session, provider=c.other, location=c.location, weekday=weekday,
                             start=dt.time(9), end=dt.time(17))
    db.session.commit()
    return c


def book(c, start_local, *, provider=None, location=None, patient=None, status=None):
    appointment = scheduling.book(db.session, patient=patient or c.patient, provider=provider or c.provider,
                                  location=location or c.location, type=c.type, start_local=start_local, now=PAST)
    if status == "cancelled":
        scheduling.cancel(db.session, appointment, reason="The patient called.")
    elif status == "no_show":
        scheduling.mark_no_show(db.session, appointment)
    elif status:
        for step in scheduling_path(status):
            scheduling.transition(db.session, appointment, step)
    return appointment


def scheduling_path(status):
    return {"arrived": ["arrived"], "checked_out": ["arrived", "in_room", "completed", "checked_out"]}[status]


def csv_rows(resp):
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))


# --------------------------------------------------------------------------- no-show rate

def test_no_show_rate_counts_local_months_and_leaves_cancelled_out(client, login_as, clinic):
    c = clinic
    book(c, dt.datetime(2026, 3, 2, 10), status="checked_out")
    book(c, dt.datetime(2026, 3, 3, 10), status="no_show")
    book(c, dt.datetime(2026, 3, 4, 10), status="cancelled")  # not counted at all
    # 8 pm on March 31 in Los Angeles is April 1, 03:00 UTC: still March where it happens.
    late = book(c, dt.datetime(2026, 3, 31, 20), location=c.la)
    assert late.start_at.month == 4
    book(c, dt.datetime(2026, 4, 1, 10), status="no_show")
    book(c, dt.datetime(2026, 4, 2, 10))
    book(c, dt.datetime(2026, 3, 5, 11), provider=c.other, status="no_show")
    book(c, dt.datetime(2026, 5, 4, 11), provider=c.other, status="no_show")  # after the period
    login_as("OfficeManager")
    fields = {"period_from": "3/1/2026", "period_to": "4/30/2026"}

    rows = csv_rows(post_report(client, "no_show_rate", "csv", **fields))
    assert rows[0] == ["Provider", "Month", "Booked", "No-shows", "No-show rate"]
    assert rows[1:] == [
        ["Alvarez, Rosa", "2026-03-01", "3", "1", "0.333333"],
        ["Alvarez, Rosa", "2026-04-01", "2", "1", "0.5"],
        ["Boateng, Kofi", "2026-03-01", "1", "1", "1"],
        ["Total", "", "6", "3", ""],
    ]
    body = post_report(client, "no_show_rate", **fields).get_data(as_text=True)
    assert "March 2026" in body and "33.3%" in body and "50.0%" in body

    one = csv_rows(post_report(client, "no_show_rate", "csv", provider=str(c.other.id), **fields))
    assert one[1:] == [["Boateng, Kofi", "2026-03-01", "1", "1", "1"], ["Total", "", "1", "1", ""]]


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician", "Billing"])
def test_no_show_rate_is_for_office_managers_only(client, login_as, role):
    login_as(role)
    assert post_report(client, "no_show_rate", "csv", defaults="1").status_code == 403


# --------------------------------------------------------------------------- daily schedule

@pytest.fixture
def day(clinic):
    c = clinic
    c.okafor = PatientFactory(family_name="Okafor", given_name="Chidi", birth_date=dt.date(1980, 5, 17))
    c.nguyen = PatientFactory(family_name="Nguyen", given_name="Lan")
    c.ivanova = PatientFactory(family_name="Ivanova", given_name="Olga")
    book(c, dt.datetime(2026, 3, 3, 10), patient=c.nguyen, status="arrived")
    book(c, dt.datetime(2026, 3, 3, 9), patient=c.okafor)
    book(c, dt.datetime(2026, 3, 3, 20), patient=c.okafor, location=c.la)  # 04:00 UTC on March 4
    book(c, dt.datetime(2026, 3, 2, 21), patient=c.ivanova, location=c.la)  # 05:00 UTC on March 3: the 2nd
    book(c, dt.datetime(2026, 3, 3, 9, 30), provider=c.other, patient=c.ivanova)
    book(c, dt.datetime(2026, 3, 3, 11), provider=c.other, patient=c.nguyen, status="cancelled")
    return c


def test_daily_schedule_lists_the_day_per_provider_in_local_time(client, login_as, day):
    login_as("FrontDesk")
    rows = csv_rows(post_report(client, "daily_schedule", "csv", date="3/3/2026", cancelled=""))
    assert rows[0][:6] == ["Time", "Until", "Provider", "Patient", "MRN", "Birth date"]
    assert [(r[0], r[1], r[2], r[3], r[8], r[9]) for r in rows[1:-1]] == [
        ("09:00", "09:30", "Alvarez, Rosa", "Okafor, Chidi", "booked", "Main street"),
        ("10:00", "10:30", "Alvarez, Rosa", "Nguyen, Lan", "arrived", "Main street"),
        ("20:00", "20:30", "Alvarez, Rosa", "Okafor, Chidi", "booked", "Los Angeles"),
        ("09:30", "10:00", "Boateng, Kofi", "Ivanova, Olga", "booked", "Main street"),
    ]
    assert rows[1][4] == day.okafor.mrn and rows[1][5] == "1980-05-17"
    assert rows[-1][:4] == ["Total", "", "", "4"]

    with_cancelled = csv_rows(post_report(client, "daily_schedule", "csv", date="3/3/2026", cancelled="y"))
    assert ("11:00", "cancelled") in [(r[0], r[8]) for r in with_cancelled[1:-1]]
    only_la = csv_rows(post_report(client, "daily_schedule", "csv", date="3/3/2026", cancelled="",
                                   location=str(day.la.id)))
    assert [r[0] for r in only_la[1:-1]] == ["20:00"]
    only_boateng = csv_rows(post_report(client, "daily_schedule", "csv", date="3/3/2026", cancelled="",
                                        provider=str(day.other.id)))
    assert [r[3] for r in only_boateng[1:-1]] == ["Ivanova, Olga"]

    page = post_report(client, "daily_schedule", date="3/3/2026", cancelled="").get_data(as_text=True)
    assert "9:00\u202fAM" in page or "9:00 AM" in page
    assert "Okafor, Chidi" in page and "Los Angeles" in page


def test_daily_schedule_form_offers_the_locations(client, login_as, day):
    login_as("OfficeManager")
    page = client.get("/reports/daily_schedule/").get_data(as_text=True)
    form = page.split('id="p-location"')[1].split("</select>")[0]
    assert f'value="{day.la.id}"' in form and "Los Angeles" in form and "Main street" in form
    bad = post_report(client, "daily_schedule", date="3/3/2026", location="99999")
    assert "Not a valid choice." in bad.get_data(as_text=True) and 'id="report-result"' not in bad.get_data(as_text=True)


def test_daily_schedule_pdf_prints_a_page_per_provider_and_is_audited(client, login_as, day, tmp_path):
    login_as("Clinician")
    resp = post_report(client, "daily_schedule", "pdf", date="3/3/2026", cancelled="")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pages = pdf_text(resp.data, tmp_path).split("\f")
    assert "Daily schedule" in pages[0]
    assert "Alvarez, Rosa" in pages[0] and "Okafor, Chidi" in pages[0] and "Nguyen, Lan" in pages[0]
    assert "Boateng, Kofi" not in pages[0]
    assert "Boateng, Kofi" in pages[1] and "Ivanova, Olga" in pages[1] and "Okafor" not in pages[1]
    assert "Page 2 / 2" in pages[1]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report")).all()[-1]
    details = json.loads(event.details)
    assert details["report"] == "daily_schedule" and details["format"] == "pdf" and details["rows"] == 4


def test_billing_cannot_run_the_daily_schedule(client, login_as, day):
    login_as("Billing")
    assert client.get("/reports/daily_schedule/").status_code == 403
    resp = post_report(client, "daily_schedule", "pdf", date="3/3/2026")
    assert resp.status_code == 403 and resp.mimetype != "application/pdf"
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report")).all()


# --------------------------------------------------------------------------- the framework's group_by

def test_group_by_must_name_a_column(tmp_path):
    (tmp_path / "grouped.py").write_text(textwrap.dedent("""
        from app.reports import Column, Report

        REPORT = Report(title="Grouped", description="d", query=lambda conn, p: [],
                        columns=[Column("a", "A")], group_by="b", roles=["OfficeManager"])
    """))
    with pytest.raises(ReportDefinitionError) as info:
        load_reports(str(tmp_path))
    assert "grouped.py: group_by: 'b' is not a column of this report" in str(info.value)
