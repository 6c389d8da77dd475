"""Accounts receivable aging by patient: each patient's balance due, by days since the service."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.reports import Column, Param, Report
from app.services.aging import BUCKET_LABELS, aging

BUCKET_COLUMNS = [Column(name, label, "money", total="sum") for name, label in BUCKET_LABELS.items()]


def query(conn, p):
    session = Session(bind=conn)  # read only: the runner's connection cannot write
    try:
        rows = []
        for row in aging(session, as_of=p["as_of"], by="patient"):
            if p["owing_only"] and row.total <= 0:
                continue
            rows.append({"patient_id": row.key, "patient": row.name, "visits": row.items, **row.as_dict()})
        mrns = _mrns(session, [r["patient_id"] for r in rows])
        for r in rows:
            r["mrn"] = mrns.get(r["patient_id"], "")
        return rows
    finally:
        session.close()


def _mrns(session, ids):
    from sqlalchemy import select

    from app.models import Patient

    return dict(session.execute(select(Patient.id, Patient.mrn).where(Patient.id.in_(ids))).all()) if ids else {}


REPORT = Report(
    title=_l("Accounts receivable aging by patient"),
    description=_l("Each patient's balance due (their share of claims, self-pay visits, less copays and payments "
                   "on account, which pay the oldest balances first), in buckets of days counted from the date of "
                   "service to the “as of” date. Balances are as posted today; services after that date are left out."),
    params=[Param("as_of", "date", _l("As of"), default=lambda today: today, required=True),
            Param("owing_only", "bool", _l("Only patients who owe (leave out credit balances)"), default=True)],
    query=query,
    columns=[Column("patient", _l("Patient"), link="patient", total="count"), Column("mrn", _l("MRN")),
             Column("visits", _l("Visits with a balance"), "int", total="sum")] + BUCKET_COLUMNS,
    roles=["Billing", "OfficeManager"],
    patient_data=True,
    order=142,
)
