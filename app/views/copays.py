"""Copays at the front desk: collect, receipt (PDF in the patient's language), void, the day's list.

The rules (amounts, no card numbers, receipt numbers) live in app/services/copays.py and receipts.py.
The receipt pieces here (form fields, refused input, PDF, void) serve payments on account too
(app/views/payments.py, PatientPaymentView).
"""
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, format_datetime, format_time, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField

from ..documents import letters
from ..extensions import db
from ..models.base import utcnow
from ..models.billing import CopayPayment
from ..models.scheduling import Appointment
from ..models.user import ClinicUser
from ..services import audit, languages
from ..services import copays as copay_service
from ..services.copays import CARD_NUMBER_MESSAGE, METHOD_LABELS, PAYMENT_METHODS
from ..services.errors import ValidationFailed
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record

COPAY_PERMISSIONS = {"index": "read", "show": "read", "receipt": "read", "collect": "write", "void": "write"}


class ReceiptForm(FlaskForm):
    """What every receipt asks (templates: copays/_money_fields.html); each form adds `method` with its labels."""
    amount = StringField(_l("Amount"))
    reference = StringField(_l("Reference: check number or the card terminal's approval code"))


class CopayForm(ReceiptForm):
    method = SelectField(_l("Paid by"), choices=[(m, METHOD_LABELS[m]) for m in PAYMENT_METHODS],
                         validate_choice=False)
    appointment = SelectField(_l("Visit"), choices=[], validate_choice=False)
    notes = TextAreaField(_l("Notes (optional)"))


def _locale():
    return str(get_locale() or "en")


def _clinic_zone():
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _today():
    return utcnow().astimezone(ZoneInfo(_clinic_zone())).date()


def staff_name(user_id):
    user = db.session.get(ClinicUser, user_id) if user_id else None
    return f"{user.first_name} {user.last_name}".strip() if user else ""


def _money(value):
    return format_decimal(value, format="#,##0.00", locale=_locale()) if value is not None else ""


def _visit_label(appointment, locale):
    from .appointments import when_text

    return f"{when_text(appointment.start_local, appointment.timezone, locale, 'medium')} · {appointment.provider.display_name}"


def _visit_choices(patient, selected):
    """The patient's visits from a month back to a week ahead (and the one asked for)."""
    now = utcnow()
    rows = db.session.scalars(select(Appointment).where(
        Appointment.patient_id == patient.id, Appointment.start_at >= now - timedelta(days=31),
        Appointment.start_at <= now + timedelta(days=8), Appointment.status != "cancelled",
    ).order_by(Appointment.start_at.desc())).all()
    if selected is not None and selected not in rows:
        rows.insert(0, selected)
    locale = _locale()
    return [("", str(_l("No particular visit")))] + [(str(a.id), _visit_label(a, locale)) for a in rows]


def appointment_copay(appointment):
    """For the appointment page: the link to collect a copay and the copay expected from the
    active primary coverage (None for users who may not collect)."""
    if not current_app.appbuilder.sm.has_access("can_write", "Copay"):
        return None
    expected = copay_service.expected_copay(db.session, appointment.patient_id, appointment.start_local.date())
    return {"url": url_for("CopayView.collect", patient_id=appointment.patient_id, appointment=appointment.id),
            "expected": expected}


def refuse(form, problems):
    """Show the service's problems on the form; a card number typed is never sent back to the browser."""
    apply_problems(form, problems)
    for name, message in problems:
        if message is CARD_NUMBER_MESSAGE and name in form._fields:
            form[name].data = ""


def letter_language(kind, patient):
    """The language the receipt will be printed in, named in the staff member's language."""
    return languages.name(letters.choose_language(kind, patient.preferred_language), _locale())


def receipt_pdf(kind, payment, patient, *, object_type):
    """The receipt as PDF, in the patient's language (or the fallback, said on screen), VOID on a void one;
    the print is logged."""
    lang = letters.choose_language(kind, patient.preferred_language or "en")
    data = letters.receipt_data(payment, lang, received_by=staff_name(payment.received_by_fk), timezone=_clinic_zone())
    letter = letters.render(kind, patient, data, today=_today())
    if letter.fell_back:
        flash(str(_l("There is no such letter in %(wanted)s: it was printed in %(used)s.",
                     wanted=languages.name(letter.wanted, _locale()),
                     used=languages.name(letter.language, _locale()))), "warning")
    audit.access(db.engine, patient_id=patient.id, action="print", object_type=object_type, object_id=payment.id,
                 details={"language": letter.language, "receipt_number": payment.receipt_number,
                          "void": bool(payment.voided)})
    return Response(letter.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{payment.receipt_number}.pdf"',
        "Cache-Control": "no-store"})


def void_and_show(void, payment, endpoint):
    """Void the receipt with the reason typed (`void`: the service's function) and go back to its page."""
    open_patient(payment.patient_id)
    try:
        void(db.session, payment, reason=request.form.get("reason"), actor=g.user)
    except ValidationFailed as exc:
        db.session.rollback()
        for _field, message in exc.problems:
            flash(str(message), "danger")
    else:
        flash(str(_l("Receipt %(number)s is now void.", number=payment.receipt_number)), "success")
    return redirect(url_for(endpoint, pk=payment.id))


def _row(payment):
    return {"payment": payment, "when": format_datetime(payment.received_at, "short"),
            "time": format_time(payment.received_at, "short"),
            "method": METHOD_LABELS.get(payment.method, payment.method),
            "received_by": staff_name(payment.received_by_fk)}


class CopayView(BaseView):
    route_base = "/copays"
    class_permission_name = "Copay"
    method_permission_name = COPAY_PERMISSIONS
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """The day's receipts and the money per method, for the desk's end-of-day count."""
        raw = (request.args.get("day") or "").strip()
        try:
            day = date.fromisoformat(raw) if raw else _today()
        except ValueError:
            flash(str(_l("Unknown date: showing today.")), "warning")
            day = _today()
        mine = request.args.get("mine") == "1"
        payments, totals, total, count = copay_service.day_summary(
            db.session, day, _clinic_zone(), received_by=g.user.id if mine else None)
        audit.record(db.engine, action="view", object_type="CopayList", details={"day": day.isoformat(), "mine": mine})
        return self.render_template(
            "copays/index.html", day=day, day_text=format_date(day, "full"), mine=mine,
            rows=[_row(p) for p in payments], totals=[(m, METHOD_LABELS[m], totals[m]) for m in PAYMENT_METHODS],
            total=total, count=count, previous_day=(day - timedelta(days=1)).isoformat(),
            next_day=(day + timedelta(days=1)).isoformat(), today=_today().isoformat(),
            can_collect=self.appbuilder.sm.has_access("can_write", "Copay"))

    @expose("/collect/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def collect(self, patient_id):
        patient = open_patient(patient_id)
        moved = to_surviving_record(patient, "#chart-payments")
        if moved:
            return moved
        form = CopayForm()
        raw_appointment = request.args.get("appointment", "")
        selected = None
        if raw_appointment.isdigit():
            selected = db.session.get(Appointment, int(raw_appointment))
            if selected is None or selected.patient_id != patient.id:
                abort(404)
        form.appointment.choices = _visit_choices(patient, selected)
        expected = copay_service.expected_copay(db.session, patient.id,
                                                selected.start_local.date() if selected is not None else _today())
        if request.method == "POST" and form.validate_on_submit():
            try:
                payment = copay_service.record_copay(
                    db.session, patient=patient, amount=form.amount.data, method=form.method.data,
                    reference=form.reference.data, appointment=form.appointment.data or None, notes=form.notes.data,
                    actor=g.user, locale=_locale())
            except ValidationFailed as exc:
                db.session.rollback()
                refuse(form, exc.problems)
            else:
                flash(str(_l("Copay recorded: receipt %(number)s for %(amount)s.", number=payment.receipt_number,
                             amount=_money(payment.amount))), "success")
                return redirect(url_for("CopayView.show", pk=payment.id))
        elif request.method == "GET":
            audit.access(db.engine, patient_id=patient.id, object_type="Copay", details={"screen": "collect"})
            if expected is not None:
                form.amount.data = _money(expected)
            if selected is not None:
                form.appointment.data = str(selected.id)
        return self.render_template("copays/collect.html", form=form, patient=patient, expected=expected,
                                    currency=current_app.config["CLINIC_CURRENCY"])

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        payment = db.session.get(CopayPayment, pk) or abort(404)
        patient = open_patient(payment.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="Receipt", object_id=payment.id)
        locale = _locale()
        return self.render_template(
            "copays/show.html", payment=payment, patient=patient, row=_row(payment),
            visit=_visit_label(payment.appointment, locale) if payment.appointment else "",
            day=payment.received_at.astimezone(ZoneInfo(_clinic_zone())).date().isoformat(),
            letter_language=letter_language("copay_receipt", patient),
            can_void=self.appbuilder.sm.has_access("can_write", "Copay") and not payment.voided)

    @expose("/<int:pk>/receipt")
    @has_access
    def receipt(self, pk):
        """The receipt as PDF, in the patient's language (or the fallback), with VOID on a void one."""
        payment = db.session.get(CopayPayment, pk) or abort(404)
        return receipt_pdf("copay_receipt", payment, open_patient(payment.patient_id), object_type="Receipt")

    @expose("/<int:pk>/void", methods=["POST"])
    @has_access
    def void(self, pk):
        payment = db.session.get(CopayPayment, pk) or abort(404)
        return void_and_show(copay_service.void_copay, payment, "CopayView.show")


def _chart_payments(patient):
    return {"patient": patient, "rows": [_row(p) for p in copay_service.payments_for_patient(db.session, patient.id)],
            "can_collect": current_app.appbuilder.sm.has_access("can_write", "Copay") and not patient.is_merged}


register_chart_section("payments", _l("Payments"), "copays/_chart.html", _chart_payments,
                       permission=("can_read", "Copay"))
