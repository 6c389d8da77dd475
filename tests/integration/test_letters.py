"""Patient letters: the patient's language whatever the staff's, sandboxed templates, real PDFs."""
import re
import subprocess
import unicodedata
from datetime import date

import pytest
from jinja2.exceptions import SecurityError

from app.documents import letters
from app.extensions import db
from app.models import AuditEvent
from tests.factories import PatientFactory, ProviderFactory

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def pdf_words(data, tmp_path):
    """Words of the PDF's text, normalised for comparison (bidi controls out, NFKC)."""
    path = tmp_path / "letter.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", BIDI.sub("", text))


def normalised(text):
    # pdftotext splits the lam-alef ligature (الاسم -> االسم): compare without alef variants doubled
    return unicodedata.normalize("NFKC", text)


def render(patient, **data):
    values = {"test_name": "lipid panel", "result": "abnormal", "note": "", "clinician": "Dr. Ana Ruiz, MD"}
    values.update(data)
    return letters.render("results", patient, values, today=date(2026, 11, 27))


@pytest.mark.parametrize(
    "lang, expected",
    [
        ("es", ["Sus resultados de laboratorio", "llámenos", "27 de noviembre de 2026"]),
        ("vi", ["Kết quả xét nghiệm của quý vị", "Vui lòng gọi cho chúng tôi", "tháng 11"]),
        ("zh", ["您的检查结果", "请致电", "2026年11月27日"]),
        ("ru", ["Результаты ваших анализов", "позвоните нам", "27 ноября 2026"]),
        ("ar", ["نتائج", "فحوصاتك", "يرجى", "بنا"]),
    ],
)
def test_letter_is_in_the_patients_language_with_correct_glyphs(app, tmp_path, lang, expected):
    patient = PatientFactory(preferred_language=lang, given_name="An", family_name="Nguyen")
    letter = render(patient)
    assert letter.language == lang and not letter.fell_back
    text = pdf_words(letter.pdf, tmp_path)
    for phrase in expected:
        assert normalised(phrase) in text, (lang, phrase)
    assert patient.mrn in text


def test_arabic_letter_is_right_to_left_and_shaped(app, tmp_path):
    patient = PatientFactory(preferred_language="ar")
    letter = render(patient)
    png = tmp_path / "ar.png"
    (tmp_path / "ar.pdf").write_bytes(letter.pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(tmp_path / "ar.pdf"), str(tmp_path / "ar")], check=True)
    assert png.stat().st_size > 5000  # a rendered page, not a blank one
    # Right-to-left: the title's text starts at the right margin.
    bbox = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "ar.pdf"), "-"], capture_output=True, text=True).stdout
    # -bbox lists right-to-left words in visual order (reversed characters).
    word = "فحوصاتك"
    xs = [float(m) for m in re.findall(rf'<word xMin="([\d.]+)"[^>]*>(?:{word}|{word[::-1]})</word>', bbox)]
    assert xs and xs[0] > 300  # on a 612-pt wide page


def test_staff_language_does_not_change_the_letter(client, login_as, tmp_path):
    user = login_as("Clinician")
    ProviderFactory(user_id=user.id, given_name="Ana", family_name="Ruiz")
    patient = PatientFactory(preferred_language="vi")
    resp = client.post(f"/letters/results/{patient.id}", data={
        "test_name": "công thức máu", "result": "normal", "note": "", "csrf_token": client.csrf_token},
        headers={"Accept-Language": "es"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_words(resp.data, tmp_path)
    assert "Kết quả của quý vị nằm trong giới hạn bình thường" in text and "Ana Ruiz" in text
    event = db.session.query(AuditEvent).filter_by(action="print", patient_id=patient.id).one()
    assert event.object_type == "Letter"


def test_missing_language_falls_back_and_says_so(client, login_as):
    user = login_as("Clinician")
    patient = PatientFactory(preferred_language="hmn")
    letter = render(patient)
    assert letter.language == "en" and letter.fell_back
    page = client.get(f"/letters/results/{patient.id}").get_data(as_text=True)
    assert "There is no results letter in Hmong" in page


def test_a_clinics_edited_template_wins_and_stays_sandboxed(app, tmp_path):
    override = tmp_path / "letters" / "results"
    override.mkdir(parents=True)
    (override / "es.html").write_text('{% set title = "Editado" %}<p>Hola {{ patient.given_name }}</p>')
    old = app.config["LETTER_TEMPLATE_DIRS"]
    app.config["LETTER_TEMPLATE_DIRS"] = [str(tmp_path / "letters")] + old
    try:
        patient = PatientFactory(preferred_language="es", given_name="<b>Ana</b>")
        letter = render(patient)
        assert letter.title == "Editado" and "Hola &lt;b&gt;Ana&lt;/b&gt;" in letter.body_html  # autoescaped
        for evil in ("{{ ''.__class__.__mro__ }}", "{{ patient.__class__.__subclasses__() }}",
                     "{{ cycler.__init__.__globals__ }}", "{% set x = patient.update({'a': 1}) %}{{ x }}"):
            (override / "es.html").write_text(evil)
            with pytest.raises(Exception) as info:
                letters.render(
                    "results", patient, {"test_name": "x", "result": "normal", "note": "", "clinician": "x"},
                    today=date(2026, 1, 1), with_pdf=False)
            assert isinstance(info.value, SecurityError) or "undefined" in str(info.value).lower()
    finally:
        app.config["LETTER_TEMPLATE_DIRS"] = old


def test_pdf_resources_are_limited_to_static_files(app):
    from app.documents.pdf import ForbiddenResource, _static_fetcher

    for url in ("file:///etc/passwd", "http://example.org/x.png", "/static/../config.py", "/static/../../etc/passwd"):
        with pytest.raises(ForbiddenResource):
            _static_fetcher(url)
    assert _static_fetcher("/static/css/clinicdesk.css")["string"]


def test_letters_check_command_lists_missing_languages(runner):
    result = runner.invoke(args=["clinic", "letters", "check"])
    assert result.exit_code == 0, result.output
    assert "Letter templates render." in result.output


def test_front_desk_and_billing_cannot_print_results_letters(client, login_as, auth):
    patient = PatientFactory()
    login_as("FrontDesk")
    assert client.get(f"/letters/results/{patient.id}").status_code == 403


def test_missing_letter_templates_report(app, tmp_path):
    from reports.letter_templates import query

    rows = query(None, {"show": "all"})
    assert {(r["kind"], r["language"]) for r in rows} >= {("results", "ar"), ("results", "vi")}
    assert all(r["present"] for r in rows)  # every interface language ships a results letter
    old = app.config["LETTER_TEMPLATE_DIRS"]
    empty = tmp_path / "letters" / "results"
    empty.mkdir(parents=True)
    (empty / "en.html").write_text("{% set title = 'x' %}x")
    app.config["LETTER_TEMPLATE_DIRS"] = [str(tmp_path / "letters")]
    try:
        missing = query(None, {"show": "missing"})
        assert ("results", "vi", "en") in {(r["kind"], r["language"], r["written_in"]) for r in missing}
    finally:
        app.config["LETTER_TEMPLATE_DIRS"] = old
