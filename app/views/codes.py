"""Codes for billing: the ICD-10-CM search pickers call, and the practice's fee schedule screen
(CPT/HCPCS codes with fees only: no CPT descriptions, they are licensed by the AMA)."""
from datetime import date

from flask import abort, flash, jsonify, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select

from ..extensions import db
from ..models.billing import FeeScheduleEntry
from ..services import fees, icd10

PAGE_SIZE = 100


class Icd10View(BaseView):
    """POST /icd10/search {"q": "E11" or "diabetes without", "date": "2026-11-27"} -> matching codes."""

    route_base = "/icd10"
    class_permission_name = "Icd10"
    method_permission_name = {"search": "read"}

    @expose("/search", methods=["POST"])
    @has_access_api
    def search(self):
        payload = request.get_json(silent=True) or request.form
        text = str(payload.get("q", ""))[:200]
        try:
            service_date = date.fromisoformat(str(payload.get("date") or date.today().isoformat()))
        except ValueError:
            return jsonify(error=_("The date of service must be a date like 2026-01-01.")), 400
        code_set = icd10.code_set_on(db.session, service_date)
        limit = str(payload.get("limit") or "20")
        found = icd10.search(db.session, text, service_date, limit=min(int(limit), 50) if limit.isdigit() else 20)
        return jsonify(
            code_set=code_set.name if code_set else None,
            results=[{"code": icd10.display(c.code), "description": c.description, "billable": c.billable}
                     for c in found],
        )


class FeeUploadForm(FlaskForm):
    file = FileField(_l("Fee schedule (CSV)"))


class FeeScheduleView(BaseView):
    """The fee schedule: every entry, and a CSV upload (check only, or import)."""

    route_base = "/fee-schedule"
    class_permission_name = "BillingSetup"
    method_permission_name = {"index": "read", "upload": "write"}
    default_view = "index"

    def _render(self, form, report=None):
        page = request.args.get("page", 1, type=int) or 1
        total = db.session.scalar(select(func.count(FeeScheduleEntry.id)))
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        entries = list(db.session.scalars(
            select(FeeScheduleEntry)
            .order_by(FeeScheduleEntry.code, FeeScheduleEntry.modifier, FeeScheduleEntry.effective_date.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ))
        return self.render_template(
            "codes/fee_schedule.html", form=form, report=report, entries=entries, total=total, page=page,
            pages=pages, in_force=_in_force_ids(entries, date.today()),
            can_write=self.appbuilder.sm.has_access("can_write", "BillingSetup"),
            header=",".join(fees.HEADER),
        )

    @expose("/")
    @has_access
    def index(self):
        return self._render(FeeUploadForm())

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        form = FeeUploadForm()
        if not form.validate_on_submit():
            abort(400)
        upload = form.file.data
        raw = upload.read(fees.MAX_BYTES + 1) if upload else b""
        if not raw:
            form.file.errors.append(_("Choose a CSV file."))
            return self._render(form), 422
        if len(raw) > fees.MAX_BYTES:
            form.file.errors.append(_("The file is larger than %(mb)d MB.", mb=fees.MAX_BYTES // 1048576))
            return self._render(form), 422
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors.append(_("The file must be text in UTF-8 (save it as CSV UTF-8)."))
            return self._render(form), 422
        dry_run = request.form.get("action") != "import"
        report = fees.import_fees(db.session, text, dry_run=dry_run)
        if report.errors:
            db.session.rollback()
            flash(_("Nothing was imported: correct the lines below and upload the file again."), "danger")
            return self._render(form, report), 422
        if report.written:
            db.session.commit()
            flash(_("Fee schedule imported: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
                    added=report.count("added"), updated=report.count("updated"),
                    unchanged=report.count("unchanged")), "success")
        else:
            flash(_("Check only: the file is correct (%(added)d to add, %(updated)d to update, %(unchanged)d "
                    "unchanged). Nothing was imported.", added=report.count("added"),
                    updated=report.count("updated"), unchanged=report.count("unchanged")), "info")
        return self._render(form, report)


def _in_force_ids(entries, today):
    """Ids of the entries in force today: per (code, modifier) the latest effective date <= today."""
    codes = {entry.code for entry in entries}
    latest = dict(((code, modifier), day) for code, modifier, day in db.session.execute(
        select(FeeScheduleEntry.code, FeeScheduleEntry.modifier, func.max(FeeScheduleEntry.effective_date))
        .where(FeeScheduleEntry.code.in_(codes), FeeScheduleEntry.effective_date <= today)
        .group_by(FeeScheduleEntry.code, FeeScheduleEntry.modifier)
    )) if codes else {}
    return {e.id for e in entries if latest.get((e.code, e.modifier)) == e.effective_date}
