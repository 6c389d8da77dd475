"""Scheduling setup: locations, rooms, appointment types, working hours, time off.

Plain FAB ModelViews under one permission ("SchedulingSetup": read / write). The checks
come from app/services/scheduling.py; rows that appointments (or other records) use are
never deleted: the screen says so and the row is made inactive instead.
"""
from zoneinfo import available_timezones

from babel.dates import format_date, format_datetime, get_day_names
from flask import current_app
from flask_appbuilder import ModelView
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Optional, StopValidation
from wtforms.widgets import ColorInput, DateTimeLocalInput, TimeInput

from ..extensions import db
from ..models import Appointment, AppointmentType, Location, Provider, Room
from ..models.scheduling import (
    ProviderException,
    ProviderHours,
    WaitlistEntry,
    provider_appointment_type,
)
from ..services import scheduling
from ..services.errors import DomainError

SETUP_PERMISSIONS = {
    "list": "read", "show": "read", "add": "write", "edit": "write", "delete": "write",
    "action": "write", "action_post": "write",
}
KIND_LABELS = {"leave": _l("Leave"), "holiday": _l("Holiday"), "blocked": _l("Blocked")}
TIMEZONES = sorted(available_timezones())


def _locale():
    return str(get_locale() or "en")


def day_name(weekday):
    """The weekday (0 = Monday) in the reader's language."""
    return get_day_names("wide", locale=_locale())[weekday]


def _day_label(weekday):
    return LazyString(lambda: day_name(weekday))


def form_control(widget_class, **attrs):
    """A wtforms widget drawn as a Bootstrap form control, like FAB's own fields."""
    class Control(widget_class):
        def __call__(self, field, **kwargs):
            kwargs.update(attrs, **{"class": "form-control"})
            return super().__call__(field, **kwargs)
    return Control()


def colour_widget():
    return form_control(ColorInput, style="width: 6em; padding: 2px;")


def flags(**labels):
    """Check boxes for NOT NULL booleans: FAB would make them required, so a box could never be unticked."""
    return {name: BooleanField(label, default=name == "active") for name, label in labels.items()}


# --------------------------------------------------------------------------- validators (service checks)

def _problems_to_error(problems):
    if problems:
        raise StopValidation(" ".join(str(message) for _, message in problems))


def timezone_check(form, field):
    _problems_to_error(scheduling.check_timezone(field.data))


def colour_check(form, field):
    _problems_to_error(scheduling.check_colour(field.data or None))


def duration_check(form, field):
    _problems_to_error(scheduling.check_duration(field.data, field.name))


def end_after_start(start_name):
    def check(form, field):
        start = form[start_name].data
        if start is not None and field.data is not None and field.data <= start:
            raise StopValidation(str(_l("The end must be after the start.")))
    return check


def _zone_of(form):
    """The location whose local time the time-off dates are in: chosen, or the provider's default."""
    location = form.zone_location.data
    provider = form.provider.data
    return location or (provider.default_location if provider is not None else None)


def exception_range(location, start_local, end_local):
    """(start_at, end_at) in UTC of local wall-clock times at `location`; raises StopValidation."""
    if location is None:
        raise StopValidation(str(_l("Choose the location whose local time you entered.")))
    instants = []
    for local in (start_local, end_local):
        instant = scheduling.local_to_utc(local, location.timezone)
        if instant is None:
            raise StopValidation(str(_l("%(time)s does not exist in %(zone)s: the clocks change that night.",
                                        time=local.strftime("%Y-%m-%d %H:%M"), zone=location.timezone)))
        instants.append(instant)
    return tuple(instants)


def exception_check(form, field):
    if form.start_local.data is None or field.data is None:
        return
    start_at, end_at = exception_range(_zone_of(form), form.start_local.data, field.data)
    if end_at <= start_at:
        raise StopValidation(str(_l("The end must be after the start.")))


# --------------------------------------------------------------------------- views

class InUse(DomainError):
    default_message = _l("This record is still used by appointments or other records, so it cannot be "
                         "deleted: make it inactive instead.")


def _used(*statements):
    return any(db.session.execute(stmt.limit(1)).first() is not None for stmt in statements)


class SetupView(ModelView):
    class_permission_name = "SchedulingSetup"
    method_permission_name = SETUP_PERMISSIONS
    base_permissions = ["can_read", "can_write"]

    def references(self, item):
        """Statements that find rows using `item`; a used row is never deleted."""
        return []

    def pre_delete(self, item):
        if _used(*self.references(item)):
            raise InUse()


class LocationView(SetupView):
    datamodel = SQLAInterface(Location)
    list_title = _l("Locations")
    add_title = _l("Add location")
    edit_title = _l("Edit location")
    show_title = _l("Location")
    list_columns = ["name", "timezone", "address", "active"]
    search_columns = ["name", "active"]
    add_columns = edit_columns = show_columns = ["name", "timezone", "address", "active"]
    label_columns = {"name": _l("Name"), "timezone": _l("Time zone"), "address": _l("Address"), "active": _l("Active")}
    add_form_extra_fields = edit_form_extra_fields = {
        "timezone": SelectField(_l("Time zone"), choices=[("", "—")] + [(z, z) for z in TIMEZONES],
                                validate_choice=False, validators=[InputRequired(), timezone_check],
                                widget=Select2Widget()),
        **flags(active=_l("Active")),
    }
    base_order = ("name", "asc")

    def references(self, item):
        return [select(Appointment.id).where(Appointment.location_id == item.id),
                select(Room.id).where(Room.location_id == item.id),
                select(ProviderHours.id).where(ProviderHours.location_id == item.id),
                select(Provider.id).where(Provider.default_location_id == item.id),
                select(WaitlistEntry.id).where(WaitlistEntry.location_id == item.id)]


class RoomView(SetupView):
    datamodel = SQLAInterface(Room)
    list_title = _l("Rooms")
    add_title = _l("Add room")
    edit_title = _l("Edit room")
    show_title = _l("Room")
    list_columns = ["location", "name", "active"]
    search_columns = ["location", "name", "active"]
    add_columns = edit_columns = show_columns = ["location", "name", "active"]
    label_columns = {"location": _l("Location"), "name": _l("Name"), "active": _l("Active")}
    add_form_extra_fields = edit_form_extra_fields = flags(active=_l("Active"))
    base_order = ("name", "asc")

    def _check_unique(self, item):
        with db.session.no_autoflush:
            location_id = item.location.id if item.location is not None else item.location_id
            stmt = select(Room.id).where(Room.location_id == location_id, Room.name == item.name)
            if item.id is not None:
                stmt = stmt.where(Room.id != item.id)
            if db.session.execute(stmt).first() is not None:
                raise DomainError(_l("This location already has a room called “%(name)s”.", name=item.name))

    def pre_add(self, item):
        self._check_unique(item)

    def pre_update(self, item):
        self._check_unique(item)

    def references(self, item):
        return [select(Appointment.id).where(Appointment.room_id == item.id)]


class AppointmentTypeView(SetupView):
    datamodel = SQLAInterface(AppointmentType)
    list_title = _l("Appointment types")
    add_title = _l("Add appointment type")
    edit_title = _l("Edit appointment type")
    show_title = _l("Appointment type")
    list_columns = ["name", "default_duration", "colour", "new_patient", "telehealth", "active"]
    search_columns = ["name", "new_patient", "telehealth", "active"]
    add_columns = edit_columns = show_columns = list_columns + ["auth_payers"]
    label_columns = {"name": _l("Name"), "default_duration": _l("Default duration (minutes)"),
                     "colour": _l("Colour"), "new_patient": _l("New patients"), "telehealth": _l("Telehealth"),
                     "active": _l("Active"), "auth_payers": _l("Needs prior authorization with")}
    description_columns = {"auth_payers": _l("The payers that must authorize this type of visit beforehand; the "
                                             "appointment page says so when one is the patient's primary payer.")}
    validators_columns = {"default_duration": [duration_check]}
    add_form_extra_fields = edit_form_extra_fields = {
        "colour": StringField(_l("Colour"), default="#3a87ad", validators=[InputRequired(), colour_check],
                              widget=colour_widget()),
        **flags(new_patient=_l("New patients"), telehealth=_l("Telehealth"), active=_l("Active")),
    }
    base_order = ("name", "asc")

    def references(self, item):
        return [select(Appointment.id).where(Appointment.type_id == item.id),
                select(WaitlistEntry.id).where(WaitlistEntry.type_id == item.id),
                select(provider_appointment_type.c.provider_id).where(provider_appointment_type.c.type_id == item.id)]


def _time_text(value):
    return value.strftime("%H:%M") if value else ""


def _date_text(value):
    return format_date(value, "medium", locale=_locale()) if value else ""


class ProviderHoursView(SetupView):
    datamodel = SQLAInterface(ProviderHours)
    list_title = _l("Working hours")
    add_title = _l("Add working hours")
    edit_title = _l("Edit working hours")
    show_title = _l("Working hours")
    list_columns = ["provider", "location", "weekday", "start_time", "end_time", "valid_from", "valid_to"]
    search_columns = ["provider", "location", "weekday"]
    add_columns = edit_columns = show_columns = list_columns
    label_columns = {"provider": _l("Provider"), "location": _l("Location"), "weekday": _l("Weekday"),
                     "start_time": _l("Start"), "end_time": _l("End"), "valid_from": _l("Valid from"),
                     "valid_to": _l("Valid to")}
    formatters_columns = {"weekday": day_name, "start_time": _time_text, "end_time": _time_text,
                          "valid_from": _date_text, "valid_to": _date_text}
    validators_columns = {"valid_to": [Optional(), end_after_start("valid_from")]}
    add_form_extra_fields = edit_form_extra_fields = {
        "weekday": SelectField(_l("Weekday"), coerce=int, choices=[(d, _day_label(d)) for d in range(7)],
                               widget=Select2Widget()),
        "start_time": TimeField(_l("Start"), validators=[InputRequired()], widget=form_control(TimeInput)),
        "end_time": TimeField(_l("End"), validators=[InputRequired(), end_after_start("start_time")],
                              widget=form_control(TimeInput)),
    }
    base_order = ("weekday", "asc")


def _local_text(value):
    """A UTC instant in the clinic's time zone, in the reader's language."""
    if value is None:
        return ""
    zone = scheduling.zone(current_app.config.get("BABEL_DEFAULT_TIMEZONE")) or scheduling.zone("UTC")
    return format_datetime(value, "medium", tzinfo=zone, locale=_locale()) + f" ({zone.key})"


def _locations():
    return db.session.query(Location).filter_by(active=True).order_by(Location.name)


class ProviderExceptionView(SetupView):
    datamodel = SQLAInterface(ProviderException)
    list_title = _l("Time off")
    add_title = _l("Add time off")
    edit_title = _l("Edit time off")
    show_title = _l("Time off")
    list_columns = ["provider", "kind", "start_at", "end_at", "reason"]
    show_columns = list_columns
    search_columns = ["provider", "kind"]
    add_columns = edit_columns = ["provider", "kind", "zone_location", "start_local", "end_local", "reason"]
    label_columns = {"provider": _l("Provider"), "kind": _l("Kind"), "start_at": _l("Start"), "end_at": _l("End"),
                     "reason": _l("Reason"), "zone_location": _l("Local time at"),
                     "start_local": _l("Start"), "end_local": _l("End")}
    formatters_columns = {"kind": lambda kind: KIND_LABELS.get(kind, kind), "start_at": _local_text,
                          "end_at": _local_text}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=list(KIND_LABELS.items()), widget=Select2Widget()),
        "zone_location": QuerySelectField(_l("Local time at"), query_func=_locations, get_label="name",
                                          get_pk_func=lambda location: location.id,
                                          allow_blank=True, blank_text=_l("The provider's usual location"),
                                          widget=Select2Widget()),
        "start_local": DateTimeLocalField(_l("Start"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()],
                                          widget=form_control(DateTimeLocalInput)),
        "end_local": DateTimeLocalField(_l("End"), format="%Y-%m-%dT%H:%M",
                                        validators=[InputRequired(), exception_check],
                                        widget=form_control(DateTimeLocalInput)),
    }
    base_order = ("start_at", "desc")

    def _to_utc(self, item):
        location = item.zone_location or (item.provider.default_location if item.provider else None)
        # Checked by the form (exception_check); this cannot fail here.
        item.start_at, item.end_at = exception_range(location, item.start_local, item.end_local)

    def pre_add(self, item):
        self._to_utc(item)

    def pre_update(self, item):
        self._to_utc(item)

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk)
        location = item.provider.default_location if item.provider else None
        tz_name = location.timezone if location else current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC")
        form.zone_location.data = location
        form.start_local.data = scheduling.utc_to_local(item.start_at, tz_name)
        form.end_local.data = scheduling.utc_to_local(item.end_at, tz_name)

