"""Waitlist screens: the list, adding a patient, and offering / booking a freed slot.

The rules live in app/services/waitlist.py (which books through scheduling.book()).
"""
from datetime import date

from babel.dates import format_datetime
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField

from ..extensions import db
from ..models import Appointment, AppointmentType, Location, Provider
from ..models.scheduling import INACTIVE_STATUSES, PARTS_OF_DAY, WaitlistEntry
from ..services import audit, dates
from ..services import waitlist as waitlist_service
from ..services.errors import DomainError, ValidationFailed
from ..services.scheduling import AppointmentConflictError
from .forms import LocaleDateField
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record


class WaitlistForm(FlaskForm):
    type = SelectField(_l("Appointment type"), choices=[], validate_choice=False)
    provider = SelectField(_l("Provider"), choices=[], validate_choice=False)
    location = SelectField(_l("Location"), choices=[], validate_choice=False)
    earliest_date = LocaleDateField(_l("Earliest date"))
    latest_date = LocaleDateField(_l("Latest date"))
    part_of_day = SelectField(_l("Part of day"), choices=[], validate_choice=False)
    note = TextAreaField(_l("Note"))


def _active(model, order):
    return db.session.query(model).filter_by(active=True).order_by(order).all()


def _id(raw):
    """An id from a form or query value; -1 for something that is not one (the service refuses it)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else -1


def _int_arg(source, name):
    value = source.get(name, "")
    return int(value) if value.isdigit() else None


def _back(default):
    """Where a button asked to return to: a path on this site only."""
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


class WaitlistView(BaseView):
    route_base = "/waitlist"
    class_permission_name = "Waitlist"
    method_permission_name = {"index": "read", "freed": "read", "add": "write", "offer": "write", "book": "write",
                              "remove": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """Everyone still waiting or offered, oldest first; filter by type and provider (GET)."""
        type_id, provider_id = _int_arg(request.args, "type"), _int_arg(request.args, "provider")
        entries = waitlist_service.open_entries(db.session, type_id=type_id, provider_id=provider_id)
        audit.record(db.engine, action="view", object_type="Waitlist",
                     details={"screen": "index", "type": type_id, "provider": provider_id, "rows": len(entries),
                              "patients": sorted({e.patient_id for e in entries})})
        return self.render_template(
            "waitlist/index.html", entries=entries, type_id=type_id, provider_id=provider_id,
            types=db.session.query(AppointmentType).order_by(AppointmentType.name).all(),
            providers=db.session.query(Provider).order_by(Provider.family_name, Provider.given_name).all(),
            part_labels=waitlist_service.PART_OF_DAY_LABELS, status_labels=waitlist_service.STATUS_LABELS,
            can_write=self.appbuilder.sm.has_access("can_write", "Waitlist"))

    @expose("/add/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def add(self, patient_id):
        patient = open_patient(patient_id)
        moved = to_surviving_record(patient, "#chart-waitlist")
        if moved is not None:
            return moved
        locale = str(get_locale())
        form = WaitlistForm()
        types = _active(AppointmentType, AppointmentType.name)
        providers = _active(Provider, Provider.family_name)
        locations = _active(Location, Location.name)
        form.type.choices = [("", "—")] + [(str(t.id), t.name) for t in types]
        form.provider.choices = [("", str(_l("Any provider")))] + [(str(p.id), p.display_name) for p in providers]
        form.location.choices = [("", str(_l("Any location")))] + [(str(loc.id), loc.name) for loc in locations]
        form.part_of_day.choices = [(k, str(waitlist_service.PART_OF_DAY_LABELS[k])) for k in PARTS_OF_DAY]
        if form.validate_on_submit():
            problems, values = [], {}
            for name in ("earliest_date", "latest_date"):
                raw = (form[name].data or "").strip()
                values[name] = dates.parse_input(raw, locale) if raw else None
                if raw and values[name] is None:
                    problems.append((name, _l("Write the date as %(example)s.",
                                              example=dates.format_input(date(1987, 12, 31), locale))))
            try:
                if problems:
                    raise ValidationFailed(problems)
                waitlist_service.add_entry(
                    db.session, patient=patient, type=_id(form.type.data), provider=_id(form.provider.data),
                    location=_id(form.location.data), part_of_day=form.part_of_day.data, note=form.note.data,
                    **values)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
                flash(str(exc.message), "danger")
            else:
                flash(str(_l("%(name)s is on the waitlist.", name=patient.display_name)), "success")
                return redirect(url_for("PatientDeskView.chart", pk=patient.id) + "#chart-waitlist")
        else:
            audit.access(db.engine, patient_id=patient.id, object_type="Waitlist", details={"screen": "add"})
        return self.render_template("waitlist/add.html", form=form, patient=patient)

    @expose("/freed/<int:appointment_id>")
    @has_access
    def freed(self, appointment_id):
        """The entries that could take the time a cancelled or missed appointment freed."""
        appointment = db.session.get(Appointment, appointment_id) or abort(404)
        freed = appointment.status in INACTIVE_STATUSES
        entries = waitlist_service.matches_for_freed(db.session, appointment, include_offered=True) if freed else []
        audit.record(db.engine, action="view", object_type="Waitlist", object_id=appointment.id,
                     details={"screen": "freed", "rows": len(entries),
                              "patients": sorted({e.patient_id for e in entries})})
        return self.render_template(
            "waitlist/freed.html", appointment=appointment, freed=freed, entries=entries,
            when=local_time(appointment),
            part_labels=waitlist_service.PART_OF_DAY_LABELS, status_labels=waitlist_service.STATUS_LABELS,
            can_write=self.appbuilder.sm.has_access("can_write", "Waitlist"))

    def _entry_and_version(self, pk):
        entry = db.session.get(WaitlistEntry, pk) or abort(404)
        version = _int_arg(request.form, "version")
        return entry, version if version is not None else -1

    def _freed_appointment(self):
        appointment_id = _int_arg(request.form, "appointment_id")
        appointment = db.session.get(Appointment, appointment_id) if appointment_id else None
        if appointment is None or appointment.status not in INACTIVE_STATUSES:
            abort(404)
        return appointment

    @expose("/<int:pk>/offer", methods=["POST"])
    @has_access
    def offer(self, pk):
        entry, version = self._entry_and_version(pk)
        appointment = self._freed_appointment()
        try:
            waitlist_service.offer(db.session, entry, appointment, expected_version=version)
        except DomainError as exc:
            db.session.rollback()
            _flash_error(exc)
        else:
            flash(str(_l("The slot is marked as offered to %(name)s.", name=entry.patient.display_name)), "success")
        return redirect(url_for("WaitlistView.freed", appointment_id=appointment.id))

    @expose("/<int:pk>/book", methods=["POST"])
    @has_access
    def book(self, pk):
        entry, version = self._entry_and_version(pk)
        appointment = self._freed_appointment()
        try:
            booked = waitlist_service.book_from_waitlist(
                db.session, entry, provider=appointment.provider_id, location=appointment.location_id,
                start_at=appointment.start_at, room=appointment.room_id, expected_version=version, actor=g.user)
        except DomainError as exc:
            db.session.rollback()
            _flash_error(exc)
            return redirect(url_for("WaitlistView.freed", appointment_id=appointment.id))
        flash(str(_l("%(name)s is booked into the freed slot.", name=booked.patient.display_name)), "success")
        if "AppointmentView.show" in current_app.view_functions:
            return redirect(url_for("AppointmentView.show", pk=booked.id))
        return redirect(url_for("WaitlistView.freed", appointment_id=appointment.id))

    @expose("/<int:pk>/remove", methods=["POST"])
    @has_access
    def remove(self, pk):
        entry, version = self._entry_and_version(pk)
        try:
            waitlist_service.remove(db.session, entry, expected_version=version)
        except DomainError as exc:
            db.session.rollback()
            _flash_error(exc)
        else:
            flash(str(_l("%(name)s was taken off the waitlist.", name=entry.patient.display_name)), "success")
        return redirect(_back(url_for("WaitlistView.index")))


def local_time(appointment):
    """An appointment's wall-clock start at its location, in the reader's language."""
    return format_datetime(appointment.start_local, "medium", locale=str(get_locale() or "en"))


def _flash_error(exc):
    if isinstance(exc, AppointmentConflictError):
        messages = exc.messages or [exc.message]
    elif isinstance(exc, ValidationFailed):
        messages = [m for _, m in exc.problems] or [exc.message]
    else:
        messages = [exc.message]
    for message in messages:
        flash(str(message), "danger")


def _chart_waitlist(patient):
    return {"patient": patient, "entries": waitlist_service.for_patient(db.session, patient),
            "part_labels": waitlist_service.PART_OF_DAY_LABELS, "status_labels": waitlist_service.STATUS_LABELS,
            "can_write": current_app.appbuilder.sm.has_access("can_write", "Waitlist")}


register_chart_section("waitlist", _l("Waitlist"), "waitlist/_chart.html", _chart_waitlist,
                       permission=("can_read", "Waitlist"))
