"""Billing setup: the practice's billing settings (one row), service facilities and payers.

One permission ("BillingSetup": read / write). The checks live in app/services/billing_setup.py.
"""
from flask import flash, redirect, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, StopValidation
from sqlalchemy import select

from ..extensions import db
from ..models.billing import CLAIM_FILING_INDICATORS, Coverage, Encounter, Payer, ServiceFacility
from ..services import billing_setup as setup_service
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .patients import apply_problems
from .scheduling_setup import SETUP_PERMISSIONS, InUse, _used, flags

PERMISSION = "BillingSetup"


def service_check(check, **kwargs):
    """A form validator from a service check (`check(value, field_name, ...)` -> problems)."""
    def validate(form, field):
        problems = check(field.data, field.name, **kwargs)
        if problems:
            raise StopValidation(" ".join(str(message) for _, message in problems))
    return validate


def _claim_filing_choices():
    return [(code, f"{code} — {setup_service.CLAIM_FILING_LABELS[code]}") for code in CLAIM_FILING_INDICATORS]


class _ClaimFilingField(SelectField):
    """Choices built per request, so the labels are in the reader's language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[], **kwargs)

    def process(self, *args, **kwargs):
        self.choices = _claim_filing_choices()
        super().process(*args, **kwargs)


class _ValidatedModelView(ModelView):
    class_permission_name = PERMISSION
    method_permission_name = SETUP_PERMISSIONS
    base_permissions = ["can_read", "can_write"]
    validate_item = None  # service function checking (and normalising) the item

    def _validate(self, item):
        try:
            self.validate_item(item)
        except ValidationFailed as exc:
            raise DomainError(" ".join(str(message) for _, message in exc.problems)) from None

    def pre_add(self, item):
        self._validate(item)

    def pre_update(self, item):
        self._validate(item)

    def references(self, item):
        return []

    def pre_delete(self, item):
        if _used(*self.references(item)):
            raise InUse()


ADDRESS_LABELS = {
    "address_line1": _l("Address line 1"), "address_line2": _l("Address line 2"), "city": _l("City"),
    "state": _l("State"), "postal_code": _l("ZIP code"), "phone": _l("Phone"), "active": _l("Active"),
    "name": _l("Name"),
}
ADDRESS_VALIDATORS = {"state": [service_check(setup_service.check_state)]}


def _zip_field():
    """ZIP typed with or without the dash (10 characters), stored as 5 or 9 digits by the service."""
    return {"postal_code": StringField(_l("ZIP code"), validators=[service_check(setup_service.check_zip)])}


class ServiceFacilityView(_ValidatedModelView):
    datamodel = SQLAInterface(ServiceFacility)
    validate_item = staticmethod(setup_service.validate_facility)
    list_title = _l("Service facilities")
    add_title = _l("Add service facility")
    edit_title = _l("Edit service facility")
    show_title = _l("Service facility")
    list_columns = ["name", "npi", "city", "state", "place_of_service", "location", "active"]
    search_columns = ["name", "npi", "city", "active"]
    add_columns = edit_columns = show_columns = [
        "name", "npi", "address_line1", "address_line2", "city", "state", "postal_code", "place_of_service",
        "location", "active"]
    label_columns = dict({k: v for k, v in ADDRESS_LABELS.items() if k != "phone"}, npi=_l("NPI"),
                         place_of_service=_l("Place of service"), location=_l("Clinic location"))
    description_columns = {"place_of_service": _l("2-digit CMS code: 11 office, 02 telehealth, 22 hospital "
                                                  "outpatient ..."),
                           "npi": _l("The facility's own NPI (box 32a), if it has one.")}
    validators_columns = dict(ADDRESS_VALIDATORS, npi=[service_check(setup_service.check_npi)],
                              place_of_service=[service_check(setup_service.check_place_of_service)])
    add_form_extra_fields = edit_form_extra_fields = dict(_zip_field(), **flags(active=_l("Active")))
    base_order = ("name", "asc")

    def references(self, item):
        return [select(Encounter.id).where(Encounter.service_facility_id == item.id)]


class PayerView(_ValidatedModelView):
    datamodel = SQLAInterface(Payer)
    validate_item = staticmethod(setup_service.validate_payer)
    list_title = _l("Payers")
    add_title = _l("Add payer")
    edit_title = _l("Edit payer")
    show_title = _l("Payer")
    list_columns = ["name", "payer_code", "claim_filing_indicator", "timely_filing_days", "active"]
    search_columns = ["name", "payer_code", "active"]
    add_columns = edit_columns = [
        "name", "payer_code", "claim_filing_indicator", "timely_filing_days", "address_line1", "address_line2",
        "city", "state", "postal_code", "phone", "active"]
    show_columns = add_columns + ["auth_types"]
    label_columns = dict(ADDRESS_LABELS, payer_code=_l("Payer id"), claim_filing_indicator=_l("Claim filing indicator"),
                         timely_filing_days=_l("Timely filing (days)"),
                         auth_types=_l("Appointment types needing prior authorization"))
    description_columns = {"payer_code": _l("The payer id your clearinghouse uses (837P loop 2010BB)."),
                           "timely_filing_days": _l("Days after the date of service within which a claim must "
                                                    "reach the payer (1 to 730).")}
    validators_columns = dict(ADDRESS_VALIDATORS)
    add_form_extra_fields = edit_form_extra_fields = {
        "claim_filing_indicator": _ClaimFilingField(_l("Claim filing indicator"), validators=[InputRequired()],
                                                    default="CI"),
        "timely_filing_days": IntegerField(_l("Timely filing (days)"), default=90,
                                           validators=[service_check(setup_service.check_timely_filing)]),
        **_zip_field(),
        **flags(active=_l("Active")),
    }
    formatters_columns = {"claim_filing_indicator":
                          lambda code: f"{code} — {setup_service.CLAIM_FILING_LABELS.get(code, '')}"}
    base_order = ("name", "asc")

    def references(self, item):
        return [select(Coverage.id).where(Coverage.payer_id == item.id)]


# --------------------------------------------------------------------------- the settings screen

SETTINGS_LABELS = {
    "billing_name": _l("Billing provider name"), "group_npi": _l("Group NPI"), "tax_id": _l("Tax id (EIN)"),
    "taxonomy_code": _l("Taxonomy code"), "address_line1": _l("Address line 1"),
    "address_line2": _l("Address line 2"), "city": _l("City"), "state": _l("State"),
    "postal_code": _l("ZIP+4"), "phone": _l("Phone"),
    "pay_to_line1": _l("Pay-to address line 1"), "pay_to_line2": _l("Pay-to address line 2"),
    "pay_to_city": _l("Pay-to city"), "pay_to_state": _l("Pay-to state"), "pay_to_postal_code": _l("Pay-to ZIP code"),
    "submitter_id": _l("Submitter id"), "submitter_name": _l("Submitter name"),
    "submitter_contact_name": _l("Submitter contact name"), "submitter_contact_phone": _l("Submitter contact phone"),
    "submitter_contact_email": _l("Submitter contact e-mail"), "receiver_id": _l("Receiver id"),
    "receiver_name": _l("Receiver name"), "isa_sender_qualifier": _l("Interchange sender qualifier"),
    "isa_sender_id": _l("Interchange sender id"), "isa_receiver_qualifier": _l("Interchange receiver qualifier"),
    "isa_receiver_id": _l("Interchange receiver id"), "usage_indicator": _l("Usage"),
    "gs02_sender_code": _l("Application sender code (GS02)"),
    "gs03_receiver_code": _l("Application receiver code (GS03)"),
}
SETTINGS_GROUPS = (
    (_l("Billing provider (837P loop 2010AA, CMS-1500 boxes 25 and 33)"),
     ("billing_name", "group_npi", "tax_id", "taxonomy_code", "address_line1", "address_line2", "city", "state",
      "postal_code", "phone")),
    (_l("Pay-to address (loop 2010AB), only when payments go elsewhere"),
     ("pay_to_line1", "pay_to_line2", "pay_to_city", "pay_to_state", "pay_to_postal_code")),
    (_l("Clearinghouse"),
     ("submitter_id", "submitter_name", "submitter_contact_name", "submitter_contact_phone",
      "submitter_contact_email", "receiver_id", "receiver_name", "isa_sender_qualifier", "isa_sender_id",
      "isa_receiver_qualifier", "isa_receiver_id", "gs02_sender_code", "gs03_receiver_code", "usage_indicator")),
)


def _settings_form_class():
    attrs = {"version": HiddenField()}
    for name in setup_service.SETTINGS_FIELDS:
        if name == "usage_indicator":
            attrs[name] = SelectField(SETTINGS_LABELS[name], choices=[], validate_choice=False)
        else:
            attrs[name] = StringField(SETTINGS_LABELS[name])
    return type("BillingSettingsForm", (FlaskForm,), attrs)


BillingSettingsForm = _settings_form_class()


class BillingSettingsView(BaseView):
    route_base = "/billing/settings"
    class_permission_name = PERMISSION
    method_permission_name = {"index": "read", "save": "write"}
    default_view = "index"

    def _form(self, settings=None):
        form = BillingSettingsForm(obj=settings) if settings is not None else BillingSettingsForm()
        form.usage_indicator.choices = [(k, str(v)) for k, v in setup_service.USAGE_LABELS.items()]
        return form

    def _render(self, form):
        return self.render_template("billing_setup/settings.html", form=form, groups=SETTINGS_GROUPS,
                                    can_write=self.appbuilder.sm.has_access("can_write", PERMISSION))

    @expose("/")
    @has_access
    def index(self):
        settings = setup_service.get_settings(db.session)
        form = self._form(settings)
        form.version.data = settings.version or ""
        return self._render(form)

    @expose("/", methods=["POST"])
    @has_access
    def save(self):
        form = self._form()
        if not form.validate_on_submit():
            flash(str(_l("The form expired: reload the page and try again.")), "danger")
            return self._render(form)
        version = form.version.data
        values = {name: form[name].data for name in setup_service.SETTINGS_FIELDS}
        try:
            setup_service.save_settings(db.session, values,
                                        expected_version=int(version) if (version or "").isdigit() else None)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_problems(form, exc.problems)
            flash(str(exc.message), "danger")
            return self._render(form)
        except StaleRecordError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return self._render(form)
        flash(str(_l("The billing settings were saved.")), "success")
        return redirect(url_for("BillingSettingsView.index"))
