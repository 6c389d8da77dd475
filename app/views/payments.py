"""Payments: payer payments (list, typed in from a paper EOB with a preview before posting, detail),
patient payments on account (take, receipt PDF, void) and the chart's Account panel.

Every rule lives in app/services/posting.py; the manual form builds the same Remittance an 835
gives and goes through the same preview() and post().
"""
import hashlib
import re
from datetime import date
from decimal import Decimal

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_currency, format_date, format_datetime, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField

from ..claims import Adjustment, codes
from ..claims.remit import ClaimPayment, LinePayment, Remittance
from ..extensions import db
from ..models.billing import Payer
from ..models.claims import Claim
from ..models.payments import PatientPayment, PayerPayment
from ..services import audit, posting
from ..services import claims as claim_service
from ..services.copays import parse_amount
from ..services.errors import ValidationFailed
from .copays import (
    ReceiptForm,
    _locale,
    _money,
    _today,
    letter_language,
    receipt_pdf,
    refuse,
    staff_name,
    void_and_show,
)
from .patients import open_patient, register_chart_section, to_surviving_record

LIST_LIMIT = 100
MAX_CLAIMS = 20
_ADJUSTMENT = re.compile(r"^\s*([A-Za-z]{2})\s*-?\s*([A-Za-z0-9]{1,5})\s+(-?[0-9][0-9.,]*)\s*$")


def _amount(raw):
    """A typed amount (the staff member's locale) as Decimal, or the raw text (the service names it)."""
    if raw is None or not str(raw).strip():
        return Decimal("0")
    value = parse_amount(str(raw), _locale())
    return value if value is not None else str(raw)


def _parse_adjustments(text, where, problems):
    """'CO-45 20.00; PR-2 10' -> [Adjustment]; a piece that is not group-reason amount is a problem."""
    found = []
    for piece in re.split(r"[;\n]+", text or ""):
        if not piece.strip():
            continue
        m = _ADJUSTMENT.match(piece)
        amount = parse_amount(m.group(3), _locale()) if m else None
        if m is None or amount is None:
            problems.append((where, _l("Write each adjustment as group-reason amount, for example CO-45 20.00 "
                                       "(several separated by ;): %(text)s", text=piece.strip())))
            continue
        found.append(Adjustment(m.group(1).upper(), m.group(2).upper(), amount))
    return found


def _form_digest(form):
    """A fingerprint of what was typed: the payment posted must be the one previewed."""
    items = sorted((k, v) for k, v in form.items(multi=True) if k not in ("csrf_token", "stage", "digest"))
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _remarks(text):
    return [r.strip().upper() for r in re.split(r"[,;\s]+", text or "") if r.strip()]


def _open_claim_patients(claims, screen):
    """Each patient named on the screen, opened (break-glass rule) and the read logged."""
    seen = set()
    for claim in claims:
        if claim is not None and claim.patient_id not in seen:
            seen.add(claim.patient_id)
            open_patient(claim.patient_id)
            audit.access(db.engine, patient_id=claim.patient_id, object_type="Payment", details={"screen": screen})


class PayerPaymentView(BaseView):
    route_base = "/payments"
    class_permission_name = "Payment"
    method_permission_name = {"index": "read", "show": "read", "new": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """Payer payments, newest first (no patient is named on this list)."""
        rows = db.session.scalars(select(PayerPayment).order_by(PayerPayment.posted_at.desc(), PayerPayment.id.desc())
                                  .limit(LIST_LIMIT)).all()
        return self.render_template("payments/index.html", rows=rows, methods=posting.PAYER_METHOD_LABELS,
                                    can_write=self.appbuilder.sm.has_access("can_write", "Payment"),
                                    staff_name=staff_name, limit=LIST_LIMIT)

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        payment = db.session.get(PayerPayment, pk) or abort(404)
        _open_claim_patients([cp.claim for cp in payment.claims], "payment")
        return self.render_template("payments/show.html", payment=payment, methods=posting.PAYER_METHOD_LABELS,
                                    describe=codes.describe_adjustment, remark=codes.describe_remark,
                                    posted_by=staff_name(payment.posted_by_fk),
                                    status_label=claim_service.status_label)

    def _remittance(self, form, claims, problems):
        """The Remittance typed in (the same object an 835 gives)."""
        payer = db.session.get(Payer, int(form.get("payer"))) if (form.get("payer") or "").isdigit() else None
        if payer is None:
            problems.append(("payer", _l("Choose the payer.")))
        raw_date = (form.get("paid_date") or "").strip()
        try:
            paid_date = date.fromisoformat(raw_date)
        except ValueError:
            paid_date = None
            problems.append(("paid_date", _l("Enter the payment date.")))
        items = []
        for i, claim in enumerate(claims):
            key = f"c{i}"
            lines = []
            for line in claim.lines:
                lk = f"{key}-l{line.line_number}"
                lines.append(LinePayment(
                    code=line.code, modifiers=line.modifiers, charge=Decimal(line.charge),
                    paid=_amount(form.get(f"{lk}-paid")), units=Decimal(line.units), service_date=line.service_date,
                    line_number=line.line_number,
                    adjustments=_parse_adjustments(form.get(f"{lk}-adj"), f"{lk}-adj", problems),
                    remarks=_remarks(form.get(f"{lk}-remarks"))))
            claim_adj = _parse_adjustments(form.get(f"{key}-adj"), f"{key}-adj", problems)
            paid = _amount(form.get(f"{key}-paid"))
            items.append(ClaimPayment(
                claim_number=claim.claim_number, status_code=form.get(f"{key}-status") or "1",
                charge=Decimal(claim.total_charge), paid=paid,
                patient_responsibility=_amount(form.get(f"{key}-pr")),
                payer_claim_control_number=(form.get(f"{key}-icn") or "").strip() or None, adjustments=claim_adj,
                remarks=_remarks(form.get(f"{key}-remarks")),
                lines=lines if any(form.get(f"{key}-l{ln.line_number}-paid") or form.get(
                    f"{key}-l{ln.line_number}-adj") for ln in claim.lines) else []))
        return Remittance(payer_name=payer.name if payer else "", payer_identifier=payer.payer_code if payer else None,
                          method=form.get("method") or "", reference=(form.get("reference") or "").strip(),
                          paid_date=paid_date, amount=_amount(form.get("amount")), claims=items, source="manual")

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """Enter a payer payment by hand: header and claim numbers, then what was paid per claim and line,
        then the preview, then post (the same service as an 835)."""
        form = request.form if request.method == "POST" else request.args
        stage = request.form.get("stage", "start") if request.method == "POST" else "start"
        payers = db.session.scalars(select(Payer).where(Payer.active.is_(True)).order_by(Payer.name)).all()
        problems, claims, result = [], [], None
        numbers = [n.strip().upper() for n in re.split(r"[,;\s]+", form.get("claim_numbers", "")) if n.strip()]
        if request.method == "POST":
            if not numbers:
                problems.append(("claim_numbers", _l("Enter the claim numbers the payment is for.")))
            if len(numbers) > MAX_CLAIMS:
                problems.append(("claim_numbers", _l("At most %(max)d claims at a time.", max=MAX_CLAIMS)))
            for number in numbers[:MAX_CLAIMS]:
                claim = db.session.scalars(select(Claim).where(Claim.claim_number == number)).first()
                if claim is None:
                    problems.append(("claim_numbers", _l("Claim %(number)s is unknown: no claim of ours has that "
                                                         "number.", number=number)))
                elif claim in claims:
                    problems.append(("claim_numbers", _l("Claim %(number)s is listed twice.", number=number)))
                else:
                    claims.append(claim)
            if problems:
                stage = "start"
            elif stage in ("preview", "post"):
                remittance = self._remittance(request.form, claims, problems)
                if not problems and stage == "post" and request.form.get("digest") != _form_digest(request.form):
                    flash(str(_l("The payment was changed after its preview: check the new preview, then confirm.")),
                          "warning")
                    stage = "preview"  # what is posted is what was previewed
                if not problems:
                    if stage == "post":
                        try:
                            payment = posting.post(db.session, remittance, actor=g.user)
                        except ValidationFailed as exc:
                            db.session.rollback()
                            problems = exc.problems
                        else:
                            flash(ngettext("Payment %(reference)s posted: %(num)d claim, %(amount)s.",
                                           "Payment %(reference)s posted: %(num)d claims, %(amount)s.",
                                           len(payment.claims), reference=payment.reference,
                                           amount=format_currency(payment.amount,
                                                                  current_app.config["CLINIC_CURRENCY"])),
                                  "success")
                            return redirect(url_for(".show", pk=payment.id))
                    result = posting.preview(db.session, remittance)
                    problems = problems or result.problems
                stage = "preview" if not problems else "claims"
            else:
                stage = "claims"
        _open_claim_patients(claims, "payment entry")
        balances = {c.id: posting.claim_balance(db.session, c) for c in claims}
        return self.render_template(
            "payments/new.html", stage=stage, form=form, payers=payers, claims=claims, balances=balances,
            problems=problems, result=result, methods=posting.PAYER_METHOD_LABELS,
            claim_numbers=" ".join(numbers), status_label=claim_service.status_label,
            today=_today().isoformat(), field_problems=lambda name: [str(m) for f, m in problems if f == name],
            digest=_form_digest(request.form) if request.method == "POST" else "",
            other_problems=[str(m) for f, m in problems])


# --------------------------------------------------------------------------- patient payments

class PatientPaymentForm(ReceiptForm):
    method = SelectField(_l("Paid by"), choices=[(m, posting.METHOD_LABELS[m]) for m in posting.PATIENT_PAYMENT_METHODS],
                         validate_choice=False)
    claim = SelectField(_l("Apply to"), choices=[], validate_choice=False)


def _claim_choices(patient):
    account = posting.patient_account(db.session, patient)
    choices = [("", str(_l("The account (no particular claim)")))]
    for line in account.lines:
        if line.claim is not None and line.balance.balance > 0:
            choices.append((str(line.claim.id), str(_l(
                "Claim %(number)s of %(date)s — balance %(balance)s", number=line.claim.claim_number,
                date=format_date(line.service_date), balance=_money(line.balance.balance)))))
    return choices


def _payment_row(p):
    return {"payment": p, "when": format_datetime(p.received_at, "short"),
            "method": posting.METHOD_LABELS.get(p.method, p.method), "received_by": staff_name(p.received_by_fk)}


class PatientPaymentView(BaseView):
    route_base = "/patient-payments"
    class_permission_name = "PatientPayment"
    method_permission_name = {"index": "read", "show": "read", "receipt": "read", "take": "write", "void": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """Recent payments on account; the patients named are logged."""
        rows = db.session.scalars(select(PatientPayment).order_by(PatientPayment.received_at.desc(),
                                                                  PatientPayment.id.desc()).limit(LIST_LIMIT)).all()
        audit.record(db.engine, action="view", object_type="PatientPaymentList",
                     details={"count": len(rows), "patients": sorted({p.patient_id for p in rows})})
        return self.render_template("payments/patient_index.html", rows=[_payment_row(p) for p in rows],
                                    limit=LIST_LIMIT)

    @expose("/take/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def take(self, patient_id):
        patient = open_patient(patient_id)
        moved = to_surviving_record(patient, "#chart-account")
        if moved:
            return moved
        form = PatientPaymentForm()
        form.claim.choices = _claim_choices(patient)
        if request.method == "POST" and form.validate_on_submit():
            try:
                payment = posting.post_patient_payment(
                    db.session, patient, amount=form.amount.data, method=form.method.data,
                    reference=form.reference.data, claim=form.claim.data or None, actor=g.user, locale=_locale())
            except ValidationFailed as exc:
                db.session.rollback()
                refuse(form, exc.problems)
            else:
                flash(str(_l("Payment recorded: receipt %(number)s for %(amount)s.", number=payment.receipt_number,
                             amount=_money(payment.amount))), "success")
                return redirect(url_for(".show", pk=payment.id))
        elif request.method == "GET":
            audit.access(db.engine, patient_id=patient.id, object_type="PatientPayment", details={"screen": "take"})
            wanted = request.args.get("claim", "")
            if wanted in {value for value, _label in form.claim.choices}:
                form.claim.data = wanted
        account = posting.patient_account(db.session, patient)
        return self.render_template("payments/take.html", form=form, patient=patient, account=account,
                                    currency=current_app.config["CLINIC_CURRENCY"])

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        payment = db.session.get(PatientPayment, pk) or abort(404)
        patient = open_patient(payment.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="PatientPayment", object_id=payment.id)
        return self.render_template(
            "payments/patient_show.html", payment=payment, patient=patient, row=_payment_row(payment),
            letter_language=letter_language("payment_receipt", patient),
            can_void=self.appbuilder.sm.has_access("can_write", "PatientPayment") and not payment.voided)

    @expose("/<int:pk>/receipt")
    @has_access
    def receipt(self, pk):
        """The receipt as PDF in the patient's language, VOID on a void one."""
        payment = db.session.get(PatientPayment, pk) or abort(404)
        return receipt_pdf("payment_receipt", payment, open_patient(payment.patient_id), object_type="PatientPayment")

    @expose("/<int:pk>/void", methods=["POST"])
    @has_access
    def void(self, pk):
        payment = db.session.get(PatientPayment, pk) or abort(404)
        return void_and_show(posting.void_patient_payment, payment, ".show")


def _chart_account(patient):
    sm = current_app.appbuilder.sm
    return {"patient": patient, "account": posting.patient_account(db.session, patient),
            "status_label": claim_service.status_label, "describe": codes.describe_adjustment,
            "methods": posting.METHOD_LABELS,
            "can_take": sm.has_access("can_write", "PatientPayment") and not patient.is_merged,
            "can_see_payments": sm.has_access("can_read", "Payment")}


register_chart_section("account", _l("Account"), "payments/_account.html", _chart_account,
                       permission=("can_read", "PatientPayment"))
