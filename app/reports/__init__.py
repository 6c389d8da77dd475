"""Reports: declarative definitions (one file per report in the top-level reports/ folder),
one runner (parameters, permission, read-only query, audit) and the HTML/PDF/CSV/SVG output.

    from app.reports import Chart, Column, Param, Report
"""
from .definitions import (  # noqa: F401
    COLUMN_TYPES,
    Chart,
    Column,
    Param,
    Report,
    ReportDefinitionError,
    all_reports,
    day_bounds,
    get_report,
    last_days,
    last_months,
    load_reports,
    unless_restricted,
)
