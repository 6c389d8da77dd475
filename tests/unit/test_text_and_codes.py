from datetime import date

import pytest

from app.services import dates, languages, phones
from app.services.checkdigits import luhn_check_digit, luhn_valid, npi_valid
from app.services.text import fold, prefix_upper_bound, tokens


@pytest.mark.parametrize(
    "raw, folded",
    [
        ("José Ñúñez", "jose nunez"),
        ("NGUYỄN Văn Đức", "nguyen van duc"),
        ("Øyvind Łukasz", "oyvind lukasz"),
        ("O'Brien", "obrien"),
        ("Straße", "strasse"),
        ("Иванов", "иванов"),
    ],
)
def test_fold_removes_accents_and_case(raw, folded):
    assert fold(raw) == folded


def test_tokens_split_hyphens_and_spaces():
    assert tokens("García-López  de la Cruz") == ["garcia", "lopez", "de", "la", "cruz"]


def test_prefix_upper_bound_is_tight():
    assert prefix_upper_bound("gar") == "gas"
    assert "garzzz" < prefix_upper_bound("gar") <= "gas"


def test_npi_check_digit():
    assert npi_valid("1234567893")
    assert not npi_valid("1234567890")
    assert not npi_valid("123456789")
    assert not npi_valid("12345678a3")


def test_mrn_luhn_round_trip():
    mrn = "1000042" + luhn_check_digit("1000042")
    assert luhn_valid(mrn)
    assert not luhn_valid(mrn[:-1] + str((int(mrn[-1]) + 1) % 10))


def test_phone_normalised_to_e164_and_back():
    assert phones.normalize("(212) 555-0123".replace("555-0123", "736-1234"), "US") == "+12127361234"
    assert phones.normalize("+33 1 42 68 53 00", "US") == "+33142685300"
    with pytest.raises(phones.PhoneError):
        phones.normalize("12345", "US")
    assert phones.search_key("+12127361234") == "2127361234"
    assert phones.display("+12127361234", "US") == "(212) 736-1234"


def test_language_names_in_reader_language_and_any_iso639():
    assert languages.name("vi", "es") == "vietnamita"
    assert languages.name("es", "ar") == "الإسبانية"
    assert languages.is_valid("hmn")  # Hmong: ISO 639-2/3 only
    assert languages.name("hmn", "en") == "Hmong"
    assert languages.parse("Spanish") == "es"
    assert languages.parse("español", "es") == "es"
    assert languages.parse("spa") == "es"
    assert languages.parse("Vietnamese — vi") == "vi"
    assert languages.parse("Klingonish") is None


@pytest.mark.parametrize(
    "locale, text, expected",
    [
        ("en", "3/4/1980", date(1980, 3, 4)),
        ("fr", "04/03/1980", date(1980, 3, 4)),
        ("ru", "04.03.1980", date(1980, 3, 4)),
        ("zh", "1980/3/4", date(1980, 3, 4)),
        ("ar", "4/3/1980", date(1980, 3, 4)),
        ("en", "1980-03-04", date(1980, 3, 4)),
        ("en", "2/30/1980", None),
        ("en", "garcia", None),
    ],
)
def test_dates_typed_in_the_locale_order(locale, text, expected):
    assert dates.parse_input(text, locale) == expected


def test_date_input_round_trip_every_locale():
    for locale in ("en", "es", "fr", "pt_BR", "vi", "zh", "ar", "ru"):
        shown = dates.format_input(date(1987, 12, 31), locale)
        assert "1987" in shown
        assert dates.parse_input(shown, locale) == date(1987, 12, 31)
