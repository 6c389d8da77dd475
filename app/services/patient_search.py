"""One-box patient search: MRN, birth date, phone, or name parts in any order.

Every lookup walks an index and stops after `limit` rows: no COUNT, no LIKE '%x%'.
"""
import re
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from sqlalchemy import and_, exists, func, select

from ..models import Patient, PatientSearchTerm
from .checkdigits import luhn_valid
from .dates import NUMERIC_DATE, parse_input
from .text import TERM_MAX, prefix_upper_bound, tokens

PHONE_CHARS = re.compile(r"^[\d\s()+.\-/]+$")
# Counting how often a term occurs stops here: enough to pick the rarest term.
COUNT_CAP = 2000


@dataclass
class Query:
    names: list = field(default_factory=list)
    birth_date: date = None
    digits: str = None  # an MRN or the start of a phone number
    invalid: list = field(default_factory=list)  # parts we could not understand

    @property
    def empty(self):
        return not (self.names or self.birth_date or self.digits)


def _national_digits(text, region):
    """National significant number of a complete phone number ("+1 212…" -> "212…")."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.national_significant_number(number)


def parse(text, locale="en", region="US"):
    """Split the box's text into name parts, a birth date and digits."""
    q = Query()
    text = (text or "").strip()[:200]
    if not text:
        return q
    whole_digits = re.sub(r"\D", "", text)
    if PHONE_CHARS.match(text) and len(whole_digits) >= 7 and not NUMERIC_DATE.match(text.strip()):
        q.digits = _national_digits(text, region) or whole_digits
        return q
    for part in text.split():
        as_date = parse_input(part, locale)
        if as_date is not None:
            q.birth_date = as_date
        elif part.isdigit():
            q.digits = part
        else:
            q.names.extend(t for t in tokens(part) if not t.isdigit())
    return q


def _term_range(column, prefix):
    prefix = prefix[:TERM_MAX]
    return and_(column >= prefix, column < prefix_upper_bound(prefix))


def _has_term(prefix):
    t = PatientSearchTerm.__table__.alias()
    return exists().where(t.c.patient_id == Patient.id, _term_range(t.c.term, prefix))


def _count_capped(session, prefix, cap):
    t = PatientSearchTerm.__table__
    inner = select(t.c.patient_id).where(_term_range(t.c.term, prefix)).limit(cap).subquery()
    return session.execute(select(func.count()).select_from(inner)).scalar_one()


def search(session, text, *, locale="en", region="US", limit=20, include_merged=True):
    """Return (patients, more) for the box's text; `more` means "refine your search"."""
    q = parse(text, locale, region)
    if q.empty:
        return [], False
    found = {}

    if q.digits:
        if luhn_valid(q.digits) and not q.names:
            for p in session.scalars(select(Patient).where(Patient.mrn == q.digits)):
                found[p.id] = p
        if len(q.digits) >= 4:
            q.names = q.names + [q.digits]

    filters = []
    if not include_merged:
        filters.append(Patient.status != "merged")

    if q.birth_date is not None:
        stmt = select(Patient).where(Patient.birth_date == q.birth_date, *filters)
        for term in q.names:
            stmt = stmt.where(_has_term(term))
        rows = session.scalars(stmt.order_by(Patient.family_name, Patient.given_name, Patient.id).limit(limit + 1)).all()
    elif q.names:
        # Drive the index walk from the rarest term (by a capped count); the other
        # terms are probed per candidate through the (patient_id, term) key. The walk
        # follows index order and stops as soon as `limit` patients are found.
        terms = sorted(set(q.names), key=lambda t: (-len(t), t))
        if len(terms) > 1:
            terms.sort(key=lambda t: _count_capped(session, t, COUNT_CAP))
        driver, others = terms[0], terms[1:]
        t = PatientSearchTerm.__table__
        stmt = (
            select(Patient)
            .join(t, t.c.patient_id == Patient.id)
            .where(_term_range(t.c.term, driver), *filters)
        )
        for term in others:
            stmt = stmt.where(_has_term(term))
        stmt = stmt.order_by(t.c.term, t.c.patient_id).limit(3 * (limit + 1))
        rows = []
        seen = set()
        for p in session.scalars(stmt):
            if p.id not in seen:
                seen.add(p.id)
                rows.append(p)
    else:
        rows = []

    for p in rows:
        found.setdefault(p.id, p)
    patients = list(found.values())
    more = len(patients) > limit
    return patients[:limit], more



SIMILARITY_THRESHOLD = 0.3


def similar(session, text, *, locale="en", region="US", limit=20):
    """Patients whose names resemble the typed names (typos, spelling variants).

    PostgreSQL only: trigram similarity through the pg_trgm GIN index on name_search.
    Elsewhere, and for queries without name parts, the list is empty.
    """
    q = parse(text, locale, region)
    if not q.names or session.get_bind().dialect.name != "postgresql":
        return []
    wanted = " ".join(q.names)
    score = func.similarity(Patient.name_search, wanted)
    stmt = (
        select(Patient)
        .where(Patient.name_search.op("%")(wanted), Patient.status != "merged")
        .order_by(score.desc(), Patient.id)
        .limit(limit)
    )
    if q.birth_date is not None:
        stmt = stmt.where(Patient.birth_date == q.birth_date)
    return list(session.scalars(stmt))
