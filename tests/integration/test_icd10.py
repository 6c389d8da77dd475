"""ICD-10-CM: code sets in force by date of service, billable codes only, fast search, loading."""
import time
from datetime import date

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models.billing import Icd10Code, Icd10CodeSet, Icd10Term
from app.services import icd10
from app.services.errors import ValidationFailed

FY2025_DAY = date(2025, 6, 2)   # the FY2025 sample set is in force
FY2026_DAY = date(2025, 11, 3)  # the FY2026 sample set (adds E11.A) is in force


def codes(found):
    return [icd10.display(c.code) for c in found]


def test_display_and_normalize():
    assert icd10.display("E119") == "E11.9"
    assert icd10.display("e11.9") == "E11.9"
    assert icd10.display("I10") == "I10"
    assert icd10.display("s72001a") == "S72.001A"
    assert icd10.normalize(" e11.65 ") == "E1165"


@pytest.mark.parametrize("typed", ["E11.9", "e119", " E11.9 ", "e11.9"])
def test_lookup_accepts_a_billable_code_typed_any_way(icd10_sets, typed):
    code, problem = icd10.lookup(db.session, typed, FY2026_DAY)
    assert problem is None
    assert code.code == "E119" and code.billable
    assert code.description == "Type 2 diabetes mellitus without complications"
    assert code.code_set_id == icd10_sets["ICD-10-CM FY2026 sample"].id  # the set in force on that day


def test_lookup_refuses_a_category(icd10_sets):
    code, problem = icd10.lookup(db.session, "e11", FY2026_DAY)
    assert code.code == "E11" and not code.billable
    assert problem == "E11 is a category, not a billable code: choose a more specific code."


def test_lookup_refuses_an_unknown_code(icd10_sets):
    code, problem = icd10.lookup(db.session, "E11.99", FY2026_DAY)
    assert code is None
    assert problem == "Unknown ICD-10-CM code E11.99."


def test_a_code_new_in_a_later_release_is_not_in_force_before_it(icd10_sets):
    code, problem = icd10.lookup(db.session, "E11.A", FY2025_DAY)
    assert code is None
    assert problem == "E11.A is not in force on Jun 2, 2025."
    code, problem = icd10.lookup(db.session, "E11.A", date(2025, 10, 1))  # first day of FY2026
    assert problem is None and code.description == "Type 2 diabetes mellitus without complications in remission"
    # before the first set: every code is still to come
    assert icd10.lookup(db.session, "E11.9", date(2020, 1, 1)) == (None, "E11.9 is not in force on Jan 1, 2020.")


def test_search_by_code_prefix_lists_billable_codes_first(icd10_sets):
    found = icd10.search(db.session, "e11.1", FY2026_DAY)
    assert codes(found) == ["E11.10", "E11.11", "E11.1"]
    found = icd10.search(db.session, "E11", FY2026_DAY, limit=50)
    assert codes(found)[:2] == ["E11.00", "E11.01"]
    assert "E11.A" in codes(found)
    assert codes(found)[-3:] == ["E11", "E11.0", "E11.1"]  # categories last
    assert "E11.A" not in codes(icd10.search(db.session, "E11", FY2025_DAY, limit=50))


def test_search_by_words_matches_every_word_by_prefix_ignoring_case_and_accents(icd10_sets):
    assert codes(icd10.search(db.session, "diab remission", FY2026_DAY)) == ["E11.A"]
    assert codes(icd10.search(db.session, "diab remission", FY2025_DAY)) == []  # not yet in force
    found = codes(icd10.search(db.session, "Diabète  WITHOUT complic", FY2026_DAY))
    assert found == ["E11.9", "E11.A"]
    found = codes(icd10.search(db.session, "type 2 diabetes hyperosmolarity coma", FY2026_DAY))
    assert found == ["E11.00", "E11.01"]  # "2" is too short to search; "coma" also prefixes a word of E11.00
    assert codes(icd10.search(db.session, "(NKHHC)", FY2026_DAY)) == ["E11.00"]
    assert codes(icd10.search(db.session, "asthma", FY2026_DAY)) == ["J45.20", "J45.909", "J45", "J45.2", "J45.9", "J45.90"]
    assert icd10.search(db.session, "zzz", FY2026_DAY) == []
    assert icd10.search(db.session, "  ", FY2026_DAY) == []


def test_word_search_reads_the_term_index(icd10_sets):
    """The very statement search() runs, explained: every word is a range scan of ix_icd10_term."""
    stmt = icd10.word_search(icd10_sets["ICD-10-CM FY2026 sample"].id, "diab without")
    with db.engine.begin() as conn:
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
        else:
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # tiny sample tables: show the index plan
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN " + sql)))
    assert plan.count("ix_icd10_term") == 2, plan


def test_terms_are_folded_deduplicated_words_of_two_letters_or_more(icd10_sets):
    code = db.session.scalar(select(Icd10Code).where(Icd10Code.code == "E1101",
                                                     Icd10Code.code_set_id == icd10_sets["ICD-10-CM FY2026 sample"].id))
    words = set(db.session.scalars(select(Icd10Term.term).where(Icd10Term.code_id == code.id)))
    assert words == {"type", "diabetes", "mellitus", "with", "hyperosmolarity", "coma"}
    assert icd10.terms("Maladie de Sjögren, de type 1") == ["maladie", "de", "sjogren", "type"]


def test_a_second_set_with_the_same_date_or_name_is_refused(icd10_sets):
    with pytest.raises(ValidationFailed) as exc:
        icd10.load_code_set(db.session, [("E119", "x", True)], name="ICD-10-CM FY2025 sample",
                            effective_from=date(2025, 10, 1), source="t")
    messages = [str(m) for _, m in exc.value.problems]
    assert messages == ["A code set named ICD-10-CM FY2025 sample is already loaded.",
                        "A code set effective from 2025-10-01 is already loaded."]
    db.session.rollback()
    assert db.session.scalar(select(func.count(Icd10CodeSet.id))) == 2


# --- the JSON endpoint pickers call -----------------------------------------------------------


def post_search(client, body):
    return client.post("/icd10/search", json=body, headers={"X-CSRFToken": client.csrf_token})


@pytest.mark.parametrize("role", ["Billing", "Clinician"])
def test_search_endpoint_answers_from_the_body(client, login_as, icd10_sets, role):
    login_as(role)
    resp = post_search(client, {"q": "diab remission", "date": "2025-11-03"})
    assert resp.status_code == 200
    assert resp.json == {"code_set": "ICD-10-CM FY2026 sample", "results": [
        {"code": "E11.A", "description": "Type 2 diabetes mellitus without complications in remission",
         "billable": True}]}
    resp = post_search(client, {"q": "diab remission", "date": "2025-06-02"})
    assert resp.json == {"code_set": "ICD-10-CM FY2025 sample", "results": []}
    resp = post_search(client, {"q": "E11", "date": "2025-13-45"})
    assert resp.status_code == 400
    assert resp.json["error"] == "The date of service must be a date like 2026-01-01."


def test_front_desk_cannot_search_diagnosis_codes(client, login_as, icd10_sets):
    login_as("FrontDesk")
    resp = post_search(client, {"q": "E11"})
    assert resp.status_code == 403
    assert b"E11" not in resp.data


# --- flask clinic load-icd10 ------------------------------------------------------------------


def cms_line(order, code, billable, description):
    return f"{order:05d} {code:<7} {billable} {description[:60]:<60} {description}"


def test_cli_loads_a_cms_order_file(runner, tmp_path, icd10_sets):
    path = tmp_path / "icd10cm_order_2027.txt"
    path.write_text("\n".join([
        cms_line(1, "E11", 0, "Type 2 diabetes mellitus"),
        cms_line(2, "E119", 1, "Type 2 diabetes mellitus without complications"),
        cms_line(3, "E11A", 1, "Type 2 diabetes mellitus without complications in remission"),
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["clinic", "load-icd10", str(path), "--effective", "2026-10-01", "--name", "FY2027"])
    assert result.exit_code == 0, result.output
    assert "Loaded 3 codes of FY2027, in force from 2026-10-01." in result.output
    code_set = db.session.scalar(select(Icd10CodeSet).where(Icd10CodeSet.name == "FY2027"))
    assert code_set.source == "icd10cm_order_2027.txt" and code_set.code_count == 3
    code, problem = icd10.lookup(db.session, "E11.9", date(2026, 11, 27))
    assert problem is None and code.code_set_id == code_set.id
    # the FY2027 file has no I10: not in force in that release
    assert icd10.lookup(db.session, "I10", date(2026, 11, 27)) == (None, "Unknown ICD-10-CM code I10.")
    assert icd10.lookup(db.session, "I10", date(2026, 9, 30))[1] is None
    # the same effective date again is refused, nothing changes
    result = runner.invoke(args=["clinic", "load-icd10", str(path), "--effective", "2026-10-01"])
    assert result.exit_code != 0
    assert "A code set effective from 2026-10-01 is already loaded." in result.output
    assert db.session.scalar(select(func.count(Icd10CodeSet.id))) == 3


def test_cli_reports_bad_lines_by_number_and_loads_nothing(runner, tmp_path):
    path = tmp_path / "order.txt"
    path.write_text("\n".join([
        cms_line(1, "E11", 0, "Type 2 diabetes mellitus"),
        cms_line(2, "E119", 1, "Type 2 diabetes mellitus without complications"),
        cms_line(3, "1E19", 7, "Broken"),
        "garbage",
        cms_line(5, "E119", 1, "Again"),
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["clinic", "load-icd10", str(path), "--effective", "2026-10-01"])
    assert result.exit_code == 1
    assert "refused, nothing was loaded" in result.output
    assert "Line 3: 1E19 is not an ICD-10-CM code." in result.output
    assert "Line 3: the billable flag must be 0 or 1." in result.output
    assert "Line 4 is not in the CMS order file format" in result.output
    assert "Line 5: E11.9 already appears on line 2." in result.output
    assert db.session.scalar(select(func.count(Icd10CodeSet.id))) == 0
    assert db.session.scalar(select(func.count(Icd10Code.id))) == 0


def test_cli_needs_a_file_and_an_effective_date_or_default(runner, tmp_path):
    path = tmp_path / "order.txt"
    path.write_text(cms_line(1, "I10", 1, "Essential (primary) hypertension") + "\n")
    result = runner.invoke(args=["clinic", "load-icd10", str(path)])
    assert result.exit_code == 2 and "--effective YYYY-MM-DD is required" in result.output
    result = runner.invoke(args=["clinic", "load-icd10"])
    assert result.exit_code == 2 and "either FILE" in result.output
    assert db.session.scalar(select(func.count(Icd10CodeSet.id))) == 0


def test_init_skips_loading_when_a_code_set_exists(runner, icd10_sets):
    from app.cli_billing import ensure_default_icd10

    with runner.isolation() as (out, _err, *_):
        ensure_default_icd10(db.session)
    assert b"ICD-10-CM code set already loaded." in out.getvalue()
    assert db.session.scalar(select(func.count(Icd10CodeSet.id))) == 2


def test_default_release_is_the_april_2026_update(app):
    name, effective_from, source = icd10.default_release()
    assert (name, effective_from) == ("ICD-10-CM April 2026", date(2026, 4, 1))
    assert source.startswith("simple-icd-10-cm 1.5.0")


def test_loading_the_real_code_set_of_simple_icd_10_cm(runner, capsys):
    """The full release (~98,000 codes, ~75,000 billable): a few seconds."""
    started = time.perf_counter()
    result = runner.invoke(args=["clinic", "load-icd10", "--default"])
    load_seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    code_set = db.session.scalar(select(Icd10CodeSet))
    assert code_set.name == "ICD-10-CM April 2026" and code_set.effective_from == date(2026, 4, 1)
    total = db.session.scalar(select(func.count(Icd10Code.id)))
    billable = db.session.scalar(select(func.count(Icd10Code.id)).where(Icd10Code.billable.is_(True)))
    assert total == code_set.code_count > 90000
    assert 74000 < billable < 76000
    day = date(2026, 11, 27)
    assert icd10.lookup(db.session, "E11.9", day)[1] is None
    assert icd10.lookup(db.session, "E11", day)[1] == "E11 is a category, not a billable code: choose a more specific code."
    code, problem = icd10.lookup(db.session, "S72.001A", day)
    assert problem is None and code.description.startswith("Fracture of unspecified part of neck of right femur")
    assert icd10.lookup(db.session, "E11.9", date(2026, 3, 31))[1] == "E11.9 is not in force on Mar 31, 2026."

    timings = {}
    for query in ("E11", "e11.9", "diabetes", "type diab without compl", "fracture femur right initial", "zzzz"):
        started = time.perf_counter()
        found = icd10.search(db.session, query, day)
        timings[query] = (time.perf_counter() - started) * 1000
        if query == "type diab without compl":
            assert "E11.9" in codes(found)
        if query == "fracture femur right initial":
            assert found and all(c.billable for c in found)
    assert max(timings.values()) < 500, timings
    # a second load of the same release is refused before reading anything
    result = runner.invoke(args=["clinic", "load-icd10", "--default"])
    assert result.exit_code == 1 and "already loaded" in result.output
    with capsys.disabled():
        print(f"\n  real ICD-10-CM set: {total} codes loaded in {load_seconds:.1f} s; search ms: "
              + ", ".join(f"{q!r} {ms:.1f}" for q, ms in timings.items()))
