"""Reports menu: the list of reports the user may run, and one page per report (form, results,
PDF and CSV). Parameters travel in the POST body only: they may identify a patient."""
from flask import Response, abort, flash, g, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from ..extensions import db
from ..reports import all_reports, get_report
from ..reports import runner
from ..services import languages
from ..services.errors import ValidationFailed


class ReportsView(BaseView):
    route_base = "/reports"
    class_permission_name = "Report"  # not "Reports": that is the menu category, and FAB would drop its menu_access on every sync
    method_permission_name = {"index": "read", "run": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        reports = runner.runnable(all_reports(), g.user, self.appbuilder.sm)
        return self.render_template("reports/index.html", reports=reports)

    @expose("/<report>/", methods=["GET", "POST"])
    @has_access
    def run(self, report):
        """GET shows the form with the defaults; POST runs (format html, pdf or csv).

        A POST carrying `defaults` (the home-page buttons) runs with every parameter at its
        default except those it names; otherwise every parameter field counts as given.
        """
        definition = get_report(report) or abort(404)
        sm = self.appbuilder.sm
        if not runner.may_run(definition, g.user, sm):
            abort(403)
        locale = str(get_locale())
        form = FlaskForm()  # the CSRF token; the parameter fields are drawn from the definition
        errors, result = {}, None
        values = runner.parse_params(definition, {}, locale=locale, session=db.session).form
        if request.method == "POST":
            if not form.validate_on_submit():
                abort(400)
            fields = [key for param in definition.params for key in param.fields()]
            if request.form.get("defaults"):
                raw = {key: request.form[key] for key in fields if key in request.form}
            else:
                raw = {key: request.form.get(key, "") for key in fields}
            fmt = request.form.get("format", "html")
            try:
                result = runner.run(definition, raw, user=g.user, sm=sm, fmt=fmt,
                                    localized=bool(request.form.get("localized")), engine=db.engine, session=db.session)
            except ValidationFailed as exc:
                for key, message in exc.problems:
                    errors.setdefault(key, []).append(message)
                values = getattr(exc, "form", None) or {key: raw.get(key, "") for key in fields}
                flash(str(_l("Nothing was run: correct the parameters marked below.")), "danger")
                for message in errors.pop(None, []):
                    flash(str(message), "danger")
            except runner.ReportTimeout as exc:
                flash(str(exc.message), "danger")
                values = {key: raw.get(key, "") for key in fields}
            else:
                values = result.params.form
                if fmt == "pdf":
                    return self._download(runner.to_pdf(result), "application/pdf", runner.filename(result, "pdf"))
                if fmt == "csv":
                    return self._download(runner.to_csv_bytes(result), "text/csv; charset=utf-8",
                                          runner.filename(result, "csv"))
        table = runner.table(result) if result else None
        return self.render_template(
            "reports/run.html", report=definition, form=form, values=values, errors=errors, result=result,
            table=table, chart=runner.chart_svg(result) if result else None,
            generated=runner.generated_line(result) if result else None,
            providers=runner.provider_choices(db.session) if any(p.type == "provider" for p in definition.params) else [],
            language_choices=languages.common_choices(locale) if any(p.type == "language" for p in definition.params) else [],
        )

    @staticmethod
    def _download(body, mimetype, name):
        return Response(body, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def register_report_views(appbuilder):
    """The Reports menu: an overview, then one entry per report (menu access = can_run's view menu)."""
    appbuilder.add_view(ReportsView, "All reports", label=_l("All reports"), icon="fa-list",
                        category="Reports", category_label=_l("Reports"), category_icon="fa-bar-chart")
    for report in all_reports().values():
        appbuilder.add_link(report.view_menu, href=f"/reports/{report.name}/", label=report.title,
                            icon="fa-file-text-o", category="Reports")
