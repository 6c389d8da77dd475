"""The catalogs are complete and the screens use them.

These fail until the translators have filled every catalog: they are marked
`translations`, and CLINICDESK_SKIP_TRANSLATION_TESTS=1 skips them (never by default).
"""
import os
import re
import shutil
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

from app.cli_i18n import extract
from app.extensions import db
from config import Config
from tests.conftest import make_user
from tests.factories import PatientFactory

pytestmark = pytest.mark.translations

LANGUAGES = [code for code in Config.LANGUAGES if code != "en"]


def read_catalog(code):
    with open(os.path.join(Config.TRANSLATIONS_DIR, code, "LC_MESSAGES", "messages.po"), "rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(code):
    catalog = read_catalog(code)
    empty, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(s and s.strip() for s in strings):
            empty.append(message.id)
        elif message.fuzzy:
            fuzzy.append(message.id)
    errors = [f"{m.id!r}: {e}" for m, errs in catalog.check() for e in errs]
    assert not catalog.fuzzy, f"{code}: the catalog header is marked fuzzy"
    assert not (empty or fuzzy or errors), (
        f"{code}: {len(empty)} untranslated, {len(fuzzy)} fuzzy, {len(errors)} placeholder errors; "
        f"first: {(empty + fuzzy + errors)[:10]}")


def test_the_catalog_template_has_every_message_of_the_code(tmp_path):
    """Run `flask clinic i18n extract` and `update` after adding or changing a string."""
    shutil.copy(os.path.join(Config.TRANSLATIONS_DIR, "babel.cfg"), tmp_path / "babel.cfg")
    extract(str(tmp_path))
    with open(tmp_path / "messages.pot", "rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    with open(os.path.join(Config.TRANSLATIONS_DIR, "messages.pot"), "rb") as fh:
        committed = {m.id for m in read_po(fh) if m.id}
    assert sorted(map(str, fresh - committed)) == [], "messages.pot lacks these: run flask clinic i18n extract"
    for code in LANGUAGES:
        have = {m.id for m in read_catalog(code) if m.id}
        assert sorted(map(str, committed - have)) == [], f"{code}: run flask clinic i18n update"


class VisibleText(HTMLParser):
    """Text nodes and the attributes a person reads (placeholder, title, alt, aria-label,
    button values, the messages scripts show from data-* attributes)."""

    ATTRS = {"placeholder", "title", "alt", "aria-label"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in self.ATTRS or name.startswith("data-") or
                          (name == "value" and tag == "input" and dict(attrs).get("type") in ("submit", "button"))):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def visible_texts(html):
    parser = VisibleText()
    parser.feed(html)
    return {re.sub(r"\s+", " ", t).strip() for t in parser.texts} - {""}


@pytest.mark.parametrize("code", LANGUAGES)
def test_pages_show_no_english_text_that_the_catalog_translates(client, auth, code):
    """Every visible text equal to a msgid must appear translated: an English string on a
    page in another language is either untranslated in the catalog or not marked in code."""
    catalog = {m.id: m.string for m in read_catalog(code) if m.id and isinstance(m.id, str)}
    # A text that is itself a translation here is not English left behind (pt_BR "Login").
    translations = {m.string for m in read_catalog(code) if isinstance(m.string, str)}
    user = make_user("Admin", username=f"translator-{code}".replace("_", ""))
    user.locale = code
    db.session.commit()
    assert auth.login(user.username).status_code == 302
    patient = PatientFactory(interpreter_needed=True)
    pages = {
        "home": "/", "find": "/patients/find", "register": "/patients/register",
        "chart": f"/patients/{patient.id}/chart", "audit trail": "/audit/",
        "claims": "/claims/", "denied claims": "/claims/denied", "claim batches": "/claims/batches",
        "payments": "/payments/", "patient payments": "/patient-payments/", "payer files": "/payer-files/",
        "statements": "/statements/", "referrals": "/referrals/", "overdue referrals": "/referrals/overdue",
        "authorizations": "/authorizations/", "stock": "/inventory/", "low stock": "/inventory/lists/low-stock",
        "expiring": "/inventory/lists/expiring", "purchase orders": "/purchase-orders/",
    }
    untranslated = {}
    for name, url in pages.items():
        resp = client.get(url)
        assert resp.status_code == 200, url
        for text in visible_texts(resp.get_data(as_text=True)):
            if text in catalog and catalog[text] != text and text not in translations:
                untranslated.setdefault(name, []).append(text)
    resp = client.post("/audit/", data={"csrf_token": auth.token, "format": "html"})
    for text in visible_texts(resp.get_data(as_text=True)):
        if text in catalog and catalog[text] != text and text not in translations:
            untranslated.setdefault("audit trail results", []).append(text)
    assert untranslated == {}, f"{code}: English text on the page: {untranslated}"
