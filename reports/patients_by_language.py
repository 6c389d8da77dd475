"""Patients by preferred language and interpreter need, so the clinic can staff interpreters."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, case, func, select

from app.models import Patient
from app.reports import Chart, Column, Param, Report

STATUSES = (("active", _l("Active patients")), ("inactive", _l("Inactive patients")), ("all", _l("All but merged")))


def query(conn, p):
    interpreter = func.sum(case((Patient.interpreter_needed.is_(True), 1), else_=0)).cast(Integer)
    stmt = (select(Patient.preferred_language.label("language"), func.count().label("patients"),
                   interpreter.label("interpreter"))
            .where(Patient.status != "merged")
            .group_by(Patient.preferred_language))
    if p["status"] != "all":
        stmt = stmt.where(Patient.status == p["status"])
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    total = sum(r["patients"] for r in rows) or 1
    for r in rows:
        r["share"] = r["patients"] / total
        r["interpreter_share"] = r["interpreter"] / r["patients"] if r["patients"] else 0
    return sorted(rows, key=lambda r: (-r["patients"], r["language"]))


REPORT = Report(
    title=_l("Patients by language"),
    description=_l("How many patients prefer each language and how many of them need an interpreter."),
    params=[Param("status", "choice", _l("Patients"), default="active", required=True, choices=STATUSES)],
    query=query,
    columns=[
        Column("language", _l("Preferred language"), "language"),
        Column("patients", _l("Patients"), "int", total="sum"),
        Column("share", _l("Share of patients"), "percent", total="sum"),
        Column("interpreter", _l("Need an interpreter"), "int", total="sum"),
        Column("interpreter_share", _l("Of them needing an interpreter"), "percent"),
    ],
    chart=Chart("bar", x="language", y=["patients", "interpreter"]),
    roles=["FrontDesk", "Clinician", "OfficeManager"],
    patient_data=False,
    order=20,
)
