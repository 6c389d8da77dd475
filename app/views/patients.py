"""Patient screens: find (one box), register, edit, chart, merge; and the plain list."""
from flask import abort, current_app, flash, g, jsonify, redirect, request, session, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.models.sqla.filters import FilterEqualFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..extensions import db
from ..models import Patient, Provider
from ..services import access, audit, dates, languages, patient_search, phones
from ..services import ssn as ssn_service
from ..services import patients as patient_service
from ..services.errors import DomainError, ValidationFailed
from .forms import GENDER_LABELS, GUARANTOR_LABELS, SEX_LABELS, STATUS_LABELS, BreakGlassForm, PatientForm, PatientMergeForm

PATIENT_PERMISSIONS = {
    "find": "read", "search": "read", "chart": "read", "break_glass": "read", "register": "write",
    "edit": "write", "merge": "merge", "reveal_ssn": "reveal_ssn",
}
# The list views read only: their add/edit/delete keep FAB's can_add/can_edit/can_delete,
# which no role holds, so patients change only through the desk screens (and services).
PATIENT_LIST_PERMISSIONS = {"list": "read", "show": "read"}

# Sections later capabilities add to the chart: (key, title, template, loader(patient) -> context).
CHART_SECTIONS = []


def open_patient(pk):
    """The patient `pk` if the user may open it now, else off to the break-glass page.

    Every view that shows or changes one patient's record loads it through here.
    """
    patient = db.session.get(Patient, pk) or abort(404)
    if access.needs_break_glass(db.session, g.user, patient):
        if not access.has_grant(session.get("break_glass"), patient.id):
            back = request.full_path.rstrip("?") if request.method == "GET" else request.path
            abort(redirect(url_for("PatientDeskView.break_glass", pk=patient.id, next=back)))
        g.break_glass = True  # every access under the grant is flagged for review
    return patient


def _local_path(target):
    """True for a path on this site ("/appointments/7"), never another host ("//evil", "https:...")."""
    return target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target \
        and all(ord(c) > 31 for c in target)


def to_surviving_record(patient, anchor=""):
    """A merged record takes no new data: say where it went and redirect to the surviving
    chart. None for a record that was not merged (the caller goes on)."""
    if not patient.is_merged:
        return None
    flash(str(_l("This record was merged into MRN %(mrn)s.", mrn=patient.merged_into.mrn)), "info")
    return redirect(url_for("PatientDeskView.chart", pk=patient.merged_into_id) + anchor)


def register_chart_section(key, title, template, loader, permission=None):
    """Add a panel to the patient chart; `permission` is (perm, view_menu) the user must hold; the
    panel is left out when loader(patient) returns None."""
    CHART_SECTIONS.append({"key": key, "title": title, "template": template, "loader": loader, "permission": permission})


def _form_to_data(form, locale):
    """Convert what was typed into service input; unparseable values pass through so the
    service can name them."""
    data = {name: field.data for name, field in form._fields.items() if name in patient_service.EDITABLE_FIELDS}
    if not current_app.appbuilder.sm.has_access("can_restrict", "Patient"):
        data.pop("restricted")  # only privacy-trusted roles set or lift the restriction
    for name in patient_service.DATE_FIELDS:
        raw = (form[name].data or "").strip()
        data[name] = (dates.parse_input(raw, locale) or raw) if raw else None
    for name in ("preferred_language", "guarantor_language"):
        raw = (form[name].data or "").strip()
        data[name] = (languages.parse(raw, locale) or raw) if raw else None
    data["gender_identity"] = form.gender_identity.data or None
    data["ssn"] = form.ssn.data or None
    data["ssn_remove"] = bool(form.ssn_remove.data)
    provider = form.primary_provider_id.data
    # A value that is no provider id (a tampered form) is passed as -1: the service refuses it.
    data["primary_provider_id"] = (int(provider) if provider.isdigit() else -1) if provider else None
    mrn = (form.guarantor_mrn.data or "").strip()
    data["guarantor_patient_id"] = None
    if mrn:
        guarantor = db.session.query(Patient).filter_by(mrn=mrn).one_or_none()
        data["guarantor_patient_id"] = guarantor.id if guarantor else -1
    return data


def apply_problems(form, problems):
    """Put a ValidationFailed's problems on the form's fields (or flash them)."""
    for field, message in problems:
        field = {"guarantor_patient_id": "guarantor_mrn"}.get(field, field)
        if field in form._fields:
            form[field].errors = list(form[field].errors) + [message]
        else:
            flash(str(message), "danger")


def _provider_choices():
    providers = db.session.query(Provider).filter_by(active=True).order_by(Provider.family_name).all()
    return [("", "—")] + [(str(p.id), p.display_name) for p in providers]


def _language_label(code, locale):
    return f"{languages.name(code, locale)} — {code}" if code else ""


def patient_summary(patient, locale):
    """What a search result shows: enough to tell two people apart, nothing clinical."""
    merged_into = patient.merged_into.mrn if patient.merged_into_id else None
    return {
        "id": patient.id,
        "mrn": patient.mrn,
        "name": patient.display_name,
        "birth_date": format_date(patient.birth_date, "medium"),
        "age": patient_service.age_on(patient.birth_date, dates.date.today()),
        "sex": str(SEX_LABELS.get(patient.sex, patient.sex)),
        "ssn": ssn_service.mask(patient.ssn_last4),
        "phone": "" if patient.restricted else phones.display(patient.phone_mobile or patient.phone_home, current_app.config["CLINIC_COUNTRY"]),
        "restricted": patient.restricted,
        "status": patient.status,
        "status_label": str(STATUS_LABELS.get(patient.status, patient.status)),
        "merged_into": merged_into,
        "url": url_for("PatientDeskView.chart", pk=patient.id),
    }


class PatientDeskView(BaseView):
    """The front desk's patient screens."""

    route_base = "/patients"
    class_permission_name = "Patient"
    method_permission_name = PATIENT_PERMISSIONS
    default_view = "find"

    @expose("/find")
    @has_access
    def find(self):
        return self.render_template("patients/find.html")

    @expose("/search", methods=["POST"])
    @has_access
    def search(self):
        """Type-ahead: the query comes in the body (JSON or form), never in the URL."""
        payload = request.get_json(silent=True) or request.form
        text = str(payload.get("q", ""))[:200]
        locale = str(get_locale())
        options = dict(locale=locale, region=current_app.config["CLINIC_COUNTRY"])
        found, more = patient_search.search(db.session, text, limit=current_app.config["PATIENT_SEARCH_LIMIT"], **options)
        similar = False
        if not found:
            found = patient_search.similar(db.session, text, limit=current_app.config["PATIENT_SEARCH_LIMIT"], **options)
            similar = bool(found)
        return jsonify(results=[patient_summary(p, locale) for p in found], more=more, similar=similar)

    def _render_form(self, form, title, patient=None, duplicates=None):
        return self.render_template(
            "patients/form.html",
            form=form,
            title=title,
            patient=patient,
            duplicates=duplicates,
            languages_list=languages.common_choices(str(get_locale())),
            can_restrict=self.appbuilder.sm.has_access("can_restrict", "Patient"),
        )

    @expose("/register", methods=["GET", "POST"])
    @has_access
    def register(self):
        form = PatientForm()
        form.primary_provider_id.choices = _provider_choices()
        locale = str(get_locale())
        if request.method == "GET":
            form.preferred_language.data = _language_label(current_app.config["CLINIC_DEFAULT_LANGUAGE"], locale)
            form.country.data = current_app.config["CLINIC_COUNTRY"]
        duplicates = None
        if form.validate_on_submit():
            try:
                patient = patient_service.register(
                    db.session,
                    _form_to_data(form, locale),
                    allow_duplicate=form.allow_duplicate.data,
                    region=current_app.config["CLINIC_COUNTRY"],
                )
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
                flash(str(exc.message), "danger")
            except patient_service.PossibleDuplicate as exc:
                db.session.rollback()
                duplicates = [patient_summary(p, locale) for p in exc.candidates]
                flash(str(exc.message), "warning")
            else:
                flash(str(_l("Patient %(name)s registered with MRN %(mrn)s.", name=patient.display_name, mrn=patient.mrn)), "success")
                return redirect(url_for("PatientDeskView.chart", pk=patient.id))
        return self._render_form(form, _l("Register a patient"), duplicates=duplicates)

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        patient = open_patient(pk)
        if patient.is_merged:
            return to_surviving_record(patient)
        locale = str(get_locale())
        form = PatientForm(obj=patient) if request.method == "GET" else PatientForm()
        form.primary_provider_id.choices = _provider_choices()
        if request.method == "GET":
            audit.access(db.engine, patient_id=patient.id, details={"screen": "edit"})
            form.version.data = patient.version
            form.primary_provider_id.data = str(patient.primary_provider_id or "")
            form.preferred_language.data = _language_label(patient.preferred_language, locale)
            form.guarantor_language.data = _language_label(patient.guarantor_language, locale)
            form.guarantor_mrn.data = patient.guarantor_patient.mrn if patient.guarantor_patient_id else ""
        elif form.validate_on_submit():
            try:
                patient_service.update_patient(
                    db.session,
                    patient,
                    _form_to_data(form, locale),
                    expected_version=form.version.data if form.version.data.isdigit() else None,
                    region=current_app.config["CLINIC_COUNTRY"],
                )
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
                flash(str(exc.message), "danger")
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            else:
                flash(str(_l("Changes saved.")), "success")
                return redirect(url_for("PatientDeskView.chart", pk=patient.id))
        return self._render_form(form, _l("Edit patient"), patient=patient)

    @expose("/<int:pk>/chart")
    @has_access
    def chart(self, pk):
        patient = open_patient(pk)
        if patient.is_merged:
            survivor = patient_service.follow_merges(db.session, patient)
            flash(
                str(_l("MRN %(old)s was merged into MRN %(new)s; showing the surviving record.", old=patient.mrn, new=survivor.mrn)),
                "info",
            )
            return redirect(url_for("PatientDeskView.chart", pk=survivor.id))
        audit.access(db.engine, patient_id=patient.id)
        sm = self.appbuilder.sm
        sections = []
        for section in CHART_SECTIONS:
            if section["permission"] and not sm.has_access(*section["permission"]):
                continue
            context = section["loader"](patient)
            if context is not None:  # a loader may decline (another panel already shows the same)
                sections.append(dict(section, context=context))
        merged_from = db.session.query(Patient).filter_by(merged_into_id=patient.id).all()
        locale = str(get_locale())
        return self.render_template(
            "patients/chart.html",
            patient=patient,
            sections=sections,
            merged_from=merged_from,
            language_name=languages.name(patient.preferred_language, locale),
            guarantor_language_name=languages.name(patient.guarantor_language, locale),
            age=patient_service.age_on(patient.birth_date, dates.date.today()),
            address=patient_service.address_lines(patient, current_app.config["CLINIC_COUNTRY"]),
            status_label=STATUS_LABELS.get(patient.status, patient.status),
            sex_label=SEX_LABELS.get(patient.sex, patient.sex),
            gender_label=GENDER_LABELS.get(patient.gender_identity, ""),
            guarantor_label=GUARANTOR_LABELS.get(patient.guarantor_relationship, ""),
            can_edit=sm.has_access("can_write", "Patient"),
            can_merge=sm.has_access("can_merge", "Patient"),
            can_reveal_ssn=sm.has_access("can_reveal_ssn", "Patient"),
        )

    @expose("/<int:pk>/ssn", methods=["POST"])
    @has_access
    def reveal_ssn(self, pk):
        """The full SSN, in the response body only (POST, CSRF-checked); audited without it."""
        patient = open_patient(pk)
        if not patient.ssn_encrypted:
            abort(404)
        number = ssn_service.reveal(patient)
        audit.access(db.engine, patient_id=patient.id, action="reveal", object_type="SSN", object_id=patient.id)
        return self.render_template("patients/ssn.html", patient=patient, ssn=number)

    @expose("/<int:pk>/break-glass", methods=["GET", "POST"])
    @has_access
    def break_glass(self, pk):
        """Open a restricted record by giving a reason; the use is flagged in the audit trail."""
        patient = db.session.get(Patient, pk) or abort(404)
        target = request.args.get("next", "")
        if not _local_path(target):
            target = url_for("PatientDeskView.chart", pk=pk)
        form = BreakGlassForm()
        if form.validate_on_submit():
            try:
                session["break_glass"] = access.break_glass(
                    db.engine, session.get("break_glass"), patient=patient, reason=form.reason.data,
                    minutes=current_app.config["BREAK_GLASS_MINUTES"],
                )
            except ValidationFailed as exc:
                apply_problems(form, exc.problems)
            else:
                return redirect(target)
        return self.render_template("patients/break_glass.html", form=form, patient=patient)

    @expose("/<int:pk>/merge", methods=["GET", "POST"])
    @has_access
    def merge(self, pk):
        """Merge this (duplicate) record into a surviving record chosen by MRN, after a preview."""
        source = open_patient(pk)
        target = None
        form = PatientMergeForm()
        if form.validate_on_submit():
            target = db.session.query(Patient).filter_by(mrn=form.target_mrn.data.strip()).one_or_none()
            if target is None:
                form.target_mrn.errors = [_l("No patient has this MRN.")]
            elif form.confirm.data:
                try:
                    patient_service.merge(db.session, source_id=source.id, target_id=target.id)
                except DomainError as exc:
                    db.session.rollback()
                    flash(str(exc.message), "danger")
                else:
                    flash(str(_l("MRN %(old)s merged into MRN %(new)s.", old=source.mrn, new=target.mrn)), "success")
                    return redirect(url_for("PatientDeskView.chart", pk=target.id))
        return self.render_template("patients/merge.html", source=source, target=target, form=form)


class PatientListView(ModelView):
    """Plain FAB list for browsing; the front desk uses the one-box search instead."""

    datamodel = SQLAInterface(Patient)
    class_permission_name = "Patient"
    method_permission_name = PATIENT_LIST_PERMISSIONS
    # The same set as PatientDeskView, which shares the "Patient" permission name: FAB
    # drops a shared name's permissions that one of its views does not list. add/edit/
    # delete map to can_add/can_edit/can_delete, absent here, so they stay disabled.
    base_permissions = ["can_read", "can_write", "can_merge", "can_reveal_ssn"]
    list_title = _l("Patient list")
    list_columns = ["chart_link", "family_name", "given_name", "birth_date", "sex", "ssn_masked", "status"]
    search_columns = ["mrn", "family_name", "given_name", "birth_date", "status"]
    order_columns = ["family_name", "given_name", "birth_date"]
    base_order = ("family_name", "asc")
    label_columns = {
        "chart_link": _l("MRN"),
        "mrn": _l("MRN"),
        "family_name": _l("Family name"),
        "given_name": _l("Given name"),
        "birth_date": _l("Birth date"),
        "sex": _l("Sex"),
        "ssn_masked": _l("SSN"),
        "status": _l("Status"),
    }
    formatters_columns = {
        "birth_date": lambda d: format_date(d, "medium") if d else "",
        "sex": lambda code: SEX_LABELS.get(code, code),
        "status": lambda code: STATUS_LABELS.get(code, code),
    }
    page_size = 25

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """The chart is the one place a patient is shown (and audited)."""
        return redirect(url_for("PatientDeskView.chart", pk=pk))


def my_provider_id():
    """The provider record of the logged-in user (None when the user is not a provider)."""
    user = g.user
    if user is None or not user.is_authenticated:
        return None
    provider = db.session.query(Provider.id).filter_by(user_id=user.id).scalar()
    return provider if provider is not None else -1


class MyPatientsView(PatientListView):
    """A clinician's panel: patients whose primary provider is the logged-in user."""

    list_title = _l("My patients")
    base_filters = [["primary_provider_id", FilterEqualFunction, my_provider_id]]


def chart_link(patient):
    return Markup('<a href="%s">%s</a>') % (url_for("PatientDeskView.chart", pk=patient.id), escape(patient.mrn))


Patient.chart_link = property(chart_link)
