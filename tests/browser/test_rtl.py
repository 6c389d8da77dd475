"""Right-to-left layout in a real Chromium: an Arabic user's pages are mirrored, an English
user's are not, and the language switcher stores the choice on the account."""
from datetime import date

import pytest

from app.extensions import db
from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.factories import PatientFactory

pytestmark = pytest.mark.browser


def user_speaking(code, username):
    user = make_user("FrontDesk", username=username)
    user.locale = code
    db.session.commit()
    return user


def box(page, selector):
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not visible"
    return found


def search(page, text):
    page.locator("#patient-search-q").press_sequentially(text, delay=20)
    page.wait_for_selector("#patient-search-results tbody tr")


def test_arabic_user_gets_a_mirrored_page(page, tmp_path):
    PatientFactory(family_name="García", given_name="José", birth_date=date(1975, 6, 14), phone_mobile="+16175550142")
    log_in(page, user_speaking("ar", "layla").username)
    page.goto("/")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    assert page.locator("link#bootstrap-rtl").count() == 1
    width = page.viewport_size["width"]

    brand, user_menu = box(page, ".navbar-brand"), box(page, ".navbar-right")
    assert brand["x"] > width / 2, "the brand sits on the right"
    assert user_menu["x"] + user_menu["width"] < width / 2, "the user and language menus sit on the left"
    menu = box(page, ".navbar-collapse > .nav.navbar-nav:not(.navbar-right)")
    assert menu["x"] + menu["width"] <= brand["x"] + 1, "the menu follows the brand, leftwards"

    search(page, "garcia")
    icon, field = box(page, ".cd-search .input-group-addon"), box(page, "#patient-search-q")
    assert icon["x"] > field["x"], "the search icon leads on the right"
    first, last = box(page, "#patient-search-results thead th:first-child"), box(page, "#patient-search-results thead th:last-child")
    assert first["x"] > last["x"], "the MRN column is the rightmost"
    phone = page.locator("#patient-search-results tbody tr td:last-child").inner_text()
    assert phone.strip() == "(617) 555-0142"
    page.screenshot(path=str(tmp_path / "rtl-home-search.png"), full_page=True)
    assert (tmp_path / "rtl-home-search.png").stat().st_size > 10_000
    assert page.requests.foreign() == []


def test_english_user_gets_left_to_right_without_the_rtl_stylesheet(page, tmp_path):
    log_in(page, user_speaking("en", "emma").username)
    page.goto("/patients/find")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("en", "ltr")
    assert page.locator("link#bootstrap-rtl").count() == 0
    assert box(page, ".navbar-brand")["x"] < page.viewport_size["width"] / 2
    page.screenshot(path=str(tmp_path / "ltr-find.png"))


def test_switching_to_arabic_in_the_navbar_mirrors_the_page_and_sticks(page):
    user = user_speaking(None, "omar")
    log_in(page, user.username)
    page.goto("/patients/find")
    page.click("#language-menu")
    with page.expect_navigation():
        page.click("button.cd-language[data-language=ar]")
    assert page.url.endswith("/patients/find")
    assert page.locator("html").get_attribute("dir") == "rtl"
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale == "ar"
    page.click("#language-menu")
    with page.expect_navigation():
        page.click("button.cd-language[data-language=en]")
    assert page.locator("html").get_attribute("dir") == "ltr"
