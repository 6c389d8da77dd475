"""Claim screens: the work queue (filters, counts, bulk actions), denied claims, building claims from
ready encounters, one claim's page, batches of 837P files and CMS-1500 prints; the claims chart panel
and the billing home card.

Every rule lives in app/services/claims.py (lifecycle, scrubber, lines, corrections) and
app/services/claim_batches.py (bulk actions, batches); these views turn forms into service input and
the services' problems into messages.
"""
from datetime import date

from flask import Response, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..claims.cms1500 import _drawing, build_pages
from ..documents.pdf import render_pdf
from ..extensions import db
from ..models.billing import Encounter, Payer
from ..models.claims import CLAIM_STATUSES, Claim, ClaimBatch, ClaimLine
from ..services import audit, dates, icd10
from ..services import claim_batches as batches
from ..services import claims as service
from ..services.encounters import letter
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .home import Link, register_home_card
from .patients import open_patient, register_chart_section

PERMISSION = "Claim"
LIST_LIMIT = 200
PRINT_MODES = {"full": _l("CMS-1500 on the drawn form"), "data": _l("CMS-1500 data only (pre-printed forms)")}
TRANSITION_LABELS = {
    "ready": _l("Scrub and mark ready"), "draft": _l("Back to draft"), "submitted": _l("Mark submitted (sent on paper)"),
    "accepted": _l("Accepted by the payer"), "rejected": _l("Rejected by the payer"), "paid": _l("Paid"),
    "denied": _l("Denied"), "appealed": _l("Appealed"), "void": _l("Void"),
}
assert set(TRANSITION_LABELS) == set(CLAIM_STATUSES)
CORRECTION_LABELS = {"replace": _l("Replacement claim (frequency 7)"), "void": _l("Void claim (frequency 8)")}


def _locale():
    return str(get_locale() or "en")


def _version(name="version"):
    """The version the user saw; -1 if the form did not send one (refused as stale)."""
    raw = request.form.get(name, "")
    return int(raw) if raw.isdigit() else -1


def _flash_problems(exc):
    if isinstance(exc, ValidationFailed):
        for _, message in exc.problems:
            flash(str(message), "danger")
    else:
        flash(str(exc.message), "danger")


def _ids(name="claim"):
    """The ticked ids of a bulk form (anything not a number is dropped)."""
    return list(dict.fromkeys(int(v) for v in request.form.getlist(name) if v.strip().isdigit()))


def _selected_claims(ids):
    """The claims of `ids`; unknown ids are reported (and left out)."""
    found = {c.id: c for c in db.session.scalars(select(Claim).where(Claim.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in found]
    if missing:
        flash(str(_l("%(count)d of the chosen claims do not exist (any more): they were left out.",
                     count=len(missing))), "warning")
    return [found[i] for i in ids if i in found]


def _units(value):
    return format_decimal(value.normalize()) if value is not None else ""


class ClaimView(BaseView):
    """The claims work queue and one claim's page."""

    route_base = "/claims"
    class_permission_name = PERMISSION
    method_permission_name = {
        "index": "read", "denied": "read", "show": "read", "cms1500": "read", "print_selected": "read",
        "batches": "read", "download": "read",
        "build_form": "write", "build": "write", "bulk_ready": "write", "send": "write", "transition": "write",
        "edit_line": "write", "refresh": "write", "prior_authorization": "write", "correct": "write",
    }
    default_view = "index"

    # ------------------------------------------------------------------ the work queue

    def _filters(self):
        """The queue's filters from the form (POST: a claim number is not put in a URL) or the link (GET)."""
        source = request.form if request.method == "POST" else request.args
        locale = _locale()
        status = source.get("status", "open")
        if status not in CLAIM_STATUSES and status not in ("open", "all"):
            status = "open"
        payer = source.get("payer", "")
        problems = {}
        days = {}
        for name in ("from", "to"):
            raw = source.get(name, "").strip()[:20]
            days[name] = dates.parse_input(raw, locale) if raw else None
            if raw and days[name] is None:
                problems[name] = str(_l("Write the date as %(example)s.",
                                        example=dates.format_input(date(1987, 12, 31), locale)))
        return {"status": status, "payer": payer if payer.isdigit() else "", "from": source.get("from", "")[:20],
                "to": source.get("to", "")[:20],
                "number": request.form.get("number", "").strip()[:20] if request.method == "POST" else "",
                "day_from": days["from"], "day_to": days["to"], "problems": problems}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def index(self):
        f = self._filters()
        query = select(Claim)
        if f["status"] == "open":
            query = query.where(Claim.status.notin_(("paid", "void")))
        elif f["status"] != "all":
            query = query.where(Claim.status == f["status"])
        if f["payer"]:
            query = query.where(Claim.payer_id == int(f["payer"]))
        if f["day_from"]:
            query = query.where(Claim.service_date >= f["day_from"])
        if f["day_to"]:
            query = query.where(Claim.service_date <= f["day_to"])
        if f["number"]:
            query = query.where(Claim.claim_number == f["number"].upper())
        rows = db.session.scalars(query.options(selectinload(Claim.patient), selectinload(Claim.payer))
                                  .order_by(Claim.service_date.desc(), Claim.id.desc()).limit(LIST_LIMIT)).all()
        audit.record(db.engine, action="view", object_type="ClaimWorklist", details={
            "status": f["status"], "rows": len(rows), "patients": sorted({c.patient_id for c in rows})})
        return self.render_template(
            "claims/index.html", rows=rows, f=f, counts=batches.status_counts(db.session),
            statuses=CLAIM_STATUSES, status_labels=service.STATUS_LABELS,
            payers=db.session.scalars(select(Payer).order_by(Payer.name)).all(),
            truncated=len(rows) >= LIST_LIMIT, limit=LIST_LIMIT, print_modes=PRINT_MODES,
            can_write=self.appbuilder.sm.has_access("can_write", PERMISSION),
            date_example=dates.format_input(date(1987, 12, 31), _locale()), title=_l("Claims"))

    @expose("/denied")
    @has_access
    def denied(self):
        rows = db.session.scalars(select(Claim).where(Claim.status == "denied")
                                  .options(selectinload(Claim.patient), selectinload(Claim.payer))
                                  .order_by(Claim.service_date, Claim.id).limit(LIST_LIMIT)).all()
        audit.record(db.engine, action="view", object_type="ClaimWorklist", details={
            "status": "denied", "rows": len(rows), "patients": sorted({c.patient_id for c in rows})})
        reasons = {c.id: batches.denial_reasons(db.session, c) for c in rows}
        return self.render_template("claims/denied.html", rows=rows, reasons=reasons,
                                    truncated=len(rows) >= LIST_LIMIT, limit=LIST_LIMIT,
                                    title=_l("Denied claims"))

    # ------------------------------------------------------------------ build from encounters

    @expose("/build")
    @has_access
    def build_form(self):
        encounters = batches.ready_encounters(db.session)
        audit.record(db.engine, action="view", object_type="EncounterWorklist", details={
            "status": "ready", "screen": "build_claims", "rows": len(encounters),
            "patients": sorted({e.patient_id for e in encounters})})
        return self.render_template("claims/build.html", encounters=encounters, title=_l("Build claims"))

    @expose("/build", methods=["POST"])
    @has_access
    def build(self):
        if request.form.get("all") == "1":
            chosen = batches.ready_encounters(db.session)
        else:
            ids = _ids("encounter")
            chosen = db.session.scalars(select(Encounter).where(Encounter.id.in_(ids))).all() if ids else []
            if len(chosen) < len(ids):
                flash(str(_l("%(count)d of the chosen encounters do not exist (any more): they were left out.",
                             count=len(ids) - len(chosen))), "warning")
        if not chosen:
            flash(str(_l("Choose at least one encounter that is ready to bill.")), "danger")
            return redirect(url_for("ClaimView.build_form"))
        result = batches.build_claims(db.session, chosen, actor=g.user)
        if result.done:
            flash(str(_l("%(count)d claims were built: %(numbers)s.", count=len(result.done),
                         numbers=", ".join(c.claim_number for c in result.done))), "success")
        for encounter, messages in result.problems:
            flash(str(_l("Encounter of %(date)s (MRN %(mrn)s): %(problems)s", date=_date(encounter.service_date),
                         mrn=encounter.patient.mrn, problems=" ".join(str(m) for m in messages))), "danger")
        return redirect(url_for("ClaimView.index", status="draft") if result.done else url_for("ClaimView.build_form"))

    # ------------------------------------------------------------------ bulk actions on the queue

    @expose("/ready", methods=["POST"])
    @has_access
    def bulk_ready(self):
        claims = _selected_claims(_ids())
        if not claims:
            flash(str(_l("Choose at least one draft claim.")), "danger")
            return redirect(url_for("ClaimView.index"))
        versions = {c.id: _version(f"version_{c.id}") for c in claims if f"version_{c.id}" in request.form}
        result = batches.mark_ready(db.session, claims, actor=g.user, versions=versions)
        if result.done:
            flash(str(_l("Ready to send: %(numbers)s.", numbers=", ".join(c.claim_number for c in result.done))),
                  "success")
        for claim, messages in result.problems:
            for message in messages:
                flash(str(_l("Claim %(number)s: %(problem)s", number=claim.claim_number, problem=message)), "danger")
        return redirect(url_for("ClaimView.index"))

    @expose("/send", methods=["POST"])
    @has_access
    def send(self):
        if request.form.get("all") == "1":
            claims = db.session.scalars(select(Claim).where(Claim.status == "ready").order_by(Claim.id)).all()
        else:
            claims = _selected_claims(_ids())
        try:
            batch = batches.send(db.session, claims, actor=g.user)
        except DomainError as exc:
            db.session.rollback()
            _flash_problems(exc)
            return redirect(url_for("ClaimView.index", status="ready"))
        flash(str(_l("Batch %(number)s with %(count)d claims was created: download it and send it to the "
                     "clearinghouse.", number=str(batch), count=batch.claim_count)), "success")
        return redirect(url_for("ClaimView.batches"))

    @expose("/print", methods=["POST"])
    @has_access
    def print_selected(self):
        mode = request.form.get("mode", "full")
        claims = _selected_claims(_ids())
        if mode not in PRINT_MODES or not claims:
            flash(str(_l("Choose at least one claim to print.")), "danger")
            return redirect(url_for("ClaimView.index"))
        for claim in claims:
            open_patient(claim.patient_id)
        return self._pdf(claims, mode, "claims.pdf")

    def _pdf(self, claims, mode, filename):
        pages = []
        try:
            for claim in claims:
                own = build_pages(service.claim_data(db.session, claim))
                for number, page in enumerate(own, start=1):
                    pages.append(dict(page, page_no=number, page_count=len(own)))
        except ValueError:
            db.session.rollback()
            flash(str(_l("Claim %(number)s cannot be printed: its diagnoses or pointers are not complete; fix the "
                         "claim (the scrubber names the problem).", number=claim.claim_number)), "danger")
            return redirect(url_for("ClaimView.show", pk=claim.id))
        pdf = render_pdf("claims/cms1500.html", locale="en", title="CMS-1500", pages=pages, mode=mode,
                         drawing=_drawing() if mode == "full" else None)
        for claim in claims:
            audit.access(db.engine, patient_id=claim.patient_id, action="print", object_type="CMS1500",
                         object_id=claim.id, details={"claim_number": claim.claim_number, "mode": mode})
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})

    # ------------------------------------------------------------------ batches

    @expose("/batches")
    @has_access
    def batches(self):
        return self.render_template("claims/batches.html", rows=batches.recent_batches(db.session),
                                    when=lambda at: format_datetime(at, "short"), title=_l("Claim batches"))

    @expose("/batches/<int:pk>/download")
    @has_access
    def download(self, pk):
        batch = db.session.get(ClaimBatch, pk)
        if batch is None:
            flash(str(_l("This batch does not exist.")), "danger")
            return redirect(url_for("ClaimView.batches"))
        for patient_id in batches.batch_patient_ids(db.session, batch):
            audit.access(db.engine, patient_id=patient_id, action="download", object_type="ClaimBatch",
                         object_id=batch.id, details={"interchange_control_number": batch.interchange_control_number})
        return Response(batch.content, mimetype="text/plain", headers={
            "Content-Disposition": f'attachment; filename="{batches.batch_file_name(batch)}"',
            "Cache-Control": "no-store"})

    # ------------------------------------------------------------------ one claim

    def _load(self, pk):
        """The claim and its patient (opened through the break-glass rule), or None (message flashed)."""
        claim = db.session.get(Claim, pk)
        if claim is None:
            flash(str(_l("This claim does not exist.")), "danger")
            return None
        open_patient(claim.patient_id)
        return claim

    def _back(self, claim):
        return redirect(url_for("ClaimView.show", pk=claim.id))

    def _change(self, claim, work, success):
        try:
            work()
        except DomainError as exc:
            db.session.rollback()
            _flash_problems(exc)
            return self._back(claim)
        flash(str(success), "success")
        return self._back(claim)

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        patient = open_patient(claim.patient_id)
        audit.access(db.engine, patient_id=patient.id, object_type="Claim", object_id=claim.id)
        can_write = self.appbuilder.sm.has_access("can_write", PERMISSION)
        problems = []
        if claim.status in ("draft", "ready", "rejected"):
            problems = [str(m) for _, m in service.scrub(db.session, claim)]
        edit = request.args.get("edit", "")
        edit_line = None
        if edit.isdigit() and claim.status in service.EDITABLE_STATUSES:
            edit_line = next((line for line in claim.lines if line.id == int(edit)), None)
        lines = [{"line": line, "pointers": " ".join(letter(p) for p in line.pointers),
                  "modifiers": " ".join(line.modifiers), "units": _units(line.units),
                  "units_input": format(line.units.normalize(), "f")} for line in claim.lines]
        corrections = db.session.scalars(select(Claim).where(Claim.original_claim_id == claim.id)
                                         .order_by(Claim.id)).all()
        return self.render_template(
            "claims/show.html", claim=claim, patient=patient, lines=lines, problems=problems,
            diagnoses=[{"letter": letter(d.position), "code": icd10.display(d.code),
                        "description": _dx_description(d.code, claim.service_date)} for d in claim.diagnoses],
            transitions=[(s, TRANSITION_LABELS[s]) for s in service.TRANSITIONS.get(claim.status, ())],
            editable=can_write and claim.status in service.EDITABLE_STATUSES, can_write=can_write,
            correctable=can_write and claim.status in service.ADJUDICATED_STATUSES,
            correction_labels=CORRECTION_LABELS, corrections=corrections, edit_line=edit_line,
            status_label=service.status_label(claim.status), status_labels=service.STATUS_LABELS,
            denial_reasons=batches.denial_reasons(db.session, claim) if claim.status == "denied" else [],
            print_modes=PRINT_MODES, when=lambda at: format_datetime(at, "short"), users=_user_names(claim),
            title=_l("Claim %(number)s", number=claim.claim_number))

    @expose("/<int:pk>/cms1500/<mode>")
    @has_access
    def cms1500(self, pk, mode):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        if mode not in PRINT_MODES:
            flash(str(_l("Choose how to print the claim.")), "danger")
            return self._back(claim)
        return self._pdf([claim], mode, f"cms1500-{claim.claim_number}.pdf")

    @expose("/<int:pk>/status", methods=["POST"])
    @has_access
    def transition(self, pk):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        to_status = request.form.get("to_status", "")[:20]
        return self._change(claim, lambda: service.transition(
            db.session, claim, to_status, actor=g.user, note=request.form.get("note", "")[:300],
            expected_version=_version()),
            _l("Claim %(number)s is now %(status)s.", number=claim.claim_number,
               status=service.STATUS_LABELS.get(to_status, to_status)))

    @expose("/<int:pk>/lines/<int:line_id>", methods=["POST"])
    @has_access
    def edit_line(self, pk, line_id):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        line = db.session.get(ClaimLine, line_id)
        form = request.form
        values = {"code": form.get("code", "").strip().upper()[:5],
                  "modifiers": form.get("modifiers", "").upper().split()[:5],
                  "units": form.get("units", "")[:12], "charge": form.get("charge", "")[:14],
                  "place_of_service": form.get("place_of_service", "").strip()[:2]}
        pointers = []
        for item in form.get("pointers", "").upper().replace(",", " ").split()[:5]:
            position = "ABCDEFGHIJKL".find(item) + 1 if len(item) == 1 else 0
            pointers.append(position if position else item)
        values["pointers"] = pointers
        return self._change(claim, lambda: service.update_line(db.session, claim, line, expected_version=_version(),
                                                               actor=g.user, **values),
                            _l("The line was changed."))

    @expose("/<int:pk>/refresh", methods=["POST"])
    @has_access
    def refresh(self, pk):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        return self._change(claim, lambda: service.refresh_lines(db.session, claim, expected_version=_version(),
                                                                 actor=g.user),
                            _l("The diagnoses and lines were taken again from the encounter."))

    @expose("/<int:pk>/prior-authorization", methods=["POST"])
    @has_access
    def prior_authorization(self, pk):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        value = request.form.get("prior_authorization", "")
        if len(value.strip()) > 50:
            flash(str(_l("At most %(max)d characters.", max=50)), "danger")
            return self._back(claim)
        return self._change(claim, lambda: service.set_prior_authorization(
            db.session, claim, value, expected_version=_version(), actor=g.user),
            _l("The prior authorization number was saved."))

    @expose("/<int:pk>/correct", methods=["POST"])
    @has_access
    def correct(self, pk):
        claim = self._load(pk)
        if claim is None:
            return redirect(url_for("ClaimView.index"))
        if _version() != claim.version:
            flash(str(StaleRecordError().message), "danger")
            return self._back(claim)
        try:
            new = service.correct(db.session, claim, kind=request.form.get("kind", "")[:10], actor=g.user)
        except DomainError as exc:
            db.session.rollback()
            _flash_problems(exc)
            return self._back(claim)
        flash(str(_l("Claim %(number)s was created as a draft: check it and send it.", number=new.claim_number)),
              "success")
        return redirect(url_for("ClaimView.show", pk=new.id))


def _user_names(claim):
    from ..models.user import ClinicUser

    ids = {s.changed_by_fk for s in claim.status_changes if s.changed_by_fk}
    if not ids:
        return {}
    return {u.id: u.username for u in db.session.scalars(select(ClinicUser).where(ClinicUser.id.in_(ids)))}


def _date(value):
    return format_date(value, "medium") if value else ""


# --------------------------------------------------------------------------- chart panel and home card

def _chart_claims(patient):
    """The patient's claims, newest first. The front desk (can_read_status) sees number, date, payer
    and status only; billing and the office manager (can_read) also the amount and a link."""
    sm = current_app.appbuilder.sm
    full = sm.has_access("can_read", PERMISSION)
    rows = db.session.scalars(select(Claim).where(Claim.patient_id == patient.id)
                              .options(selectinload(Claim.payer))
                              .order_by(Claim.service_date.desc(), Claim.id.desc()).limit(50)).all()
    return {"claims": rows, "full": full, "status_labels": service.STATUS_LABELS}


def _dx_description(code, service_date):
    """The code set's description of a claim diagnosis (blank when the code set does not know it)."""
    row, _problem = icd10.lookup(db.session, code, service_date)
    return row.description if row is not None else ""


def _chart_claim_status(patient):
    context = _chart_claims(patient)
    return None if context["full"] else context  # who holds the full panel (Admin) is not shown it twice


register_chart_section("claims", _l("Claims"), "claims/_chart.html", _chart_claims,
                       permission=("can_read", PERMISSION))
register_chart_section("claim_status", _l("Claims"), "claims/_chart_status.html", _chart_claim_status,
                       permission=("can_read_status", PERMISSION))


def _claims_card(user, ctx):
    counts = batches.status_counts(db.session)
    entries = []
    for status, text in (("ready", _l("%(count)d ready to send")), ("rejected", _l("%(count)d rejected")),
                         ("denied", _l("%(count)d denied"))):
        if counts.get(status):
            url = url_for("ClaimView.denied") if status == "denied" else url_for("ClaimView.index", status=status)
            entries.append((text % {"count": counts[status]}, url))
    if not entries:
        return None
    attention = bool(counts.get("rejected") or counts.get("denied"))
    return {"value": counts.get("ready", 0), "attention": attention,
            "text": _l("claims ready to send"), "entries": entries,
            "links": [Link(_l("Open the claims"), url_for("ClaimView.index"))]}


register_home_card("claims", _l("Claims"), _claims_card, permission=("can_write", PERMISSION), order=37)
