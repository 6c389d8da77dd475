"""Reports: each one only for the roles its definition names; the menu lists only those;
permissions are written by the role sync from the definitions; parameters never in URLs."""
import pytest

from app.extensions import db
from app.reports import all_reports
from app.reports.runner import may_run
from app.security import ROLE_DEFINITIONS, role_permissions
from tests.conftest import ALL_ROLES, make_user

REPORTS = all_reports()
REFUSED = [(name, role) for name, report in REPORTS.items() for role in ALL_ROLES
           if role not in report.roles and role != "Admin"]
ALLOWED = [(name, role) for name, report in REPORTS.items() for role in ["Admin"] + list(report.roles)]


@pytest.mark.parametrize("name,role", REFUSED)
def test_a_report_is_refused_to_roles_it_does_not_name(client, login_as, name, role):
    login_as(role)
    assert client.get(f"/reports/{name}/").status_code == 403
    for fmt in ("html", "pdf", "csv"):
        resp = client.post(f"/reports/{name}/", data={"csrf_token": client.csrf_token, "format": fmt, "defaults": "1"})
        assert resp.status_code == 403, (fmt, resp.status_code)
        assert resp.mimetype == "text/html"


@pytest.mark.parametrize("name,role", sorted(set(ALLOWED)))
def test_a_report_runs_for_the_roles_it_names_and_admin(client, login_as, name, role):
    login_as(role)
    resp = client.post(f"/reports/{name}/", data={"csrf_token": client.csrf_token, "format": "csv", "defaults": "1"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_menu_and_the_list_show_only_the_reports_the_role_may_run(client, login_as, role):
    login_as(role)
    mine = {name for name, report in REPORTS.items() if role == "Admin" or role in report.roles}
    page = client.get("/reports/")
    if not mine:
        assert page.status_code == 403
        assert "/reports/" not in client.get("/").get_data(as_text=True)
        return
    body = page.get_data(as_text=True)
    listed = body.split('id="report-list"')[1]
    for name in REPORTS:
        assert (f"/reports/{name}/" in listed) == (name in mine), name
    menu = client.get("/").get_data(as_text=True).split('class="cd-home"')[0]
    for name, report in REPORTS.items():
        assert (f'href="/reports/{name}/"' in menu) == (name in mine), name


def test_report_permissions_come_from_the_definitions():
    for role in ROLE_DEFINITIONS:
        granted = {view for perm, view in role_permissions(role) if perm == "can_run"}
        assert granted == {f"Report:{n}" for n, r in REPORTS.items() if role in r.roles}, role


def test_the_role_sync_writes_report_permissions_into_the_database(app):
    sm = app.appbuilder.sm
    for name, report in REPORTS.items():
        for role in ALL_ROLES:
            user = make_user(role)
            expected = role == "Admin" or role in report.roles
            assert may_run(report, user, sm) == expected, (name, role)


def test_only_roles_reading_patients_get_patient_data_reports():
    for name, report in REPORTS.items():
        if report.patient_data:
            for role in report.roles:
                assert role == "Admin" or "can_read" in ROLE_DEFINITIONS[role].get("Patient", []), (name, role)


def test_an_inactive_user_may_run_nothing(app):
    user = make_user("OfficeManager")
    user.active = False
    db.session.commit()
    assert not any(may_run(r, user, app.appbuilder.sm) for r in REPORTS.values())


def test_parameters_are_never_taken_from_the_url(client, login_as):
    from tests.factories import PatientFactory

    PatientFactory(family_name="Quinones")
    login_as("FrontDesk")
    resp = client.get("/reports/patient_list/?status=all&format=csv&defaults=1")
    assert resp.mimetype == "text/html" and 'id="report-result"' not in resp.get_data(as_text=True)
    before, after = resp.get_data(as_text=True).split('id="report-form"')
    tag = before.rsplit("<form", 1)[1] + after.split(">")[0]
    assert 'method="post"' in tag and 'action="/reports/patient_list/"' in tag


def test_running_needs_the_csrf_token(client, login_as):
    login_as("FrontDesk")
    resp = client.post("/reports/patient_list/", data={"format": "csv", "defaults": "1"})
    assert resp.status_code == 400
