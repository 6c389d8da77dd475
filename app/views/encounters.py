"""Encounter screens: the billing worklist, one encounter's diagnoses and charge lines.

Every rule lives in app/services/encounters.py (formats, fee schedule, pointers, the row rule
that keeps a clinician to their own encounters); these views turn the forms into service input
and the service's problems into messages beside the fields.
"""
from datetime import date

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Appointment, Provider
from ..models.billing import ChargeLine, Encounter, Icd10Code
from ..services import audit, dates, icd10
from ..services import encounters as service
from ..services.errors import DomainError, ValidationFailed
from .patients import open_patient

WORKLIST_LIMIT = 200
STATUS_FILTERS = (("active", _l("In progress and ready")), ("open", _l("In progress")), ("ready", _l("Ready to bill")),
                  ("billed", _l("Billed")), ("all", _l("All")))


def _locale():
    return str(get_locale() or "en")


def _version():
    """The version the user saw; -1 if the form did not send one (refused as stale)."""
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else -1


def _units(value):
    return format_decimal(value.normalize()) if value is not None else ""


def _problems(exc):
    """{field: [messages]} of a ValidationFailed (form-level problems under None)."""
    out = {}
    for field, message in exc.problems:
        out.setdefault(field, []).append(str(message))
    return out


class EncounterView(BaseView):
    """The worklist and the encounter page (diagnoses A-L, charge lines, mark ready)."""

    route_base = "/encounters"
    class_permission_name = "Encounter"
    method_permission_name = {"index": "read", "show": "read", "from_appointment": "write",
                              "diagnoses": "write", "add_charge": "write", "edit_charge": "write",
                              "remove_charge": "write", "ready": "write"}
    default_view = "index"

    # ------------------------------------------------------------------ worklist

    @expose("/")
    @has_access
    def index(self):
        locale = _locale()
        args = request.args
        status = args.get("status", "active")
        if status not in dict(STATUS_FILTERS):
            status = "active"
        provider_id = args.get("provider", "")
        problems = {}
        day_from = dates.parse_input(args.get("from", ""), locale) if args.get("from", "").strip() else None
        day_to = dates.parse_input(args.get("to", ""), locale) if args.get("to", "").strip() else None
        for name, value in (("from", day_from), ("to", day_to)):
            if args.get(name, "").strip() and value is None:
                problems[name] = str(_l("Write the date as %(example)s.",
                                        example=dates.format_input(date(1987, 12, 31), locale)))
        query = service.scoped(select(Encounter), g.user, self.appbuilder.sm)
        if status == "active":
            query = query.where(Encounter.status.in_(("open", "ready")))
        elif status != "all":
            query = query.where(Encounter.status == status)
        if provider_id.isdigit():
            query = query.where(Encounter.provider_id == int(provider_id))
        if day_from:
            query = query.where(Encounter.service_date >= day_from)
        if day_to:
            query = query.where(Encounter.service_date <= day_to)
        rows = db.session.scalars(query.options(selectinload(Encounter.charges), selectinload(Encounter.patient),
                                                selectinload(Encounter.provider), selectinload(Encounter.diagnoses))
                                  .order_by(Encounter.service_date.desc(), Encounter.id.desc())
                                  .limit(WORKLIST_LIMIT)).all()
        audit.record(db.engine, action="view", object_type="EncounterWorklist",
                     details={"count": len(rows), "status": status})
        sm = self.appbuilder.sm
        providers = db.session.scalars(select(Provider) if service.sees_all(g.user, sm)
                                       else select(Provider).where(Provider.user_id == g.user.id)).all()
        providers = sorted(providers, key=lambda p: (p.family_name, p.given_name))
        return self.render_template(
            "encounters/index.html", rows=rows, status=status, status_filters=STATUS_FILTERS,
            status_labels=service.STATUS_LABELS, providers=providers, provider_id=provider_id,
            day_from=args.get("from", ""), day_to=args.get("to", ""), problems=problems,
            truncated=len(rows) >= WORKLIST_LIMIT, limit=WORKLIST_LIMIT, total=service.total,
            title=_l("Encounters"))

    # ------------------------------------------------------------------ one encounter

    def _load(self, pk):
        """The encounter if it exists and the row rule lets this user see it (else 404)."""
        encounter = db.session.get(Encounter, pk)
        if encounter is None or not service.may_read(g.user, encounter, self.appbuilder.sm):
            abort(404)
        open_patient(encounter.patient_id)
        return encounter

    def _render(self, encounter, *, dx_values=None, dx_problems=None, charge=None, charge_problems=None,
                edit_line=None, form_problems=None, status=200):
        patient = open_patient(encounter.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="Encounter", object_id=encounter.id)
        sm = self.appbuilder.sm
        descriptions = {}
        if encounter.diagnoses:
            for row in db.session.scalars(select(Icd10Code).where(
                    Icd10Code.code.in_([d.code for d in encounter.diagnoses]),
                    Icd10Code.code_set_id.in_({d.code_set_id for d in encounter.diagnoses}))):
                descriptions[(row.code_set_id, row.code)] = row.description
        diagnoses = [{"letter": service.letter(d.position), "code": icd10.display(d.code),
                      "description": descriptions.get((d.code_set_id, d.code), "")} for d in encounter.diagnoses]
        lines = [{"line": line, "pointers": " ".join(service.letter(p) for p in line.pointers),
                  "modifiers": " ".join(line.modifiers), "units": _units(line.units),
                  "total": service.line_total(line)} for line in encounter.charges]
        editable = (sm.has_access("can_write", "Encounter") and encounter.status != "billed"
                    and service.may_edit(g.user, encounter, sm))
        if dx_values is None:
            dx_values = [icd10.display(d.code) for d in encounter.diagnoses]
        dx_values = (list(dx_values) + [""] * service.MAX_DIAGNOSES)[:service.MAX_DIAGNOSES]
        if charge is None and edit_line is not None:
            charge = {"code": edit_line.code, "modifiers": " ".join(edit_line.modifiers),
                      "units": _units(edit_line.units), "fee": str(edit_line.fee),
                      "place_of_service": edit_line.place_of_service,
                      "rendering_provider": str(edit_line.rendering_provider_id),
                      "pointers": " ".join(service.letter(p) for p in edit_line.pointers)}
        charge = charge or {"units": "1", "place_of_service": encounter.place_of_service,
                            "rendering_provider": str(encounter.provider_id),
                            "pointers": "A" if encounter.diagnoses else ""}
        providers = db.session.scalars(select(Provider).where(Provider.active.is_(True))
                                       .order_by(Provider.family_name, Provider.given_name)).all()
        appointment = encounter.appointment
        when = None
        if appointment is not None:
            from .appointments import when_text
            when = when_text(appointment.start_local, appointment.timezone, _locale(), "medium")
        for message in (form_problems or []):
            flash(message, "danger")
        icd_search = "Icd10View.search" if "Icd10View.search" in current_app.view_functions else None
        return self.render_template(
            "encounters/show.html", encounter=encounter, patient=patient, appointment=appointment, when=when,
            diagnoses=diagnoses, lines=lines, total=service.total(encounter), editable=editable,
            status_label=service.STATUS_LABELS.get(encounter.status, encounter.status),
            dx_values=dx_values, dx_problems=dx_problems or {}, charge=charge, charge_problems=charge_problems or {},
            edit_line=edit_line, providers=providers, letters=[d["letter"] for d in diagnoses],
            icd_search=icd_search if icd_search and sm.has_access("can_read", "Icd10") else None,
            title=_l("Encounter")), status

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        encounter = self._load(pk)
        edit_line = None
        edit = request.args.get("edit", "")
        if edit.isdigit():
            edit_line = db.session.get(ChargeLine, int(edit))
            if edit_line is None or edit_line.encounter_id != encounter.id:
                edit_line = None
        return self._render(encounter, edit_line=edit_line)

    @expose("/from-appointment/<int:appointment_id>", methods=["POST"])
    @has_access
    def from_appointment(self, appointment_id):
        appointment = db.session.get(Appointment, appointment_id) or abort(404)
        open_patient(appointment.patient_id)
        try:
            encounter = service.encounter_for_appointment(db.session, appointment, actor=g.user)
        except service.NotYourEncounter:
            db.session.rollback()
            abort(404)
        except DomainError as exc:
            db.session.rollback()
            for message in (_problems(exc).values() if isinstance(exc, ValidationFailed) else [[str(exc.message)]]):
                for m in message:
                    flash(m, "danger")
            return redirect(url_for("AppointmentView.show", pk=appointment_id))
        return redirect(url_for("EncounterView.show", pk=encounter.id))

    def _change(self, encounter, work, success, **on_error):
        """Run a service change; on a problem re-show the page with what was typed and why."""
        try:
            work()
        except service.NotYourEncounter:
            db.session.rollback()
            abort(404)
        except ValidationFailed as exc:
            db.session.rollback()
            problems = _problems(exc)
            flash(str(exc.message), "danger")
            return self._render(db.session.get(Encounter, encounter.id), form_problems=problems.pop(None, []),
                                status=422, **{k: (v(problems) if callable(v) else v) for k, v in on_error.items()})
        except DomainError as exc:  # stale version
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for("EncounterView.show", pk=encounter.id))
        flash(str(success), "success")
        return redirect(url_for("EncounterView.show", pk=encounter.id))

    @expose("/<int:pk>/diagnoses", methods=["POST"])
    @has_access
    def diagnoses(self, pk):
        encounter = self._load(pk)
        codes = [request.form.get(f"dx{i}", "")[:20] for i in range(1, service.MAX_DIAGNOSES + 1)]
        return self._change(
            encounter,
            lambda: service.set_diagnoses(db.session, encounter, codes, expected_version=_version(), actor=g.user),
            _l("The diagnoses were saved."),
            dx_values=codes, dx_problems=lambda p: p)

    def _charge_data(self):
        return {key: request.form.get(key, "")[:60] for key in service.CHARGE_FIELDS}

    @expose("/<int:pk>/charges", methods=["POST"])
    @has_access
    def add_charge(self, pk):
        encounter = self._load(pk)
        data = self._charge_data()
        return self._change(
            encounter,
            lambda: service.add_charge(db.session, encounter, data, expected_version=_version(), actor=g.user),
            _l("The charge line was added."),
            charge=data, charge_problems=lambda p: p)

    def _line(self, encounter, line_id):
        line = db.session.get(ChargeLine, line_id)
        if line is None or line.encounter_id != encounter.id:
            abort(404)
        return line

    @expose("/<int:pk>/charges/<int:line_id>", methods=["POST"])
    @has_access
    def edit_charge(self, pk, line_id):
        encounter = self._load(pk)
        line = self._line(encounter, line_id)
        data = self._charge_data()
        return self._change(
            encounter,
            lambda: service.update_charge(db.session, encounter, line, data, expected_version=_version(),
                                          actor=g.user),
            _l("The charge line was changed."),
            charge=data, charge_problems=lambda p: p, edit_line=line)

    @expose("/<int:pk>/charges/<int:line_id>/remove", methods=["POST"])
    @has_access
    def remove_charge(self, pk, line_id):
        encounter = self._load(pk)
        line = self._line(encounter, line_id)
        return self._change(
            encounter,
            lambda: service.remove_charge(db.session, encounter, line, expected_version=_version(), actor=g.user),
            _l("The charge line was removed."))

    @expose("/<int:pk>/ready", methods=["POST"])
    @has_access
    def ready(self, pk):
        encounter = self._load(pk)
        return self._change(
            encounter,
            lambda: service.mark_ready(db.session, encounter, expected_version=_version(), actor=g.user),
            _l("The encounter is ready to bill."))


def encounter_link(appointment, sm):
    """For the appointment page: (url, method) to open its encounter, or None.

    Only for holders of ("can_read", "Encounter") — never the front desk — and within the row rule.
    """
    if not sm.has_access("can_read", "Encounter"):
        return None
    encounter = db.session.scalars(select(Encounter).where(Encounter.appointment_id == appointment.id)).first()
    if encounter is not None:
        return (url_for("EncounterView.show", pk=encounter.id), "get") if service.may_read(g.user, encounter, sm) \
            else None
    if (appointment.status in service.BILLABLE_APPOINTMENT_STATUSES and sm.has_access("can_write", "Encounter")
            and (service.sees_all(g.user, sm) or appointment.provider.user_id == g.user.id)):
        return url_for("EncounterView.from_appointment", appointment_id=appointment.id), "post"
    return None
