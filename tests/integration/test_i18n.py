"""Interface language: selection, the switcher, lang/dir, RTL stylesheet, catalogs, formats."""
import os
import re
import shutil
import time

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from flask import current_app
from flask_babel import force_locale, gettext

from app import create_app
from app.cli_i18n import check, compile_catalogs, extract, update
from app.extensions import db
from config import Config, interface_languages
from tests.conftest import csrf_token_from, make_user
from tests.factories import PatientFactory

HTML_TAG = re.compile(r"<html[^>]*\blang=\"([^\"]+)\"[^>]*\bdir=\"([^\"]+)\"")
EXPECTED_TAGS = {"en": "en", "es": "es", "fr": "fr", "pt_BR": "pt-BR", "vi": "vi", "zh": "zh-Hans",
                 "ar": "ar", "ru": "ru"}


def lang_dir(resp):
    m = HTML_TAG.search(resp.get_data(as_text=True))
    assert m, "page has no <html lang dir>"
    return m.groups()


def user_with_locale(locale, role="FrontDesk", username=None):
    user = make_user(role, username=username or f"{role.lower()}-{locale or 'none'}".replace("_", ""))
    user.locale = locale
    db.session.commit()
    return user


def log_in(client, auth, user):
    assert auth.login(user.username).status_code == 302
    client.csrf_token = auth.token


def switch(client, code, token, next_url="/"):
    return client.post(f"/lang/{code}", data={"csrf_token": token, "next": next_url})


# ---------------------------------------------------------------- configuration

def test_all_eight_languages_by_default_each_named_in_its_own_language():
    languages = interface_languages("")
    assert list(languages) == ["en", "es", "fr", "pt_BR", "vi", "zh", "ar", "ru"]
    assert languages["ar"]["name"] == "العربية" and languages["zh"]["name"] == "简体中文"
    assert set(languages["es"]) == {"flag", "name"}  # FAB's LANGUAGES format


def test_clinic_languages_narrows_the_list_and_refuses_unknown_codes():
    assert list(interface_languages("es, pt-BR,ZH")) == ["es", "pt_BR", "zh"]
    with pytest.raises(RuntimeError, match="klingon"):
        interface_languages("en,klingon")


# ---------------------------------------------------------------- selection order

def test_anonymous_visitor_gets_the_best_accept_language_match_else_the_default(client):
    assert lang_dir(client.get("/login/")) == ("en", "ltr")
    cases = {"fr-CA,fr;q=0.9,en;q=0.5": "fr", "pt-PT": "pt-BR", "zh-CN,zh;q=0.9": "zh-Hans",
             "de-DE,ar;q=0.8": "ar", "de-DE,de;q=0.9": "en", "en-GB,es;q=0.9": "en"}
    for header, tag in cases.items():
        assert lang_dir(client.get("/login/", headers={"Accept-Language": header}))[0] == tag, header


def test_user_setting_wins_over_accept_language(client, auth):
    log_in(client, auth, user_with_locale("ru"))
    assert lang_dir(client.get("/", headers={"Accept-Language": "fr"})) == ("ru", "ltr")


def test_user_without_setting_gets_accept_language_then_default(client, auth):
    log_in(client, auth, user_with_locale(None))
    assert lang_dir(client.get("/", headers={"Accept-Language": "vi-VN,vi;q=0.9"}))[0] == "vi"
    assert lang_dir(client.get("/"))[0] == "en"


def test_a_stored_language_no_longer_offered_falls_back(app, client, auth):
    log_in(client, auth, user_with_locale("ru"))
    offered = app.config["LANGUAGES"]
    app.config["LANGUAGES"] = {k: v for k, v in offered.items() if k != "ru"}
    try:
        assert lang_dir(client.get("/", headers={"Accept-Language": "es"}))[0] == "es"
    finally:
        app.config["LANGUAGES"] = offered


def test_fab_default_is_not_written_into_the_session(client, auth):
    client.get("/login/")
    log_in(client, auth, user_with_locale(None))
    client.get("/")
    with client.session_transaction() as sess:
        assert "locale" not in sess and "_cd_locale" not in sess


def test_fab_api_language_argument_still_works(client, auth):
    log_in(client, auth, user_with_locale("en"))
    assert lang_dir(client.get("/?_l_=fr"))[0] == "fr"
    assert lang_dir(client.get("/?_l_=xx"))[0] == "en"


# ---------------------------------------------------------------- the switcher

def test_switcher_stores_the_choice_on_the_user(client, auth):
    user = user_with_locale(None)
    log_in(client, auth, user)
    resp = switch(client, "ar", auth.token, next_url="/patients/find")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/patients/find")
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale == "ar"
    assert lang_dir(client.get("/patients/find", headers={"Accept-Language": "en"})) == ("ar", "rtl")
    # ... and it is the account's, not the session's: it is there at the next sign-in.
    auth.logout()
    assert lang_dir(client.get("/login/"))[0] == "en"
    log_in(client, auth, user)
    assert lang_dir(client.get("/")) == ("ar", "rtl")


def test_switcher_refuses_unknown_codes_gets_and_missing_csrf(client, auth):
    user = user_with_locale("es")
    log_in(client, auth, user)
    assert switch(client, "xx", auth.token).status_code == 404
    assert switch(client, "de", auth.token).status_code == 404  # a real language, not offered
    assert client.get("/lang/fr").status_code == 405  # a link must not switch
    assert client.post("/lang/fr", data={}).status_code == 400  # CSRF token required
    assert switch(client, "fr", auth.token, next_url="https://evil.example/").headers["Location"].endswith("/")
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale == "fr"  # only the valid request changed it


def test_anonymous_choice_on_the_login_page_lives_in_the_session(client, auth):
    token = csrf_token_from(client.get("/login/").get_data(as_text=True))
    resp = switch(client, "es", token, next_url="/login/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert lang_dir(client.get("/login/", headers={"Accept-Language": "fr"}))[0] == "es"
    log_in(client, auth, user_with_locale(None))  # no setting of their own: the choice stays
    assert lang_dir(client.get("/"))[0] == "es"


def test_navbar_lists_every_language_by_its_own_name_with_lang_and_dir(client, auth):
    log_in(client, auth, user_with_locale("fr"))
    html = client.get("/").get_data(as_text=True)
    for code, spec in current_app.config["LANGUAGES"].items():
        assert f'action="/lang/{code}"' in html
        assert spec["name"] in html
    assert re.search(r'lang="ar" dir="rtl" data-language="ar"\s*>العربية<', html)
    assert re.search(r'<li class="active">\s*<form method="post" action="/lang/fr"', html)


# ---------------------------------------------------------------- lang, dir, RTL stylesheet

@pytest.mark.parametrize("code", list(Config.LANGUAGES))
def test_every_page_has_the_language_tag_and_direction(client, auth, code):
    log_in(client, auth, user_with_locale(code, role="Admin", username=f"admin-{code}".replace("_", "")))
    patient = PatientFactory()
    direction = "rtl" if code == "ar" else "ltr"
    for url in ("/", "/patients/find", "/patients/register", f"/patients/{patient.id}/chart",
                "/patientlistview/list/", "/providerview/add", "/users/list/", "/audit/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert lang_dir(resp) == (EXPECTED_TAGS[code], direction), url
        has_rtl_css = "vendor/bootstrap-rtl/bootstrap-rtl.min.css" in resp.get_data(as_text=True)
        assert has_rtl_css == (code == "ar"), url


def test_rtl_stylesheet_and_its_licence_are_vendored(client):
    resp = client.get("/static/vendor/bootstrap-rtl/bootstrap-rtl.min.css")
    assert resp.status_code == 200 and b".dropdown-menu" in resp.data
    resp.close()
    vendor = os.path.join(current_app.static_folder, "vendor", "bootstrap-rtl")
    assert {"UNLICENSE", "LICENSE.bootstrap", "README.md"} <= set(os.listdir(vendor))


# ---------------------------------------------------------------- dates, numbers, money

@pytest.mark.parametrize("code, example, typed, shown", [
    ("en", "12/31/1987", "4/23/1968", "Apr 23, 1968"),
    ("fr", "31/12/1987", "23/04/1968", "23 avr. 1968"),
    ("ru", "31.12.1987", "23.04.1968", "23 апр. 1968"),
    ("zh", "1987/12/31", "1968/4/23", "1968年4月23日"),
])
def test_dates_are_typed_and_shown_in_the_users_locale(client, auth, code, example, typed, shown):
    log_in(client, auth, user_with_locale(code))
    form = client.get("/patients/register").get_data(as_text=True)
    assert f'placeholder="{example}"' in form
    resp = client.post("/patients/register", data={
        "csrf_token": csrf_token_from(form), "family_name": "Lindqvist", "given_name": "Maja",
        "birth_date": typed, "sex": "female", "preferred_language": "sv", "guarantor_relationship": "self",
        "status": "active", "country": "US"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    chart = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert shown in chart


def test_numbers_and_money_follow_the_locale(app):
    render = app.jinja_env.from_string("{{ amount|money }}|{{ amount|decimalformat }}")
    with app.test_request_context("/"):
        for code, expected in {"en": "$1,234.50|1,234.5", "fr": "1\u202f234,50\xa0$US|1\u202f234,5",
                               "pt_BR": "US$\xa01.234,50|1.234,5"}.items():
            with force_locale(code):
                assert render.render(amount=1234.5) == expected, code


# ---------------------------------------------------------------- catalogs at run time

def test_our_catalog_directory_is_merged_last(app):
    dirs = app.extensions["babel"].translation_directories
    assert dirs[-1] == Config.TRANSLATIONS_DIR
    assert any(d.rstrip("/").endswith("translations") and "flask_appbuilder" in d for d in dirs[:-1])


def _catalog(locale, entries, *, fuzzy=()):
    catalog = Catalog(locale=locale, project="test", fuzzy=False)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    return catalog


def _write_catalog(directory, lang, catalog):
    path = os.path.join(directory, lang, "LC_MESSAGES", "messages.po")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog)
    return path


def test_ours_win_over_fabs_and_fill_languages_fab_lacks(tmp_path, database_url):
    """A translated message in our catalog beats FAB's; FAB's still serves what ours lacks;
    for Arabic (no FAB catalog) ours is the only source."""
    _write_catalog(str(tmp_path), "es", _catalog("es", {"Search": "Buscar (ClinicDesk)", "Find patient": "Buscar paciente"}))
    _write_catalog(str(tmp_path), "ar", _catalog("ar", {"Search": "بحث", "List Users": "قائمة المستخدمين"}))
    compile_catalogs(str(tmp_path))
    other = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, TRANSLATIONS_DIR=str(tmp_path),
                       BABEL_TRANSLATION_DIRECTORIES=str(tmp_path))
    with other.test_request_context("/"):
        with force_locale("es"):
            assert gettext("Search") == "Buscar (ClinicDesk)"  # FAB's es says "Buscar"
            assert gettext("Find patient") == "Buscar paciente"
            assert gettext("List Users") == "Lista de usuarios"  # from FAB's catalog
        with force_locale("ar"):
            assert gettext("List Users") == "قائمة المستخدمين"
            assert gettext("Security") == "Security"  # in neither


# ---------------------------------------------------------------- flask clinic i18n

@pytest.fixture
def mini_catalogs(tmp_path):
    """A complete, compiled two-message catalog for es and fr in a temporary directory."""
    template = _catalog(None, {"Find patient": "", "Save": ""})
    with open(tmp_path / "messages.pot", "wb") as fh:
        write_po(fh, template)
    _write_catalog(str(tmp_path), "es", _catalog("es", {"Find patient": "Buscar paciente", "Save": "Guardar"}))
    _write_catalog(str(tmp_path), "fr", _catalog("fr", {"Find patient": "Trouver un patient", "Save": "Enregistrer"}))
    compile_catalogs(str(tmp_path))
    return tmp_path


def _check(runner, directory):
    return runner.invoke(args=["clinic", "i18n", "check", "--directory", str(directory)])


def test_check_passes_on_complete_compiled_catalogs(runner, mini_catalogs):
    result = _check(runner, mini_catalogs)
    assert result.exit_code == 0, result.output
    assert "All catalogs complete" in result.output


def _edit(directory, lang, msgid, *, string=None, fuzzy=False):
    path = os.path.join(directory, lang, "LC_MESSAGES", "messages.po")
    with open(path, "rb") as fh:
        catalog = read_po(fh)
    message = catalog[msgid]
    if string is not None:
        message.string = string
    if fuzzy:
        message.flags.add("fuzzy")
    with open(path, "wb") as fh:
        write_po(fh, catalog)


def _po(directory, lang):
    return os.path.join(directory, lang, "LC_MESSAGES", "messages.po")


@pytest.mark.parametrize("problem, says", [
    ("untranslated", "1 untranslated"), ("fuzzy", "1 fuzzy"), ("missing", "1 missing from the catalog"),
    ("stale", "older than its .po"), ("placeholder", "placeholder"),
])
def test_check_fails_on_each_kind_of_problem(runner, mini_catalogs, problem, says):
    directory = mini_catalogs
    if problem == "untranslated":
        _edit(directory, "fr", "Save", string="")
    elif problem == "fuzzy":
        _edit(directory, "fr", "Save", fuzzy=True)
    elif problem == "missing":
        with open(directory / "messages.pot", "wb") as fh:
            write_po(fh, _catalog(None, {"Find patient": "", "Save": "", "Cancel": ""}))
    elif problem == "placeholder":
        catalog = _catalog("es", {"Find patient": "Buscar paciente", "Save": "Guardar"})
        catalog.add("%(n)d patients", "%(num)d pacientes", flags=("python-format",))
        with open(_po(directory, "es"), "wb") as fh:
            write_po(fh, catalog)
    if problem in ("untranslated", "fuzzy"):
        compile_catalogs(str(directory))  # a fresh .mo: only the entry itself is wrong
    elif problem == "stale":
        later = time.time() + 5
        os.utime(_po(directory, "fr"), (later, later))
    result = _check(runner, directory)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and says in result.output, result.output


def test_check_fails_on_a_missing_mo(runner, mini_catalogs):
    os.remove(mini_catalogs / "es" / "LC_MESSAGES" / "messages.mo")
    result = _check(runner, mini_catalogs)
    assert result.exit_code == 1 and "messages.mo is missing" in result.output


def test_a_failing_pybabel_stops_the_command_loudly(runner, tmp_path):
    catalog = _catalog("es", {"Save": "Guardar"})
    catalog.add("%(n)d patients", "%(num)d pacientes", flags=("python-format",))  # pybabel compile: error
    _write_catalog(str(tmp_path), "es", catalog)
    result = runner.invoke(args=["clinic", "i18n", "compile", "--directory", str(tmp_path)])
    assert result.exit_code != 0
    assert "pybabel compile failed" in result.output and "unknown named placeholder" in result.output


def test_extract_takes_our_strings_and_fabs_and_update_fills_fabs_translations(tmp_path):
    shutil.copy(os.path.join(Config.TRANSLATIONS_DIR, "babel.cfg"), tmp_path / "babel.cfg")
    ours, fab, total = extract(str(tmp_path))
    assert ours > 100 and fab > 100 and total < ours + fab  # some strings are in both
    with open(tmp_path / "messages.pot", "rb") as fh:
        template = read_po(fh)
    assert any(loc.startswith("app/views/") for loc, _ in template["Find patient"].locations)
    assert any(loc.startswith("flask_appbuilder/") for loc, _ in template["List Users"].locations)
    assert any(loc.startswith("app/templates/") for loc, _ in template["Good day"].locations)
    filled = update(str(tmp_path), ["es", "vi"])
    assert filled["vi"] == 0 and filled["es"] > 100
    reports = {r.lang: r for r in check(str(tmp_path))}
    assert "Find patient" in reports["es"].untranslated and "List Users" not in reports["es"].untranslated
    assert not reports["vi"].fuzzy  # a new catalog's header is not left fuzzy (compile would skip it)


def test_catalogs_exist_for_every_offered_language_but_english():
    for code in Config.LANGUAGES:
        path = os.path.join(Config.TRANSLATIONS_DIR, code, "LC_MESSAGES", "messages.po")
        assert os.path.exists(path) == (code != "en"), code
    assert os.path.exists(os.path.join(Config.TRANSLATIONS_DIR, "messages.pot"))


def test_the_arabic_and_vietnamese_catalogs_are_ours_and_compiled(app):
    """FAB ships neither catalog: ours is the only source of their translations."""
    fab = app.extensions["babel"].translation_directories[0]
    for code in ("ar", "vi"):
        assert not os.path.exists(os.path.join(fab, code))
        assert os.path.exists(os.path.join(Config.TRANSLATIONS_DIR, code, "LC_MESSAGES", "messages.mo"))


def test_money_in_a_right_to_left_page_keeps_its_latin_currency_symbol_in_one_piece(app):
    money = app.jinja_env.filters["money"]
    with app.test_request_context():
        with force_locale("ar"):  # babel writes "120.00 US$": the "$" must not drift before the "US"
            assert str(money("120.00")) == '\u200f120.00\xa0<bdi dir="ltr">US$</bdi>'
        with force_locale("en"):
            assert money("120.00") == "$120.00"
        with force_locale("fr"):
            assert money("120.00") == "120,00\xa0$US"
