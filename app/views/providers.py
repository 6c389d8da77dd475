"""Providers: a plain FAB ModelView; the NPI rule comes from services."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Optional, ValidationError

from ..models import Provider
from ..services.checkdigits import npi_valid
from .scheduling_setup import colour_check, colour_widget, flags


def npi_check(form, field):
    if field.data and not npi_valid(field.data.strip()):
        raise ValidationError(_l("Not a valid NPI: 10 digits with a correct check digit."))


class ProviderView(ModelView):
    datamodel = SQLAInterface(Provider)
    class_permission_name = "Provider"
    method_permission_name = {
        "list": "read", "show": "read", "add": "write", "edit": "write", "delete": "write",
        "action": "write", "action_post": "write",
    }
    base_permissions = ["can_read", "can_write"]
    list_title = _l("Providers")
    add_title = _l("Add provider")
    edit_title = _l("Edit provider")
    show_title = _l("Provider")
    list_columns = ["family_name", "given_name", "credentials", "npi", "specialty", "active"]
    search_columns = ["family_name", "given_name", "npi", "specialty", "active"]
    add_columns = edit_columns = ["given_name", "family_name", "credentials", "npi", "specialty", "active", "user",
                                  "colour", "default_location", "appointment_types"]
    show_columns = add_columns
    label_columns = {
        "family_name": _l("Family name"),
        "given_name": _l("Given name"),
        "credentials": _l("Credentials"),
        "npi": _l("NPI"),
        "specialty": _l("Specialty"),
        "active": _l("Active"),
        "user": _l("Login account"),
        "colour": _l("Colour on the calendar"),
        "default_location": _l("Usual location"),
        "appointment_types": _l("Appointment types taken"),
    }
    description_columns = {"appointment_types": _l("Leave empty if the provider takes every type.")}
    validators_columns = {"npi": [npi_check]}
    add_form_extra_fields = edit_form_extra_fields = {
        "colour": StringField(_l("Colour on the calendar"), default="#0055aa", validators=[Optional(), colour_check],
                              widget=colour_widget()),
        **flags(active=_l("Active")),
    }
    base_order = ("family_name", "asc")
