"""Overdue referrals: due before the chosen day and still not scheduled (draft, sent or received)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.reports import Column, Param, Report
from app.services import referrals
from app.services.referrals import DIRECTION_LABELS, STATUS_LABELS, URGENCY_LABELS


def query(conn, p):
    day = p["as_of"]
    with Session(bind=conn) as session:  # the runner's read-only connection; the service's own rule
        rows = []
        for r in referrals.overdue(session, today=day):
            if p["direction"] and p["direction"] != "all" and r.direction != p["direction"]:
                continue
            rows.append({
                "due_date": r.due_date, "days_overdue": (day - r.due_date).days, "patient_id": r.patient_id,
                "patient": f"{r.patient.family_name}, {r.patient.given_name}", "mrn": r.patient.mrn,
                "direction": r.direction,
                "other": (f"{r.specialist.name} ({r.specialist.specialty})" if r.direction == "outgoing"
                          else r.referring_practice),
                "urgency": r.urgency, "status": r.status, "referral_date": r.referral_date})
        return rows


REPORT = Report(
    title=_l("Overdue referrals"),
    description=_l("Referrals whose due date is before the chosen day and that are still not scheduled: drafts not "
                   "sent, referrals sent to a specialist without an appointment, referrals received from another "
                   "practice not yet booked. The due date defaults by urgency (stat 1 day, urgent 3, routine 14)."),
    params=[
        Param("as_of", "date", _l("Overdue on"), default=lambda today: today, required=True),
        Param("direction", "choice", _l("Direction"), default="all",
              choices=(("all", _l("All")),) + tuple((d, DIRECTION_LABELS[d]) for d in ("outgoing", "incoming"))),
    ],
    query=query,
    columns=[
        Column("due_date", _l("Due"), "date"),
        Column("days_overdue", _l("Days overdue"), "int"),
        Column("patient", _l("Patient"), link="patient", total="count"),
        Column("mrn", _l("MRN")),
        Column("direction", _l("Direction"), labels=DIRECTION_LABELS),
        Column("other", _l("Specialist or referring practice")),
        Column("urgency", _l("Urgency"), labels=URGENCY_LABELS),
        Column("status", _l("Status"), labels=STATUS_LABELS),
        Column("referral_date", _l("Referral date"), "date"),
    ],
    roles=["FrontDesk", "Clinician", "OfficeManager", "Billing"],
    patient_data=True,
    order=130,
)
