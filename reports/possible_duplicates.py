"""Possible duplicate patients: same folded name and birth date, neither record merged yet."""
from flask_babel import lazy_gettext as _l

from app.reports import Column, Param, Report, day_bounds, last_days
from app.services.registry_stats import duplicate_pairs


def query(conn, p):
    since, before = day_bounds(*(p["registered"] or (None, None)))
    stmt, newer, older = duplicate_pairs(since, before)
    stmt = stmt.with_only_columns(
        newer.id.label("patient_id"), newer.mrn.label("mrn"), newer.family_name.label("family_name"),
        newer.given_name.label("given_name"), newer.birth_date.label("birth_date"),
        newer.created_on.label("registered"), older.id.label("older_id"), older.mrn.label("older_mrn"),
        older.created_on.label("older_registered"),
    ).order_by(newer.created_on.desc(), newer.id)
    return stmt


REPORT = Report(
    title=_l("Possible duplicate patients"),
    description=_l("Records with the same name and birth date that have not been merged: "
                   "check them and merge the duplicate into the record to keep."),
    params=[Param("registered", "daterange", _l("Newer record registered between"), default=last_days(30),
                  help=_l("Leave empty to check every record (slower)."))],
    query=query,
    columns=[
        Column("mrn", _l("MRN (newer)"), link="patient", total="count"),
        Column("family_name", _l("Family name")),
        Column("given_name", _l("Given name")),
        Column("birth_date", _l("Birth date"), "date"),
        Column("registered", _l("Registered"), "date"),
        Column("older_mrn", _l("MRN (older)")),
        Column("older_registered", _l("Older record registered"), "date"),
    ],
    roles=["OfficeManager"],
    patient_data=True,
    order=50,
)
