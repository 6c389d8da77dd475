"""The one PDF renderer: Jinja template -> HTML -> WeasyPrint, with the clinic letterhead.

WeasyPrint may fetch only the app's own static files: no file:// paths outside them,
no network.
"""
import mimetypes
import os
from urllib.parse import urlparse

from flask import current_app, render_template
from flask_babel import force_locale
from babel import Locale


class ForbiddenResource(Exception):
    pass


def _static_fetcher(url, *args, **kwargs):
    """Serve /static/... from the app's static folder; refuse everything else."""
    parsed = urlparse(url)
    static_root = os.path.realpath(current_app.static_folder)
    if parsed.scheme in ("", "file", "http", "https") and parsed.path.startswith("/static/"):
        path = os.path.realpath(os.path.join(static_root, parsed.path[len("/static/"):]))
        if path.startswith(static_root + os.sep) and os.path.isfile(path):
            with open(path, "rb") as fh:
                return {"string": fh.read(), "mime_type": mimetypes.guess_type(path)[0], "redirected_url": url}
    raise ForbiddenResource(f"PDF resources are limited to the app's static files: {url!r}")


def render_pdf(template, *, locale="en", title="", **context):
    """Render `template` (extending documents/base.html) in `locale` and return PDF bytes."""
    from weasyprint import HTML  # heavy import: only when a PDF is made

    locale = str(locale or "en")
    with force_locale(locale):
        html = render_template(
            template,
            doc_lang=locale.replace("_", "-"),
            doc_dir=Locale.parse(locale).text_direction,
            doc_title=title,
            clinic_name=current_app.config["CLINIC_NAME"],
            clinic_address=current_app.config.get("CLINIC_ADDRESS", ""),
            clinic_phone=current_app.config.get("CLINIC_PHONE", ""),
            **context,
        )
    return HTML(string=html, base_url="/", url_fetcher=_static_fetcher).write_pdf()
