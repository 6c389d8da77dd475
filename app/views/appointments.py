"""Appointment screens: book (one or a weekly series), detail with status workflow, cancel,
reschedule, find a slot, and the patient chart's appointments panel.

Every rule lives in app/services/scheduling.py; these views only turn what staff typed into
service input and the service's errors into messages at the right fields.
"""
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from ..extensions import db
from ..models import Appointment, AppointmentType, Location, Provider, Room
from ..models.base import utcnow
from ..models.user import ClinicUser
from ..services import audit, dates, scheduling
from ..services import authorizations as authorization_service
from ..services.errors import DomainError, ValidationFailed
from ..services.scheduling import STATUS_LABELS, TRANSITIONS, AppointmentConflictError
from .forms import LocaleDateField
from .patients import apply_problems, open_patient, register_chart_section

# What the button that moves an appointment into each status says.
ACTION_LABELS = {
    "confirmed": _l("Confirm"),
    "arrived": _l("Check in (arrived)"),
    "in_room": _l("Room the patient"),
    "completed": _l("Complete the visit"),
    "checked_out": _l("Check out"),
    "no_show": _l("Mark as no-show"),
}
TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
LETTER_KINDS = (("confirmation", _l("Confirmation letter")), ("reminder", _l("Reminder letter")),
                ("no_show", _l("No-show letter")))
LETTER_ENDPOINT = "AppointmentLetterView.print_letter"
SLOT_LIMIT = 100  # free times listed at most per search


# --------------------------------------------------------------------------- helpers

def _locale():
    return str(get_locale() or "en")


def when_text(start_local, tz_name, locale=None, date_format="full"):
    """A wall-clock time in the staff member's language: "Monday, January 11, 2027 at 9:00 AM"
    (the locale's own way of joining a date and a time)."""
    loc = Locale.parse(locale or _locale())
    pattern = loc.datetime_formats.get(date_format) or loc.datetime_formats["medium"]
    pattern = str(pattern).replace("'", "")
    return (pattern.replace("{0}", format_time(start_local.time(), "short", locale=loc))
            .replace("{1}", format_date(start_local.date(), date_format, locale=loc)))


def zone_text(tz_name, locale=None):
    """The time zone's name for people ("Eastern Time"); the IANA name if babel has none."""
    try:
        return get_timezone_name(ZoneInfo(tz_name), "long", locale=locale or _locale())
    except Exception:  # an unusual zone babel cannot name
        return tz_name


def _id(raw):
    """An id from a form or query value; -1 for something that is not one (the service refuses it)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else -1


def _version():
    """The version the user saw; -1 if the form did not send one (refused as stale)."""
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else -1


def _parse_time(text, locale):
    """A time typed as HH:MM (what <input type=time> sends) or in the locale's short format."""
    text = dates.BIDI_MARKS.sub("", text or "").strip()
    m = TIME_RE.match(text)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        return time(hour, minute) if hour < 24 and minute < 60 else None
    try:
        from babel.dates import parse_time
        return parse_time(text, locale=locale)
    except (ValueError, IndexError, TypeError):
        return None


def parse_local(date_text, time_text, locale):
    """(datetime, problems) from a date in the locale's format and a time; problems name the fields."""
    problems = []
    day = dates.parse_input(date_text, locale) if (date_text or "").strip() else None
    if not (date_text or "").strip():
        problems.append(("date", _l("This field is required.")))
    elif day is None:
        problems.append(("date", _l("Write the date as %(example)s.",
                                    example=dates.format_input(date(1987, 12, 31), locale))))
    at = _parse_time(time_text, locale) if (time_text or "").strip() else None
    if not (time_text or "").strip():
        problems.append(("time", _l("This field is required.")))
    elif at is None:
        problems.append(("time", _l("Write the time as %(example)s.", example="14:30")))
    return (datetime.combine(day, at) if day and at else None), problems


def _field_problems(problems):
    """The service names the start "start": it is typed in the time field."""
    return [({"start": "time", "patient": "patient_id", "cancel_reason": "reason"}.get(f, f), m) for f, m in problems]


def _active(model, order):
    return db.session.scalars(select(model).filter_by(active=True).order_by(*order)).all()


def _conflict_items(exc):
    return [{"message": c.message, "appointment_id": c.appointment_id} for c in exc.conflicts]


def _waitlist_flash(appointment):
    """After a slot was freed: point to the waiting patients it could suit."""
    try:
        from ..services import waitlist
    except ImportError:  # the waitlist capability is not installed
        return
    if "WaitlistView.freed" not in current_app.view_functions:
        return
    if waitlist.matches_for_freed(db.session, appointment):
        flash(Markup('%s <a href="%s">%s</a>') % (
            str(_l("Patients on the waitlist could take this time.")),
            url_for("WaitlistView.freed", appointment_id=appointment.id), str(_l("Offer the slot"))), "info")


def flash_authorization_warnings(appointments):
    """The booking service's prior authorization warnings (the booking stands), each once."""
    seen = set()
    for appointment in appointments:
        for message in getattr(appointment, "authorization_warnings", None) or []:
            if str(message) not in seen:
                seen.add(str(message))
                flash(str(message), "warning")


def _chart_appointments(patient):
    now = utcnow()
    base = select(Appointment).where(Appointment.patient_id == patient.id)
    upcoming = db.session.scalars(base.where(Appointment.start_at >= now).order_by(Appointment.start_at).limit(10)).all()
    recent = db.session.scalars(base.where(Appointment.start_at < now)
                                .order_by(Appointment.start_at.desc()).limit(10)).all()
    locale = _locale()
    row = lambda a: {"id": a.id, "when": when_text(a.start_local, a.timezone, locale, "medium"),  # noqa: E731
                     "provider": a.provider.display_name, "type": a.type.name,
                     "status": a.status, "status_label": STATUS_LABELS.get(a.status, a.status)}
    return {"patient": patient, "upcoming": [row(a) for a in upcoming], "recent": [row(a) for a in recent],
            "can_book": current_app.appbuilder.sm.has_access("can_write", "Appointment")}


register_chart_section("appointments", _l("Appointments"), "appointments/_chart.html", _chart_appointments,
                       permission=("can_read", "Appointment"))


# --------------------------------------------------------------------------- forms

class BookingForm(FlaskForm):
    patient_id = HiddenField(_l("Patient"))
    provider = SelectField(_l("Provider"), choices=[], validate_choice=False)
    location = SelectField(_l("Location"), choices=[], validate_choice=False)
    type = SelectField(_l("Appointment type"), choices=[], validate_choice=False)
    room = SelectField(_l("Room (optional)"), choices=[], validate_choice=False)
    date = LocaleDateField(_l("Date"))
    time = StringField(_l("Time"))
    duration = StringField(_l("Duration (minutes)"))
    reason = TextAreaField(_l("Reason for the visit (for the clinic only; never sent to the patient)"))
    telehealth_url = StringField(_l("Telehealth link"))
    repeat = BooleanField(_l("Repeat weekly"))
    every_weeks = StringField(_l("Every how many weeks"), default="1")
    count = StringField(_l("Number of appointments"))
    until = LocaleDateField(_l("Until (date)"))
    skip_conflicts = BooleanField(_l("Book the free dates and skip the ones that clash"))
    overbook_reason = TextAreaField(_l("Overbook with a reason"))


class SlotForm(FlaskForm):
    class Meta:
        csrf = False  # a search that changes nothing (also reachable by GET)

    provider = SelectField(_l("Provider"), choices=[], validate_choice=False)
    type = SelectField(_l("Appointment type"), choices=[], validate_choice=False)
    location = SelectField(_l("Location"), choices=[], validate_choice=False)
    start_date = LocaleDateField(_l("From"))
    end_date = LocaleDateField(_l("To"))


def _fill_choices(form, provider_id=None):
    providers = _active(Provider, (Provider.family_name, Provider.given_name))
    locations = _active(Location, (Location.name,))
    types = _active(AppointmentType, (AppointmentType.name,))
    form.provider.choices = [("", "—")] + [(str(p.id), p.display_name) for p in providers]
    form.location.choices = [("", "—")] + [(str(loc.id), loc.name) for loc in locations]
    provider = next((p for p in providers if p.id == provider_id), None)
    if provider is not None and provider.appointment_types:  # only the types this provider takes
        types = [t for t in types if t in provider.appointment_types]
    form.type.choices = [("", "—")] + [(str(t.id), t.name) for t in types]
    return providers, locations, types


def _encounter_link(appointment, sm):
    """(url, method) of the visit's encounter for holders of ("can_read", "Encounter"), else None."""
    if "EncounterView.show" not in current_app.view_functions:  # the billing capability is not installed
        return None
    from .encounters import encounter_link

    return encounter_link(appointment, sm)


# --------------------------------------------------------------------------- view

class AppointmentView(BaseView):
    """Booking, the appointment's page and its workflow, and the slot finder."""

    route_base = "/appointments"
    class_permission_name = "Appointment"
    method_permission_name = {"book": "write", "reschedule": "write", "cancel": "write",
                              "status": "update_status", "show": "read", "slots": "read"}
    default_view = "slots"

    # ------------------------------------------------------------------ book

    @expose("/book", methods=["GET", "POST"])
    @has_access
    def book(self):
        locale = _locale()
        sm = self.appbuilder.sm
        form = BookingForm()
        if request.method == "GET":
            self._prefill(form, locale)
        provider_id = _id(form.provider.data)
        providers, locations, types = _fill_choices(form, provider_id)
        patient_key = _id(form.patient_id.data)
        patient = open_patient(patient_key) if patient_key and patient_key > 0 else None
        location = db.session.get(Location, _id(form.location.data) or 0) if _id(form.location.data) else None
        rooms = db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.name)).all()
        form.room.choices = [("", "—")] + [(str(r.id), r.name) for r in rooms
                                           if location is None or r.location_id == location.id]
        conflicts, series_conflicts = [], []
        can_overbook = sm.has_access("can_overbook", "Appointment")
        if request.method == "POST" and form.validate_on_submit():
            try:
                booked, skipped = self._book(form, patient, locale, can_overbook)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, _field_problems(exc.problems))
                flash(str(exc.message), "danger")
            except AppointmentConflictError as exc:
                db.session.rollback()
                if form.repeat.data:
                    series_conflicts = _conflict_items(exc)
                else:
                    conflicts = _conflict_items(exc)
                flash(str(exc.message), "danger")
            else:
                first = booked[0]
                if len(booked) == 1 and not form.repeat.data:
                    flash(str(_l("Appointment booked for %(name)s on %(when)s.", name=first.patient.display_name,
                                 when=when_text(first.start_local, first.timezone, locale))), "success")
                else:
                    flash(str(_l("%(count)d appointments booked for %(name)s.", count=len(booked),
                                 name=first.patient.display_name)), "success")
                    for c in skipped:
                        flash(str(_l("Not booked: %(clash)s", clash=c.message)), "warning")
                flash_authorization_warnings(booked)
                return redirect(url_for("AppointmentView.show", pk=first.id))
        elif request.method == "POST":
            flash(str(_l("The form has expired. Please try again.")), "danger")
        type_info = {str(t.id): {"duration": t.default_duration, "telehealth": bool(t.telehealth)} for t in types}
        provider_types = {str(p.id): [t.id for t in p.appointment_types] for p in providers}
        room_locations = {str(r.id): r.location_id for r in rooms}
        chosen_type = db.session.get(AppointmentType, _id(form.type.data)) if (_id(form.type.data) or 0) > 0 else None
        return self.render_template(
            "appointments/book.html", form=form, patient=patient, conflicts=conflicts,
            series_conflicts=series_conflicts, can_overbook=can_overbook, type_info=type_info,
            provider_types=provider_types, room_locations=room_locations,
            show_telehealth=bool(chosen_type and chosen_type.telehealth),
            can_search_patients=sm.has_access("can_read", "Patient"),
            zone=zone_text(location.timezone, locale) if location else None,
            title=_l("Book an appointment"))

    def _prefill(self, form, locale):
        args = request.args
        form.patient_id.data = args.get("patient", "")
        form.provider.data = args.get("provider", "")
        form.type.data = args.get("type", "")
        form.location.data = args.get("location", "")
        provider = db.session.get(Provider, _id(form.provider.data)) if (_id(form.provider.data) or 0) > 0 else None
        if not form.location.data and provider is not None and provider.default_location_id:
            form.location.data = str(provider.default_location_id)
        try:
            start = datetime.strptime(args.get("start", ""), "%Y-%m-%dT%H:%M")
        except ValueError:
            start = None
        if start is not None:
            form.date.data = dates.format_input(start.date(), locale)
            form.time.data = start.strftime("%H:%M")

    def _book(self, form, patient, locale, can_overbook):
        """Book what the form says; returns (booked appointments, skipped conflicts)."""
        start_local, problems = parse_local(form.date.data, form.time.data, locale)
        duration = (form.duration.data or "").strip()
        duration = (int(duration) if duration.isdigit() else duration) if duration else None
        common = dict(patient=patient, provider=_id(form.provider.data), location=_id(form.location.data),
                      type=_id(form.type.data), duration=duration, room=_id(form.room.data),
                      reason=form.reason.data, actor=g.user)
        if form.repeat.data:
            series = {}
            every = (form.every_weeks.data or "1").strip()
            series["every_weeks"] = int(every) if every.isdigit() else -1
            count, until = (form.count.data or "").strip(), (form.until.data or "").strip()
            if count:
                series["count"] = int(count) if count.isdigit() else -1
            if until:
                series["until"] = dates.parse_input(until, locale)
                if series["until"] is None:
                    problems.append(("until", _l("Write the date as %(example)s.",
                                                 example=dates.format_input(date(1987, 12, 31), locale))))
            if problems:
                self._refuse(problems, common)
            return scheduling.book_series(db.session, start_local=start_local, skip_conflicts=form.skip_conflicts.data,
                                          **series, **common)
        if problems:
            self._refuse(problems, common)
        overbook_reason = (form.overbook_reason.data or "").strip() or None
        appointment = scheduling.book(db.session, start_local=start_local, telehealth_url=form.telehealth_url.data,
                                      overbook_reason=overbook_reason, may_overbook=can_overbook, **common)
        return [appointment], []

    @staticmethod
    def _refuse(problems, common):
        """The date or time could not be read: also name every other problem the service finds
        (a booking without a start is always refused, so this writes nothing)."""
        try:
            scheduling.book(db.session, start_local=None, **common)
        except ValidationFailed as exc:
            problems = problems + [p for p in exc.problems if p[0] != "start"]
        raise ValidationFailed(problems)

    # ------------------------------------------------------------------ detail

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        appointment = db.session.get(Appointment, pk) or abort(404)
        patient = open_patient(appointment.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="Appointment", object_id=pk)
        locale = _locale()
        sm = self.appbuilder.sm
        users = {}
        history = []
        for change in appointment.status_changes:
            if change.changed_by_fk and change.changed_by_fk not in users:
                users[change.changed_by_fk] = db.session.get(ClinicUser, change.changed_by_fk)
            who = users.get(change.changed_by_fk)
            history.append({"when": when_text(scheduling.utc_to_local(change.changed_at, appointment.timezone),
                                              appointment.timezone, locale, "medium"),
                            "from": STATUS_LABELS.get(change.from_status, "") if change.from_status else "",
                            "to": STATUS_LABELS.get(change.to_status, change.to_status),
                            "who": f"{who.first_name} {who.last_name}" if who else str(_l("System"))})
        series = []
        if appointment.series_id:
            series = [{"id": a.id, "when": when_text(a.start_local, a.timezone, locale, "medium"),
                       "status_label": STATUS_LABELS.get(a.status, a.status)}
                      for a in db.session.scalars(select(Appointment).where(
                          Appointment.series_id == appointment.series_id).order_by(Appointment.start_at))]
        can_status = sm.has_access("can_update_status", "Appointment")
        next_statuses = [s for s in ACTION_LABELS if s in TRANSITIONS.get(appointment.status, ())] if can_status else []
        rooms = db.session.scalars(select(Room).where(Room.location_id == appointment.location_id,
                                                      Room.active.is_(True)).order_by(Room.name)).all()
        letters = []
        if LETTER_ENDPOINT in current_app.view_functions and sm.has_access("can_print", "AppointmentLetter"):
            from .appointment_letters import letter_problem

            letters = [(url_for(LETTER_ENDPOINT, kind=kind, appointment_id=pk), label) for kind, label in LETTER_KINDS
                       if letter_problem(kind, appointment) is None]
        can_write = sm.has_access("can_write", "Appointment")
        movable = appointment.status in ("booked", "confirmed")
        from .copays import appointment_copay  # helper H5: "Collect copay" for holders of can_write Copay

        copay = appointment_copay(appointment) if appointment.status != "cancelled" else None
        return self.render_template(
            "appointments/show.html", appointment=appointment, patient=patient, history=history,
            when=when_text(appointment.start_local, appointment.timezone, locale),
            end=format_time((appointment.start_local + (appointment.end_at - appointment.start_at)).time(), "short",
                            locale=locale),
            zone=zone_text(appointment.timezone, locale), status_label=STATUS_LABELS.get(appointment.status),
            series=series, series_position=next((i + 1 for i, a in enumerate(series) if a["id"] == pk), None),
            next_statuses=next_statuses, action_labels=ACTION_LABELS, rooms=rooms, letters=letters, copay=copay,
            can_cancel=can_write and "cancelled" in TRANSITIONS.get(appointment.status, ()),
            can_reschedule=can_write and movable,
            reschedule_date=request.args.get("date") or dates.format_input(appointment.start_local.date(), locale),
            reschedule_time=request.args.get("time") or appointment.start_local.strftime("%H:%M"),
            overbook_user=db.session.get(ClinicUser, appointment.overbook_by_fk) if appointment.overbook_by_fk else None,
            auth_warnings=(authorization_service.booking_warnings(db.session, appointment)
                           if appointment.is_active else []),
            encounter_link=_encounter_link(appointment, sm), title=_l("Appointment"))

    # ------------------------------------------------------------------ workflow

    def _load(self, pk):
        appointment = db.session.get(Appointment, pk) or abort(404)
        open_patient(appointment.patient_id)
        return appointment

    def _flash_error(self, exc):
        db.session.rollback()
        if isinstance(exc, ValidationFailed):
            for _field, message in exc.problems:
                flash(str(message), "danger")
        elif isinstance(exc, AppointmentConflictError):
            flash(str(exc.message), "danger")
            for message in exc.messages:
                flash(str(message), "danger")
        else:
            flash(str(exc.message), "danger")

    @expose("/<int:pk>/status", methods=["POST"])
    @has_access
    def status(self, pk):
        """Confirm, check in, room, complete, check out, no-show (cancelling is a booking right)."""
        appointment = self._load(pk)
        new = request.form.get("status", "")
        try:
            if new not in ACTION_LABELS:
                raise ValidationFailed([("status", _l(
                    "An appointment that is %(current)s cannot become %(new)s.",
                    current=STATUS_LABELS.get(appointment.status), new=STATUS_LABELS.get(new, _l("Unknown value."))))])
            if new == "in_room":
                scheduling.room_patient(db.session, appointment, _id(request.form.get("room")),
                                        expected_version=_version(), actor=g.user)
            else:
                scheduling.transition(db.session, appointment, new, expected_version=_version(), actor=g.user)
        except DomainError as exc:
            self._flash_error(exc)
        else:
            flash(str(_l("The appointment is now %(status)s.", status=STATUS_LABELS[new])), "success")
            if new == "no_show":
                _waitlist_flash(appointment)
        return redirect(url_for("AppointmentView.show", pk=pk))

    @expose("/<int:pk>/cancel", methods=["POST"])
    @has_access
    def cancel(self, pk):
        appointment = self._load(pk)
        reason = request.form.get("reason", "")
        try:
            if request.form.get("scope") == "following":
                done = scheduling.cancel_following(db.session, appointment, reason=reason,
                                                   expected_version=_version(), actor=g.user)
            else:
                done = [scheduling.cancel(db.session, appointment, reason=reason, expected_version=_version(),
                                          actor=g.user)]
        except DomainError as exc:
            self._flash_error(exc)
        else:
            flash(str(_l("%(count)d appointment(s) cancelled.", count=len(done))), "success")
            _waitlist_flash(appointment)
        return redirect(url_for("AppointmentView.show", pk=pk))

    @expose("/<int:pk>/reschedule", methods=["POST"])
    @has_access
    def reschedule(self, pk):
        appointment = self._load(pk)
        locale = _locale()
        date_text, time_text = request.form.get("date", ""), request.form.get("time", "")
        start_local, problems = parse_local(date_text, time_text, locale)
        try:
            if problems:
                raise ValidationFailed(problems)
            if request.form.get("scope") == "following":
                done = scheduling.reschedule_following(db.session, appointment, expected_version=_version(),
                                                       start_local=start_local, actor=g.user)
            else:
                done = [scheduling.reschedule(db.session, appointment, expected_version=_version(),
                                              start_local=start_local, actor=g.user)]
        except DomainError as exc:
            self._flash_error(exc)
            return redirect(url_for("AppointmentView.show", pk=pk, date=date_text[:20], time=time_text[:10]))
        flash(str(_l("%(count)d appointment(s) moved; the first is now on %(when)s.", count=len(done),
                     when=when_text(appointment.start_local, appointment.timezone, locale))), "success")
        flash_authorization_warnings(done)
        return redirect(url_for("AppointmentView.show", pk=pk))

    # ------------------------------------------------------------------ slots

    @expose("/slots", methods=["GET", "POST"])
    @has_access
    def slots(self):
        """Free starts for a provider and type over a date range (default: the next two weeks)."""
        locale = _locale()
        form = SlotForm(request.values if request.method == "POST" else request.args)
        _fill_choices(form, _id(form.provider.data))
        today = date.today()
        if not form.start_date.data:
            form.start_date.data = dates.format_input(today, locale)
        if not form.end_date.data:
            form.end_date.data = dates.format_input(today + timedelta(days=14), locale)
        days, searched = [], bool(form.provider.data or form.type.data)
        patient_id = _id(request.values.get("patient"))
        if searched:
            problems = []
            start = dates.parse_input(form.start_date.data, locale)
            end = dates.parse_input(form.end_date.data, locale)
            for name, value in (("start_date", start), ("end_date", end)):
                if value is None:
                    problems.append((name, _l("Write the date as %(example)s.",
                                              example=dates.format_input(date(1987, 12, 31), locale))))
            for name in ("provider", "type"):
                if not form[name].data:
                    problems.append((name, _l("This field is required.")))
            try:
                if problems:
                    raise ValidationFailed(problems)
                if (end - start).days > 92:
                    raise ValidationFailed([("end_date", _l("Search at most %(days)d days at a time.", days=92))])
                found = scheduling.find_slots(db.session, provider=_id(form.provider.data), type=_id(form.type.data),
                                              location=_id(form.location.data), start_date=start, end_date=end,
                                              limit=SLOT_LIMIT)
            except ValidationFailed as exc:
                apply_problems(form, exc.problems)
                searched = False
            else:
                names = {loc.id: loc.name for loc in db.session.scalars(select(Location))}
                for slot in found:
                    day = slot.start_local.date()
                    if not days or days[-1]["date"] != day:
                        days.append({"date": day, "label": format_date(day, "full", locale=locale), "slots": []})
                    days[-1]["slots"].append({
                        "time": format_time(slot.start_local.time(), "short", locale=locale),
                        "location": names.get(slot.location_id, ""),
                        "url": url_for("AppointmentView.book", provider=form.provider.data, type=form.type.data,
                                       location=slot.location_id, start=slot.start_local.strftime("%Y-%m-%dT%H:%M"),
                                       **({"patient": patient_id} if patient_id and patient_id > 0 else {}))})
        truncated = sum(len(d["slots"]) for d in days) >= SLOT_LIMIT
        return self.render_template("appointments/slots.html", form=form, days=days, searched=searched,
                                    truncated=truncated, limit=SLOT_LIMIT,
                                    patient_id=patient_id, title=_l("Find a slot"))

