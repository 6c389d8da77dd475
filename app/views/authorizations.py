"""Prior authorization screens: the alert list (ending soon, running out of units), a patient's
authorization (add, edit, void, its units used), the chart's Authorizations panel and the home card.

Every rule lives in app/services/authorizations.py.
"""
from datetime import date

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from ..extensions import db
from ..models.authorizations import PriorAuthorization
from ..models.billing import Payer
from ..models.scheduling import AppointmentType
from ..services import audit, dates
from ..services import authorizations as service
from ..services import coverage as coverage_service
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .forms import LocaleDateField
from .home import Link, register_home_card
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record

ANCHOR = "#chart-authorizations"
DATE_FIELDS = ("valid_from", "valid_to")


class AuthorizationForm(FlaskForm):
    version = HiddenField()
    payer = SelectField(_l("Payer"), choices=[], validate_choice=False)
    coverage = SelectField(_l("Coverage"), choices=[], validate_choice=False)
    number = StringField(_l("Authorization number"))
    appointment_type = SelectField(_l("For appointments of type (optional)"), choices=[], validate_choice=False)
    codes = StringField(_l("CPT/HCPCS codes (comma-separated; empty = any service)"))
    units_authorized = StringField(_l("Units authorized (empty = no limit)"))
    valid_from = LocaleDateField(_l("Valid from"))
    valid_to = LocaleDateField(_l("Valid to"))
    notes = TextAreaField(_l("Notes (optional)"))


def _locale():
    return str(get_locale() or "en")


def _units(value):
    return format_decimal(value, format="#,##0.##", locale=_locale()) if value is not None else ""


def _id(raw):
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else -1


def _choices(form, patient, auth=None):
    payers = db.session.scalars(select(Payer).where(Payer.active.is_(True)).order_by(Payer.name)).all()
    if auth is not None and auth.payer is not None and auth.payer not in payers:
        payers.append(auth.payer)
    form.payer.choices = [("", "—")] + [(str(p.id), f"{p.name} ({p.payer_code})") for p in payers]
    coverages = [c for c in coverage_service.coverages_for(db.session, patient.id) if not c.self_pay]
    form.coverage.choices = [("", str(_l("The coverage with that payer (found by the dates)")))] + [
        (str(c.id), f"{c.payer.name} · {coverage_service.PRIORITY_LABELS.get(c.priority, c.priority)} · "
                    f"{coverage_service.mask_member_id(c.member_id)}") for c in coverages]
    types = db.session.scalars(select(AppointmentType).order_by(AppointmentType.name)).all()
    form.appointment_type.choices = [("", "—")] + [(str(t.id), t.name) for t in types]


def _values(form):
    """What was typed, as service input; unreadable dates are reported with the service's problems."""
    locale = _locale()
    problems, values = [], {}
    for name in DATE_FIELDS:
        raw = (form[name].data or "").strip()
        values[name] = dates.parse_input(raw, locale) if raw else None
        if raw and values[name] is None:
            problems.append((name, _l("Write the date as %(example)s.",
                                      example=dates.format_input(date(1987, 12, 31), locale))))
            values[name] = raw  # the service names it too; nothing is written
    for name in ("payer", "coverage", "appointment_type"):
        values[name] = _id(form[name].data)
    for name in ("number", "codes", "units_authorized", "notes"):
        values[name] = form[name].data
    raw = (values["units_authorized"] or "").strip()
    if raw:
        try:  # in the user's language: 1,500 is fifteen hundred in English, one and a half in French
            values["units_authorized"] = parse_decimal(raw, locale=locale)
        except NumberFormatError:
            pass  # the service names it
    return values, problems


def _fill(form, auth):
    form.payer.data = str(auth.payer_id)
    form.coverage.data = str(auth.coverage_id) if auth.coverage_id else ""
    form.number.data = auth.number
    form.appointment_type.data = str(auth.appointment_type_id) if auth.appointment_type_id else ""
    form.codes.data = ", ".join(auth.code_list)
    form.units_authorized.data = (format_decimal(auth.units_authorized, format="0.##", locale=_locale())
                                  if auth.units_authorized is not None else "")
    form.valid_from.process_data(auth.valid_from)
    form.valid_to.process_data(auth.valid_to)
    form.notes.data = auth.notes or ""
    form.version.data = str(auth.version)


def _save(save):
    """Run a service call; (ok, problems)."""
    try:
        save()
    except ValidationFailed as exc:
        db.session.rollback()
        return False, exc.problems
    except StaleRecordError as exc:
        db.session.rollback()
        return False, [(None, exc.message)]
    return True, []


def _row(auth, today=None):
    used = service.units_used(db.session, auth)
    left = (auth.units_authorized - used) if auth.units_authorized is not None else None
    return {"auth": auth, "used": _units(used), "left": _units(left) if left is not None else "",
            "authorized": _units(auth.units_authorized), "codes": ", ".join(auth.code_list),
            "type": auth.appointment_type.name if auth.appointment_type else "",
            "status": service.STATUS_LABELS.get(auth.status, auth.status),
            "in_force": auth.status == "active" and auth.valid_from <= (today or date.today()) <= auth.valid_to}


class AuthorizationView(BaseView):
    route_base = "/authorizations"
    class_permission_name = "PriorAuthorization"
    method_permission_name = {"index": "read", "show": "read", "add": "write", "edit": "write", "void": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """The alert list: authorizations ending within 14 days or running out of units."""
        rows = []
        for auth, reasons, used, left in service.alerts(db.session):
            rows.append({"auth": auth, "reasons": [service.ALERT_LABELS[r] for r in reasons],
                         "reason_keys": reasons, "used": _units(used), "left": _units(left),
                         "authorized": _units(auth.units_authorized)})
        audit.record(db.engine, action="view", object_type="PriorAuthorizationList", details={
            "screen": "alerts", "rows": len(rows), "patients": sorted({r["auth"].patient_id for r in rows})})
        return self.render_template("authorizations/index.html", rows=rows, days=service.EXPIRING_DAYS,
                                    title=_l("Authorizations to renew"))

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        auth = db.session.get(PriorAuthorization, pk) or abort(404)
        patient = open_patient(auth.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="PriorAuthorization", object_id=auth.id)
        return self.render_template(
            "authorizations/show.html", auth=auth, patient=patient, row=_row(auth),
            can_write=self.appbuilder.sm.has_access("can_write", "PriorAuthorization") and auth.status == "active",
            title=_l("Prior authorization"))

    def _render(self, form, patient, auth=None):
        return self.render_template(
            "authorizations/form.html", form=form, patient=patient, auth=auth,
            date_example=dates.format_input(date(1987, 12, 31), _locale()),
            title=_l("Edit the prior authorization") if auth is not None else _l("Record a prior authorization"))

    @expose("/add/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def add(self, patient_id):
        patient = open_patient(patient_id)
        moved = to_surviving_record(patient, ANCHOR)
        if moved is not None:
            return moved
        form = AuthorizationForm()
        _choices(form, patient)
        if request.method == "POST" and form.validate_on_submit():
            values, problems = _values(form)
            created = []
            ok, service_problems = _save(lambda: created.append(
                service.add_authorization(db.session, patient, actor=g.user, **values)))
            if ok and not problems:
                flash(str(_l("Authorization %(number)s was recorded.", number=created[0].number)), "success")
                return redirect(url_for("AuthorizationView.show", pk=created[0].id))
            apply_problems(form, problems + [p for p in service_problems if p[0] not in dict(problems)])
            flash(str(_l("Please correct the highlighted fields.")), "danger")
        elif request.method == "POST":
            flash(str(_l("The form has expired. Please try again.")), "danger")
        else:
            audit.access(db.engine, patient_id=patient.id, object_type="PriorAuthorization", details={"screen": "add"})
            form.valid_from.process_data(date.today())
            active = [c for c in coverage_service.active_coverages(db.session, patient.id, date.today())
                      if c.payer_id is not None]
            if active:
                form.payer.data = str(active[0].payer_id)
        return self._render(form, patient)

    def _load(self, pk):
        auth = db.session.get(PriorAuthorization, pk) or abort(404)
        return auth, open_patient(auth.patient_id)

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        auth, patient = self._load(pk)
        if auth.status != "active":
            flash(str(_l("This authorization was voided: nothing can be changed.")), "warning")
            return redirect(url_for("AuthorizationView.show", pk=pk))
        form = AuthorizationForm()
        _choices(form, patient, auth)
        if request.method == "POST" and form.validate_on_submit():
            values, problems = _values(form)
            version = form.version.data or ""
            ok, service_problems = _save(lambda: service.update_authorization(
                db.session, auth, expected_version=int(version) if version.isdigit() else -1, actor=g.user,
                **values))
            if ok and not problems:
                flash(str(_l("Authorization %(number)s was saved.", number=auth.number)), "success")
                return redirect(url_for("AuthorizationView.show", pk=pk))
            apply_problems(form, problems + [p for p in service_problems if p[0] not in dict(problems)])
            flash(str(_l("Please correct the highlighted fields.")), "danger")
        elif request.method == "POST":
            flash(str(_l("The form has expired. Please try again.")), "danger")
        else:
            _fill(form, auth)
            audit.access(db.engine, patient_id=patient.id, object_type="PriorAuthorization", object_id=auth.id,
                         details={"screen": "edit"})
        return self._render(form, patient, auth)

    @expose("/<int:pk>/void", methods=["POST"])
    @has_access
    def void(self, pk):
        auth, _patient = self._load(pk)
        version = request.form.get("version", "")
        try:
            service.void_authorization(db.session, auth, reason=request.form.get("reason"), actor=g.user,
                                       expected_version=int(version) if version.isdigit() else -1)
        except DomainError as exc:
            db.session.rollback()
            messages = [m for _, m in exc.problems] if isinstance(exc, ValidationFailed) else [exc.message]
            for message in messages:
                flash(str(message), "danger")
        else:
            flash(str(_l("Authorization %(number)s is now void.", number=auth.number)), "success")
        return redirect(url_for("AuthorizationView.show", pk=pk))


def _chart_authorizations(patient):
    today = date.today()
    return {"patient": patient, "rows": [_row(a, today) for a in service.for_patient(db.session, patient.id)],
            "can_write": current_app.appbuilder.sm.has_access("can_write", "PriorAuthorization")
            and not patient.is_merged}


register_chart_section("authorizations", _l("Authorizations"), "authorizations/_chart.html", _chart_authorizations,
                       permission=("can_read", "PriorAuthorization"))


def _authorization_alerts(user, ctx):
    n = service.alert_count(db.session)
    if not n:
        return None
    return {"value": n, "attention": True,
            "text": _l("prior authorizations end within %(days)d days or are running out of units",
                       days=service.EXPIRING_DAYS),
            "links": [Link(_l("Open the list"), url_for("AuthorizationView.index"))]}


register_home_card("authorization_alerts", _l("Authorizations to renew"), _authorization_alerts,
                   permission=("can_write", "PriorAuthorization"), order=37)
