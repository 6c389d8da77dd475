"""Home page: the patient search box for roles that find patients."""
from flask_appbuilder import IndexView, expose


class HomeView(IndexView):
    route_base = ""

    @expose("/")
    def index(self):
        sm = self.appbuilder.sm
        return self.render_template(
            "home.html",
            can_find=sm.has_access("can_read", "Patient"),
            can_register=sm.has_access("can_write", "Patient"),
        )
