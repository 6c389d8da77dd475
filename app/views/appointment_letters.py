"""Appointment letters (confirmation, reminder, no-show) as PDF, in the patient's language."""
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l

from ..documents import letters
from ..extensions import db
from ..models.base import utcnow
from ..models.scheduling import Appointment
from ..services import audit, languages
from .patients import open_patient

# URL kind -> letter template kind
KINDS = {"confirmation": "appointment_confirmation", "reminder": "appointment_reminder", "no_show": "no_show"}


def letter_problem(kind, appointment):
    """Why letter `kind` does not fit the appointment now (None if it does)."""
    if kind == "no_show" and appointment.status != "no_show":
        return _l("A no-show letter can only be printed for an appointment marked as a no-show.")
    if kind != "no_show" and not appointment.is_active:
        return _l("This appointment is cancelled or was missed: there is nothing to confirm or remind.")
    return None


class AppointmentLetterView(BaseView):
    route_base = "/letters/appointment"
    class_permission_name = "AppointmentLetter"
    method_permission_name = {"print_letter": "print"}
    base_permissions = ["can_print"]

    @expose("/<kind>/<int:appointment_id>")
    @has_access
    def print_letter(self, kind, appointment_id):
        template = KINDS.get(kind) or abort(404)
        appointment = db.session.get(Appointment, appointment_id) or abort(404)
        patient = open_patient(appointment.patient_id)
        problem = letter_problem(kind, appointment)
        if problem:
            flash(str(problem), "danger")
            return redirect(self._back(appointment))
        lang = letters.choose_language(template, patient.preferred_language or "en")
        letter = letters.render(template, patient, letters.appointment_data(appointment, lang),
                                today=utcnow().astimezone(ZoneInfo(appointment.timezone)).date())
        if letter.fell_back:
            locale = str(g.get("locale", "en"))
            flash(str(_l("There is no such letter in %(wanted)s: it was printed in %(used)s.",
                         wanted=languages.name(letter.wanted, locale), used=languages.name(letter.language, locale))),
                  "warning")
        audit.access(db.engine, patient_id=patient.id, action="print", object_type="Letter", object_id=template,
                     details={"language": letter.language, "appointment_id": appointment.id})
        return Response(letter.pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{kind}-letter-{appointment.id}.pdf"',
            "Cache-Control": "no-store"})

    @staticmethod
    def _back(appointment):
        if "AppointmentView.show" in current_app.view_functions:
            return url_for("AppointmentView.show", pk=appointment.id)
        return url_for("PatientDeskView.chart", pk=appointment.patient_id)
