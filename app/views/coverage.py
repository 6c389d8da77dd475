"""Coverage screens: add, edit and void a patient's insurance; the chart's Insurance panel.

The rules live in app/services/coverage.py. Member ids are masked everywhere but the edit form.
"""
from datetime import date

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField

from ..extensions import db
from ..models.billing import SUBSCRIBER_RELATIONSHIPS, Coverage, Payer
from ..services import audit, dates
from ..services import coverage as coverage_service
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .forms import SEX_LABELS, LocaleDateField
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record

DATE_FIELDS = ("effective_date", "end_date", "subscriber_birth_date")
TEXT_FIELDS = ("plan_name", "member_id", "group_number", "copay", "subscriber_mrn", "subscriber_family_name",
               "subscriber_given_name", "subscriber_sex")
ANCHOR = "#chart-coverage"


class CoverageForm(FlaskForm):
    version = HiddenField()
    priority = SelectField(_l("Order"), choices=[], validate_choice=False)
    self_pay = BooleanField(_l("Self-pay: no insurance, the guarantor is billed"))
    payer = SelectField(_l("Payer"), choices=[], validate_choice=False)
    plan_name = StringField(_l("Plan"))
    member_id = StringField(_l("Member id"))
    group_number = StringField(_l("Group number"))
    effective_date = LocaleDateField(_l("Effective date"))
    end_date = LocaleDateField(_l("End date"))
    copay = StringField(_l("Copay"))
    subscriber_relationship = SelectField(_l("Patient's relationship to the subscriber"), choices=[],
                                          validate_choice=False)
    subscriber_mrn = StringField(_l("Subscriber's MRN (if a patient here)"))
    subscriber_family_name = StringField(_l("Subscriber's family name"))
    subscriber_given_name = StringField(_l("Subscriber's given name"))
    subscriber_birth_date = LocaleDateField(_l("Subscriber's birth date"))
    subscriber_sex = SelectField(_l("Subscriber's sex"), choices=[], validate_choice=False)


def _choices(form, coverage=None):
    payers = db.session.query(Payer).filter(Payer.active.is_(True)).order_by(Payer.name).all()
    if coverage is not None and coverage.payer is not None and coverage.payer not in payers:
        payers.append(coverage.payer)  # an inactive payer stays on the coverage that has it
    form.payer.choices = [("", "—")] + [(str(p.id), f"{p.name} ({p.payer_code})") for p in payers]
    form.priority.choices = [(str(k), str(v)) for k, v in coverage_service.PRIORITY_LABELS.items()]
    form.subscriber_relationship.choices = [(k, str(coverage_service.RELATIONSHIP_LABELS[k]))
                                            for k in SUBSCRIBER_RELATIONSHIPS]
    form.subscriber_sex.choices = [("", "—")] + [(k, str(v)) for k, v in SEX_LABELS.items()]


def _values(form):
    """What was typed, as service input; unparseable dates are reported with the other problems."""
    locale = str(get_locale())
    problems, values = [], {}
    for name in DATE_FIELDS:
        raw = (form[name].data or "").strip()
        values[name] = dates.parse_input(raw, locale) if raw else None
        if raw and values[name] is None:
            problems.append((name, _l("Write the date as %(example)s.",
                                      example=dates.format_input(date(1987, 12, 31), locale))))
    for name in TEXT_FIELDS:
        values[name] = form[name].data
    values["self_pay"] = bool(form.self_pay.data)
    payer = (form.payer.data or "").strip()
    values["payer"] = int(payer) if payer.isdigit() else (-1 if payer else None)
    priority = (form.priority.data or "").strip()
    values["priority"] = int(priority) if priority.isdigit() else -1
    values["subscriber_relationship"] = form.subscriber_relationship.data
    if values["copay"] and values["copay"].strip():
        values["copay"] = values["copay"].strip().lstrip("$")
    if problems:
        raise ValidationFailed(problems)
    return values


def _fill(form, coverage):
    """The form's fields from a stored coverage (GET of the edit form)."""
    for name in ("plan_name", "member_id", "group_number", "subscriber_family_name", "subscriber_given_name"):
        form[name].data = getattr(coverage, name) or ""
    for name in ("effective_date", "end_date", "subscriber_birth_date"):
        form[name].process_data(getattr(coverage, name))
    form.priority.data = str(coverage.priority)
    form.self_pay.data = coverage.self_pay
    form.payer.data = str(coverage.payer_id) if coverage.payer_id else ""
    form.copay.data = str(coverage.copay) if coverage.copay is not None else ""
    form.subscriber_relationship.data = coverage.subscriber_relationship
    form.subscriber_mrn.data = coverage.subscriber_patient.mrn if coverage.subscriber_patient else ""
    form.subscriber_sex.data = coverage.subscriber_sex or ""
    form.version.data = str(coverage.version)


def _flash_problems(exc):
    flash(str(exc.message), "danger")


class CoverageView(BaseView):
    route_base = "/coverage"
    class_permission_name = "Coverage"
    method_permission_name = {"add": "write", "edit": "write", "void": "write"}

    def _chart(self, patient):
        return redirect(url_for("PatientDeskView.chart", pk=patient.id) + ANCHOR)

    def _render(self, form, patient, coverage=None):
        return self.render_template("coverage/form.html", form=form, patient=patient, coverage=coverage,
                                    guarantor=coverage_service.guarantor_display(patient),
                                    title=_l("Edit coverage") if coverage is not None else _l("Add coverage"))

    @expose("/add/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def add(self, patient_id):
        patient = open_patient(patient_id)
        moved = to_surviving_record(patient, ANCHOR)
        if moved is not None:
            return moved
        form = CoverageForm()
        _choices(form)
        if form.validate_on_submit():
            try:
                coverage_service.add_coverage(db.session, patient, **_values(form))
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
                _flash_problems(exc)
            else:
                flash(str(_l("The coverage was added for %(name)s.", name=patient.display_name)), "success")
                return self._chart(patient)
        elif request.method == "GET":
            form.effective_date.process_data(date.today())
            taken = {c.priority for c in coverage_service.active_coverages(db.session, patient.id, date.today())}
            form.priority.data = str(min({1, 2, 3} - taken, default=1))
            audit.access(db.engine, patient_id=patient.id, object_type="Coverage", details={"screen": "add"})
        return self._render(form, patient)

    def _coverage(self, pk):
        coverage = db.session.get(Coverage, pk) or abort(404)
        patient = open_patient(coverage.patient_id)
        return coverage, patient

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        coverage, patient = self._coverage(pk)
        if coverage.status != "active":
            flash(str(_l("This coverage was voided: nothing can be changed.")), "warning")
            return self._chart(patient)
        form = CoverageForm()
        _choices(form, coverage)
        if form.validate_on_submit():
            version = form.version.data or ""
            try:
                coverage_service.update_coverage(db.session, coverage, **_values(form),
                                                 expected_version=int(version) if version.isdigit() else -1)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
                _flash_problems(exc)
            except StaleRecordError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            else:
                flash(str(_l("The coverage was saved.")), "success")
                return self._chart(patient)
        elif request.method == "GET":
            _fill(form, coverage)
            # The full member id is shown here only: an access to the patient's record.
            audit.access(db.engine, patient_id=patient.id, object_type="Coverage", object_id=coverage.id,
                         details={"screen": "edit", "member_id": "shown"})
        return self._render(form, patient, coverage)

    @expose("/<int:pk>/void", methods=["POST"])
    @has_access
    def void(self, pk):
        coverage, patient = self._coverage(pk)
        version = request.form.get("version", "")
        try:
            coverage_service.void_coverage(db.session, coverage, reason=request.form.get("reason"),
                                           expected_version=int(version) if version.isdigit() else -1)
        except DomainError as exc:
            db.session.rollback()
            messages = [m for _, m in exc.problems] if isinstance(exc, ValidationFailed) else [exc.message]
            for message in messages:
                flash(str(message), "danger")
        else:
            flash(str(_l("The coverage was voided.")), "success")
        return self._chart(patient)


def _chart_date():
    raw = request.args.get("coverage_date", "").strip()
    if raw:
        parsed = dates.parse_input(raw, str(get_locale()))
        if parsed is not None:
            return parsed, raw
    return date.today(), None


def _chart_coverage(patient):
    on_date, raw = _chart_date()
    active = coverage_service.active_coverages(db.session, patient.id, on_date)
    return {"patient": patient, "coverages": coverage_service.coverages_for(db.session, patient.id),
            "active_ids": {c.id for c in active}, "on_date": on_date,
            "bad_date": raw is None and bool(request.args.get("coverage_date", "").strip()),
            "date_text": dates.format_input(on_date, str(get_locale())),
            "mask": coverage_service.mask_member_id, "billed_party": coverage_service.billed_party,
            "subscriber": coverage_service.subscriber_display,
            "priority_labels": coverage_service.PRIORITY_LABELS,
            "relationship_labels": coverage_service.RELATIONSHIP_LABELS,
            "status_labels": coverage_service.STATUS_LABELS,
            "can_write": current_app.appbuilder.sm.has_access("can_write", "Coverage")}


register_chart_section("coverage", _l("Insurance"), "coverage/_chart.html", _chart_coverage,
                       permission=("can_read", "Coverage"))
