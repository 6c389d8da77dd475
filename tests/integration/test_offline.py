"""No page loads anything from another host: the clinic must work with no internet.

Every page an administrator can open (every argument-free GET route, plus the pages of
one patient and one provider) is fetched with the test client and parsed. Anything the
browser would fetch by itself (script, stylesheet, image, frame, font, form target,
CSS url()/@import, fetch()/XHR in inline scripts) must stay on this host. Plain <a>
links to other sites are allowed: the browser only follows them when clicked.
The stylesheets and scripts those pages reference are then read the same way, and so
is every CSS/JS file under app/static.
"""
import os
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.factories import PatientFactory, ProviderFactory

LOCAL_HOSTS = {"localhost", "127.0.0.1"}
STATIC_DIR = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "app", "static")
SKIP_ENDPOINTS = {"AuthDBView.logout", "static", "appbuilder.static"}

# Attributes that make the browser fetch or send something without a click.
LOADING_ATTRS = {"src", "srcset", "href", "data", "poster", "action", "formaction", "background",
                 "manifest", "ping", "imagesrcset", "codebase", "archive", "longdesc", "xlink:href"}
ANCHOR_TAGS = {"a", "area"}  # their href is only followed on a click

CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*?)\1\s*\)""", re.I)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?['"]?([^'")\s;]+)""", re.I)
_Q = r"""[`'"]"""
_ABS = r"((?:[a-z][a-z0-9+.-]*:)?//[^`'\"\s]+)"
JS_LOADS = [
    re.compile(r"\bfetch\(\s*" + _Q + _ABS, re.I),
    re.compile(r"\bimport\s*\(\s*" + _Q + _ABS, re.I),
    re.compile(r"\bfrom\s*" + _Q + _ABS, re.I),
    re.compile(r"\bimportScripts\(\s*" + _Q + _ABS, re.I),
    re.compile(r"\.(?:src|href)\s*=\s*" + _Q + _ABS, re.I),
    re.compile(r"\.open\(\s*" + _Q + r"\w+" + _Q + r"\s*,\s*" + _Q + _ABS, re.I),
    re.compile(r"\bsendBeacon\(\s*" + _Q + _ABS, re.I),
    re.compile(r"\bnew\s+(?:WebSocket|EventSource|Worker|SharedWorker)\(\s*" + _Q + _ABS, re.I),
    re.compile(r"""setAttribute\(\s*['"](?:src|href)['"]\s*,\s*""" + _Q + _ABS, re.I),
    re.compile(r"""\burl\(\s*['"]?((?:[a-z][a-z0-9+.-]*:)?//[^'")\s]+)""", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*['"]?((?:[a-z][a-z0-9+.-]*:)?//[^'")\s;]+)""", re.I),
]


def is_foreign(url):
    """True for an absolute or protocol-relative URL whose host is not this server."""
    url = (url or "").strip()
    if not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I):
        return False  # relative path, data:, javascript:, mailto:, #fragment
    return (urlsplit(url if "://" in url else "http:" + url).hostname or "") not in LOCAL_HOSTS


def css_problems(text, where):
    text = CSS_COMMENT.sub("", text)
    found = [m.group(2) for m in CSS_URL.finditer(text)] + [m.group(1) for m in CSS_IMPORT.finditer(text)]
    return [f"{where}: CSS loads {u}" for u in dict.fromkeys(found) if is_foreign(u)]


def js_problems(text, where):
    return [f"{where}: script loads {m.group(1)}" for pattern in JS_LOADS for m in pattern.finditer(text)
            if is_foreign(m.group(1))]


class PageScanner(HTMLParser):
    """Collects what a page would load from another host, and its stylesheets and scripts."""

    def __init__(self, where):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.problems = []
        self.assets = []  # (kind, url) of local stylesheets and scripts
        self._raw = None  # "style" or "script" while inside such an element

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        for name, value in attrs.items():
            if name == "style":
                self.problems += css_problems(value, f"{self.where} <{tag} style>")
            if name not in LOADING_ATTRS or (tag in ANCHOR_TAGS and name == "href"):
                continue
            urls = [part.strip().split(" ")[0] for part in value.split(",")] if "srcset" in name else [value]
            self.problems += [f"{self.where}: <{tag} {name}={u!r}>" for u in urls if is_foreign(u)]
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            target = attrs.get("content", "").partition("url=")[2]
            if is_foreign(target):
                self.problems.append(f"{self.where}: <meta refresh> to {target}")
        if tag == "link" and "stylesheet" in attrs.get("rel", "").lower() and attrs.get("href"):
            self.assets.append(("css", attrs["href"]))
        if tag == "script" and attrs.get("src"):
            self.assets.append(("js", attrs["src"]))
        if tag in ("style", "script"):
            self._raw = tag

    def handle_endtag(self, tag):
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data):
        if self._raw == "style":
            self.problems += css_problems(data, f"{self.where} <style>")
        elif self._raw == "script":
            self.problems += js_problems(data, f"{self.where} <script>")


def scan_page(html, where):
    scanner = PageScanner(where)
    scanner.feed(html)
    scanner.close()
    return scanner.problems, scanner.assets


def pages_to_visit(app):
    patient = PatientFactory(family_name="García", given_name="José", phone_mobile="+16175550123")
    PatientFactory(family_name="Nguyễn", given_name="Văn An")
    provider = ProviderFactory()
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.endpoint not in SKIP_ENDPOINTS:
            urls.append(rule.rule)
    urls += [
        f"/patients/{patient.id}/chart",
        f"/patients/{patient.id}/edit",
        f"/patients/{patient.id}/merge",
        f"/patientlistview/show/{patient.id}",
        f"/providerview/show/{provider.id}",
        f"/providerview/edit/{provider.id}",
        "/swagger/v1",
    ]
    return urls


def test_no_page_loads_anything_from_another_host(app, client, login_as):
    login_as("Admin")  # sees every screen, the security pages included
    problems, assets, statuses = [], {}, {}
    login_page = client.application.test_client().get("/login/")  # what a logged-out user sees
    found, refs = scan_page(login_page.get_data(as_text=True), "/login/ (anonymous)")
    problems += found
    assets.update({urljoin("/login/", u): k for k, u in refs})

    for url in pages_to_visit(app):
        resp = client.get(url, follow_redirects=True)
        statuses[url] = resp.status_code
        if resp.status_code == 302 or not resp.content_type.startswith("text/html"):
            continue
        found, refs = scan_page(resp.get_data(as_text=True), url)
        problems += found
        for kind, ref in refs:
            if is_foreign(ref):
                continue  # already reported by the scanner
            assets[urljoin(resp.request.path, ref)] = kind

    broken = {u: s for u, s in statuses.items() if s >= 500}
    assert not broken, f"pages failed: {broken}"
    # The walk must really have covered the screens (a logged-out client sees only /login/).
    for must in ("/", "/patients/find", "/patients/register", "/users/list/", "/roles/list/", "/patientlistview/list/"):
        assert statuses.get(must) == 200, (must, statuses.get(must))

    # Our own pages reference a known set of local CSS/JS: read each one as the browser would.
    assert any(u.endswith("/css/clinicdesk.css") for u in assets)
    assert any(u.endswith("/js/patient_search.js") for u in assets)
    for url, kind in sorted(assets.items()):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        text = resp.get_data().decode("utf-8", "replace")
        problems += css_problems(text, url) if kind == "css" else js_problems(text, url)
        resp.close()
    assert problems == [], "\n".join(problems)


def test_our_static_files_load_nothing_from_another_host():
    problems, seen = [], 0
    for root, _, files in os.walk(STATIC_DIR):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".css"):
                problems += css_problems(open(path, encoding="utf-8").read(), path)
            elif name.endswith(".js"):
                problems += js_problems(open(path, encoding="utf-8").read(), path)
            else:
                continue
            seen += 1
    assert seen >= 2
    assert problems == [], "\n".join(problems)


def test_stylesheet_fonts_and_images_are_served_locally(client):
    """The url(...) a page's stylesheets use resolve to files this server really has."""
    missing = []
    page = client.get("/login/").get_data(as_text=True)
    _, refs = scan_page(page, "/login/")
    for kind, ref in refs:
        if kind != "css":
            continue
        css = CSS_COMMENT.sub("", client.get(ref).get_data().decode("utf-8", "replace"))
        for m in CSS_URL.finditer(css):
            target = m.group(2).split("#")[0].split("?")[0]
            if not target or target.startswith("data:") or is_foreign(target):
                continue
            resp = client.get(urljoin(ref, target))
            if resp.status_code != 200:
                missing.append(f"{ref} -> {target}: {resp.status_code}")
            resp.close()
    assert missing == [], "\n".join(missing)


BAD_PAGE = """<!doctype html><html><head>
<script src="https://cdn.example.com/jquery.js"></script>
<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">
<link rel="preconnect" href="https://fonts.gstatic.com">
<link rel="stylesheet" href="/static/css/local.css">
<style>@import url("https://evil.example/x.css"); .a { background: url(/static/img/ok.png) }</style>
</head><body>
<img srcset="/static/a.png 1x, https://img.example/b.png 2x">
<div style="background-image: url('http://tracker.example/p.gif')"></div>
<iframe src="https://www.youtube.com/embed/x"></iframe>
<form action="https://forms.example/submit"></form>
<a href="https://www.hhs.gov/hipaa">HIPAA (a plain link: fine)</a>
<a href="/patients/find">local</a>
<img src="http://localhost/static/ok.png">
<script>fetch("https://api.example/track", {method: "POST"}); fetch("/patients/search");</script>
</body></html>"""


def test_the_scanner_catches_each_way_a_page_can_load_from_another_host():
    problems, assets = scan_page(BAD_PAGE, "bad")
    text = "\n".join(problems)
    for host in ("cdn.example.com", "fonts.googleapis.com", "fonts.gstatic.com", "evil.example", "img.example",
                 "tracker.example", "www.youtube.com", "forms.example", "api.example"):
        assert host in text, host
    assert "hhs.gov" not in text and "localhost" not in text
    assert len(problems) == 9, text
    assert ("css", "/static/css/local.css") in assets
    assert js_problems('x.src = "//cdn.example/a.js"; new WebSocket("wss://push.example/s")', "js") != []
    assert len(js_problems('x.src = "//cdn.example/a.js"; new WebSocket("wss://push.example/s")', "js")) == 2
    assert css_problems("/* see http://getbootstrap.com */ .x{background:url(../img/a.png)}", "css") == []
