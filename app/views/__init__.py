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
    # Scheduling calendar
    from .calendar import CalendarView

    appbuilder.add_view(CalendarView, "Calendar", label=_l("Calendar"), icon="fa-calendar", category="Schedule",
                        category_label=_l("Schedule"), category_icon="fa-calendar")
    # Booking, appointment page, find a slot, chart panel
    from .appointments import AppointmentView

    appbuilder.add_view(AppointmentView, "Find a slot", href="/appointments/slots", label=_l("Find a slot"),
                        icon="fa-search", category="Schedule", category_label=_l("Schedule"))
    # Patient-flow board and its home cards
    from .flow import FlowBoardView

    appbuilder.add_view(FlowBoardView, "Flow board", label=_l("Flow board"), icon="fa-random", category="Schedule",
                        category_label=_l("Schedule"), category_icon="fa-calendar")
    # Scheduling setup and waitlist
    from .scheduling_setup import AppointmentTypeView, LocationView, ProviderExceptionView, ProviderHoursView, RoomView
    from .waitlist import WaitlistView

    for view, name, label, icon in (
        (LocationView, "Locations", _l("Locations"), "fa-building"),
        (RoomView, "Rooms", _l("Rooms"), "fa-bed"),
        (AppointmentTypeView, "Appointment types", _l("Appointment types"), "fa-tags"),
        (ProviderHoursView, "Working hours", _l("Working hours"), "fa-clock-o"),
        (ProviderExceptionView, "Time off", _l("Time off"), "fa-plane"),
    ):
        appbuilder.add_view(view, name, label=label, icon=icon, category="Administration")

    appbuilder.add_view(WaitlistView, "Waitlist", label=_l("Waitlist"), icon="fa-hourglass-half", category="Schedule",
                        category_label=_l("Schedule"), category_icon="fa-calendar")
    appbuilder.add_view(AuditTrailView, "Audit trail", label=_l("Audit trail"), icon="fa-shield",
                        category="Compliance", category_label=_l("Compliance"), category_icon="fa-shield")
    appbuilder.add_view_no_menu(DisclosureView)
    appbuilder.add_view_no_menu(PatientDocumentView)
    appbuilder.add_view_no_menu(ResultsLetterView)
    # Appointment letters and the reminder outbox
    from .appointment_letters import AppointmentLetterView
    from .reminders import ReminderOutboxView

    appbuilder.add_view_no_menu(AppointmentLetterView)
    appbuilder.add_view(ReminderOutboxView, "Reminders", label=_l("Reminders"), icon="fa-envelope",
                        category="Administration")
    # Billing settings, service facilities, payers, coverages
    from .billing_setup import BillingSettingsView, PayerView, ServiceFacilityView
    from .coverage import CoverageView

    appbuilder.add_view(BillingSettingsView, "Billing settings", label=_l("Billing settings"), icon="fa-building-o",
                        category="Billing", category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_view(ServiceFacilityView, "Service facilities", label=_l("Service facilities"), icon="fa-hospital-o",
                        category="Billing", category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_view(PayerView, "Payers", label=_l("Payers"), icon="fa-university", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_view_no_menu(CoverageView)
    # Fee schedule and the ICD-10-CM code search
    from .codes import FeeScheduleView, Icd10View

    appbuilder.add_view(FeeScheduleView, "Fee schedule", label=_l("Fee schedule"), icon="fa-list-alt",
                        category="Billing", category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_view_no_menu(Icd10View)
    # Eligibility checks, X12 270/271
    from .eligibility import EligibilityView

    appbuilder.add_view(EligibilityView, "Eligibility", label=_l("Eligibility"), icon="fa-check-square-o",
                        category="Billing", category_label=_l("Billing"), category_icon="fa-usd")
    # Encounters: diagnoses and charge lines
    from .encounters import EncounterView

    appbuilder.add_view(EncounterView, "Encounters", label=_l("Encounters"), icon="fa-stethoscope", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    # Copays collected at the desk, receipts
    from .copays import CopayView

    appbuilder.add_view(CopayView, "Copays", label=_l("Copays"), icon="fa-money", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    from . import billing_cards  # noqa: F401  home cards of insurance and charges
    from .reports import register_report_views

    register_report_views(appbuilder)
    # Claims: work queue, denied claims, claim page, batches (837P), CMS-1500 prints, chart panel
    from .claims import ClaimView

    appbuilder.add_view(ClaimView, "Claims", label=_l("Claims"), icon="fa-file-text", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_link("Denied claims", href="/claims/denied", label=_l("Denied claims"), icon="fa-ban",
                        category="Billing")
    # Payer files: 835 remittances, 999 / 277CA acknowledgements: upload, review, post, apply
    from .payer_files import PayerFileView

    appbuilder.add_view(PayerFileView, "Payer files", label=_l("Payer files"), icon="fa-inbox", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    # Referrals: outgoing / incoming referrals, overdue list, specialist directory, chart panel, home card
    from .referrals import ReferralView, SpecialistView

    appbuilder.add_view(ReferralView, "Referrals", label=_l("Referrals"), icon="fa-share", category="Referrals",
                        category_label=_l("Referrals"), category_icon="fa-share")
    appbuilder.add_link("Overdue referrals", href="/referrals/overdue", label=_l("Overdue referrals"),
                        icon="fa-clock-o", category="Referrals")
    appbuilder.add_view(SpecialistView, "Specialists", label=_l("Specialists"), icon="fa-user-md",
                        category="Referrals", category_label=_l("Referrals"), category_icon="fa-share")
    # Prior authorizations: alert list, patient's authorizations, chart panel, home card
    from .authorizations import AuthorizationView

    appbuilder.add_view(AuthorizationView, "Authorizations", label=_l("Authorizations"), icon="fa-id-card-o",
                        category="Referrals", category_label=_l("Referrals"), category_icon="fa-share")
    # Inventory core: stock on hand, movements and their forms, items, suppliers, stock locations
    from .inventory import InventoryItemView, StockLocationView, StockView, SupplierView

    appbuilder.add_view(StockView, "Stock", label=_l("Stock"), icon="fa-cubes", category="Inventory",
                        category_label=_l("Inventory"), category_icon="fa-cubes")
    appbuilder.add_link("Movements", href="/inventory/movements", label=_l("Movements"), icon="fa-exchange",
                        category="Inventory")
    appbuilder.add_link("Issue stock", href="/inventory/issue", label=_l("Issue stock"), icon="fa-sign-out",
                        category="Inventory")
    appbuilder.add_view(InventoryItemView, "Items", label=_l("Items"), icon="fa-tag", category="Inventory",
                        category_label=_l("Inventory"), category_icon="fa-cubes")
    appbuilder.add_view(SupplierView, "Suppliers", label=_l("Suppliers"), icon="fa-truck", category="Inventory",
                        category_label=_l("Inventory"), category_icon="fa-cubes")
    appbuilder.add_view(StockLocationView, "Stock locations", label=_l("Stock locations"), icon="fa-archive",
                        category="Inventory", category_label=_l("Inventory"), category_icon="fa-cubes")
    # Inventory lists (low stock, expiring), purchase orders, inventory home cards
    from .purchasing import InventoryListView, PurchaseOrderView

    appbuilder.add_view(InventoryListView, "Low stock", href="/inventory/lists/low-stock", label=_l("Low stock"),
                        icon="fa-battery-quarter", category="Inventory", category_label=_l("Inventory"),
                        category_icon="fa-cubes")
    appbuilder.add_link("Expiring", href="/inventory/lists/expiring", label=_l("Expiring"), icon="fa-hourglass-end",
                        category="Inventory")
    appbuilder.add_view(PurchaseOrderView, "Purchase orders", label=_l("Purchase orders"), icon="fa-shopping-cart",
                        category="Inventory", category_label=_l("Inventory"), category_icon="fa-cubes")
    from . import inventory_cards  # noqa: F401  home cards: low stock, expiring lots
    # Payments: payer payments (list, typed in with a preview, detail), patient payments, the Account chart panel
    from .payments import PatientPaymentView, PayerPaymentView

    appbuilder.add_view(PayerPaymentView, "Payments", label=_l("Payments"), icon="fa-money", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
    appbuilder.add_view(PatientPaymentView, "Patient payments", label=_l("Patient payments"), icon="fa-credit-card",
                        category="Billing", category_label=_l("Billing"), category_icon="fa-usd")
    # Patient statements: chart panel and the batch run
    from .statements import StatementView

    appbuilder.add_view(StatementView, "Statements", label=_l("Statements"), icon="fa-file-text-o", category="Billing",
                        category_label=_l("Billing"), category_icon="fa-usd")
