"""The practice's fee schedule: CPT/HCPCS code + modifier -> fee from an effective date on.

No CPT descriptions are stored or shown (AMA licence): the practice loads its own fees from CSV.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from ..models.billing import FeeScheduleEntry


def _fee(session, code, modifier, service_date):
    return session.scalars(
        select(FeeScheduleEntry.fee)
        .where(
            FeeScheduleEntry.code == code,
            FeeScheduleEntry.modifier == modifier,
            FeeScheduleEntry.effective_date <= service_date,
        )
        .order_by(FeeScheduleEntry.effective_date.desc())
        .limit(1)
    ).first()


def fee_for(session, code, modifier, service_date):
    """The fee in force on service_date for (code, modifier), falling back to no modifier; or None."""
    code = (code or "").strip().upper()
    modifier = (modifier or "").strip().upper()
    fee = _fee(session, code, modifier, service_date) if modifier else None
    if fee is None:
        fee = _fee(session, code, "", service_date)
    return fee


# ---------------------------------------------------------------------------------------------
# Import from CSV: code,modifier,fee,effective_date

HEADER = ("code", "modifier", "fee", "effective_date")
CODE_RE = re.compile(r"^(\d{5}|\d{4}[FMTU]|[A-V]\d{4})$")  # CPT, CPT category II/III/PLA, HCPCS II
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
FEE_RE = re.compile(r"^\d{1,8}(\.\d{1,2})?$")  # Numeric(10, 2), never negative
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class FeeLine:
    line: int
    code: str
    modifier: str
    fee: Decimal
    effective_date: date
    status: str = ""  # added / updated / unchanged
    old_fee: Decimal | None = None


@dataclass
class FeeImportReport:
    lines: list = field(default_factory=list)  # FeeLine
    errors: list = field(default_factory=list)  # (line number, message)
    dry_run: bool = False
    written: bool = False

    def count(self, status):
        return sum(1 for line in self.lines if line.status == status)


def parse_fee_csv(text):
    """(rows, errors) of a fee schedule CSV; errors are (line number, translated message)."""
    rows, errors, first = [], [], {}
    reader = csv.reader(io.StringIO((text or "").lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        return [], [(1, _("The first line must be the header %(header)s.", header=",".join(HEADER)))]
    for values in reader:
        number = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(HEADER):
            errors.append((number, _("Line %(line)d must have 4 values (code, modifier, fee, effective date).",
                                     line=number)))
            continue
        code, modifier, fee, effective = (v.strip() for v in values)
        code, modifier = code.upper(), modifier.upper()
        problems = []
        if not CODE_RE.match(code):
            problems.append(_("Line %(line)d: %(code)s is not a CPT or HCPCS code.", line=number, code=code or "—"))
        if modifier and not MODIFIER_RE.match(modifier):
            problems.append(_("Line %(line)d: the modifier must be empty or 2 letters or digits.", line=number))
        if not FEE_RE.match(fee):
            problems.append(_("Line %(line)d: the fee must be an amount of 0 or more with at most 2 decimals.",
                              line=number))
        try:
            effective_date = date.fromisoformat(effective) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", effective) else None
        except ValueError:
            effective_date = None
        if effective_date is None:
            problems.append(_("Line %(line)d: the effective date must be a date like 2026-01-01.", line=number))
        if not problems:
            key = (code, modifier, effective_date)
            if key in first:
                problems.append(_("Line %(line)d repeats line %(first)d (same code, modifier and effective date).",
                                  line=number, first=first[key]))
            first.setdefault(key, number)
        if problems:
            errors.extend((number, p) for p in problems)
        else:
            rows.append(FeeLine(number, code, modifier, Decimal(fee), effective_date))
    if not rows and not errors:
        errors.append((2, _("The file has no fees.")))
    return rows, errors


def import_fees(session, text, *, dry_run):
    """Check a fee schedule CSV and, unless dry_run or any line has an error, write it.

    Each line is added (new code/modifier/date), updated (new fee) or unchanged. The caller commits.
    """
    rows, errors = parse_fee_csv(text)
    report = FeeImportReport(errors=errors, dry_run=dry_run)
    existing = {}
    if rows:
        codes = {r.code for r in rows}
        for entry in session.scalars(select(FeeScheduleEntry).where(FeeScheduleEntry.code.in_(codes))):
            existing[(entry.code, entry.modifier, entry.effective_date)] = entry
    for row in rows:
        entry = existing.get((row.code, row.modifier, row.effective_date))
        if entry is None:
            row.status = "added"
        elif entry.fee == row.fee:
            row.status = "unchanged"
        else:
            row.status, row.old_fee = "updated", entry.fee
        report.lines.append(row)
    if errors or dry_run:
        return report
    for row in report.lines:
        if row.status == "added":
            session.add(FeeScheduleEntry(code=row.code, modifier=row.modifier, fee=row.fee,
                                         effective_date=row.effective_date))
        elif row.status == "updated":
            existing[(row.code, row.modifier, row.effective_date)].fee = row.fee
    session.flush()
    report.written = True
    return report
