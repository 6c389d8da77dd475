"""Security manager and the clinic's roles, defined in code and synced into the database."""
from flask_appbuilder.security.sqla.manager import SecurityManager

from .auth_manager import AuthHardeningMixin
from .models.user import ClinicUser
from .views.auth import AuthDBView, ResetMyPasswordView, ResetPasswordView, SecurityApi, UserDBModelView

READ, WRITE, MERGE, RESTRICT = "can_read", "can_write", "can_merge", "can_restrict"
# Open clinical documents (results): minimum necessary keeps them from the front desk and billing.
READ_CLINICAL = "can_read_clinical"
# See a patient's full SSN (everyone else sees ***-**-1234): billing needs it for claims.
REVEAL_SSN = "can_reveal_ssn"
PRINT = "can_print"
# Scheduling: move an appointment along the flow (check in, room, check out) without booking
# rights; book over a clash (with a reason, audited).
UPDATE_STATUS = "can_update_status"
OVERBOOK = "can_overbook"
# Inventory: the front desk only issues stock; a manager confirms (witnesses) controlled-substance movements.
ISSUE = "can_issue"
CONFIRM = "can_confirm"
# Claims: the front desk sees where a claim stands (number, date, payer, status), never its codes or amounts.
READ_STATUS = "can_read_status"

# Menu entries each role sees (FAB checks "menu_access" on the menu item name).
MENUS = {
    "patients": ["Patients", "Find patient", "Register patient", "Patient list"],
    "providers": ["Providers"],
    "schedule": ["Schedule", "Calendar", "Flow board", "Find a slot", "Waitlist"],
    "scheduling_setup": ["Locations", "Rooms", "Appointment types", "Working hours", "Time off"],
    "billing_setup": ["Billing", "Billing settings", "Service facilities", "Payers", "Fee schedule"],
    "billing_work": ["Billing", "Eligibility", "Encounters", "Copays"],
    "claims": ["Billing", "Claims", "Denied claims", "Payer files", "Payments", "Patient payments", "Statements"],
    "referrals": ["Referrals", "Overdue referrals", "Specialists", "Authorizations"],
    "inventory": ["Inventory", "Stock", "Items", "Suppliers", "Stock locations", "Movements", "Issue stock",
                  "Low stock", "Expiring", "Purchase orders"],
}

# Least privilege: role -> {view_menu: [permissions]}. Admin gets everything.
ROLE_DEFINITIONS = {
    "FrontDesk": {
        "Patient": [READ, WRITE],
        "PatientDocument": [READ, WRITE],  # files result faxes too, but cannot open them
        "Disclosure": [READ, WRITE],
        "Provider": [READ],
        "DowntimePack": [PRINT],  # contingency plan: the day's schedule on paper
        "Appointment": [READ, WRITE, UPDATE_STATUS],
        "FlowBoard": [READ],
        "Waitlist": [READ, WRITE],
        "SchedulingSetup": [READ],
        "AppointmentLetter": [PRINT],
        "Coverage": [READ, WRITE],
        "Eligibility": [READ, WRITE],
        "Copay": [READ, WRITE],
        "Claim": [READ_STATUS],  # a claim's number, date, payer and status on the chart, nothing else
        "PatientPayment": [READ, WRITE],  # payments on account, the Account chart panel
        "PriorAuthorization": [READ, WRITE],
        "Referral": [READ, WRITE],
        "Specialist": [READ, WRITE],
        "Inventory": [ISSUE],  # the issue screen only
        "menus": MENUS["patients"] + MENUS["schedule"] + MENUS["scheduling_setup"] + MENUS["referrals"]
        + ["Administration", "Providers", "Downtime pack", "Billing", "Eligibility", "Copays", "Patient payments",
           "Inventory", "Issue stock"],
    },
    "Billing": {
        "Patient": [READ, REVEAL_SSN],
        "PatientDocument": [READ],
        "Provider": [READ],
        "Appointment": [READ],  # which visits happened, to charge them
        "BillingSetup": [READ, WRITE],
        "Coverage": [READ, WRITE],
        "Eligibility": [READ, WRITE],
        "Encounter": [READ, WRITE],
        "Icd10": [READ],
        "Copay": [READ, WRITE],
        "Claim": [READ, WRITE],  # claims, batches, CMS-1500
        "PayerFile": [READ, WRITE],  # 835 / 999 / 277CA files: upload, review, post, apply
        "Payment": [READ, WRITE],
        "PatientPayment": [READ, WRITE],
        "Statement": [READ, WRITE, PRINT],
        "PriorAuthorization": [READ, WRITE],
        "Referral": [READ],
        "Specialist": [READ],
        "menus": ["Patients", "Find patient", "Patient list", "Schedule", "Calendar"]
        + MENUS["billing_setup"] + MENUS["billing_work"] + MENUS["claims"] + MENUS["referrals"],
    },
    "Clinician": {
        "Patient": [READ],
        "PatientDocument": [READ, WRITE, READ_CLINICAL],
        "ResultsLetter": [WRITE],
        "Provider": [READ],
        "Appointment": [READ, UPDATE_STATUS],  # rooms and completes their visits; books nothing
        "FlowBoard": [READ],
        # Diagnoses and charges of their own encounters only (row rule in the encounter service).
        "Encounter": [READ, WRITE],
        "Icd10": [READ],
        "PriorAuthorization": [READ],
        "Referral": [READ, WRITE],
        "Specialist": [READ],
        "menus": ["Patients", "Find patient", "My patients", "Patient list", "Schedule", "Calendar", "Flow board",
                  "Billing", "Encounters"] + MENUS["referrals"],
    },
    "OfficeManager": {
        "Patient": [READ, WRITE, MERGE, RESTRICT, REVEAL_SSN],
        "PatientDocument": [READ, WRITE, READ_CLINICAL],
        "Disclosure": [READ, WRITE],
        "Provider": [READ, WRITE],
        "DowntimePack": [PRINT],
        "Appointment": [READ, WRITE, UPDATE_STATUS, OVERBOOK],
        "FlowBoard": [READ],
        "Waitlist": [READ, WRITE],
        "SchedulingSetup": [READ, WRITE],
        "AppointmentLetter": [PRINT],
        "ReminderOutbox": [READ],
        "BillingSetup": [READ, WRITE],
        "Coverage": [READ, WRITE],
        "Eligibility": [READ, WRITE],
        "Encounter": [READ],
        "Icd10": [READ],
        "Copay": [READ, WRITE],
        "Claim": [READ],  # claims and batches, read only
        "PayerFile": [READ],  # list and review only
        "Payment": [READ],
        "PatientPayment": [READ, WRITE],
        "Statement": [READ, PRINT],
        "PriorAuthorization": [READ, WRITE],
        "Referral": [READ, WRITE],
        "Specialist": [READ, WRITE],
        "Inventory": [READ, WRITE, CONFIRM, ISSUE],
        "PurchaseOrder": [READ, WRITE],
        "menus": MENUS["patients"] + MENUS["schedule"] + MENUS["scheduling_setup"]
        + ["Administration", "Providers", "Downtime pack", "Reminders"] + MENUS["billing_setup"] + MENUS["billing_work"]
        + MENUS["claims"] + MENUS["referrals"] + MENUS["inventory"],
    },
    "Auditor": {
        "AuditTrail": [READ],
        "menus": ["Compliance", "Audit trail"],
    },
}
# Every authenticated user may do these (profile, password, home page).
COMMON = [
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
    ("twofactor", "UserDBModelView"),  # profile button: set up two-step sign-in
    ("can_enroll", "TwoFactorView"),
]


def role_definition(role_name):
    """ROLE_DEFINITIONS[role_name] plus what the report definitions (reports/*.py) grant it:
    can_run on Report:<name> for each report naming the role, and the Reports menu."""
    from .reports.definitions import report_grants

    spec = {key: list(perms) for key, perms in ROLE_DEFINITIONS[role_name].items()}
    for key, perms in report_grants().get(role_name, {}).items():
        spec[key] = spec.get(key, []) + [p for p in perms if p not in spec.get(key, [])]
    return spec


def role_permissions(role_name):
    """Set of (permission, view_menu) pairs that `role_name` holds by definition."""
    spec = role_definition(role_name)
    pairs = set(COMMON)
    for view_menu, perms in spec.items():
        if view_menu == "menus":
            pairs.update(("menu_access", m) for m in perms)
        else:
            pairs.update((p, view_menu) for p in perms)
    return pairs


def permission_matrix_markdown():
    """The role x resource x permission matrix as a Markdown table (README, `flask clinic roles-matrix`)."""
    roles = list(ROLE_DEFINITIONS)
    specs = {role: role_definition(role) for role in roles}
    resources = sorted({r for spec in specs.values() for r in spec if r != "menus"})
    lines = ["| resource | Admin | " + " | ".join(roles) + " |", "|---|---|" + "---|" * len(roles)]
    for resource in resources:
        cells = []
        for role in roles:
            perms = specs[role].get(resource, [])
            cells.append(", ".join(p.replace("can_", "") for p in perms) or "—")
        lines.append(f"| {resource} | all | " + " | ".join(cells) + " |")
    return "\n".join(lines)


class ClinicSecurityManager(AuthHardeningMixin, SecurityManager):
    user_model = ClinicUser
    authdbview = AuthDBView
    userdbmodelview = UserDBModelView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView
    security_api = SecurityApi
    # FAB's user statistics chart loads Google Charts from the internet: never register it.
    userstatschartview = None

    def _audit_login(self, action, user=None, username=None):
        from .extensions import db
        from .services import audit

        who = dict(audit.actor(), user_id=user.id if user else None, username=(user.username if user else username or "")[:128])
        audit.record(db.engine, action=action, object_type="User", object_id=user.id if user else None, who=who)

    def on_user_login(self, user):
        self._audit_login("login", user)

    def on_user_login_failed(self, user):
        self._audit_login("login_failed", user)

    def on_user_logout(self, user):
        self._audit_login("logout", user)

    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is None and username:
            known = self.find_user(username=username) or self.find_user(email=username)
            if known is None or not known.is_active:
                # Unknown or disabled accounts: FAB calls no hook for these.
                self._audit_login("login_failed", known, username=username)
        return user


def sync_permissions_and_roles(appbuilder, *, prune=False, check=False):
    """Create every view's permissions, then write the code roles; return the drift lines.

    The Admin role must exist before FAB creates view permissions: FAB grants each new
    permission to Admin as it creates it and stops at the first view if Admin is missing.
    """
    sm = appbuilder.sm
    if not check:
        for name in (sm.auth_role_admin, sm.auth_role_public):
            if sm.find_role(name) is None:
                sm.add_role(name)
        appbuilder.add_permissions(update_perms=True)
    return sync_roles(sm, prune=prune, check=check)


def sync_roles(sm, *, prune=False, check=False):
    """Write ROLE_DEFINITIONS into ordinary DB roles; return a list of drift lines.

    With check=True nothing is written. With prune=True permissions not in the code
    definition are removed (otherwise changes made by admins in the UI are kept).
    """
    drift = []
    targets = {name: role_permissions(name) for name in ROLE_DEFINITIONS}
    if not check:
        for perm, view in set().union(*targets.values()):
            sm.add_permission_view_menu(perm, view)
    all_pvms = sm.session.query(sm.permissionview_model).all()
    targets[sm.auth_role_admin] = {(pv.permission.name, pv.view_menu.name) for pv in all_pvms}
    for role_name, wanted in targets.items():
        role = sm.find_role(role_name)
        if role is None:
            drift.append(f"{role_name}: role missing")
            if check:
                continue
            role = sm.add_role(role_name)
        have = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions} if role else set()
        for perm, view in sorted(wanted - have):
            drift.append(f"{role_name}: missing {perm} on {view}")
            if not check:
                pv = sm.add_permission_view_menu(perm, view)
                sm.add_permission_role(role, pv)
        for perm, view in sorted(have - wanted):
            drift.append(f"{role_name}: extra {perm} on {view}")
            if prune and not check:
                sm.del_permission_role(role, sm.find_permission_view_menu(perm, view))
    return drift
