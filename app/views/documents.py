"""Documents on the patient chart: upload, list, preview/download (audited), withdraw."""
import io

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from ..extensions import db
from ..models.document import KINDS
from ..services import audit, dates
from ..services import documents as document_service
from ..services.errors import DomainError, ValidationFailed
from .forms import LocaleDateField
from .patients import apply_problems, open_patient, register_chart_section, to_surviving_record

KIND_LABELS = {
    "referral": _l("Referral"),
    "result": _l("Result (lab, imaging, report)"),
    "id_card": _l("ID card"),
    "insurance_card": _l("Insurance card"),
    "consent_form": _l("Consent form"),
    "other": _l("Other"),
}
CHART_LIMIT = 20
# The file responses are untrusted bytes: nothing may run, load or frame them. Chromium
# still shows PDFs and images inline under this policy (tests/browser/test_documents.py).
FILE_CSP = {
    "default-src": "'none'",
    "img-src": "'self'",
    "style-src": "'unsafe-inline'",
    "sandbox": "",
    "frame-ancestors": "'none'",
}


def file_response_policy(view):
    """Talisman per-view options: the file CSP instead of the page CSP."""
    view.talisman_view_options = {"content_security_policy": FILE_CSP, "content_security_policy_nonce_in": []}
    return view


def may_read_clinical():
    return current_app.appbuilder.sm.has_access("can_read_clinical", "PatientDocument")


def human_size(size):
    if size < 1024 * 1024:
        return _l("%(n)s KB", n=format_decimal(max(1, round(size / 1024))))
    return _l("%(n)s MB", n=format_decimal(round(size / (1024 * 1024), 1)))


class DocumentUploadForm(FlaskForm):
    kind = SelectField(_l("Kind of document"), choices=[("", "—")] + [(k, KIND_LABELS[k]) for k in KINDS],
                       validate_choice=False)
    document_date = LocaleDateField(_l("Date on the document"))
    title = StringField(_l("Title"))
    source = StringField(_l("Received from"), description=_l("e.g. fax from Springfield Cardiology"))
    file = FileField(_l("File"))


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why is this document withdrawn (e.g. filed to the wrong patient)?"))


def _chart_url(patient):
    return url_for("PatientDeskView.chart", pk=patient.id) + "#chart-documents"


class PatientDocumentView(BaseView):
    route_base = "/patients"
    class_permission_name = "PatientDocument"
    method_permission_name = {"upload": "write", "index": "read", "preview": "read", "download": "read",
                              "withdraw": "write"}
    # can_read_clinical guards no method of its own: listed so FAB keeps it on this name.
    base_permissions = ["can_read", "can_write", "can_read_clinical"]

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.register_error_handler(413, self._too_large)
        return blueprint

    def _too_large(self, exc):
        """A body over MAX_CONTENT_LENGTH: say so in words, nothing was read or filed."""
        limit = document_service.max_bytes() // document_service.MIB
        return self.render_template("patient_documents/too_large.html", limit=limit, back=request.path), 413

    def _open(self, pk, doc_id):
        """The patient (through break-glass) and one document the user may open; else 403/404."""
        patient = open_patient(pk)
        try:
            document = document_service.get_document(db.session, patient=patient, document_id=doc_id,
                                                     clinical=may_read_clinical())
        except DomainError as exc:
            abort(exc.status_code, description=str(exc.message))
        return patient, document

    @expose("/<int:pk>/documents/upload", methods=["GET", "POST"])
    @has_access
    def upload(self, pk):
        patient = open_patient(pk)
        if patient.is_merged:
            return to_surviving_record(patient, anchor="#chart-documents")
        form = DocumentUploadForm()
        locale = str(get_locale())
        if request.method == "GET":
            form.document_date.data = dates.format_input(dates.date.today(), locale)
        elif form.validate_on_submit():
            raw = (form.document_date.data or "").strip()
            upload = form.file.data
            chosen = upload is not None and bool(upload.filename)
            try:
                document = document_service.store(
                    db.session, patient=patient, kind=form.kind.data, title=form.title.data, source=form.source.data,
                    document_date=(dates.parse_input(raw, locale) or raw) if raw else None,
                    stream=upload.stream if chosen else None, filename=upload.filename if chosen else None,
                )
            except DomainError as exc:  # ValidationFailed names its fields; storage errors do not
                db.session.rollback()
                apply_problems(form, getattr(exc, "problems", ()))
                flash(str(exc.message), "danger")
            else:
                if document_service.may_open(document, clinical=may_read_clinical()):
                    flash(str(_l("Document filed.")), "success")
                else:
                    flash(str(_l("Document filed. Results are visible to clinical staff only.")), "success")
                return redirect(_chart_url(patient))
        return self.render_template("patient_documents/upload.html", form=form, patient=patient,
                                    max_bytes=document_service.max_bytes(),
                                    accepted=document_service.accepted_types_label())

    @expose("/<int:pk>/documents")
    @has_access
    def index(self, pk):
        """Every document of the patient, withdrawn ones included (greyed, with the reason)."""
        patient = open_patient(pk)
        items, hidden = document_service.list_for_patient(db.session, patient, clinical=may_read_clinical(),
                                                          include_withdrawn=True)
        audit.access(db.engine, patient_id=patient.id, details={"screen": "documents"})
        return self.render_template("patient_documents/index.html", patient=patient,
                                    ctx=_section_context(patient, items, hidden, all_shown=True))

    def _send(self, pk, doc_id, inline):
        patient, document = self._open(pk, doc_id)
        try:
            data = document_service.read_content(document)
        except DomainError as exc:
            abort(exc.status_code, description=str(exc.message))
        inline = inline and document.content_type in document_service.INLINE
        audit.access(db.engine, patient_id=patient.id, object_type="PatientDocument", object_id=document.id,
                     action="view" if inline else "download",
                     details={"kind": document.kind, "status": document.status})
        response = send_file(io.BytesIO(data), mimetype=document.content_type, as_attachment=not inline,
                             download_name=document_service.download_name(document), conditional=False, etag=False,
                             max_age=0)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        return response

    @expose("/<int:pk>/documents/<int:doc_id>/preview")
    @has_access
    @file_response_policy
    def preview(self, pk, doc_id):
        """Shown in the browser (PDF, images); other types are downloaded."""
        return self._send(pk, doc_id, inline=True)

    @expose("/<int:pk>/documents/<int:doc_id>/download")
    @has_access
    @file_response_policy
    def download(self, pk, doc_id):
        return self._send(pk, doc_id, inline=False)

    @expose("/<int:pk>/documents/<int:doc_id>/withdraw", methods=["GET", "POST"])
    @has_access
    def withdraw(self, pk, doc_id):
        """Filed in error: withdraw with a reason. The file and the row are kept."""
        patient, document = self._open(pk, doc_id)
        form = WithdrawForm()
        if form.validate_on_submit():
            try:
                document_service.withdraw(db.session, document=document, reason=form.reason.data,
                                          clinical=may_read_clinical(), user_id=g.user.id)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, exc.problems)
            except DomainError as exc:
                db.session.rollback()
                abort(exc.status_code, description=str(exc.message))
            else:
                flash(str(_l("Document withdrawn. It stays on file and is listed under all documents.")), "success")
                return redirect(_chart_url(patient))
        return self.render_template("patient_documents/withdraw.html", form=form, patient=patient, document=document,
                                    kind_label=KIND_LABELS.get(document.kind, document.kind))


def _section_context(patient, items, hidden, all_shown=False):
    sm = current_app.appbuilder.sm
    return {
        "patient": patient,
        "items": items,
        "hidden": hidden,
        "all_shown": all_shown,
        "kinds": KIND_LABELS,
        "size": human_size,
        "inline": document_service.INLINE,
        "can_write": sm.has_access("can_write", "PatientDocument"),
    }


def _chart_documents(patient):
    items, hidden = document_service.list_for_patient(db.session, patient, clinical=may_read_clinical(),
                                                      limit=CHART_LIMIT)
    return _section_context(patient, items, hidden)


register_chart_section("documents", _l("Documents"), "patient_documents/_list.html", _chart_documents,
                       permission=("can_read", "PatientDocument"))
