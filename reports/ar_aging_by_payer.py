"""Accounts receivable aging by payer: what each payer still owes on billed claims, by days since the service."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.reports import Column, Param, Report
from app.services.aging import BUCKET_LABELS, aging

BUCKET_COLUMNS = [Column(name, label, "money", total="sum") for name, label in BUCKET_LABELS.items()]


def query(conn, p):
    session = Session(bind=conn)  # read only: the runner's connection cannot write
    try:
        return [{"payer": row.name, "payer_id": row.key, "claims": row.items, **row.as_dict()}
                for row in aging(session, as_of=p["as_of"], by="payer")]
    finally:
        session.close()


REPORT = Report(
    title=_l("Accounts receivable aging by payer"),
    description=_l("The insurance balance of every billed claim (charges less what the payer paid, the "
                   "adjustments and the patient's share), by payer, in buckets of days counted from the date of "
                   "service to the “as of” date. Balances are as posted today; services after that date are left out."),
    params=[Param("as_of", "date", _l("As of"), default=lambda today: today, required=True)],
    query=query,
    columns=[Column("payer", _l("Payer")), Column("claims", _l("Claims"), "int", total="sum")] + BUCKET_COLUMNS,
    roles=["Billing", "OfficeManager"],
    patient_data=False,
    order=141,
)
