"""Privacy officer screens: the audit trail (filter, CSV, PDF) and disclosures."""
from datetime import datetime, time, timedelta

from flask import Response, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_datetime, get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from ..documents.csvfile import to_csv
from ..documents.pdf import render_pdf
from ..extensions import db
from ..i18n import closest_language
from ..models import Patient
from ..services import audit, dates, disclosures
from ..services.errors import ValidationFailed
from .forms import LocaleDateField
from .patients import apply_problems, open_patient, register_chart_section

EXPORT_LIMIT = 50000


# What the auditor reads for each action code (the CSV keeps the codes).
ACTION_LABELS = {
    "view": _l("Viewed"), "download": _l("Downloaded"), "create": _l("Created"), "update": _l("Changed"),
    "delete": _l("Deleted"), "merge": _l("Merged"), "export": _l("Exported"), "print": _l("Printed"),
    "break_glass": _l("Break-glass opening"), "login": _l("Signed in"), "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"), "lockout": _l("Account locked"), "unlock": _l("Account unlocked"),
    "permission_change": _l("Permissions changed"), "user_create": _l("User created"),
    "user_update": _l("User changed"), "user_delete": _l("User deleted"), "disclosure": _l("Disclosure"),
    "session_end": _l("Session ended"), "mfa_enroll": _l("Two-step sign-in set up"),
    "mfa_reset": _l("Two-step sign-in reset"), "report": _l("Ran a report"),
}


class AuditFilterForm(FlaskForm):
    mrn = StringField(_l("Patient MRN"))
    username = StringField(_l("User"))
    start = LocaleDateField(_l("From"))
    end = LocaleDateField(_l("To (inclusive)"))
    action = SelectField(_l("Action"), choices=[("", _l("Any"))] + [(a, ACTION_LABELS.get(a, a)) for a in audit.ACTIONS], validate_choice=False)
    flagged_only = BooleanField(_l("Break-glass and flagged only"))


def _local_midnight_utc(day):
    return datetime.combine(day, time.min, tzinfo=get_timezone())


def _filters(form, locale):
    """Turn the form into find_events() arguments; field errors go onto the form."""
    args, ok = {}, True
    mrn = (form.mrn.data or "").strip()
    if mrn:
        patient = db.session.query(Patient).filter_by(mrn=mrn).one_or_none()
        if patient is None:
            form.mrn.errors = [_l("No patient has this MRN.")]
            ok = False
        else:
            args["patient_ids"] = disclosures.merged_family(db.session, patient)
    for name in ("start", "end"):
        raw = (form[name].data or "").strip()
        if raw:
            day = dates.parse_input(raw, locale)
            if day is None:
                form[name].errors = [_l("Not a valid date.")]
                ok = False
            else:
                args[name] = _local_midnight_utc(day + timedelta(days=1 if name == "end" else 0))
    if "start" in args and "end" in args and args["end"] <= args["start"]:
        form.end.errors = [_l("The end date is before the start date.")]
        ok = False
    args["username"] = (form.username.data or "").strip() or None
    args["action"] = form.action.data or None
    args["flagged_only"] = bool(form.flagged_only.data)
    return args, ok


def _mrns(events):
    ids = {e.patient_id for e in events if e.patient_id}
    if not ids:
        return {}
    return dict(db.session.query(Patient.id, Patient.mrn).filter(Patient.id.in_(ids)).all())


class AuditTrailView(BaseView):
    route_base = "/audit"
    class_permission_name = "AuditTrail"
    method_permission_name = {"index": "read"}
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def index(self):
        """Filters travel in the POST body (an MRN is patient data: never in the URL)."""
        form = AuditFilterForm()
        events, more, mrns = [], False, {}
        locale = str(get_locale())
        if form.validate_on_submit():
            args, ok = _filters(form, locale)
            if ok:
                export = request.form.get("format")
                limit = EXPORT_LIMIT if export in ("csv", "pdf") else 500
                events, more = audit.find_events(db.session, limit=limit, **args)
                mrns = _mrns(events)
                if export in ("csv", "pdf"):
                    return self._export(export, events, mrns, form, more)
        return self.render_template("audit/index.html", form=form, events=events, more=more, mrns=mrns,
                                    action_labels=ACTION_LABELS)

    def _export(self, kind, events, mrns, form, truncated):
        audit.record(db.engine, action="export", object_type="AuditTrail",
                     details={"format": kind, "rows": len(events), "filters": {
                         k: form[k].data for k in ("username", "start", "end", "action", "flagged_only")}})
        headers = [_l("Time"), _l("User"), _l("Action"), _l("Object"), _l("Patient MRN"), _l("Flagged"), _l("Address"), _l("Path"), _l("Details"), _l("Sequence")]
        rows = [
            [format_datetime(e.occurred_at, "yyyy-MM-dd HH:mm:ss"), e.username or "", e.action,
             f"{e.object_type or ''} {e.object_id or ''}".strip(), mrns.get(e.patient_id, ""), "yes" if e.flagged else "",
             e.ip or "", e.path or "", e.details or "", e.seq]
            for e in events
        ]
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        if kind == "csv":
            body, mime, ext = to_csv([str(h) for h in headers], rows), "text/csv; charset=utf-8", "csv"
        else:
            body = render_pdf("documents/audit_trail.html", locale=str(get_locale()), title=str(_l("Audit trail")),
                              headers=headers, rows=rows, truncated=truncated, page_size="Letter landscape",
                              generated_by=g.user.username, generated_at=format_datetime(datetime.now(get_timezone())))
            mime, ext = "application/pdf", "pdf"
        return Response(body, mimetype=mime, headers={
            "Content-Disposition": f'attachment; filename="audit-trail-{stamp}.{ext}"', "Cache-Control": "no-store"})


class DisclosureForm(FlaskForm):
    recipient = StringField(_l("Recipient"))
    recipient_address = StringField(_l("Recipient address"))
    purpose = StringField(_l("Purpose"))
    description = TextAreaField(_l("What was disclosed"))
    disclosed_on = LocaleDateField(_l("Date disclosed"))


class DisclosureView(BaseView):
    route_base = "/disclosures"
    class_permission_name = "Disclosure"
    method_permission_name = {"new": "write", "accounting": "read"}

    @expose("/<int:pk>/new", methods=["GET", "POST"])
    @has_access
    def new(self, pk):
        patient = open_patient(pk)
        form = DisclosureForm()
        locale = str(get_locale())
        if form.validate_on_submit():
            raw = (form.disclosed_on.data or "").strip()
            day = dates.parse_input(raw, locale) if raw else None
            if raw and day is None:
                form.disclosed_on.errors = [_l("Not a valid date.")]
            else:
                try:
                    disclosures.record(
                        db.session, patient=patient, recipient=form.recipient.data,
                        recipient_address=form.recipient_address.data, purpose=form.purpose.data,
                        description=form.description.data,
                        disclosed_on=_local_midnight_utc(day) + timedelta(hours=12) if day else None,
                        who=audit.actor(),
                    )
                except ValidationFailed as exc:
                    db.session.rollback()
                    apply_problems(form, exc.problems)
                else:
                    flash(str(_l("Disclosure recorded.")), "success")
                    return redirect(url_for("PatientDeskView.chart", pk=patient.id) + "#chart-disclosures")
        return self.render_template("audit/disclosure_form.html", form=form, patient=patient)

    @expose("/<int:pk>/accounting.pdf", methods=["POST"])
    @has_access
    def accounting(self, pk):
        """The patient's accounting of disclosures (six years) as a PDF in the patient's language."""
        patient = open_patient(pk)
        items, since = disclosures.accounting(db.session, patient)
        audit.access(db.engine, patient_id=patient.id, action="print", object_type="DisclosureAccounting")
        locale = closest_language(patient.preferred_language)  # a "pt" patient reads pt_BR
        pdf = render_pdf("documents/disclosure_accounting.html", locale=locale, title=str(_l("Accounting of disclosures")),
                         patient=patient, items=items, since=since, now=datetime.now(get_timezone()))
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="disclosures-{patient.mrn}.pdf"', "Cache-Control": "no-store"})


def _chart_disclosures(patient):
    items, since = disclosures.accounting(db.session, patient)
    return {"items": items[:10], "count": len(items), "patient": patient}


register_chart_section("disclosures", _l("Disclosures"), "audit/_chart_disclosures.html", _chart_disclosures,
                       permission=("can_read", "Disclosure"))
