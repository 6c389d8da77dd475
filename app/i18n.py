"""Interface language: which one a request gets, and the switcher that stores the choice.

Order: FAB's `_l_` query argument (its REST API asks for labels that way), the signed-in
user's setting (ClinicUser.locale), the choice an anonymous visitor made on the login
page (kept in the session), the browser's Accept-Language (best match among the
configured languages), the default. FAB's own selector reads only `_l_` and the session
and writes the default into every session; `init_app` replaces it.
"""
import logging
import os
from functools import lru_cache

from babel import Locale

from flask import abort, current_app, g, has_request_context, redirect, request, session, url_for
from flask_appbuilder import AppBuilder, expose
from flask_appbuilder.babel.views import LocaleView as FabLocaleView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import get_locale, refresh

log = logging.getLogger(__name__)

SESSION_KEY = "_cd_locale"  # an anonymous visitor's choice (FAB's "locale" key is not read)
# BCP 47 tags for <html lang> where the catalog code says less than the browser needs
# (the script picks the right CJK glyphs).
HTML_LANG = {"zh": "zh-Hans"}


def languages():
    return current_app.config["LANGUAGES"]


def _normalise(tag):
    return (tag or "").strip().replace("-", "_").lower()


def best_accept_language(accept, available):
    """The configured code that best serves an Accept-Language list (werkzeug's parsed header).

    The browser's order (quality) decides; each entry matches exactly, else by its primary
    language (pt-PT is served pt_BR, zh-CN zh, ar-EG ar). None when nothing matches.
    """
    by_tag = {_normalise(code): code for code in available}
    for tag, _quality in accept:
        tag = _normalise(tag)
        if tag in by_tag:
            return by_tag[tag]
        primary = tag.split("_")[0]
        for code in available:
            if _normalise(code).split("_")[0] == primary:
                return code
    return None


def closest_language(code):
    """The configured interface language for a patient's or user's language code (pt -> pt_BR),
    or the default when none is close."""
    found = best_accept_language([(code, 1)], languages()) if code else None
    return found or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_locale():
    """The locale_selector Flask-Babel calls once per request (see the module docstring)."""
    if not has_request_context():
        return None
    available = languages()
    asked = request.args.get("_l_")
    if asked in available:
        return asked
    user = _current_user()
    if user is not None and getattr(user, "locale", None) in available:
        return user.locale
    chosen = session.get(SESSION_KEY)
    if chosen in available:
        return chosen
    return best_accept_language(request.accept_languages, available) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _current_user():
    from flask_login import current_user

    try:
        return current_user if current_user.is_authenticated else None
    except Exception:  # no login manager on this app (bare test apps)
        return None


def current_code():
    """The code of this request's language, as in LANGUAGES (None outside a request)."""
    locale = get_locale()
    return str(locale) if locale is not None else None


def html_lang(locale):
    """The BCP 47 tag for <html lang>."""
    code = str(locale) if locale else "en"
    return HTML_LANG.get(code, code.replace("_", "-"))


def html_dir(locale):
    return getattr(locale, "text_direction", "ltr") if locale else "ltr"


@lru_cache(maxsize=8)
def _menu(items):
    return [{"code": code, "name": name, "lang": html_lang(code), "dir": Locale.parse(code).text_direction}
            for code, name in items]


def language_menu():
    """The switcher's entries: code, own name, and the lang/dir to render that name with."""
    return _menu(tuple((code, spec["name"]) for code, spec in languages().items()))


class LocaleView(FabLocaleView):
    """The navbar's language switcher: POST /lang/<code> (with the CSRF token).

    A signed-in user's choice is stored on the account (ClinicUser.locale), so it follows
    them to every device; an anonymous visitor's (login page) lives in the session.
    Unknown codes are refused with 404. GET changes nothing: a link must not switch.
    """

    @expose("/<string:locale>", methods=["POST"])
    def index(self, locale):
        if locale not in languages():
            abort(404, description="Language not offered.")
        user = _current_user()
        if user is not None:
            from .extensions import db

            user.locale = locale
            db.session.commit()
        else:
            session[SESSION_KEY] = locale
        refresh()
        target = get_safe_redirect(request.form.get("next", "")) if request.form.get("next") else None
        if not target or target == "/":
            target = self.appbuilder.get_url_for_index if user is not None else url_for("AuthDBView.login")
        return redirect(target)

class ClinicAppBuilder(AppBuilder):
    """AppBuilder whose BabelManager registers our LocaleView instead of FAB's."""

    def _add_admin_views(self):
        self.bm.register_views = self._register_locale_view
        super()._add_admin_views()

    def _register_locale_view(self):
        self.bm.locale_view = self.add_view_no_menu(LocaleView())


def check_catalogs(app):
    """Log a warning for each configured language whose compiled catalog is missing or stale."""
    directory = app.config["TRANSLATIONS_DIR"]
    for code in app.config["LANGUAGES"]:
        if code == "en":
            continue
        po = os.path.join(directory, code, "LC_MESSAGES", "messages.po")
        mo = po[:-3] + ".mo"
        if not os.path.exists(po):
            log.warning("no catalog for %s (%s): run `flask clinic i18n update`", code, po)
        elif not os.path.exists(mo) or os.path.getmtime(mo) < os.path.getmtime(po):
            log.warning("%s is missing or older than its .po: run `flask clinic i18n compile`", mo)


def init_app(app):
    """After AppBuilder: our locale selector, catalogs merged with ours last (ours win)."""
    babel = app.extensions["babel"]
    babel.locale_selector = select_locale
    ours = app.config["TRANSLATIONS_DIR"]
    # FAB joined its directory before ours; Flask-Babel merges them in order, so the last
    # one wins where both translate a message. Keep that order explicit.
    babel.translation_directories = [d for d in babel.translation_directories if d != ours] + [ours]
    # Flask-Babel caches the locale on `g`; requests that share one app context (the test
    # client inside a test's context) must each choose again, before any other hook.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_cached_locale)
    check_catalogs(app)


def _forget_cached_locale():
    g.pop("_flask_babel", None)
