"""Register every view with its menu entry."""
from flask_babel import lazy_gettext as _l


def register_views(appbuilder):
    from .patients import MyPatientsView, PatientDeskView, PatientListView
    from .documents import PatientDocumentView  # before .audit: its chart panel comes first
    from .audit import AuditTrailView, DisclosureView
    from .letters import ResultsLetterView
    from .providers import ProviderView
    from .downtime import DowntimePackView

    appbuilder.add_view(PatientDeskView, "Find patient", href="/patients/find", label=_l("Find patient"),
                        icon="fa-search", category="Patients", category_label=_l("Patients"), category_icon="fa-user")
    appbuilder.add_link("Register patient", href="/patients/register", label=_l("Register patient"),
                        icon="fa-user-plus", category="Patients")
    appbuilder.add_view(PatientListView, "Patient list", label=_l("Patient list"), icon="fa-list", category="Patients")
    appbuilder.add_view(MyPatientsView, "My patients", label=_l("My patients"), icon="fa-user-md", category="Patients")
    appbuilder.add_view(ProviderView, "Providers", label=_l("Providers"), icon="fa-user-md",
                        category="Administration", category_label=_l("Administration"), category_icon="fa-cogs")
    appbuilder.add_view(DowntimePackView, "Downtime pack", label=_l("Downtime pack"), icon="fa-print",
                        category="Administration")
    appbuilder.add_view(AuditTrailView, "Audit trail", label=_l("Audit trail"), icon="fa-shield",
                        category="Compliance", category_label=_l("Compliance"), category_icon="fa-shield")
    appbuilder.add_view_no_menu(DisclosureView)
    appbuilder.add_view_no_menu(PatientDocumentView)
    appbuilder.add_view_no_menu(ResultsLetterView)
    from .reports import register_report_views

    register_report_views(appbuilder)
