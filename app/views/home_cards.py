"""The home-page cards of the capabilities built so far (patients, reports, audit trail).

Later capabilities register theirs from their own views module with register_home_card().
"""
import datetime as dt

from flask import url_for
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..reports import all_reports, day_bounds
from ..reports.definitions import clinic_timezone
from ..reports.runner import runnable
from ..services import registry_stats
from .home import Link, register_home_card


def context():
    """What every loader needs once per page: today in the clinic's zone and its UTC bounds."""
    today = dt.datetime.now(clinic_timezone()).date()
    month_start = today.replace(day=1)
    return {
        "today": today,
        "today_since": day_bounds(today, today)[0],
        "month_since": day_bounds(month_start, today)[0],
        "days30_since": day_bounds(today - dt.timedelta(days=29), today)[0],
    }


def _report_link(name, label, **fields):
    """A POST button into a report; unnamed parameters keep their defaults."""
    return Link(label, url_for("ReportsView.run", report=name), fields={"defaults": "1", "format": "html", **fields})


def _iso(day):
    return day.isoformat()  # the report and audit forms read ISO as well as the locale's order


# --------------------------------------------------------------------------- front desk

def _registrations_today(user, ctx):
    n = registry_stats.registrations(db.session, ctx["today_since"])
    links = []
    if _may_run(user, "patient_list"):
        links.append(_report_link("patient_list", _l("List them"), registered_from=_iso(ctx["today"]),
                                  registered_to=_iso(ctx["today"]), status="all"))
    return {"value": n, "text": _l("patients registered today"), "links": links}


def _missing_today(user, ctx):
    n = registry_stats.registrations_missing_data(db.session, ctx["today_since"])
    today = _iso(ctx["today"])
    return {"value": n, "attention": n > 0,
            "text": _l("registered today without a phone, e-mail, privacy notice or emergency contact"),
            "links": [_report_link("patients_missing_data", _l("List them"), registered_from=today, registered_to=today),
                      Link(_l("All patients missing consents"), url_for("ReportsView.run", report="patients_missing_data"),
                           fields={"defaults": "1", "format": "html", "missing": "notice"}, primary=False)]}


# --------------------------------------------------------------------------- office manager

def _registrations_month(user, ctx):
    n = registry_stats.registrations(db.session, ctx["month_since"])
    return {"value": n, "text": _l("patients registered this month"),
            "links": [_report_link("new_patients_by_month", _l("New patients by month"))]}


def _duplicates(user, ctx):
    n = registry_stats.duplicate_count(db.session, ctx["days30_since"])
    return {"value": n, "attention": n > 0, "text": _l("possible duplicates registered in the last 30 days"),
            "links": [_report_link("possible_duplicates", _l("Check them"))]}


# --------------------------------------------------------------------------- auditor

def _audit_link(label, today, **fields):
    day = _iso(today)
    return Link(label, url_for("AuditTrailView.index"), fields={"start": day, "end": day, "format": "html", **fields})


def _break_glass_today(user, ctx):
    n = registry_stats.audit_events_since(db.session, ctx["today_since"], flagged=True)
    return {"value": n, "attention": n > 0, "text": _l("break-glass openings and flagged accesses today"),
            "links": [_audit_link(_l("Review them"), ctx["today"], flagged_only="y")]}


def _failed_logins_today(user, ctx):
    n = registry_stats.audit_events_since(db.session, ctx["today_since"], action="login_failed")
    return {"value": n, "attention": n >= 10, "text": _l("failed sign-ins today"),
            "links": [_audit_link(_l("See them"), ctx["today"], action="login_failed")]}


# --------------------------------------------------------------------------- clinician

def _my_patients(user, ctx):
    provider = registry_stats.provider_of(db.session, user)
    if provider is None:
        return None  # only for logins linked to a provider
    n = registry_stats.my_patients(db.session, provider)
    return {"value": n, "text": _l("active patients with you as their primary provider"),
            "links": [Link(_l("My patients"), url_for("MyPatientsView.list"))]}


# --------------------------------------------------------------------------- everyone with reports

def _may_run(user, name):
    from flask import current_app

    report = all_reports().get(name)
    return report is not None and bool(runnable({name: report}, user, current_app.appbuilder.sm))


def _reports(user, ctx):
    from flask import current_app

    reports = runnable(all_reports(), user, current_app.appbuilder.sm)
    if not reports:
        return None
    return {"entries": [(r.title, url_for("ReportsView.run", report=r.name)) for r in reports],
            "links": [Link(_l("All reports"), url_for("ReportsView.index"), primary=False)]}


register_home_card("registrations_today", _l("New registrations"), _registrations_today,
                   permission=("can_write", "Patient"), order=10)
register_home_card("missing_today", _l("Missing contact data or consents"), _missing_today,
                   permission=("can_run", "Report:patients_missing_data"), order=20)
register_home_card("registrations_month", _l("This month"), _registrations_month,
                   permission=("can_run", "Report:new_patients_by_month"), order=30)
register_home_card("duplicates", _l("Possible duplicates"), _duplicates,
                   permission=("can_run", "Report:possible_duplicates"), order=40)
register_home_card("my_patients", _l("My patients"), _my_patients, permission=("can_read", "Patient"), order=50)
register_home_card("break_glass_today", _l("Break-glass today"), _break_glass_today,
                   permission=("can_read", "AuditTrail"), order=60)
register_home_card("failed_logins_today", _l("Failed sign-ins today"), _failed_logins_today,
                   permission=("can_read", "AuditTrail"), order=70)
register_home_card("reports", _l("Your reports"), _reports, permission=("can_read", "Report"), order=90)
