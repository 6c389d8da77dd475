"""Jinja filters shared by the templates."""
from flask import current_app
from flask_babel import format_currency, format_date, get_locale
from markupsafe import Markup

import re
from datetime import date

from .. import i18n
from ..services import dates, phones


_LATIN_SYMBOL = re.compile(r"[A-Za-z]+[$€£¥]|[$€£¥][A-Za-z]*")


def register_template_filters(app):
    @app.template_filter("phone")
    def phone_filter(value):
        # Isolated left to right: in an Arabic line "(617) 555-0142" would read "555-0142 (617)".
        text = phones.display(value, current_app.config["CLINIC_COUNTRY"])
        return Markup('<bdi dir="ltr">%s</bdi>') % text if text else ""

    @app.template_filter("money")
    def money_filter(value, currency=None):
        """An amount in the reader's locale: $1,234.50, 1 234,50 $US, US$ 1.234,50 ..."""
        if value is None or value == "":
            return ""
        text = format_currency(value, currency or current_app.config.get("CLINIC_CURRENCY", "USD"))
        if i18n.html_dir(get_locale()) == "rtl":
            # Arabic writes "120.00 US$"; left loose in a right-to-left line the "$" drifts before the
            # "US" ("$US 120.00"): the Latin symbol is isolated as one left-to-right run.
            text = _LATIN_SYMBOL.sub(lambda m: Markup('<bdi dir="ltr">%s</bdi>') % m.group(0), str(Markup.escape(text)))
            return Markup(text)
        return text

    @app.template_filter("date_medium")
    def date_medium(value):
        return format_date(value, "medium") if value else ""

    @app.context_processor
    def locale_context():
        locale = get_locale()  # app/i18n.py select_locale(): user, session, Accept-Language, default
        return {
            "html_lang": i18n.html_lang(locale),
            "html_dir": i18n.html_dir(locale),
            "current_language": str(locale) if locale else current_app.config["BABEL_DEFAULT_LOCALE"],
            "language_menu": i18n.language_menu,
            "date_example": dates.format_input(date(1987, 12, 31), locale or "en"),
        }
