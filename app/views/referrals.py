"""Referral screens: the list, the overdue list, outgoing and incoming referrals, status moves,
replies, the two letters (PDF), the specialist directory, the chart panel and the home card.

The rules live in app/services/referrals.py.
"""
from datetime import date

from babel.dates import format_datetime
from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from ..extensions import db
from ..models import Provider
from ..models.base import utcnow
from ..models.billing import Payer
from ..reports.definitions import clinic_timezone
from ..models.referrals import DIRECTIONS, STATUSES, URGENCIES, Referral, Specialist
from ..services import audit, dates, icd10, languages, phones
from ..services import coverage as coverage_service
from ..services import documents as documents_service
from ..services import referrals as referral_service
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .forms import LocaleDateField
from .home import Link, register_home_card
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record

ANCHOR = "#chart-referrals"


def _locale():
    return str(get_locale() or "en")


def _date_example():
    return dates.format_input(date(1987, 12, 31), _locale())


def _parse_dates(form, names):
    """{name: date or None} from locale-typed fields; unparseable ones are problems."""
    problems, values = [], {}
    for name in names:
        raw = (form[name].data or "").strip()
        values[name] = dates.parse_input(raw, _locale()) if raw else None
        if raw and values[name] is None:
            problems.append((name, _l("Write the date as %(example)s.", example=_date_example())))
    return values, problems


def _id(raw):
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else -1


def _ids(values):
    return [int(v) if v.isdigit() else -1 for v in values if v.strip()]


def _codes(raw):
    return [c for c in (raw or "").replace(";", ",").replace("\n", ",").split(",") if c.strip()]


def _version():
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else -1


def _flash_error(exc):
    messages = [m for _, m in exc.problems] if isinstance(exc, ValidationFailed) else [exc.message]
    for message in messages or [exc.message]:
        flash(str(message), "danger")


def _refused(form, exc):
    """A save refused (bad input, or the record changed meanwhile): nothing kept, each problem next to its
    field, the message on top."""
    db.session.rollback()
    if isinstance(exc, ValidationFailed):
        apply_problems(form, exc.problems)
    flash(str(exc.message), "danger")


def _clinical():
    return current_app.appbuilder.sm.has_access("can_read_clinical", "PatientDocument")


# ---------------------------------------------------------------------------------------------
# Forms


class _ReferralForm(FlaskForm):
    """What an outgoing and an incoming referral both ask (templates/referrals/form.html places each field)."""
    version = HiddenField()
    urgency = SelectField(_l("Urgency"), choices=[], validate_choice=False)
    due_date = LocaleDateField(_l("To be scheduled by (empty: by urgency)"))
    reason = TextAreaField(_l("Reason for referral"))
    diagnoses = StringField(_l("Diagnoses (ICD-10-CM codes, separated by commas)"))
    notes = TextAreaField(_l("Notes"))


class OutgoingForm(_ReferralForm):
    referring_provider = SelectField(_l("Referring provider"), choices=[], validate_choice=False)
    specialist = SelectField(_l("Specialist"), choices=[], validate_choice=False)
    referral_date = LocaleDateField(_l("Referral date"))


class IncomingForm(_ReferralForm):
    referring_practice = StringField(_l("Referring practice"))
    referring_provider_name = StringField(_l("Referring provider"))
    referral_date = LocaleDateField(_l("Received on"))


class ReplyForm(FlaskForm):
    version = HiddenField()
    reply_date = LocaleDateField(_l("Date of the reply"))
    summary = TextAreaField(_l("Summary"))
    document = SelectField(_l("Document already on the chart"), choices=[], validate_choice=False)
    upload = FileField(_l("Or upload the report"))


class SpecialistForm(FlaskForm):
    version = HiddenField()
    name = StringField(_l("Name"))
    specialty = StringField(_l("Specialty"))
    organisation = StringField(_l("Organisation"))
    npi = StringField(_l("NPI"))
    phone = StringField(_l("Phone"))
    fax = StringField(_l("Fax"))
    email = StringField(_l("E-mail"))
    address = TextAreaField(_l("Address"))
    languages = StringField(_l("Languages spoken (codes or names, separated by commas)"))
    active = BooleanField(_l("Active"), default=True)


def _urgency_choices(form):
    form.urgency.choices = [(u, str(referral_service.URGENCY_LABELS[u])) for u in URGENCIES]


def _outgoing_choices(form, patient, referral=None):
    providers = db.session.query(Provider).filter(Provider.active.is_(True)).order_by(Provider.family_name).all()
    kept = referral.referring_provider if referral is not None else None
    if kept is not None and kept not in providers:
        providers.append(kept)  # an inactive provider stays on the referral that has it
    form.referring_provider.choices = [("", "—")] + [(str(p.id), p.display_name) for p in providers]
    doctors = referral_service.specialists(db.session, active_only=True)
    if referral is not None and referral.specialist is not None and referral.specialist not in doctors:
        doctors.append(referral.specialist)
    payer = coverage_service.primary_payer(db.session, patient.id, date.today())
    choices = [("", "—")]
    for s in doctors:
        label = f"{s.specialty} — {s.name}" + (f" ({s.organisation})" if s.organisation else "")
        if payer is not None and payer in s.payers:
            label += " · " + str(_l("accepts %(payer)s", payer=payer.name))
        choices.append((str(s.id), label))
    form.specialist.choices = choices
    _urgency_choices(form)


def _documents_for(patient):
    docs, _hidden = documents_service.list_for_patient(db.session, patient, clinical=_clinical())
    return docs


# ---------------------------------------------------------------------------------------------
# Referrals


class ReferralView(BaseView):
    route_base = "/referrals"
    class_permission_name = "Referral"
    method_permission_name = {"index": "read", "overdue": "read", "show": "read", "new": "write", "incoming": "write",
                              "edit": "write", "status": "write", "reply": "write", "link": "write",
                              "letter": "write"}
    default_view = "index"

    def _can_write(self):
        return self.appbuilder.sm.has_access("can_write", "Referral")

    def _list(self, referrals, *, screen, title, **extra):
        audit.record(db.engine, action="view", object_type="ReferralList",
                     details={"screen": screen, "rows": len(referrals),
                              "patients": sorted({r.patient_id for r in referrals}), **extra})
        return self.render_template("referrals/index.html", referrals=referrals, title=title, screen=screen,
                                    today=date.today(), labels=_labels(), directions=DIRECTIONS, statuses=STATUSES,
                                    **extra)

    @expose("/")
    @has_access
    def index(self):
        """Open referrals (or one status / direction), the soonest due first. Filters are no patient data."""
        direction = request.args.get("direction") if request.args.get("direction") in DIRECTIONS else None
        status = request.args.get("status") if request.args.get("status") in STATUSES else None
        referrals = referral_service.open_referrals(db.session, direction=direction, status=status)
        return self._list(referrals, screen="index", title=_l("Referrals"), direction=direction, status=status)

    @expose("/overdue")
    @has_access
    def overdue(self):
        return self._list(referral_service.overdue(db.session), screen="overdue", title=_l("Overdue referrals"))

    def _referral(self, pk):
        referral = db.session.get(Referral, pk) or abort(404)
        patient = open_patient(referral.patient_id)
        return referral, patient

    def _show_url(self, referral):
        return url_for("ReferralView.show", pk=referral.id)

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        referral, patient = self._referral(pk)
        audit.access(db.engine, patient_id=patient.id, object_type="Referral", object_id=referral.id,
                     details={"screen": "show"})
        appointments = (referral_service.patient_appointments(db.session, referral)
                        if referral.direction == "incoming" and referral.status in ("received", "scheduled") else [])
        return self.render_template(
            "referrals/show.html", referral=referral, patient=patient, labels=_labels(),
            descriptions=referral_service.descriptions(db.session, referral), display_code=icd10.display,
            moves=referral_service.allowed_moves(referral), appointments=appointments,
            can_write=self._can_write(), editable=referral.status in referral_service.EDITABLE_STATUSES,
            may_reply=referral.direction == "outgoing" and referral.status in referral_service.REPLY_STATUSES,
            clinical=_clinical(), phone=lambda v: phones.display(v, current_app.config["CLINIC_COUNTRY"]),
            local=lambda v: format_datetime(v, "medium", locale=_locale()),
            stamp=lambda v: format_datetime(v, "medium", tzinfo=clinic_timezone(), locale=_locale()),
            letters=referral.direction == "outgoing" and referral.status != "cancelled")

    # --- outgoing / incoming forms

    def _form_page(self, patient, referral, incoming):
        form = IncomingForm() if incoming else OutgoingForm()
        if incoming:
            _urgency_choices(form)
        else:
            _outgoing_choices(form, patient, referral)
        documents = _documents_for(patient)
        if referral is not None:
            chosen = {link.document_id for link in referral.documents}
        else:
            chosen = set()
        if form.validate_on_submit():
            chosen = set(_ids(request.form.getlist("documents")))
            values, problems = _parse_dates(form, ("referral_date", "due_date"))
            common = dict(reason=form.reason.data, urgency=form.urgency.data, notes=form.notes.data,
                          due_date=values["due_date"], diagnoses=_codes(form.diagnoses.data),
                          document_ids=sorted(chosen), actor=g.user, clinical=_clinical(),
                          expected_version=_id(form.version.data) if referral is not None else None)
            try:
                if problems:
                    raise ValidationFailed(problems)
                if incoming:
                    saved = referral_service.save_incoming(
                        db.session, referral, patient=patient, referring_practice=form.referring_practice.data,
                        referring_provider_name=form.referring_provider_name.data,
                        received_date=values["referral_date"], **common)
                else:
                    saved = referral_service.save_outgoing(
                        db.session, referral, patient=patient, referring_provider=_id(form.referring_provider.data),
                        specialist=_id(form.specialist.data), referral_date=values["referral_date"], **common)
            except (ValidationFailed, StaleRecordError) as exc:
                _refused(form, exc)
            else:
                flash(str(_l("The referral was saved.")), "success")
                return redirect(self._show_url(saved))
        elif request.method == "GET":
            if referral is not None:
                _fill(form, referral)
            else:
                form.referral_date.process_data(date.today())
                form.urgency.data = "routine"
                if not incoming and patient.primary_provider_id:
                    form.referring_provider.data = str(patient.primary_provider_id)
            audit.access(db.engine, patient_id=patient.id, object_type="Referral",
                         object_id=referral.id if referral is not None else None,
                         details={"screen": "edit" if referral is not None else
                                  ("new_incoming" if incoming else "new_outgoing")})
        if incoming:
            title = _l("Edit incoming referral") if referral is not None else _l("Referral from another practice")
        else:
            title = _l("Edit referral") if referral is not None else _l("Refer to a specialist")
        return self.render_template("referrals/form.html", form=form, patient=patient, referral=referral,
                                    incoming=incoming, documents=documents, chosen=chosen, title=title,
                                    date_example=_date_example(), due_days=referral_service.URGENCY_DAYS,
                                    urgency_labels=referral_service.URGENCY_LABELS)

    def _new_page(self, patient_id, incoming):
        patient = open_patient(patient_id)
        return to_surviving_record(patient, ANCHOR) or self._form_page(patient, None, incoming=incoming)

    @expose("/new/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def new(self, patient_id):
        return self._new_page(patient_id, incoming=False)

    @expose("/incoming/<int:patient_id>", methods=["GET", "POST"])
    @has_access
    def incoming(self, patient_id):
        return self._new_page(patient_id, incoming=True)

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        referral, patient = self._referral(pk)
        if referral.status not in referral_service.EDITABLE_STATUSES:
            flash(str(_l("This referral is %(status)s: it can no longer be changed.",
                         status=referral_service.status_label(referral.status))), "warning")
            return redirect(self._show_url(referral))
        return self._form_page(patient, referral, incoming=referral.direction == "incoming")

    # --- workflow

    @expose("/<int:pk>/status", methods=["POST"])
    @has_access
    def status(self, pk):
        referral, patient = self._referral(pk)
        try:
            referral_service.transition(db.session, referral, request.form.get("to", ""), actor=g.user,
                                        note=request.form.get("note"), expected_version=_version())
        except DomainError as exc:
            db.session.rollback()
            _flash_error(exc)
        else:
            flash(str(_l("The referral is now %(status)s.", status=referral_service.status_label(referral.status))),
                  "success")
        return redirect(self._show_url(referral))

    @expose("/<int:pk>/link", methods=["POST"])
    @has_access
    def link(self, pk):
        referral, patient = self._referral(pk)
        try:
            referral_service.link_appointment(db.session, referral, _id(request.form.get("appointment")),
                                              actor=g.user, expected_version=_version())
        except DomainError as exc:
            db.session.rollback()
            _flash_error(exc)
        else:
            flash(str(_l("The referral is linked to the appointment.")), "success")
        return redirect(self._show_url(referral))

    @expose("/<int:pk>/reply", methods=["GET", "POST"])
    @has_access
    def reply(self, pk):
        referral, patient = self._referral(pk)
        form = ReplyForm()
        documents = _documents_for(patient)
        form.document.choices = [("", "—")] + [
            (str(d.id), f"{d.title} ({dates.format_input(d.document_date, _locale())})") for d in documents]
        if form.validate_on_submit():
            values, problems = _parse_dates(form, ("reply_date",))
            upload = request.files.get("upload")
            upload = {"stream": upload.stream, "filename": upload.filename} if upload and upload.filename else None
            try:
                if problems:
                    raise ValidationFailed(problems)
                referral_service.record_reply(db.session, referral, reply_date=values["reply_date"],
                                              summary=form.summary.data, document_id=_id(form.document.data),
                                              upload=upload, actor=g.user, expected_version=_id(form.version.data),
                                              clinical=_clinical())
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, [("upload" if f is None and upload else f, m) for f, m in exc.problems])
                flash(str(exc.message), "danger")
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            else:
                flash(str(_l("The specialist's reply was recorded.")), "success")
                return redirect(self._show_url(referral))
        elif request.method == "GET":
            form.reply_date.process_data(date.today())
            form.version.data = str(referral.version)
            audit.access(db.engine, patient_id=patient.id, object_type="Referral", object_id=referral.id,
                         details={"screen": "reply"})
        return self.render_template("referrals/reply.html", form=form, referral=referral, patient=patient,
                                    date_example=_date_example(), accepted=documents_service.accepted_types_label())

    @expose("/<int:pk>/letter/<which>")
    @has_access
    def letter(self, pk, which):
        referral, patient = self._referral(pk)
        if which not in referral_service.LETTER_KINDS:
            abort(404)
        problem = referral_service.letter_problem(referral, which)
        if problem:
            flash(str(problem), "danger")
            return redirect(self._show_url(referral))
        today = utcnow().astimezone(clinic_timezone()).date()
        letter = referral_service.render_letter(db.session, referral, which, today=today)
        if which == "patient" and letter.fell_back:
            flash(str(_l("There is no such letter in %(wanted)s: it was printed in %(used)s.",
                         wanted=languages.name(letter.wanted, _locale()),
                         used=languages.name(letter.language, _locale()))), "warning")
        audit.access(db.engine, patient_id=patient.id, action="print", object_type="Letter",
                     object_id=referral_service.LETTER_KINDS[which],
                     details={"language": letter.language, "referral_id": referral.id})
        return Response(letter.pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="referral-{which}-{referral.id}.pdf"',
            "Cache-Control": "no-store"})


def _fill(form, referral):
    for name in ("reason", "notes"):
        form[name].data = getattr(referral, name) or ""
    form.referral_date.process_data(referral.referral_date)
    form.due_date.process_data(referral.due_date)
    form.urgency.data = referral.urgency
    form.diagnoses.data = ", ".join(icd10.display(d.code) for d in referral.diagnoses)
    form.version.data = str(referral.version)
    if referral.direction == "incoming":
        form.referring_practice.data = referral.referring_practice or ""
        form.referring_provider_name.data = referral.referring_provider_name or ""
    else:
        form.referring_provider.data = str(referral.referring_provider_id or "")
        form.specialist.data = str(referral.specialist_id or "")


def _labels():
    return {"status": referral_service.STATUS_LABELS, "urgency": referral_service.URGENCY_LABELS,
            "direction": referral_service.DIRECTION_LABELS}


# ---------------------------------------------------------------------------------------------
# Specialist directory


class SpecialistView(BaseView):
    route_base = "/specialists"
    class_permission_name = "Specialist"
    method_permission_name = {"index": "read", "add": "write", "edit": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template(
            "referrals/specialists.html", specialists=referral_service.specialists(db.session),
            language_name=lambda code: languages.name(code, _locale()),
            phone=lambda v: phones.display(v, current_app.config["CLINIC_COUNTRY"]),
            can_write=self.appbuilder.sm.has_access("can_write", "Specialist"))

    def _page(self, specialist):
        form = SpecialistForm()
        payers = db.session.query(Payer).order_by(Payer.name).all()
        chosen = {p.id for p in specialist.payers} if specialist is not None else set()
        if form.validate_on_submit():
            chosen = set(_ids(request.form.getlist("payers")))
            try:
                referral_service.save_specialist(
                    db.session, specialist, name=form.name.data, specialty=form.specialty.data,
                    organisation=form.organisation.data, npi=form.npi.data, phone=form.phone.data, fax=form.fax.data,
                    email=form.email.data, address=form.address.data,
                    languages_spoken=[x for x in (form.languages.data or "").split(",")],
                    payer_ids=sorted(chosen), active=form.active.data,
                    expected_version=_id(form.version.data) if specialist is not None else None)
            except (ValidationFailed, StaleRecordError) as exc:
                _refused(form, exc)
            else:
                flash(str(_l("The specialist was saved.")), "success")
                return redirect(url_for("SpecialistView.index"))
        elif request.method == "GET" and specialist is not None:
            for name in ("name", "specialty", "organisation", "npi", "email", "address"):
                form[name].data = getattr(specialist, name) or ""
            region = current_app.config["CLINIC_COUNTRY"]
            form.phone.data = phones.display(specialist.phone, region)
            form.fax.data = phones.display(specialist.fax, region)
            form.languages.data = ", ".join(specialist.language_codes)
            form.active.data = specialist.active
            form.version.data = str(specialist.version)
        return self.render_template("referrals/specialist_form.html", form=form, specialist=specialist,
                                    payers=payers, chosen=chosen,
                                    title=_l("Edit specialist") if specialist is not None else _l("Add specialist"))

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        return self._page(None)

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        return self._page(db.session.get(Specialist, pk) or abort(404))


# ---------------------------------------------------------------------------------------------
# Chart panel and home card


def _chart_referrals(patient):
    referrals = referral_service.for_patient(db.session, patient.id)
    return {"patient": patient, "open": [r for r in referrals if r.status in referral_service.OPEN_STATUSES],
            "done": [r for r in referrals if r.status not in referral_service.OPEN_STATUSES],
            "replies": sorted(((r, reply) for r in referrals for reply in r.replies),
                              key=lambda pair: pair[1].reply_date, reverse=True),
            "labels": _labels(), "today": date.today(),
            "can_write": current_app.appbuilder.sm.has_access("can_write", "Referral")}


register_chart_section("referrals", _l("Referrals"), "referrals/_chart.html", _chart_referrals,
                       permission=("can_read", "Referral"))

HOME_CARD_ROLES = {"Admin", "FrontDesk", "OfficeManager"}


def _overdue_card(user, ctx):
    if not HOME_CARD_ROLES & {role.name for role in user.roles}:
        return None  # the front desk and the office manager chase referrals
    n = referral_service.overdue_count(db.session)
    if not n:
        return None
    return {"value": n, "attention": True, "text": _l("referrals due and still not scheduled"),
            "links": [Link(_l("Open the list"), url_for("ReferralView.overdue"))]}


register_home_card("referrals_overdue", _l("Overdue referrals"), _overdue_card, permission=("can_write", "Referral"),
                   order=45)
