"""Report definitions: Report, Param, Column and Chart, and the loader of the reports/ folder.

A report is one small file in the top-level `reports/` folder that defines
`REPORT = Report(...)`; its name is the file name. The loader imports every module there
(files starting with "_" are helpers and are skipped) and checks each definition the way
Django's admin checks its declarations: every mistake is one line naming the file and the
field ("reports/x.py: chart.y: 'visits' is not a column of this report").
"""
import datetime as dt
import importlib.util
import inspect
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from babel.numbers import NumberFormatError, parse_pattern
from sqlalchemy import case, null

COLUMN_TYPES = ("text", "int", "decimal", "money", "date", "time", "percent", "language", "bool")
NUMERIC_TYPES = ("int", "decimal", "money", "percent")
PARAM_TYPES = ("date", "daterange", "provider", "language", "choice", "int", "bool", "text")
CHART_TYPES = ("bar", "line", "pie")
TOTALS = ("sum", "count")
DATE_FORMATS = ("short", "medium", "long", "full", "month", "year")
LINKS = ("patient",)  # "patient": the cell links to the chart of the row's patient_id
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "reports")
PERMISSION = "can_run"


class ReportDefinitionError(Exception):
    """One or more report definitions are wrong; `problems` lists one line per mistake."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid report definition(s):\n  " + "\n  ".join(self.problems))


@dataclass
class Param:
    """A report parameter: what staff fill in on the form (or pass as --param on the command line).

    type: date, daterange (two form fields, <name>_from and <name>_to, both dates
    inclusive), provider (an id from the provider table), language (ISO 639 code, typed
    as a code or a name), choice (one of `choices`), int (min/max), bool, text (free text:
    never written to the audit trail, it may identify a patient).
    default: a value, or a callable(today) returning one; checked by the loader.
    """

    name: str
    type: str
    label: object
    default: object = None
    required: bool = False
    choices: tuple = ()  # ((value, label), ...) for "choice"
    min: int = None
    max: int = None
    max_days: int = None  # longest date range allowed (daterange)
    help: object = None

    def fields(self):
        """The raw input keys this parameter reads."""
        return [f"{self.name}_from", f"{self.name}_to"] if self.type == "daterange" else [self.name]

    def default_value(self, today=None):
        value = self.default
        if callable(value):
            value = value(today or dt.date.today())
        return value

    def check(self, value):
        """Problems with a typed value (no database needed); [] when it is acceptable."""
        from flask_babel import lazy_gettext as _l

        if value is None or value == "" or value == (None, None):
            return [_l("This field is required.")] if self.required else []
        if self.type == "date":
            return [] if isinstance(value, dt.date) else [_l("Not a valid date.")]
        if self.type == "daterange":
            if not (isinstance(value, tuple) and len(value) == 2):
                return [_l("Not a valid date range.")]
            start, end = value
            if any(v is not None and not isinstance(v, dt.date) for v in value):
                return [_l("Not a valid date.")]
            if self.required and (start is None or end is None):
                return [_l("Give both dates.")]
            if start and end and end < start:
                return [_l("The end date is before the start date.")]
            if start and end and self.max_days and (end - start).days + 1 > self.max_days:
                return [_l("At most %(n)d days at a time.", n=self.max_days)]
            return []
        if self.type == "provider":
            return [] if isinstance(value, int) and not isinstance(value, bool) else [_l("Unknown provider.")]
        if self.type == "language":
            from ..services import languages

            return [] if isinstance(value, str) and languages.is_valid(value) else [_l("Unknown language.")]
        if self.type == "choice":
            return [] if value in [c for c, _ in self.choices] else [_l("Not a valid choice.")]
        if self.type == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                return [_l("Not a whole number.")]
            if self.min is not None and value < self.min:
                return [_l("At least %(n)d.", n=self.min)]
            if self.max is not None and value > self.max:
                return [_l("At most %(n)d.", n=self.max)]
            return []
        if self.type == "bool":
            return [] if isinstance(value, bool) else [_l("Not a yes/no value.")]
        if self.type == "text":
            return [] if isinstance(value, str) and len(value) <= 200 else [_l("At most %(n)d characters.", n=200)]
        return [_l("Unknown parameter type.")]


@dataclass
class Column:
    """A result column: `key` in the query's rows, a translated label, a type and a format.

    time: a wall-clock time (datetime.time, shown as is: no time-zone conversion), format
    "short"/"medium" or a CLDR pattern.
    format: dates "short"/"medium"/"long"/"full"/"month"/"year" or a CLDR pattern; numbers
    a CLDR number pattern ("#,##0.0"); money the ISO 4217 currency (default CLINIC_CURRENCY).
    total: "sum" (numbers) or "count" (non-empty cells; for bool: the ticked ones).
    link: "patient" makes the cell a link to the chart of the row's `patient_id`.
    """

    key: str
    label: object
    type: str = "text"
    format: str = None
    total: str = None
    link: str = None
    labels: dict = None  # code -> translated label, for text columns holding codes (sex, status)

    @property
    def numeric(self):
        return self.type in NUMERIC_TYPES


@dataclass
class Chart:
    """bar, line (one series per y column) or pie (one y column) over the x column."""

    type: str
    x: str
    y: tuple
    title: object = None

    def __post_init__(self):
        if isinstance(self.y, str):
            self.y = (self.y,)
        self.y = tuple(self.y)


@dataclass
class Report:
    """One report. The query is a function (connection, params) -> rows (or a select to run)."""

    title: object
    description: object
    query: object
    columns: list
    params: list = field(default_factory=list)
    chart: Chart = None
    roles: tuple = ()
    patient_data: bool = False
    order: int = 100
    # A column key: the PDF prints one section per value of that column (a heading, then its
    # rows without that column), each section on a new page. The query sorts by it.
    group_by: str = None
    name: str = None
    source: str = None  # the file it came from

    @property
    def view_menu(self):
        """The permission's view menu (and menu item) name: can_run on Report:<name>."""
        return f"Report:{self.name}"

    def column(self, key):
        return next((c for c in self.columns if c.key == key), None)

    def param(self, name):
        return next((p for p in self.params if p.name == name), None)

    @property
    def has_totals(self):
        return any(c.total for c in self.columns)


# --------------------------------------------------------------------------- helpers for report files

def last_months(n):
    """Default for a date range: the first day of the month n-1 months ago up to today."""

    def default(today):
        year, month = today.year, today.month - (n - 1)
        while month < 1:
            year, month = year - 1, month + 12
        return (dt.date(year, month, 1), today)

    return default


def last_days(n):
    """Default for a date range: the last n days, today included."""
    return lambda today: (today - dt.timedelta(days=n - 1), today)


def clinic_timezone():
    from flask import current_app, has_app_context

    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "UTC")


def day_bounds(start, end):
    """UTC instants for the clinic's local days start..end inclusive: (from, before); None stays open."""
    tz = clinic_timezone()

    def midnight(day):
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.timezone.utc)

    return (midnight(start) if start else None, midnight(end + dt.timedelta(days=1)) if end else None)


def unless_restricted(column, restricted=None):
    """`column`, or NULL for restricted patients: reports list them without contact data."""
    if restricted is None:
        from ..models import Patient

        restricted = Patient.restricted
    return case((restricted.is_(True), null()), else_=column)


# --------------------------------------------------------------------------- checks

def _valid_roles():
    from ..security import ROLE_DEFINITIONS

    return ["Admin"] + list(ROLE_DEFINITIONS)


def _roles_reading_patients():
    from ..security import READ, ROLE_DEFINITIONS

    return {"Admin"} | {role for role, spec in ROLE_DEFINITIONS.items() if READ in spec.get("Patient", [])}


def _entries(bad, field, items, cls, key):
    """(label, item) for each item of a list field that is a `cls`; others are reported."""
    for i, item in enumerate(items or ()):
        if isinstance(item, cls):
            yield f"{field}[{i}] {getattr(item, key)!r}", item
        else:
            bad(f"{field}[{i}]", f"must be a {cls.__name__}(...)")


def check_report(report, where):
    """Every mistake in one definition, as lines starting with `where` (the file)."""
    problems = []

    def bad(fieldname, message):
        problems.append(f"{where}: {fieldname}: {message}")

    if not isinstance(report, Report):
        return [f"{where}: REPORT: must be a Report(...), not {type(report).__name__}"]
    if not report.name or not NAME_RE.match(report.name):
        bad("name", f"{report.name!r} is not a valid report name (lower case letters, digits, _)")
    for attr in ("title", "description"):
        if not str(getattr(report, attr) or "").strip():
            bad(attr, "is empty")
    if not callable(report.query):
        bad("query", "must be a function (connection, params)")
    else:
        try:
            inspect.signature(report.query).bind(None, None)
        except TypeError:
            bad("query", "must accept two arguments: (connection, params)")
    if not isinstance(report.patient_data, bool):
        bad("patient_data", "must be True or False")

    # parameters
    seen = set()
    for label, param in _entries(bad, "params", report.params, Param, "name"):
        if not param.name or not NAME_RE.match(param.name):
            bad(label, "is not a valid parameter name")
        for key in param.fields():
            if key in seen or key in ("format", "localized", "csrf_token"):
                bad(label, f"the name {key!r} is already taken")
            seen.add(key)
        if param.type not in PARAM_TYPES:
            bad(label, f"unknown parameter type {param.type!r} (choose from {', '.join(PARAM_TYPES)})")
            continue
        if not str(param.label or "").strip():
            bad(label, "has no label")
        if param.type == "choice" and not param.choices:
            bad(label, "a choice parameter needs choices")
        try:
            default = param.default_value()
        except Exception as exc:  # a broken default callable
            bad(label, f"default: raised {exc!r}")
            continue
        if param.type == "daterange" and default is not None and not isinstance(default, tuple):
            bad(label, f"default {default!r} is not a (start, end) pair")
            continue
        for message in param.check(default):
            bad(label, f"default {default!r} fails its own validation: {message}")

    # columns
    keys = set()
    if not report.columns:
        bad("columns", "a report needs at least one column")
    for label, column in _entries(bad, "columns", report.columns, Column, "key"):
        if column.key in keys:
            bad(label, "duplicate column key")
        keys.add(column.key)
        if not str(column.label or "").strip():
            bad(label, "has no label")
        if column.type not in COLUMN_TYPES:
            bad(label, f"unknown column type {column.type!r} (choose from {', '.join(COLUMN_TYPES)})")
            continue
        if column.total is not None and column.total not in TOTALS:
            bad(label, f"unknown total {column.total!r} (choose from {', '.join(TOTALS)})")
        if column.total == "sum" and not column.numeric:
            bad(label, f"a sum needs a number column, not {column.type!r}")
        if column.labels is not None and not isinstance(column.labels, dict):
            bad(label, "labels must be a dict of value -> label")
        if column.link is not None and column.link not in LINKS:
            bad(label, f"unknown link {column.link!r} (choose from {', '.join(LINKS)})")
        if column.format is not None:
            if not isinstance(column.format, str):
                bad(label, "format must be text")
            elif column.type in ("int", "decimal", "percent"):
                try:
                    parse_pattern(column.format)
                except (NumberFormatError, ValueError) as exc:
                    bad(label, f"format {column.format!r} is not a number pattern: {exc}")
            elif column.type == "money" and not re.match(r"^[A-Z]{3}$", column.format):
                bad(label, f"format {column.format!r} is not an ISO 4217 currency code")

    if report.group_by is not None and report.group_by not in keys:
        bad("group_by", f"{report.group_by!r} is not a column of this report")

    # chart
    chart = report.chart
    if chart is not None:
        if not isinstance(chart, Chart):
            bad("chart", "must be a Chart(...)")
        else:
            if chart.type not in CHART_TYPES:
                bad("chart.type", f"unknown chart type {chart.type!r} (choose from {', '.join(CHART_TYPES)})")
            if chart.x not in keys:
                bad("chart.x", f"{chart.x!r} is not a column of this report")
            if not chart.y:
                bad("chart.y", "name at least one column")
            for key in chart.y:
                column = report.column(key)
                if column is None:
                    bad("chart.y", f"{key!r} is not a column of this report")
                elif not column.numeric:
                    bad("chart.y", f"{key!r} is a {column.type} column; a chart needs numbers")
            if chart.type == "pie" and len(chart.y) != 1:
                bad("chart.y", "a pie chart shows exactly one column")

    # roles
    valid = _valid_roles()
    if not report.roles:
        bad("roles", "name the roles that may run this report")
    for role in report.roles or ():
        if role not in valid:
            bad("roles", f"{role!r} is not a role in app/security.py (roles: {', '.join(valid)})")
    if report.patient_data:
        readers = _roles_reading_patients()
        for role in report.roles or ():
            if role in valid and role not in readers:
                bad("roles", f"{role!r} may not read patients (no can_read on Patient), but this report shows patient data")
    return problems


# --------------------------------------------------------------------------- loading

def _display_path(path):
    root = os.path.dirname(DEFAULT_FOLDER)
    path = os.path.abspath(path)
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


def load_reports(folder=DEFAULT_FOLDER):
    """Import and check every report file in `folder`; {name: Report}. Raises ReportDefinitionError."""
    problems, reports = [], {}
    if not os.path.isdir(folder):
        raise ReportDefinitionError([f"{folder}: no such report folder"])
    package = "clinicdesk_reports_" + re.sub(r"\W", "_", os.path.abspath(folder))
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".py") or filename.startswith("_"):
            continue
        path = os.path.join(folder, filename)
        where = _display_path(path)
        name = filename[:-3]
        try:
            spec = importlib.util.spec_from_file_location(f"{package}.{name}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        except Exception as exc:
            problems.append(f"{where}: cannot be imported: {type(exc).__name__}: {exc}")
            continue
        report = getattr(module, "REPORT", None)
        if report is None:
            problems.append(f"{where}: REPORT: the file defines no REPORT = Report(...)")
            continue
        if isinstance(report, Report):
            if report.name not in (None, name):
                problems.append(f"{where}: name: {report.name!r} differs from the file name {name!r} (leave it out)")
                continue
            report.name, report.source = name, where
        found = check_report(report, where)
        problems.extend(found)
        if not found:
            reports[name] = report
    if problems:
        raise ReportDefinitionError(problems)
    return dict(sorted(reports.items(), key=lambda item: (item[1].order, str(item[1].title))))


_cache = {}
_lock = threading.Lock()


def all_reports(folder=None):
    """The reports of `folder` (default: REPORTS_FOLDER from the config, else reports/), loaded once."""
    if folder is None:
        from flask import current_app, has_app_context

        folder = (current_app.config.get("REPORTS_FOLDER") if has_app_context() else None) or DEFAULT_FOLDER
    folder = os.path.abspath(folder)
    with _lock:
        if folder not in _cache:
            _cache[folder] = load_reports(folder)
        return _cache[folder]


def get_report(name):
    """The report called `name`, or None."""
    return all_reports().get(name)


def report_grants(reports=None):
    """{role: {view_menu: [permissions], "menus": [...]}} that the report definitions grant."""
    reports = all_reports() if reports is None else reports
    grants = {}
    for report in reports.values():
        for role in report.roles:
            if role == "Admin":  # Admin holds every permission anyway
                continue
            spec = grants.setdefault(role, {"Report": ["can_read"], "menus": ["Reports", "All reports"]})
            spec[report.view_menu] = [PERMISSION]
            spec["menus"].append(report.view_menu)
    return grants
