"""Which patient letters exist in which language, and what a letter falls back to without one."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateNotFound

from app.documents import letters
from app.reports import Column, Param, Report

SHOW = (("missing", _l("Missing templates only")), ("all", _l("All templates")))


def query(conn, p):
    rows = []
    langs = sorted({code.split("_")[0] for code in current_app.config["LANGUAGES"]})
    for kind in letters.KINDS:
        for lang in langs:
            present = letters.available(kind, lang)
            if p["show"] == "missing" and present:
                continue
            rows.append({
                "kind": kind,
                "language": lang,
                "present": present,
                "written_in": lang if present else _fallback(kind, lang),
            })
    return rows


def _fallback(kind, lang):
    """The language the letter is printed in instead; None when the kind has no template at all."""
    try:
        return letters.choose_language(kind, lang)
    except TemplateNotFound:
        return None


REPORT = Report(
    title=_l("Letter templates by language"),
    description=_l("Patient letters that have no template in an interface language, and the language they are printed in instead."),
    params=[Param("show", "choice", _l("Show"), default="missing", required=True, choices=SHOW)],
    query=query,
    columns=[
        Column("kind", _l("Letter"), "text"),
        Column("language", _l("Language"), "language"),
        Column("present", _l("Template present"), "bool"),
        Column("written_in", _l("Printed in"), "language"),
    ],
    roles=["OfficeManager"],
    patient_data=False,
    order=90,
)
