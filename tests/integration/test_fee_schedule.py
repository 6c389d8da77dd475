"""The practice's fee schedule: CSV import (dry run, per-line errors, all or nothing), fee_for by
date of service with the modifier fallback, the screen and the CLI. No CPT descriptions anywhere."""
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import FeeScheduleEntry
from app.services import fees

GOOD = """code,modifier,fee,effective_date
99213,,125.00,2026-01-01
99213,25,140.5,2026-01-01
99213,,130,2026-07-01
G0439,,175.25,2026-01-01
3074F,,0,2026-01-01
"""


def entries():
    return [(e.code, e.modifier, e.fee, e.effective_date)
            for e in db.session.scalars(select(FeeScheduleEntry).order_by(FeeScheduleEntry.id))]


def load(text=GOOD):
    report = fees.import_fees(db.session, text, dry_run=False)
    assert not report.errors, report.errors
    db.session.commit()
    return report


def test_parse_reports_every_bad_line_with_its_number():
    text = """Code,Modifier,Fee,Effective_Date
9921,,10,2026-01-01
99213,2,10,2026-01-01
99214,,-5,2026-01-01
99215,,10.005,2026-01-01
99215,,10,01/02/2026
99215,,10,2026-02-30
Z9999,,10,2026-01-01
99213,,10
99203,,80,2026-01-01
99203,,85,2026-01-01
"""
    rows, errors = fees.parse_fee_csv(text)
    assert [r.code for r in rows] == ["99203"]
    assert errors == [
        (2, "Line 2: 9921 is not a CPT or HCPCS code."),
        (3, "Line 3: the modifier must be empty or 2 letters or digits."),
        (4, "Line 4: the fee must be an amount of 0 or more with at most 2 decimals."),
        (5, "Line 5: the fee must be an amount of 0 or more with at most 2 decimals."),
        (6, "Line 6: the effective date must be a date like 2026-01-01."),
        (7, "Line 7: the effective date must be a date like 2026-01-01."),
        (8, "Line 8: Z9999 is not a CPT or HCPCS code."),
        (9, "Line 9 must have 4 values (code, modifier, fee, effective date)."),
        (11, "Line 11 repeats line 10 (same code, modifier and effective date)."),
    ]


def test_parse_needs_the_header():
    rows, errors = fees.parse_fee_csv("99213,,125.00,2026-01-01\n")
    assert rows == [] and errors == [(1, "The first line must be the header code,modifier,fee,effective_date.")]
    assert fees.parse_fee_csv("code,modifier,fee,effective_date\n")[1] == [(2, "The file has no fees.")]


def test_dry_run_reports_and_writes_nothing():
    report = fees.import_fees(db.session, GOOD, dry_run=True)
    db.session.commit()
    assert not report.written and report.errors == []
    assert [(r.line, r.status) for r in report.lines] == [(2, "added"), (3, "added"), (4, "added"), (5, "added"),
                                                          (6, "added")]
    assert entries() == []


def test_import_adds_updates_and_keeps_unchanged_lines():
    load()
    assert len(entries()) == 5
    report = load("code,modifier,fee,effective_date\n99213,,125.00,2026-01-01\n99213,25,150,2026-01-01\n"
                  "99214,,180,2026-01-01\n")
    assert [(r.code, r.modifier, r.status, r.old_fee) for r in report.lines] == [
        ("99213", "", "unchanged", None), ("99213", "25", "updated", Decimal("140.50")), ("99214", "", "added", None)]
    assert ("99213", "25", Decimal("150.00"), date(2026, 1, 1)) in entries()
    assert len(entries()) == 6


def test_one_bad_line_and_nothing_is_written():
    load()
    before = entries()
    report = fees.import_fees(db.session, GOOD.replace("130,2026-07-01", "13O,2026-07-01") + "99214,,99,2026-01-01\n",
                              dry_run=False)
    db.session.rollback()
    assert report.errors == [(4, "Line 4: the fee must be an amount of 0 or more with at most 2 decimals.")]
    assert not report.written
    assert entries() == before


def test_fee_for_uses_the_entry_in_force_and_falls_back_to_no_modifier():
    load()
    assert fees.fee_for(db.session, "99213", "", date(2025, 12, 31)) is None
    assert fees.fee_for(db.session, "99213", "", date(2026, 1, 1)) == Decimal("125.00")
    assert fees.fee_for(db.session, "99213", "", date(2026, 6, 30)) == Decimal("125.00")
    assert fees.fee_for(db.session, "99213", None, date(2026, 7, 1)) == Decimal("130.00")
    assert fees.fee_for(db.session, "99213", "25", date(2026, 7, 1)) == Decimal("140.50")  # its own fee
    assert fees.fee_for(db.session, "99213", "59", date(2026, 7, 1)) == Decimal("130.00")  # no fee for 59: plain
    assert fees.fee_for(db.session, "g0439", "", date(2026, 3, 1)) == Decimal("175.25")
    assert fees.fee_for(db.session, "3074F", "", date(2026, 3, 1)) == Decimal("0.00")
    assert fees.fee_for(db.session, "99999", "", date(2026, 3, 1)) is None


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_dry_run_then_load(runner, tmp_path):
    path = tmp_path / "fees.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(args=["clinic", "load-fees", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing written: 5 added, 0 updated, 0 unchanged." in result.output
    assert entries() == []
    result = runner.invoke(args=["clinic", "load-fees", str(path)])
    assert result.exit_code == 0, result.output
    assert "Fee schedule loaded: 5 added, 0 updated, 0 unchanged." in result.output
    assert len(entries()) == 5


def test_cli_refuses_a_file_with_errors(runner, tmp_path):
    path = tmp_path / "fees.csv"
    path.write_text(GOOD + "99213,XYZ,10,2026-01-01\n", encoding="utf-8")
    result = runner.invoke(args=["clinic", "load-fees", str(path)])
    assert result.exit_code == 1
    assert "refused, nothing was loaded" in result.output
    assert "Line 7: the modifier must be empty or 2 letters or digits." in result.output
    assert entries() == []


# --- the screen ---------------------------------------------------------------------------------


def upload(client, text, action):
    return client.post("/fee-schedule/upload", data={
        "csrf_token": client.csrf_token, "action": action,
        "file": (io.BytesIO(text.encode("utf-8")), "fees.csv"),
    }, content_type="multipart/form-data")


@pytest.mark.parametrize("role", ["Billing", "OfficeManager"])
def test_screen_check_only_then_import(client, login_as, role):
    login_as(role)
    page = client.get("/fee-schedule/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Check only (dry run)" in html and "No fees yet" in html
    assert "licensed by the American Medical Association" in html

    resp = upload(client, GOOD, "check")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Check only: the file is correct (5 to add, 0 to update, 0 unchanged). Nothing was imported." in html
    assert entries() == []

    resp = upload(client, GOOD, "import")
    html = resp.get_data(as_text=True)
    assert "Fee schedule imported: 5 added, 0 updated, 0 unchanged." in html
    assert len(entries()) == 5
    html = client.get("/fee-schedule/").get_data(as_text=True)
    assert "$175.25" in html and "G0439" in html
    assert "5 entries" in html


def test_screen_shows_line_errors_and_imports_nothing(client, login_as):
    login_as("Billing")
    resp = upload(client, GOOD + "99213,,abc,2026-01-01\n", "import")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Nothing was imported: correct the lines below and upload the file again." in html
    assert "Line 7: the fee must be an amount of 0 or more with at most 2 decimals." in html
    assert entries() == []
    resp = client.post("/fee-schedule/upload", data={"csrf_token": client.csrf_token, "action": "import"},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "Choose a CSV file." in resp.get_data(as_text=True)


def test_screen_marks_the_fee_in_force_today(client, login_as):
    load("code,modifier,fee,effective_date\n99213,,100,2020-01-01\n99213,,110,2021-01-01\n99213,,999,2999-01-01\n")
    login_as("Billing")
    html = client.get("/fee-schedule/").get_data(as_text=True)
    rows = html.split('id="fee-entries"')[1].split("<tr>")[2:]
    in_force = [r for r in rows if "fa-check" in r]
    assert len(in_force) == 1 and "$110.00" in in_force[0]


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_front_desk_and_clinicians_see_no_fees(client, login_as, role):
    load()
    login_as(role)
    resp = client.get("/fee-schedule/")
    assert resp.status_code in (302, 403)
    assert b"175.25" not in resp.data
    resp = upload(client, GOOD.replace("125.00", "1.00"), "import")
    assert resp.status_code in (302, 403)
    assert ("99213", "", Decimal("125.00"), date(2026, 1, 1)) in entries()
