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
# Several name parts: read at most ID_CAP ids per part; once PROBE_MAX candidates or
# fewer are left, check the remaining parts per candidate instead of reading them.
ID_CAP = 10000
PROBE_MAX = 300


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


def _walk_term(session, driver, others, limit, filters):
    """Patients with a term starting with `driver` (and every prefix in `others`), in index
    order: the walk stops as soon as enough patients are found."""
    t = PatientSearchTerm.__table__
    stmt = select(Patient).join(t, t.c.patient_id == Patient.id).where(_term_range(t.c.term, driver), *filters)
    for term in others:
        stmt = stmt.where(_has_term(term))
    stmt = stmt.order_by(t.c.term, t.c.patient_id).limit(3 * (limit + 1))  # a patient may match twice
    rows, seen = [], set()
    for p in session.scalars(stmt):
        if p.id not in seen:
            seen.add(p.id)
            rows.append(p)
    return rows


def _ids_for(session, prefix):
    """{patient id: whole-word match?} for terms starting with `prefix` (at most ID_CAP + 1)."""
    t = PatientSearchTerm.__table__
    rows = session.execute(select(t.c.patient_id, t.c.term).where(_term_range(t.c.term, prefix)).limit(ID_CAP + 1)).all()
    ids = {}
    for pid, term in rows:
        ids[pid] = ids.get(pid, False) or term == prefix
    return ids, len(rows) > ID_CAP


def _keep_with_term(session, candidates, prefix):
    """The candidates that also have a term starting with `prefix` (primary-key probes),
    with their whole-word scores raised where the word matches whole."""
    t = PatientSearchTerm.__table__
    kept, ordered = {}, sorted(candidates)
    for i in range(0, len(ordered), 900):
        rows = session.execute(select(t.c.patient_id, t.c.term).where(
            t.c.patient_id.in_(ordered[i:i + 900]), _term_range(t.c.term, prefix)))
        for pid, term in rows:
            kept[pid] = max(kept.get(pid, candidates[pid]), candidates[pid] + (term == prefix))
    return kept


def _match_all_terms(session, terms, limit, filters):
    """Patients matching every name prefix, whole-word matches first.

    The terms' id sets are read from the index and intersected (longest term first: it
    is usually the rarest); once few candidates are left the other terms are checked per
    candidate. Terms too common to read whole are checked last; if every term is that
    common, or many candidates would need checking, matches are dense and walking one
    term's index finds enough of them quickly.
    """
    candidates, too_common, smallest = None, [], None
    for term in terms:
        if candidates is not None and len(candidates) <= PROBE_MAX:
            candidates = _keep_with_term(session, candidates, term)
            continue
        ids, truncated = _ids_for(session, term)
        if truncated:
            too_common.append(term)
            continue
        if smallest is None or len(ids) < smallest[1]:
            smallest = (term, len(ids))
        if candidates is None:
            candidates = {pid: int(exact) for pid, exact in ids.items()}
        else:
            candidates = {pid: score + ids[pid] for pid, score in candidates.items() if pid in ids}
    if candidates is None:
        return _walk_term(session, terms[0], terms[1:], limit, filters)
    if too_common and len(candidates) > PROBE_MAX * 4:
        driver = smallest[0]
        return _walk_term(session, driver, [t for t in terms if t != driver], limit, filters)
    for term in too_common:
        if candidates:
            candidates = _keep_with_term(session, candidates, term)
    chosen = sorted(candidates, key=lambda pid: (-candidates[pid], pid))[: limit + 1]
    if not chosen:
        return []
    rank = {pid: i for i, pid in enumerate(chosen)}
    rows = session.scalars(select(Patient).where(Patient.id.in_(chosen), *filters)).all()
    return sorted(rows, key=lambda p: rank[p.id])


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
    elif len(set(q.names)) > 1:
        rows = _match_all_terms(session, sorted(set(q.names), key=lambda t: (-len(t), t)), limit, filters)
    elif q.names:
        rows = _walk_term(session, q.names[0], [], limit, filters)
    else:
        rows = []

    for p in rows:
        found.setdefault(p.id, p)
    patients = list(found.values())
    more = len(patients) > limit
    return patients[:limit], more




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
