"""The one report runner: parameters, permission, a read-only query, the audit row, the outputs.

Every door (the report page, its PDF and CSV buttons, `flask clinic report`) calls
`run()`, so the same checks apply everywhere:

1. permission: the user holds can_run on Report:<name> (written by `flask clinic sync-roles`
   from the definition's roles); otherwise ReportRefused and nothing runs;
2. parameters: parsed from text as typed in the user's locale (dates: the locale's
   numeric order or ISO), each problem tied to its field, all reported at once
   (ValidationFailed); nothing runs;
3. the query, on a connection of its own that cannot write: PostgreSQL in a READ ONLY
   transaction with SET LOCAL statement_timeout (REPORT_TIMEOUT_SECONDS); SQLite with
   PRAGMA query_only and a progress handler that stops it at the same deadline;
4. an audit row (action "report", in its own transaction) when the report shows patient
   data: the report, the parameters (free text left out), the format and the row count;
5. the output in the user's language: HTML context, PDF (render_pdf) or CSV (to_csv).
"""
import datetime as dt
import time
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import format_datetime, get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select

from ..services import dates, languages
from ..services.errors import DomainError, ValidationFailed
from . import formatting
from .charts import render_chart
from .definitions import PERMISSION, clinic_timezone

TRUE_WORDS = {"1", "y", "yes", "true", "on"}
FALSE_WORDS = {"", "0", "n", "no", "false", "off"}
FORMATS = ("html", "pdf", "csv")


class ReportRefused(DomainError):
    status_code = 403
    default_message = _l("You may not run this report.")


class ReportTimeout(DomainError):
    status_code = 503

    def __init__(self, seconds):
        super().__init__(_l("The report took longer than %(n)d seconds and was stopped. Narrow the parameters and try again.",
                            n=seconds))


@dataclass
class Params:
    values: dict  # typed values the query receives
    form: dict  # text to refill the form with
    shown: list  # [(label, text)] printed above the results
    audit: dict  # what goes into the audit trail (no free text)


@dataclass
class Result:
    report: object
    params: Params
    rows: list
    totals: dict
    truncated: bool
    limit: int
    seconds: float
    generated_at: dt.datetime
    generated_by: str
    locale: str
    localized: bool = False
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- permission

def may_run(report, user, sm):
    """Whether `user` holds can_run on the report (any role of theirs; inactive users never)."""
    if user is None or not getattr(user, "is_active", False):
        return False
    role_ids = [role.id for role in sm.get_user_roles(user)]
    return bool(role_ids) and sm.exist_permission_on_roles(report.view_menu, PERMISSION, role_ids)


def runnable(reports, user, sm):
    """The reports `user` may run, in menu order."""
    return [r for r in reports.values() if may_run(r, user, sm)]


# --------------------------------------------------------------------------- parameters

def _provider(session, pid):
    from ..models import Provider

    return session.get(Provider, pid)


def provider_choices(session):
    from ..models import Provider

    rows = session.execute(select(Provider).order_by(Provider.active.desc(), Provider.family_name, Provider.given_name)).scalars()
    return [(p.id, p.display_name + ("" if p.active else f" ({_l('inactive')})")) for p in rows]


def _date_text(value, locale):
    return dates.format_input(value, locale) if value else ""


def _form_text(param, value, locale):
    """A typed value as the form shows it (so defaults appear in the fields)."""
    if param.type == "daterange":
        start, end = value or (None, None)
        return {f"{param.name}_from": _date_text(start, locale), f"{param.name}_to": _date_text(end, locale)}
    if param.type == "date":
        return {param.name: _date_text(value, locale)}
    if param.type == "bool":
        return {param.name: "y" if value else ""}
    if param.type == "language" and value:
        return {param.name: f"{languages.name(value, locale)} — {value}"}
    return {param.name: "" if value is None else str(value)}


def _parse_one(param, raw, locale, session):
    """(value, [(field, message)]) for one parameter from its raw text fields."""
    problems = []
    if param.type == "daterange":
        parts = []
        for key in param.fields():
            text = (raw.get(key) or "").strip()
            day = dates.parse_input(text, locale) if text else None
            if text and day is None:
                problems.append((key, _l("Not a valid date: type it as %(example)s.",
                                         example=dates.format_input(dt.date(1987, 12, 31), locale))))
            parts.append(day)
        value = tuple(parts) if any(parts) or problems else None
        if param.required and not problems and (parts[0] is None or parts[1] is None):
            problems.extend((key, _l("This field is required.")) for key, part in zip(param.fields(), parts) if part is None)
        return value, problems
    text = (raw.get(param.name) or "").strip()
    if param.type == "bool":
        if text.lower() in TRUE_WORDS:
            return True, []
        if text.lower() in FALSE_WORDS:
            return False, []
        return None, [(param.name, _l("Not a yes/no value."))]
    if not text:
        return None, []
    if param.type == "date":
        value = dates.parse_input(text, locale)
        if value is None:
            return None, [(param.name, _l("Not a valid date: type it as %(example)s.",
                                          example=dates.format_input(dt.date(1987, 12, 31), locale)))]
        return value, []
    if param.type == "provider":
        if not text.isdigit() or _provider(session, int(text)) is None:
            return None, [(param.name, _l("Unknown provider."))]
        return int(text), []
    if param.type == "language":
        code = languages.parse(text, locale)
        return (code, []) if code else (None, [(param.name, _l("Unknown language: type its name or ISO code."))])
    if param.type == "int":
        try:
            return int(text), []
        except ValueError:
            return None, [(param.name, _l("Not a whole number."))]
    return text, []  # choice and text: checked below


def _shown(param, value, locale, session):
    """A parameter value as people read it above the results."""
    from flask_babel import format_date

    if value is None or value == (None, None) or value == "":
        return str(_l("All")) if param.type in ("provider", "language", "choice") else "—"
    if param.type == "daterange":
        start, end = value
        return f"{format_date(start, 'medium') if start else '…'} – {format_date(end, 'medium') if end else '…'}"
    if param.type == "date":
        return format_date(value, "medium")
    if param.type == "provider":
        provider = _provider(session, value)
        return provider.display_name if provider else str(value)
    if param.type == "language":
        return languages.name(value, locale)
    if param.type == "choice":
        return str(dict(param.choices).get(value, value))
    if param.type == "bool":
        return str(_l("Yes") if value else _l("No"))
    return str(value)


def _audit_value(param, value):
    if param.type == "text":
        return "(given)" if value else None  # free text may identify a patient
    if param.type == "daterange":
        return [v.isoformat() if v else None for v in value] if value else None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def parse_params(report, raw, *, locale, session, today=None):
    """Typed, checked parameters from raw text; ValidationFailed lists every problem at once.

    A parameter whose fields are all absent from `raw` takes its default (the command
    line passes only what it sets); a field present but empty means "none".
    """
    today = today or dt.datetime.now(clinic_timezone()).date()  # the clinic's today, not the server's
    values, form, problems = {}, {}, []
    known = {key for p in report.params for key in p.fields()}
    for key in raw:
        if key not in known:
            problems.append((None, _l("Unknown parameter %(name)s (parameters: %(known)s).", name=key,
                                      known=", ".join(sorted(known)) or "—")))
    for param in report.params:
        if not any(key in raw for key in param.fields()):
            value, found = param.default_value(today), []
        else:
            value, found = _parse_one(param, raw, locale, session)
        if not found:
            found = [(param.fields()[-1] if param.type == "daterange" else param.name, msg) for msg in param.check(value)]
        problems.extend(found)
        values[param.name] = value
        if found and any(key in raw for key in param.fields()):
            form.update({key: raw.get(key, "") for key in param.fields()})  # keep what was typed
        else:
            form.update(_form_text(param, value, locale))
    if problems:
        error = ValidationFailed(problems)
        error.form = form
        raise error
    shown = [(str(p.label), _shown(p, values[p.name], locale, session)) for p in report.params]
    audit_params = {p.name: _audit_value(p, values[p.name]) for p in report.params}
    return Params(values=values, form=form, shown=shown, audit=audit_params)


# --------------------------------------------------------------------------- read-only execution

def _fetch(report, conn, values, limit):
    result = report.query(conn, values)
    if isinstance(result, Select):
        result = conn.execute(result.limit(limit + 1))
    if hasattr(result, "mappings"):
        rows = [dict(r) for r in result.mappings().fetchmany(limit + 1)]
    else:
        rows = []
        for row in result:
            rows.append(dict(row._mapping) if hasattr(row, "_mapping") else dict(row))
            if len(rows) > limit:
                break
    truncated = len(rows) > limit
    return rows[:limit], truncated


def _is_timeout(exc):
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "57014" or "interrupted" in str(orig or exc).lower()


def execute(report, values, *, engine, timeout, limit):
    """Run the report's query read-only; (rows, truncated, seconds). ReportTimeout past `timeout`."""
    started = time.perf_counter()
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            tx = conn.begin()
            try:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                # An int from the config, never user input; SET takes no bind parameters.
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
                rows, truncated = _fetch(report, conn, values, limit)
            except OperationalError as exc:
                if _is_timeout(exc):
                    raise ReportTimeout(timeout) from None
                raise
            finally:
                tx.rollback()  # read only: nothing to keep
        else:
            rows, truncated = _sqlite_read_only(report, conn, values, limit, timeout)
    return rows, truncated, time.perf_counter() - started


def _sqlite_read_only(report, conn, values, limit, timeout):
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + timeout
    conn.exec_driver_sql("PRAGMA query_only = 1")
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10000)
    try:
        try:
            return _fetch(report, conn, values, limit)
        except OperationalError as exc:
            if _is_timeout(exc):
                raise ReportTimeout(timeout) from None
            raise
        finally:
            conn.rollback()
    finally:
        raw.set_progress_handler(None, 0)
        try:
            conn.exec_driver_sql("PRAGMA query_only = 0")  # the pooled connection goes back writable
            conn.commit()
        except Exception:
            conn.invalidate()  # never hand a read-only (or broken) connection back to the pool


# --------------------------------------------------------------------------- the one entry point

def row_limit(fmt):
    config = current_app.config
    if fmt == "csv":
        return config.get("REPORT_CSV_ROWS", 50000)
    if fmt == "pdf":
        return config.get("REPORT_PDF_ROWS", 1000)
    return config.get("REPORT_HTML_ROWS", 2000)


def run(report, raw, *, user, sm, fmt="html", localized=False, engine, session, who=None, today=None):
    """Check, run, audit; return a Result to render. Raises ReportRefused or ValidationFailed
    (both before anything runs) or ReportTimeout."""
    if fmt not in FORMATS:
        raise ValidationFailed([("format", _l("Choose HTML, PDF or CSV."))])
    if not may_run(report, user, sm):
        raise ReportRefused()
    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    params = parse_params(report, raw, locale=locale, session=session, today=today)
    limit = row_limit(fmt)
    rows, truncated, seconds = execute(report, params.values, engine=engine,
                                       timeout=current_app.config.get("REPORT_TIMEOUT_SECONDS", 30), limit=limit)
    if report.patient_data:
        from ..services import audit

        audit.record(engine, action="report", object_type="Report", object_id=report.name,
                     details={"report": report.name, "params": params.audit, "rows": len(rows),
                              "format": fmt, "truncated": truncated}, who=who or audit.actor())
    return Result(report=report, params=params, rows=rows, totals=formatting.totals(report, rows),
                  truncated=truncated, limit=limit, seconds=seconds, generated_at=dt.datetime.now(get_timezone()),
                  generated_by=user.username, locale=locale, localized=localized)


# --------------------------------------------------------------------------- outputs

def table(result, formatter=None):
    """(headers, rows of cell dicts, totals row or None) for HTML and PDF."""
    formatter = formatter or formatting.localized
    report = result.report
    headers = [{"label": str(c.label), "numeric": c.numeric, "key": c.key, "type": c.type} for c in report.columns]
    body = []
    for row in result.rows:
        cells = []
        for c in report.columns:
            value = row.get(c.key)
            cells.append({"text": formatter(c, value), "sort": formatting.sort_key(c, value), "numeric": c.numeric,
                          "patient_id": row.get("patient_id") if c.link == "patient" else None})
        body.append(cells)
    totals = _totals_row(result, formatter) if report.has_totals else None
    return headers, body, totals


def _totals_row(result, formatter):
    """The totals under the table; the first cell says "Total" (with its own total, if any)."""
    cells = [formatting.total_cell(c, result.totals, formatter) for c in result.report.columns]
    label = str(_l("Total"))
    cells[0] = f"{label}: {cells[0]}" if cells[0] else label
    return cells


def chart_svg(result):
    """The report's chart as inline SVG markup (None without a chart or rows)."""
    chart = result.report.chart
    if chart is None:
        return None
    from flask_babel import get_locale as _current

    rtl = getattr(_current(), "text_direction", "ltr") == "rtl"
    return render_chart(chart, result.report, result.rows, title=str(chart.title or result.report.title),
                        format_value=formatting.localized, rtl=rtl)


def generated_line(result):
    return _l("Generated %(when)s by %(who)s", when=format_datetime(result.generated_at, "medium"), who=result.generated_by)


def groups(result, headers, body, totals):
    """[(heading, headers, rows, totals or None)]: one section per run of equal values in the
    report's group_by column (rows come sorted by it), without that column; the totals go
    under the last section. One section with every column without group_by."""
    key = result.report.group_by
    if key is None or not body:
        return [(None, headers, body, totals)]
    at = next(i for i, h in enumerate(headers) if h["key"] == key)

    def drop(cells):
        return cells[:at] + cells[at + 1:]

    sections = []
    for row in body:
        heading = row[at]["text"]
        if not sections or sections[-1][0] != heading:
            sections.append((heading, drop(headers), [], None))
        sections[-1][2].append(drop(row))
    if totals:
        heading, section_headers, rows, _ = sections[-1]
        sections[-1] = (heading, section_headers, rows, drop(totals))
    return sections


def to_pdf(result):
    """The report as PDF bytes: letterhead, title, parameters, generated at/by, table (one section
    per group, each on a new page, when the report has group_by), totals, chart."""
    from ..documents.pdf import render_pdf

    headers, body, totals = table(result)
    sections = groups(result, headers, body, totals)
    wide = len(sections[0][1]) > 6
    return render_pdf("documents/report.html", locale=result.locale, title=str(result.report.title),
                      result=result, sections=sections, chart=chart_svg(result),
                      generated=generated_line(result), page_size="Letter landscape" if wide else "Letter")


def to_csv_bytes(result):
    """The report as CSV (BOM, neutralised formulas): ISO values, or the user's locale when localized."""
    from ..documents.csvfile import to_csv

    formatter = formatting.localized if result.localized else formatting.plain
    report = result.report
    rows = [[formatter(c, row.get(c.key)) for c in report.columns] for row in result.rows]
    if report.has_totals and rows:
        rows.append(_totals_row(result, formatter))
    return to_csv([str(c.label) for c in report.columns], rows)


def to_html_document(result):
    """A standalone HTML file (command line): the table, totals and chart, no scripts."""
    from flask import render_template
    from flask_babel import get_locale as _current

    headers, body, totals = table(result)
    locale = _current()
    return render_template("reports/standalone.html", result=result, headers=headers, body=body, totals=totals,
                           chart=chart_svg(result), generated=generated_line(result),
                           doc_lang=str(locale).replace("_", "-"), doc_dir=locale.text_direction)


def filename(result, ext):
    return f"{result.report.name}-{result.generated_at.strftime('%Y%m%d-%H%M')}.{ext}"
