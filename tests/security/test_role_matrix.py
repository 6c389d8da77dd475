"""Least privilege, checked by walking every registered endpoint for every role.

EXPECTED names who may use each endpoint. A new view or API endpoint without an entry
here fails the suite: decide who may use it, then add it.
"""
import fnmatch
import re

import pytest

from app.security import ROLE_DEFINITIONS
from tests.conftest import Auth, make_user

ROLES = ["Admin"] + list(ROLE_DEFINITIONS)
EVERYONE = set(ROLES)
PATIENT_READ = {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"}
PATIENT_WRITE = {"Admin", "FrontDesk", "OfficeManager"}
MERGE = {"Admin", "OfficeManager"}
PROVIDER_READ = PATIENT_READ
PROVIDER_WRITE = {"Admin", "OfficeManager"}
AUDIT = {"Admin", "Auditor"}
DISCLOSURE = {"Admin", "FrontDesk", "OfficeManager"}
DOCUMENT_READ = PATIENT_READ  # results only with can_read_clinical: tests/security/test_document_uploads.py
DOCUMENT_WRITE = {"Admin", "FrontDesk", "Clinician", "OfficeManager"}
ADMIN = {"Admin"}
REPORTS = {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"}  # per report: test_report_permissions.py
NOBODY = set()
PUBLIC = "public"  # reachable without logging in (login, logout, static files ...)

MODELVIEW_DISABLED = "{add,edit,delete,download,action,action_post}"
SETUP_VIEWS = "{LocationView,RoomView,AppointmentTypeView,ProviderHoursView,ProviderExceptionView}"
EXPECTED = {
    # Patients
    "PatientDeskView.find": PATIENT_READ,
    "PatientDeskView.search": PATIENT_READ,
    "PatientDeskView.chart": PATIENT_READ,
    "PatientDeskView.break_glass": PATIENT_READ,
    "PatientDeskView.register": PATIENT_WRITE,
    "PatientDeskView.edit": PATIENT_WRITE,
    "PatientDeskView.merge": MERGE,
    "PatientDeskView.reveal_ssn": {"Admin", "Billing", "OfficeManager"},  # can_reveal_ssn
    "PatientListView.{list,show}": PATIENT_READ,
    "MyPatientsView.{list,show}": PATIENT_READ,
    "PatientListView." + MODELVIEW_DISABLED: NOBODY,  # patients change only through the desk screens
    "MyPatientsView." + MODELVIEW_DISABLED: NOBODY,
    "PatientDocumentView.{index,preview,download}": DOCUMENT_READ,
    "PatientDocumentView.{upload,withdraw}": DOCUMENT_WRITE,
    # Providers
    "ProviderView.{list,show}": PROVIDER_READ,
    "ProviderView.{add,edit,delete,action,action_post}": PROVIDER_WRITE,
    "ProviderView.download": NOBODY,
    # Billing setup and coverages (issue #8, helper H1): BillingSetup = Billing, OfficeManager
    "BillingSettingsView.{index,save}": {"Admin", "Billing", "OfficeManager"},
    "{ServiceFacilityView,PayerView}.{list,show,add,edit,delete,action,action_post}": {"Admin", "Billing",
                                                                                       "OfficeManager"},
    "{ServiceFacilityView,PayerView}.download": NOBODY,
    "CoverageView.{add,edit,void}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    # Fee schedule (BillingSetup read/write) and ICD-10-CM search (Icd10 can_read) (issue #8, helper H2)
    "FeeScheduleView.{index,upload}": {"Admin", "Billing", "OfficeManager"},
    "Icd10View.search": {"Admin", "Billing", "Clinician", "OfficeManager"},  # not the front desk (minimum necessary)
    # Scheduling setup (SchedulingSetup: read FrontDesk/OfficeManager, write OfficeManager) and waitlist
    SETUP_VIEWS + ".{list,show}": {"Admin", "FrontDesk", "OfficeManager"},
    SETUP_VIEWS + ".{add,edit,delete,action,action_post}": {"Admin", "OfficeManager"},
    SETUP_VIEWS + ".download": NOBODY,
    "WaitlistView.{index,freed}": {"Admin", "FrontDesk", "OfficeManager"},
    "WaitlistView.{add,offer,book,remove}": {"Admin", "FrontDesk", "OfficeManager"},
    # Compliance
    "AuditTrailView.index": AUDIT,
    "DisclosureView.*": DISCLOSURE,
    "ResultsLetterView.new": {"Admin", "Clinician"},  # clinical content: not front desk or billing
    "AppointmentLetterView.print_letter": {"Admin", "FrontDesk", "OfficeManager"},
    "ReminderOutboxView.{list,show}": {"Admin", "OfficeManager"},
    "ReminderOutboxView." + MODELVIEW_DISABLED: NOBODY,  # the outbox is written by send-reminders only
    "DowntimePackView.index": {"Admin", "FrontDesk", "OfficeManager"},  # contingency plan: schedule on paper
    # Appointments: can_read / can_write / can_update_status on Appointment
    "AppointmentView.{book,cancel,reschedule}": {"Admin", "FrontDesk", "OfficeManager"},
    "AppointmentView.status": {"Admin", "FrontDesk", "Clinician", "OfficeManager"},
    "AppointmentView.{show,slots}": {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"},
    # Calendar (can_read / can_write on Appointment)
    "CalendarView.{index,day,week}": {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"},
    "CalendarView.move": {"Admin", "FrontDesk", "OfficeManager"},
    # Patient-flow board (can_read on FlowBoard). The one-click steps also re-check
    # ("can_update_status", "Appointment") inside FlowBoardView.step: its holders are exactly
    # these roles, so the set is the same (tests/integration/test_flow_board.py removes it).
    "FlowBoardView.{index,board,step}": {"Admin", "FrontDesk", "Clinician", "OfficeManager"},
    # Reports (the menu and a report's page; running one needs can_run on Report:<name>)
    "ReportsView.{index,run}": REPORTS,
    # Eligibility worklist, checks and the X12 270/271 files: can_read / can_write on Eligibility
    "EligibilityView.index": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    "EligibilityView.{record,download_270,upload_271}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    # Encounters: can_read / can_write on Encounter; clinicians only their own
    # (row rule: tests/integration/test_encounters.py), never the front desk
    "EncounterView.{index,show}": {"Admin", "Billing", "Clinician", "OfficeManager"},
    "EncounterView.{from_appointment,diagnoses,add_charge,edit_charge,remove_charge,ready}":
        {"Admin", "Billing", "Clinician"},
    # Copays at the desk: can_read / can_write on Copay
    "CopayView.{index,show,receipt}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    "CopayView.{collect,void}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    # Patient statements: Statement can_read (batch list) / can_print (PDFs)
    "StatementView.{index,batch,print_statement}": {"Admin", "Billing", "OfficeManager"},
    # Referrals: can_read / can_write on Referral and on Specialist (the directory)
    "ReferralView.{index,overdue,show}": {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"},
    "ReferralView.{new,incoming,edit,status,link,reply,letter}": {"Admin", "FrontDesk", "Clinician", "OfficeManager"},
    "SpecialistView.index": {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"},
    "SpecialistView.{add,edit}": {"Admin", "FrontDesk", "OfficeManager"},
    # Prior authorizations: can_read / can_write on PriorAuthorization
    "AuthorizationView.{index,show}": {"Admin", "FrontDesk", "Billing", "Clinician", "OfficeManager"},
    "AuthorizationView.{add,edit,void}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    # Claims: Claim can_read (Billing, OfficeManager) / can_write (Billing); the front desk
    # holds can_read_status only (the chart panel) and reaches no claim screen
    "ClaimView.{index,denied,show,cms1500,print_selected,batches,download}": {"Admin", "Billing", "OfficeManager"},
    "ClaimView.{build_form,build,bulk_ready,send,transition,edit_line,refresh,prior_authorization,correct}":
        {"Admin", "Billing"},
    # Inventory lists (Inventory can_read) and purchase orders (PurchaseOrder can_read / can_write)
    "InventoryListView.{low_stock,expiring}": {"Admin", "OfficeManager"},
    "PurchaseOrderView.{index,show,pdf}": {"Admin", "OfficeManager"},
    "PurchaseOrderView.{new,edit,add_line,update_line,remove_line,send,cancel,receive,generate}": {"Admin",
                                                                                                  "OfficeManager"},
    # Inventory core: Inventory can_read / can_write (OfficeManager); can_issue (FrontDesk too):
    # the issue form is the front desk's only inventory screen
    "StockView.{index,movements}": {"Admin", "OfficeManager"},
    "StockView.move": {"Admin", "OfficeManager"},
    "StockView.issue": {"Admin", "FrontDesk", "OfficeManager"},
    "{InventoryItemView,SupplierView,StockLocationView}.{list,show,add,edit,delete,action_post}": {"Admin",
                                                                                                 "OfficeManager"},
    "{InventoryItemView,SupplierView,StockLocationView}.download": NOBODY,
    # Payer files: PayerFile can_read (Billing, OfficeManager) / can_write (Billing)
    "PayerFileView.{index,show}": {"Admin", "Billing", "OfficeManager"},
    "PayerFileView.{upload,process}": {"Admin", "Billing"},
    # Payments: Payment can_read (Billing, OfficeManager) / can_write (Billing);
    # PatientPayment can_read / can_write (Billing, FrontDesk, OfficeManager)
    "PayerPaymentView.{index,show}": {"Admin", "Billing", "OfficeManager"},
    "PayerPaymentView.new": {"Admin", "Billing"},
    "PatientPaymentView.{index,show,receipt}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    "PatientPaymentView.{take,void}": {"Admin", "FrontDesk", "Billing", "OfficeManager"},
    # Everyone who is logged in
    "HomeView.index": EVERYONE,
    "TwoFactorView.enroll": EVERYONE,
    "ResetMyPasswordView.*": EVERYONE,
    "UserDBModelView.userinfo": EVERYONE,
    # FAB refuses actions over GET when CSRF protection is on (ours is): nobody.
    "*.action": NOBODY,
    # FAB's security administration and API docs
    "UserDBModelView.*": ADMIN,
    "RoleModelView.*": ADMIN,
    "{PermissionModelView,ViewMenuModelView,PermissionViewModelView}.list": ADMIN,
    "{PermissionModelView,ViewMenuModelView,PermissionViewModelView}.*": NOBODY,  # FAB: list only
    "UserGroupModelView.*": ADMIN,
    "ResetPasswordView.*": ADMIN,
    "UserInfoEditView.*": ADMIN,
    "OpenApi.get": ADMIN,
    "SwaggerView.show": ADMIN,
    "MenuApi.get_menu_data": ADMIN,
    # Public
    "AuthDBView.{login,logout}": PUBLIC,
    "TwoFactorView.verify": PUBLIC,
    "SecurityApi.{login,refresh}": PUBLIC,
    "LocaleView.index": PUBLIC,
    "UtilView.back": PUBLIC,
    "static": PUBLIC,
    "appbuilder.static": PUBLIC,
}


def _expand(pattern):
    m = re.search(r"\{([^}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in _expand(pattern[: m.start()] + alt + pattern[m.end():])]


def expected_for(endpoint):
    matches = [roles for pattern, roles in EXPECTED.items() for p in _expand(pattern) if fnmatch.fnmatchcase(endpoint, p)]
    return matches[0] if matches else None


def action_names(app, endpoint):
    view_name = endpoint.partition(".")[0]
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == view_name)
    return list(getattr(view, "actions", {}) or {})


def endpoints(app):
    """(endpoint, url, method) of every route; actions are called by a real action name,
    and the action routes of views that declare no action are left out (nothing to run)."""
    views = {type(v).__name__: v for v in app.appbuilder.baseviews}
    out = []
    for rule in app.url_map.iter_rules():
        view_name, _, method_name = rule.endpoint.partition(".")
        view = views.get(view_name)
        actions = list(getattr(view, "actions", {}) or {})
        if method_name in ("action", "action_post") and not actions:
            continue
        methods = rule.methods - {"HEAD", "OPTIONS"}
        # pk 999999 exists nowhere: allowed roles get 404, and nothing is deleted.
        args = {a: ("en" if a == "locale" else "v1" if a == "version" else "none_sep_none" if a == "filename" else 999999)
                for a in rule.arguments}
        if "name" in rule.arguments:
            args["name"] = actions[0]
        url = rule.build(args)[1]
        # FAB refuses deletes over GET when CSRF protection is on: ask the real way.
        get = "GET" in methods and not rule.endpoint.endswith(".delete")
        out.append((rule.endpoint, url, "GET" if get else "POST"))
    return sorted(set(out))


def test_every_endpoint_has_a_rule(app):
    missing = sorted({e for e, _, _ in endpoints(app) if expected_for(e) is None})
    assert missing == [], f"endpoints without an access rule in EXPECTED: {missing}"


def _denied(client, resp):
    """403/401, a redirect to the login page, or FAB's "Access is Denied" flash + redirect."""
    if resp.status_code in (401, 403):
        return True
    if resp.status_code == 302:
        if "/login" in resp.headers.get("Location", ""):
            return True
        with client.session_transaction() as sess:
            flashes = sess.pop("_flashes", [])
        return any("Access is Denied" in str(message) for _, message in flashes)
    return False


@pytest.mark.parametrize("role", ROLES)
def test_role_gets_exactly_what_the_matrix_allows(app, role):
    client = app.test_client()
    auth = Auth(client)
    user = make_user(role)
    assert auth.login(user.username).status_code == 302
    wrong = []
    for endpoint, url, method in endpoints(app):
        allowed = expected_for(endpoint)
        if allowed == PUBLIC or allowed is None:
            continue
        if method == "GET":
            resp = client.get(url)
        else:
            data = {"csrf_token": auth.token}
            if endpoint.endswith(".action_post"):
                data["action"] = action_names(app, endpoint)[0]  # on no rows: nothing changes
            resp = client.post(url, data=data, headers={"X-CSRFToken": auth.token})
        if _denied(client, resp) == (role in allowed):
            wrong.append(f"{method} {url} ({endpoint}): {resp.status_code}, expected {'allowed' if role in allowed else 'denied'}")
    assert wrong == [], "\n".join(wrong)


def test_anonymous_users_reach_only_public_endpoints(app):
    client = app.test_client()
    wrong = []
    for endpoint, url, method in endpoints(app):
        if expected_for(endpoint) == PUBLIC:
            continue
        resp = client.get(url) if method == "GET" else client.post(url)
        if not (_denied(client, resp) or resp.status_code == 400):  # 400: CSRF refused before anything runs
            wrong.append(f"{method} {url}: {resp.status_code}")
    assert wrong == [], "\n".join(wrong)
