"""The downtime pack screen: pick a day and a location, get the PDF (an audited print)."""
from datetime import timedelta

from flask import Response, g
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField

from ..documents import downtime
from ..extensions import db
from ..models import Location
from ..services import audit, dates
from .forms import LocaleDateField

TITLE = _l("Downtime pack")


class DowntimePackForm(FlaskForm):
    day = LocaleDateField(_l("Date"))
    location = SelectField(_l("Location"), choices=[], validate_choice=False)


def print_pack(pack, *, locale, username, who=None):
    """Render the pack and record the print in the audit trail (no names in the row)."""
    pdf = downtime.render(pack, locale=locale, printed_by=username, title=str(TITLE))
    audit.record(db.engine, action="print", object_type="DowntimePack", details=downtime.audit_details(pack),
                 **({"who": who} if who else {}))
    return pdf


class DowntimePackView(BaseView):
    route_base = "/downtime-pack"
    class_permission_name = "DowntimePack"
    method_permission_name = {"index": "print"}
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def index(self):
        """The parameters travel in the POST body; the answer is the PDF as a download."""
        locale = str(get_locale())
        form = DowntimePackForm()
        locations = db.session.query(Location).filter_by(active=True).order_by(Location.name).all()
        form.location.choices = [("", str(_l("All locations")))] + [(str(loc.id), loc.name) for loc in locations]
        if not form.is_submitted():
            form.day.data = dates.format_input(dates.clinic_today() + timedelta(days=1), locale)
        if form.validate_on_submit():
            day = dates.parse_input(form.day.data or "", locale)
            location_id = form.location.data or None
            if day is None:
                form.day.errors = [_l("Not a valid date.")]
            elif location_id and location_id not in {str(loc.id) for loc in locations}:
                form.location.errors = [_l("Unknown value.")]
            else:
                pack = downtime.build_pack(db.session, day, int(location_id) if location_id else None, locale=locale)
                pdf = print_pack(pack, locale=locale, username=g.user.username)
                return Response(pdf, mimetype="application/pdf", headers={
                    "Content-Disposition": f'attachment; filename="downtime-pack-{day.isoformat()}.pdf"',
                    "Cache-Control": "no-store"})
        return self.render_template("downtime/form.html", form=form, title=TITLE,
                                    date_example=dates.input_pattern(locale))
