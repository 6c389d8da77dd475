"""Letters to patients, written in the patient's language whatever the staff member's."""
from datetime import date

from flask import Response, flash, g, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from ..documents import letters
from ..extensions import db
from ..models import Provider
from ..services import audit, languages
from .patients import open_patient, register_chart_section

RESULT_LABELS = {
    "normal": _l("Normal: no action needed"),
    "abnormal": _l("Outside the normal range: please call us"),
    "followup": _l("Follow-up visit needed"),
}


class ResultsLetterForm(FlaskForm):
    test_name = StringField(_l("Test (as the patient should read it)"))
    result = SelectField(_l("Result"), choices=list(RESULT_LABELS.items()))
    note = TextAreaField(_l("Note to the patient (optional; printed as typed)"))


class ResultsLetterView(BaseView):
    route_base = "/letters/results"
    class_permission_name = "ResultsLetter"
    method_permission_name = {"new": "write"}

    @expose("/<int:pk>", methods=["GET", "POST"])
    @has_access
    def new(self, pk):
        patient = open_patient(pk)
        form = ResultsLetterForm()
        lang = letters.choose_language("results", patient.preferred_language)
        if form.validate_on_submit():
            test_name = (form.test_name.data or "").strip()
            note = (form.note.data or "").strip()
            if not test_name:
                form.test_name.errors = [_l("This field is required.")]
            elif len(test_name) > 200 or len(note) > 2000:
                form.note.errors = [_l("Keep the test name under 200 and the note under 2000 characters.")]
            else:
                provider = db.session.query(Provider).filter_by(user_id=g.user.id).one_or_none()
                clinician = provider.display_name if provider else f"{g.user.first_name} {g.user.last_name}"
                letter = letters.render("results", patient, {
                    "test_name": test_name, "result": form.result.data, "note": note, "clinician": clinician,
                }, today=date.today())
                audit.access(db.engine, patient_id=patient.id, action="print", object_type="Letter",
                             object_id="results", details={"language": letter.language, "result": form.result.data})
                return Response(letter.pdf, mimetype="application/pdf", headers={
                    "Content-Disposition": f'inline; filename="results-letter-{patient.mrn}.pdf"',
                    "Cache-Control": "no-store"})
        if request.method == "GET" and lang != patient.preferred_language:
            flash(str(_l("There is no results letter in %(wanted)s: it will be printed in %(used)s.",
                         wanted=languages.name(patient.preferred_language, str(g.get("locale", "en"))),
                         used=languages.name(lang, str(g.get("locale", "en"))))), "warning")
        return self.render_template("letters/results.html", form=form, patient=patient,
                                    letter_language=languages.name(lang, "en"))


def _chart_letters(patient):
    return {"patient": patient, "language": letters.choose_language("results", patient.preferred_language)}


register_chart_section("letters", _l("Letters"), "letters/_chart_letters.html", _chart_letters,
                       permission=("can_write", "ResultsLetter"))
