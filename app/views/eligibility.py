"""Eligibility worklist: a day's appointments at a location with each patient's primary coverage
and latest check; record a phone/portal check, download a 270 for the unchecked, upload a 271.

The rules live in app/services/eligibility.py and app/services/x12_eligibility.py.
"""
from datetime import date, datetime

from babel.dates import format_time
from babel.numbers import NumberFormatError, parse_decimal
from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import Appointment, Location
from ..models.base import utcnow
from ..models.billing import ELIGIBILITY_RESULTS, Coverage
from ..services import audit, eligibility, scheduling
from ..services import x12_eligibility as x12
from ..services.coverage import PRIORITY_LABELS, active_coverages, mask_member_id
from ..services.errors import DomainError, ValidationFailed

MAX_UPLOAD = 2 * 1024 * 1024


def _day(text):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _locations():
    return list(db.session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.name)))


def _amount(raw):
    """An amount typed in the user's locale ("25,00" in French) as text the service checks."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return parse_decimal(raw, locale=str(get_locale() or "en"), strict=False)
    except NumberFormatError:
        return raw  # the service names the problem


class EligibilityView(BaseView):
    route_base = "/eligibility"
    class_permission_name = "Eligibility"
    method_permission_name = {"index": "read", "record": "write", "download_270": "write", "upload_271": "write"}
    default_view = "index"

    def _selection(self, source):
        location_id = source.get("location", type=int)
        location = db.session.get(Location, location_id) if location_id else None
        location = location or next(iter(_locations()), None)
        day = _day(source.get("date"))
        if location is not None and day is None:
            day = datetime.now(scheduling.zone(location.timezone)).date()
        return location, day

    @expose("/")
    @has_access
    def index(self):
        """The worklist (GET): who comes on the day, their coverage, and whether it was checked."""
        location, day = self._selection(request.args)
        rows = []
        if location is not None:
            appointments = eligibility.appointments_on(db.session, location, day)
            status = eligibility.status_for_appointments(db.session, appointments)
            coverages = {}
            for a in appointments:
                if a.patient_id not in coverages:
                    coverages[a.patient_id] = active_coverages(db.session, a.patient_id, day)
                rows.append({"appointment": a, "coverages": coverages[a.patient_id], "check": status[a.id]})
        audit.record(db.engine, action="view", object_type="Eligibility", details={
            "screen": "worklist", "location": location.id if location else None,
            "date": day.isoformat() if day else None, "rows": len(rows),
            "patients": sorted({r["appointment"].patient_id for r in rows})})
        return self.render_template(
            "eligibility/index.html", rows=rows, location=location, day=day, locations=_locations(),
            results=ELIGIBILITY_RESULTS, result_labels=eligibility.RESULT_LABELS,
            method_labels=eligibility.METHOD_LABELS, manual_methods=eligibility.MANUAL_METHODS,
            priority_labels=PRIORITY_LABELS, mask=mask_member_id,
            clock=lambda at: format_time(at, "short", locale=str(get_locale() or "en")),
            unchecked=sum(1 for r in rows if r["check"] is None and any(
                c.priority == 1 and not c.self_pay for c in r["coverages"])),
            can_write=self.appbuilder.sm.has_access("can_write", "Eligibility"))

    def _back(self, location_id=None, day=None):
        location_id = location_id or request.form.get("location", type=int)
        day = day or _day(request.form.get("date"))
        return redirect(url_for(".index", location=location_id, date=day.isoformat() if day else None))

    @expose("/record", methods=["POST"])
    @has_access
    def record(self):
        """Record a check made by phone or on the payer's portal."""
        form = request.form
        coverage_id = form.get("coverage", type=int)
        coverage = db.session.get(Coverage, coverage_id) if coverage_id else None
        appointment_id = form.get("appointment", type=int)
        appointment = db.session.get(Appointment, appointment_id) if appointment_id else None
        try:
            check = eligibility.record_check(
                db.session, coverage=coverage, service_date=_day(form.get("service_date")),
                method=form.get("method"), result=form.get("result"), copay=_amount(form.get("copay")),
                deductible_remaining=_amount(form.get("deductible_remaining")),
                out_of_pocket_remaining=_amount(form.get("out_of_pocket_remaining")),
                notes=form.get("notes"), reference=form.get("reference"), appointment=appointment, actor=g.user)
        except ValidationFailed as exc:
            db.session.rollback()
            for _field, message in exc.problems:
                flash(str(message), "danger")
            return self._back()
        flash(str(_l("The eligibility check of %(name)s was recorded.", name=check.coverage.patient.display_name)),
              "success")
        return self._back()

    @expose("/270", methods=["POST"])
    @has_access
    def download_270(self):
        """The X12 270 file for the day's appointments that have no check yet."""
        location, day = self._selection(request.form)
        if location is None:
            abort(404)
        appointments = eligibility.appointments_on(db.session, location, day)
        unchecked = eligibility.unchecked(db.session, appointments)
        try:
            control = x12.next_control_number(db.session)
            text = x12.write_270(db.session, unchecked, now=utcnow(), control_number=control, actor=g.user)
        except ValidationFailed as exc:
            db.session.rollback()
            for _field, message in exc.problems:
                flash(str(message), "danger")
            return self._back(location.id, day)
        audit.record(db.engine, action="export", object_type="Eligibility270", object_id=control, details={
            "location": location.id, "date": day.isoformat(), "control_number": control,
            "patients": sorted({a.patient_id for a in unchecked})})
        filename = f"eligibility-270-{day.isoformat()}-{control}.x12"
        return Response(text, mimetype="text/plain", headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})

    @expose("/271", methods=["POST"])
    @has_access
    def upload_271(self):
        """Read a payer's 271 response into the pending checks; a bad file changes nothing."""
        upload = request.files.get("file")
        data = upload.read(MAX_UPLOAD + 1) if upload else b""
        if not data:
            flash(str(_l("Choose the 271 file to upload.")), "danger")
            return self._back()
        if len(data) > MAX_UPLOAD:
            flash(str(_l("The file is too large (at most %(size)d MB).", size=MAX_UPLOAD // (1024 * 1024))),
                  "danger")
            return self._back()
        try:
            summary = x12.read_271(db.session, data)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return self._back()
        audit.record(db.engine, action="import", object_type="Eligibility271", details={
            "updated": len(summary.updated), "unknown": len(summary.unknown),
            "patients": sorted({c.patient_id for c in summary.updated})})
        counts = summary.counts()
        flash(str(_l("The 271 answered %(num)d checks: %(active)d active, %(inactive)d inactive, "
                     "%(other)d unknown or rejected.", num=len(summary.updated), active=counts.get("active", 0),
                     inactive=counts.get("inactive", 0),
                     other=counts.get("unknown", 0) + counts.get("error", 0))), "success")
        if summary.unknown:
            flash(str(_l("%(num)d answers in the file match no pending check and were ignored: %(traces)s",
                         num=len(summary.unknown), traces=", ".join(summary.unknown[:20]))), "warning")
        return self._back()


def badges(appointments):
    """{appointment id: latest check, None (not checked) or False (nothing to check)} for a schedule
    screen; None when the user may not see checks. Two queries for the whole page."""
    if not current_app.appbuilder.sm.has_access("can_read", "Eligibility"):
        return None
    appointments = list(appointments)
    checks = eligibility.status_for_appointments(db.session, appointments)
    insured = eligibility.insured_appointments(db.session, appointments)
    # False: no insurance to check (self-pay or none), so no badge
    return {key: check if check is not None or key in insured else False for key, check in checks.items()}
