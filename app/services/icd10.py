"""ICD-10-CM code sets: releases stored with their effective dates, lookup and search.

A code set is in force from its `effective_from` until the next set's. Codes are stored
without the dot (E119) and shown with it (E11.9). Word search uses icd10_term (the folded
words of each description) by an index range scan, never a library import per request.
"""
import re
from datetime import date, datetime, timezone

from flask_babel import format_date, gettext as _
from sqlalchemy import func, insert, intersect, select

from ..models.billing import Icd10Code, Icd10CodeSet, Icd10Term
from .errors import ValidationFailed
from .text import prefix_upper_bound, tokens

CODE_RE = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z]{1,5}$")  # 3 to 7 characters, no dot (QA0 since April 2026)
BATCH = 5000
DESCRIPTION_MAX = 300
TERM_MAX = 60
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")


def normalize(code):
    """'e11.9 ' -> 'E119'."""
    return re.sub(r"[\s.]", "", code or "").upper()


def display(code):
    """'E119' -> 'E11.9' (codes of 3 characters have no dot)."""
    code = normalize(code)
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


_ASCII_SPLIT = re.compile(r"[\W_]+")


def terms(description):
    """The folded words of a description worth indexing: at least 2 characters, each once."""
    if description.isascii():  # fast path for the CDC's English text, same result as tokens()
        words = _ASCII_SPLIT.split(description.lower().replace("'", "").replace("`", ""))
    else:
        words = tokens(description)
    return list(dict.fromkeys(t[:TERM_MAX] for t in words if len(t) >= 2))


# ---------------------------------------------------------------------------------------------
# Which set is in force, lookup


def code_set_on(session, service_date):
    """The code set in force on service_date (latest effective_from <= date), or None."""
    return session.scalars(
        select(Icd10CodeSet)
        .where(Icd10CodeSet.effective_from <= service_date)
        .order_by(Icd10CodeSet.effective_from.desc())
        .limit(1)
    ).first()


def lookup(session, code, service_date):
    """(Icd10Code, None) when code is billable on service_date, else (row or None, message)."""
    norm = normalize(code)
    shown = display(norm) if norm else (code or "")
    code_set = code_set_on(session, service_date)
    row = None
    if code_set is not None and norm:
        row = session.scalars(
            select(Icd10Code).where(Icd10Code.code_set_id == code_set.id, Icd10Code.code == norm)
        ).first()
    if row is None:
        later = norm and session.scalars(
            select(Icd10Code.id)
            .join(Icd10CodeSet, Icd10CodeSet.id == Icd10Code.code_set_id)
            .where(Icd10Code.code == norm, Icd10CodeSet.effective_from > service_date)
            .limit(1)
        ).first()
        if later:
            return None, _("%(code)s is not in force on %(date)s.", code=shown, date=format_date(service_date))
        return None, _("Unknown ICD-10-CM code %(code)s.", code=shown)
    if not row.billable:
        return row, _("%(code)s is a category, not a billable code: choose a more specific code.", code=shown)
    return row, None


# ---------------------------------------------------------------------------------------------
# Search


def search(session, query, service_date, limit=20):
    """Codes of the set in force on service_date matching query, billable first.

    A query that looks like a code ("E11", "e11.9") matches codes starting with it; otherwise
    every word must prefix-match a word of the description (index range on icd10_term).
    """
    code_set = code_set_on(session, service_date)
    query = (query or "").strip()[:200]
    if code_set is None or not query:
        return []
    order = (Icd10Code.billable.desc(), Icd10Code.code)
    norm = normalize(query)
    if re.fullmatch(r"[A-Z][0-9A-Z]{1,6}", norm):  # looks like a code: if none starts so, words
        found = list(session.scalars(
            select(Icd10Code)
            .where(Icd10Code.code_set_id == code_set.id, Icd10Code.code >= norm,
                   Icd10Code.code < prefix_upper_bound(norm))
            .order_by(*order).limit(limit)
        ))
        if found:
            return found
    stmt = word_search(code_set.id, query)
    return [] if stmt is None else list(session.scalars(stmt.order_by(*order).limit(limit)))


def word_search(code_set_id, query):
    """The codes of a set having, for every word of query, a description word starting with it
    (None when query has no searchable word). Each word's codes come from one range of the term
    index; INTERSECT keeps the plan linear whatever the planner's statistics say."""
    words = list(dict.fromkeys(t[:TERM_MAX] for t in tokens(query) if len(t) >= 2))[:8]  # as indexed
    words = [w for w in words if not any(o != w and o.startswith(w) for o in words)]  # "diab diabetes"
    if not words:
        return None
    matches = [
        select(Icd10Term.code_id).where(Icd10Term.code_set_id == code_set_id, Icd10Term.term >= word,
                                        Icd10Term.term < prefix_upper_bound(word))
        for word in words
    ]
    code_ids = matches[0] if len(matches) == 1 else intersect(*matches)
    return select(Icd10Code).where(Icd10Code.code_set_id == code_set_id, Icd10Code.id.in_(code_ids))


# ---------------------------------------------------------------------------------------------
# Loading


def check_new_set(session, *, name, effective_from):
    """Problems that refuse a new set before reading any code: its name or date is taken."""
    problems = []
    if session.scalar(select(Icd10CodeSet.id).where(Icd10CodeSet.name == name)):
        problems.append(("name", _("A code set named %(name)s is already loaded.", name=name)))
    if session.scalar(select(Icd10CodeSet.id).where(Icd10CodeSet.effective_from == effective_from)):
        problems.append(("effective_from", _("A code set effective from %(date)s is already loaded.",
                                             date=effective_from.isoformat())))
    return problems


def load_code_set(session, rows, *, name, effective_from, source, progress=None):
    """Store one release: rows of (code, description, billable). All or nothing: the caller
    commits (or rolls back on ValidationFailed / any error). Returns the Icd10CodeSet.

    progress(n) is called after each batch with the number of codes just stored.
    """
    name = (name or "").strip()
    problems = check_new_set(session, name=name, effective_from=effective_from)
    seen = set()
    clean = []
    for code, description, billable in rows:
        norm = normalize(code)
        description = " ".join((description or "").split())
        if not CODE_RE.match(norm):
            problems.append(("code", _("%(code)s is not an ICD-10-CM code.", code=code)))
        elif norm in seen:
            problems.append(("code", _("%(code)s appears twice.", code=display(norm))))
        elif not description or len(description) > DESCRIPTION_MAX:
            problems.append(("code", _("%(code)s needs a description of at most %(max)d characters.",
                                       code=display(norm), max=DESCRIPTION_MAX)))
        seen.add(norm)
        clean.append((norm, description, bool(billable)))
    if not clean:
        problems.append((None, _("The code set has no codes.")))
    if problems:
        raise ValidationFailed(problems[:50])

    code_set = Icd10CodeSet(name=name, effective_from=effective_from, source=source, code_count=len(clean),
                            loaded_at=datetime.now(timezone.utc))
    session.add(code_set)
    session.flush()
    set_id, last_id = code_set.id, 0
    for start in range(0, len(clean), BATCH):
        batch = clean[start:start + BATCH]
        _bulk_insert(session, Icd10Code.__table__, ("code_set_id", "code", "description", "billable"),
                     [(set_id, c, d, b) for c, d, b in batch])
        ids = dict(session.execute(  # this batch: the new set's rows above the previous batches' ids
            select(Icd10Code.code, Icd10Code.id).where(Icd10Code.code_set_id == set_id, Icd10Code.id > last_id)
        ).all())
        last_id = max(ids.values())
        _bulk_insert(session, Icd10Term.__table__, ("code_set_id", "term", "code_id"),
                     [(set_id, term, ids[c]) for c, d, _b in batch for term in terms(d)])
        if progress:
            progress(len(batch))
    return code_set


def _bulk_insert(session, table, columns, rows):
    """Insert many rows in the session's transaction by the fastest way the database has
    (COPY on PostgreSQL, the driver's executemany on SQLite): ~900,000 terms in seconds."""
    if not rows:
        return
    conn = session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    else:
        conn.execute(insert(table), [dict(zip(columns, row)) for row in rows])


def parse_cms_order(text):
    """Rows and per-line problems of a CMS "order" file (icd10cm_order_20XX.txt).

    Fixed width: order number (5), space, code (7), space, billable flag 0/1, space,
    short description (60), space, long description. Returns (rows, [(line_no, message)]).
    """
    rows, errors, first_line = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        order, code, flag = line[0:5], line[6:13].strip(), line[14:15]
        long_description = line[77:].strip() or line[16:76].strip()
        if len(line) < 17 or not order.strip().isdigit() or line[5:6] != " ":
            errors.append((number, _("Line %(line)d is not in the CMS order file format "
                                     "(order number, code, billable flag, descriptions).", line=number)))
            continue
        problems = []
        norm = normalize(code)
        if not CODE_RE.match(norm):
            problems.append(_("Line %(line)d: %(code)s is not an ICD-10-CM code.", line=number, code=code or "—"))
        if flag not in ("0", "1"):
            problems.append(_("Line %(line)d: the billable flag must be 0 or 1.", line=number))
        if not long_description:
            problems.append(_("Line %(line)d: the description is missing.", line=number))
        elif len(long_description) > DESCRIPTION_MAX:
            problems.append(_("Line %(line)d: the description is longer than %(max)d characters.",
                              line=number, max=DESCRIPTION_MAX))
        if norm in first_line and not problems:
            problems.append(_("Line %(line)d: %(code)s already appears on line %(first)d.",
                              line=number, code=display(norm), first=first_line[norm]))
        if problems:
            errors.extend((number, p) for p in problems)
            continue
        first_line[norm] = number
        rows.append((norm, long_description, flag == "1"))
    if not rows and not errors:
        errors.append((0, _("The file has no codes.")))
    return rows, errors


def default_release():
    """(name, effective_from, source) of the release simple-icd-10-cm ships.

    Its data files are named after the CDC release (code-list-April-2026.txt: the April 1, 2026
    update of fiscal year 2026), in force from the first day of that month.
    """
    from importlib.metadata import files, version

    names = [p.name for p in files("simple-icd-10-cm")]  # without importing it (seconds)
    match = next(filter(None, (re.fullmatch(r"code-list-([A-Za-z]+)-(\d{4})\.txt", n) for n in names)))
    month, year = MONTHS.index(match.group(1).lower()) + 1, int(match.group(2))
    package = f"simple-icd-10-cm {version('simple-icd-10-cm')}"
    effective = date(year, month, 1)
    return (f"ICD-10-CM {match.group(1).capitalize()} {year}", effective,
            f"{package} (CDC ICD-10-CM release of {effective.isoformat()})")


def default_rows():
    """(code, description, billable) of every category and code in simple-icd-10-cm (not the
    chapters and blocks); billable = a leaf of the classification."""
    import simple_icd_10_cm as cm

    # dict: a block named like its only category (B99, R99 ...) appears twice; the category is meant
    return [
        (code, cm.get_description(code), cm.is_leaf(code))
        for code in dict.fromkeys(cm.get_all_codes(with_dots=False))
        if cm.is_category_or_subcategory(code)
    ]


def load_default(session, progress=None):
    """Load the code set simple-icd-10-cm ships. Returns the Icd10CodeSet."""
    name, effective_from, source = default_release()
    rows = default_rows()
    return load_code_set(session, rows, name=name, effective_from=effective_from, source=source,
                         progress=progress)


def analyze(engine):
    """Fresh planner statistics after a load (PostgreSQL plans word searches from them)."""
    with engine.begin() as conn:
        for table in ("icd10_code", "icd10_term"):
            conn.exec_driver_sql(f"ANALYZE {table}")


def has_code_set(session):
    return session.scalar(select(func.count(Icd10CodeSet.id))) > 0
