"""HTTP hardening: CSP with no external origins, framing refused, no caching of patient pages."""
import re

from tests.factories import PatientFactory


def test_security_headers_on_every_page(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    for url in ("/login/", "/", f"/patients/{patient.id}/chart"):
        resp = client.get(url)
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "http" not in csp.replace("'self'", "")  # no external origin anywhere
        assert re.search(r"script-src 'self' 'nonce-[^']+'", csp)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert "no-store" in resp.headers["Cache-Control"]


def test_every_script_tag_carries_the_pages_nonce(client, login_as):
    login_as("FrontDesk")
    resp = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script[^>]*>", resp.get_data(as_text=True))
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts), scripts


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login/").headers
    resp = client.get("/login/", base_url="https://localhost")
    assert "max-age=31536000" in resp.headers["Strict-Transport-Security"]


def test_session_cookie_is_httponly_and_samesite(client, login_as):
    client.get("/login/")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_static_files_may_be_cached(client):
    resp = client.get("/static/css/clinicdesk.css")
    assert resp.status_code == 200 and resp.headers.get("Cache-Control") != "no-store"


def test_oversized_request_body_is_refused(client, login_as, app):
    login_as("FrontDesk")
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = client.post("/patients/register", data={"notes": big, "csrf_token": client.csrf_token})
    assert resp.status_code == 413
