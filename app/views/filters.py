"""Jinja filters shared by the templates."""
from flask import current_app
from flask_babel import format_date, get_locale

from datetime import date

from ..services import dates, phones


def register_template_filters(app):
    @app.template_filter("phone")
    def phone_filter(value):
        return phones.display(value, current_app.config["CLINIC_COUNTRY"])

    @app.template_filter("date_medium")
    def date_medium(value):
        return format_date(value, "medium") if value else ""

    @app.context_processor
    def locale_context():
        locale = get_locale()
        return {
            "html_lang": str(locale).replace("_", "-") if locale else "en",
            "html_dir": getattr(locale, "text_direction", "ltr"),
            "date_example": dates.format_input(date(1987, 12, 31), locale or "en"),
        }
