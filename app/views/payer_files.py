"""Payer files: upload an 835 / 999 / 277CA, the list of files received, a review screen per file
(every claim payment matched to our claim with posting.preview(), or the acknowledgement's plan)
and the Post / Apply button. The rules live in app/services/payer_files.py.
"""
from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l

from ..claims import codes
from ..extensions import db
from ..models.payer_files import PayerFile
from ..services import audit
from ..services import claims as claim_service
from ..services import payer_files
from ..services.errors import DomainError, ValidationFailed


class PayerFileView(BaseView):
    route_base = "/payer-files"
    class_permission_name = "PayerFile"
    method_permission_name = {"index": "read", "show": "read", "upload": "write", "process": "write"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """The files received, newest first (no patient is named on this list)."""
        files = payer_files.recent(db.session)
        return self.render_template(
            "payer_files/index.html", files=files, kind_labels=payer_files.KIND_LABELS,
            status_labels=payer_files.STATUS_LABELS, max_mb=payer_files.MAX_SIZE // (1024 * 1024),
            can_write=self.appbuilder.sm.has_access("can_write", "PayerFile"))

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        """Receive a file: refused (nothing stored) when it is not a readable 835 / 999 / 277CA or came before."""
        upload = request.files.get("file")
        data = upload.read(payer_files.MAX_SIZE + 1) if upload else b""
        try:
            row = payer_files.receive(db.session, data, file_name=upload.filename if upload else None, actor=g.user)
        except ValidationFailed as exc:
            db.session.rollback()
            for _field, message in exc.problems:
                flash(str(message), "danger")
            return redirect(url_for(".index"))
        audit.record(db.engine, action="import", object_type="PayerFile", object_id=row.id,
                     details={"kind": row.kind, "sha256": row.sha256, "size": len(data)})
        flash(str(_l("The %(kind)s file %(name)s was received: review it, then post or apply it.",
                     kind=row.kind, name=row.file_name)), "success")
        return redirect(url_for(".show", pk=row.id))

    def _file(self, pk):
        row = db.session.get(PayerFile, pk)
        if row is None:
            abort(404)
        return row

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        """The review: what the file says, matched to our claims, and what posting / applying would do."""
        row = self._file(pk)
        try:
            result = payer_files.review(db.session, row)
        except DomainError as exc:  # a stored file that no longer reads (should not happen: it was read at upload)
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for(".index"))
        audit.record(db.engine, action="view", object_type="PayerFile", object_id=row.id,
                     details={"kind": row.kind, "patients": result.patient_ids})
        return self.render_template(
            "payer_files/show.html", row=row, review=result, kind_labels=payer_files.KIND_LABELS,
            status_labels=payer_files.STATUS_LABELS, claim_status=claim_service.status_label,
            describe_adjustment=codes.describe_adjustment, describe_remark=codes.describe_remark,
            processable=row.status in payer_files.PROCESSABLE,
            can_write=self.appbuilder.sm.has_access("can_write", "PayerFile"))

    @expose("/<int:pk>/process", methods=["POST"])
    @has_access
    def process(self, pk):
        """Post (835) or apply (999 / 277CA) the file; nothing happens twice, a refusal changes nothing."""
        row = self._file(pk)
        try:
            result = payer_files.process(db.session, row, actor=g.user,
                                         expected_version=request.form.get("version", type=int))
        except ValidationFailed as exc:
            db.session.rollback()
            for _field, message in exc.problems:
                flash(str(message), "danger")
            return redirect(url_for(".show", pk=pk))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for(".show", pk=pk))
        audit.record(db.engine, action="import", object_type="PayerFile", object_id=row.id,
                     details={"kind": row.kind, "status": row.status, "patients": result.patient_ids})
        flash(str(row.note or ""), "success")
        return redirect(url_for(".show", pk=pk))
