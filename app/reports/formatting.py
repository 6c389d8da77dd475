"""Cell values as each output shows them: the reader's locale (HTML, PDF, localized CSV) or ISO."""
import datetime as dt
from decimal import Decimal

from babel.dates import format_skeleton, format_time
from flask_babel import format_currency, format_date, format_decimal, format_percent, get_locale
from flask_babel import lazy_gettext as _l

from ..services import languages

DEFAULT_CURRENCY = "USD"
DATE_SKELETONS = {"month": "yMMMM", "year": "y"}


def _currency():
    from flask import current_app

    return current_app.config.get("CLINIC_CURRENCY") or DEFAULT_CURRENCY


def _local_date(value):
    """Timestamps (stored in UTC) become the clinic's local calendar day."""
    if isinstance(value, dt.datetime):
        from .definitions import clinic_timezone

        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(clinic_timezone()).date()
    return value


def localized(column, value):
    """`value` of `column` for people: Babel formats in the current locale; '' for nothing."""
    if value is None or value == "":
        return ""
    kind = column.type
    if kind == "int":
        return format_decimal(value, column.format or "#,##0")
    if kind == "decimal":
        return format_decimal(value, column.format or "#,##0.##")
    if kind == "money":
        return format_currency(value, column.format or _currency())
    if kind == "percent":
        return format_percent(value, column.format or "#,##0.0%")
    if kind == "date":
        value = _local_date(value)
        fmt = column.format or "medium"
        if fmt in DATE_SKELETONS:
            return format_skeleton(DATE_SKELETONS[fmt], value, locale=get_locale())
        return format_date(value, fmt)
    if kind == "time":  # a wall-clock time at its place: formatted, never moved to another zone
        return format_time(value, column.format or "short", locale=get_locale())
    if kind == "language":
        return languages.name(value, str(get_locale() or "en"))
    if kind == "bool":
        return str(_l("Yes")) if value else ""
    if column.labels and value in column.labels:
        return str(column.labels[value])
    return str(value)


def plain(column, value):
    """`value` for machines: ISO dates, plain numbers with a dot, codes, true/false."""
    if value is None:
        return ""
    kind = column.type
    if kind == "date":
        return _local_date(value).isoformat()
    if kind == "time":
        return value.isoformat(timespec="minutes")
    if kind == "percent":  # a fraction, to six places (0.459790), not a float's 17 digits
        return format(Decimal(str(round(float(value), 6))).normalize(), "f")
    if kind in ("decimal", "money"):
        return format(Decimal(str(value)), "f")
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def sort_key(column, value):
    """What the browser sorts a cell by (data-sort): numbers and ISO dates sort correctly as text."""
    if value is None or value == "":
        return ""
    if column.numeric:
        return format(Decimal(str(value)), "f")
    if column.type == "bool":
        return "1" if value else "0"
    if column.type in ("date", "time"):
        return plain(column, value)
    return localized(column, value).casefold()


def totals(report, rows):
    """{key: total} for the columns that declare one: a sum, or a count of non-empty cells."""
    out = {}
    for column in report.columns:
        values = [row.get(column.key) for row in rows]
        if column.total == "sum":
            out[column.key] = sum((v for v in values if v is not None), 0)
        elif column.total == "count":
            out[column.key] = sum(1 for v in values if v not in (None, "", False))
    return out


def total_cell(column, total, formatter):
    """A total as the output shows it; count totals are whole numbers whatever the column type."""
    if column.key not in total:
        return ""
    value = total[column.key]
    if column.total == "count":
        return format_decimal(value, "#,##0") if formatter is localized else str(value)
    return formatter(column, value)
