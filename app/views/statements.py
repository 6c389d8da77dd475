"""Patient statements: print one from the patient's chart, or a batch for every account that owes.

Who gets it, the numbers, the amounts and the statement history live in app/services/statements.py
(amounts from app/services/posting.py); this view only asks, prints, audits and shows the history on
the chart (no reprint: a statement printed again would show today's balances under an old number).
"""

from flask import Response, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..extensions import db
from ..models.base import utcnow
from ..services import audit, dates, languages
from ..services import statements as statement_service
from ..services.errors import ValidationFailed
from .patients import open_patient, register_chart_section

STATEMENT_PERMISSIONS = {"index": "read", "print_statement": "print", "batch": "print"}
DEFAULT_DAYS = 30
HISTORY_ROWS = 10  # statements listed on the chart, newest first
MAX_DAYS = 3650


def _locale():
    return str(get_locale() or "en")


def _pdf(data, name):
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "no-store"})


def _fallback_warning(wanted, used):
    if wanted != used:
        flash(str(_l("There is no statement in %(wanted)s: it was printed in %(used)s.",
                     wanted=languages.name(wanted, _locale()), used=languages.name(used, _locale()))), "warning")


def _days(raw):
    """(days, problem) from the form's text."""
    raw = (raw or "").strip()
    if not raw:
        return DEFAULT_DAYS, None
    if not raw.isdigit() or int(raw) > MAX_DAYS:
        return None, _l("Give a number of days from 0 to %(max)d.", max=MAX_DAYS)
    return int(raw), None


class StatementView(BaseView):
    route_base = "/statements"
    class_permission_name = "Statement"
    method_permission_name = STATEMENT_PERMISSIONS
    default_view = "index"

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        """The batch run: the accounts that owe and had no statement in the last N days."""
        days, problem = _days(request.args.get("days"))
        rows = []
        if problem is None:
            rows = statement_service.due_accounts(db.session, days=days, now=utcnow())
            last = statement_service.last_printed(db.session, [p.id for p, _ in rows])
            rows = [{"patient": p, "due": due, "last": format_datetime(last[p.id], "short") if p.id in last else ""}
                    for p, due in rows]
            # A list naming patients: which ones were shown.
            audit.record(db.engine, action="view", object_type="StatementList",
                         details={"days": days, "patients": [r["patient"].id for r in rows]})
        return self.render_template(
            "statements/index.html", days=days if days is not None else request.args.get("days", ""),
            problem=problem, rows=rows, total=sum((r["due"] for r in rows), statement_service.ZERO),
            can_print=self.appbuilder.sm.has_access("can_print", "Statement"))

    @expose("/batch", methods=["POST"])
    @has_access
    def batch(self):
        """One combined PDF of a statement for every account that owes and had none in the last N days."""
        days, problem = _days(request.form.get("days"))
        if problem is not None:
            flash(str(problem), "danger")
            return redirect(url_for("StatementView.index"))
        due = statement_service.due_accounts(db.session, days=days, now=utcnow())
        if not due:
            flash(str(_l("No account owes anything without a statement in the last %(days)d days: "
                         "nothing to print.", days=days)), "info")
            return redirect(url_for("StatementView.index", days=days))
        done, skipped = statement_service.run_batch(db.session, db.engine, [p for p, _ in due], today=dates.clinic_today())
        for patient, message in skipped:
            flash(str(message), "warning")
        if not done:
            return redirect(url_for("StatementView.index", days=days))
        audit.record(db.engine, action="print", object_type="StatementBatch",
                     details={"days": days, "batch": done[0].record.batch_number,
                              "statements": [s.number for s in done],
                              "patients": [s.patient.id for s in done]})
        return _pdf(statement_service.combined_pdf(done), f"statements-{dates.clinic_today().isoformat()}")

    @expose("/patient/<int:patient_id>/print", methods=["POST"])
    @has_access
    def print_statement(self, patient_id):
        """The patient's statement as PDF, to the guarantor in the guarantor's language (or the fallback)."""
        patient = open_patient(patient_id)
        back = redirect(url_for("PatientDeskView.chart", pk=patient.id) + "#chart-statement")
        try:
            statement = statement_service.prepare(db.session, patient, today=dates.clinic_today())
        except ValidationFailed as exc:
            db.session.rollback()
            for _field, message in exc.problems:
                flash(str(message), "danger")
            return back
        db.session.commit()
        _fallback_warning(statement.letter.wanted, statement.letter.language)
        statement_service.record_print(db.engine, statement)
        return _pdf(statement.letter.pdf, f"statement-{statement.number}")


def _chart_statement(patient):
    due = None
    try:
        due = statement_service.amount_due(statement_service.posting.patient_account(db.session, patient))
    except Exception:  # noqa: BLE001 - the chart must open even if the account cannot be read
        current_app.logger.exception("statement panel: account of patient %s", patient.id)
    reader = statement_service.addressee(patient)
    used, wanted = statement_service.language(patient)
    sent, total = statement_service.history(db.session, patient, limit=HISTORY_ROWS)
    history = [{"date": format_datetime(s.printed_at, "short"), "number": s.statement_number,
                "amount_due": s.amount_due, "addressee": s.addressee_name, "to_guarantor": s.to_guarantor,
                "language": languages.name(s.language, _locale()), "by": _printed_by(s),
                "batch": s.batch_number} for s in sent]
    return {"patient": patient, "due": due, "addressee": reader.name, "is_patient": reader.is_patient,
            "language": languages.name(used, _locale()), "wanted": languages.name(wanted, _locale()),
            "fell_back": used != wanted, "history": history,
            "not_shown": ngettext("%(num)d earlier statement is not shown.",
                                  "%(num)d earlier statements are not shown.", total - len(history))
            if total > len(history) else "",
            "can_print": current_app.appbuilder.sm.has_access("can_print", "Statement") and not patient.is_merged}


def _printed_by(statement):
    user = statement.printed_by
    return f"{user.first_name} {user.last_name}".strip() if user is not None else str(_l("System"))


register_chart_section("statement", _l("Statement"), "statements/_chart.html", _chart_statement,
                       permission=("can_read", "Statement"))
