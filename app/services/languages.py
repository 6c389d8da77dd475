"""ISO 639 languages: codes, names in the reader's language, and parsing what staff type."""
import functools
import gettext

import pycountry
from babel import Locale, UnknownLocaleError

from .text import fold


def _code(lang):
    """The code we store: ISO 639-1 when the language has one, else ISO 639-3."""
    return getattr(lang, "alpha_2", None) or lang.alpha_3


@functools.lru_cache(maxsize=None)
def _all_codes():
    return {_code(lang): lang for lang in pycountry.languages}


def is_valid(code):
    return bool(code) and code in _all_codes()


@functools.lru_cache(maxsize=64)
def _pycountry_translation(locale):
    try:
        return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[locale])
    except OSError:
        return None


@functools.lru_cache(maxsize=64)
def _babel_names(locale):
    try:
        return Locale.parse(locale).languages
    except (UnknownLocaleError, ValueError):
        return {}


def name(code, locale="en"):
    """Name of the language `code` written in the language `locale`."""
    if not code:
        return ""
    lang = _all_codes().get(code)
    babel_name = _babel_names(str(locale)).get(code)
    if babel_name:
        return babel_name
    if lang is None:
        return code
    translation = _pycountry_translation(str(locale))
    return translation.gettext(lang.name) if translation else lang.name


@functools.lru_cache(maxsize=16)
def common_choices(locale="en"):
    """(code, name) of the languages CLDR names in `locale`, sorted by name."""
    names = _babel_names(str(locale))
    codes = _all_codes()
    return sorted(
        ((c, n) for c, n in names.items() if c in codes), key=lambda item: fold(item[1])
    )


@functools.lru_cache(maxsize=16)
def _name_index(locale):
    index = {}
    for code, lang in _all_codes().items():
        index.setdefault(fold(lang.name), code)
    for code, label in _babel_names("en").items():
        if code in _all_codes():
            index.setdefault(fold(label), code)
    for code, label in _babel_names(str(locale)).items():
        if code in _all_codes():
            index[fold(label)] = code
    return index


def parse(text, locale="en"):
    """Code for what was typed: a code ("es", "spa"), a name ("Spanish", "español"),
    or a "name — code" choice. Returns None when nothing matches."""
    text = (text or "").strip()
    if not text:
        return None
    if "—" in text:
        text = text.rsplit("—", 1)[1].strip()
    lowered = text.lower()
    if lowered in _all_codes():
        return lowered
    lang = pycountry.languages.get(alpha_3=lowered) if len(lowered) == 3 else None
    if lang is not None:
        return _code(lang)
    return _name_index(str(locale)).get(fold(text))
