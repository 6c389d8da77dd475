"""Home page: the patient search box for roles that find patients."""
from flask import g, redirect, url_for
from flask_appbuilder import IndexView, expose


class HomeView(IndexView):
    route_base = ""

    @expose("/")
    def index(self):
        if not g.user or not g.user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login"))
        sm = self.appbuilder.sm
        return self.render_template(
            "home.html",
            can_find=sm.has_access("can_read", "Patient"),
            can_register=sm.has_access("can_write", "Patient"),
        )
