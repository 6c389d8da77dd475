"""The declarations check (app/checks.py) finds every misspelt or unusable column name."""
import re
from types import SimpleNamespace

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.models import User
from flask_appbuilder.security.views import UserDBModelView

from app.checks import check_declarations, check_view
from app.models import Patient
from app.views.patients import PatientListView
from app.views.providers import ProviderView


def ids(errors):
    return sorted(e.split(" ", 1)[0] for e in errors)


def test_every_registered_view_of_the_real_app_is_declared_correctly(app):
    checked = [type(v) for v in app.appbuilder.baseviews]
    # The walk must really reach our model views (not skip everything by accident).
    assert PatientListView in checked and ProviderView in checked
    assert check_declarations(app.appbuilder) == []


def test_error_reads_like_django_checks_with_id_place_and_hint():
    view = type("PatientListView", (PatientListView,), {"search_columns": ["mrn", "dob"]})
    [error] = check_view(view)
    assert error.startswith("E001 PatientListView.search_columns: 'dob' is not a column of Patient (hint: ")
    assert "\n" not in error


def test_hint_suggests_the_closest_column():
    view = type("V", (PatientListView,), {"list_columns": ["mrn", "famly_name"]})
    assert check_view(view) == [
        "E001 V.list_columns: 'famly_name' is not a column of Patient (hint: did you mean 'family_name'?)"
    ]


class BrokenPatientView(ModelView):
    datamodel = SQLAInterface(Patient)
    list_columns = ["mrn", "dob", "display_name", "primary_provider.family_name"]  # dob: E001
    search_columns = ["family_name", "display_name", "primary_provider.family_name"]  # E003 twice
    show_columns = ["mrn", "primary_provider.familyname"]  # E001 through a relationship
    add_columns = ["family_name", "full_name", "extra"]  # full_name: E007; extra is an extra field
    add_form_extra_fields = {"extra": None}
    edit_columns = "family_name"  # E006: a string, FAB would iterate its letters
    order_columns = ["family_name", "chart_link", "primary_provider.family_name"]  # chart_link: E004
    label_columns = {"familyname": "Family", "dob": "Born", "extra": "Extra"}  # familyname: E001; dob reported once
    base_order = ("family_name", "up")  # E005
    validators_columns = {"given_name": []}  # E008: on no form


def test_broken_view_yields_each_expected_error_id():
    errors = check_view(BrokenPatientView)
    assert ids(errors) == ["E001", "E001", "E001", "E003", "E003", "E004", "E005", "E006", "E007", "E008"], errors
    text = "\n".join(errors)
    assert "E001 BrokenPatientView.list_columns: 'dob'" in text
    assert "E001 BrokenPatientView.show_columns: 'primary_provider.familyname'" in text
    assert "E001 BrokenPatientView.label_columns: 'familyname'" in text
    assert "E003 BrokenPatientView.search_columns: 'display_name'" in text
    assert "E004 BrokenPatientView.order_columns: 'chart_link'" in text
    assert "E005 BrokenPatientView.base_order" in text
    assert "E006 BrokenPatientView.edit_columns" in text
    assert "E007 BrokenPatientView.add_columns: 'full_name'" in text
    assert "E008 BrokenPatientView.validators_columns: 'given_name'" in text
    for error in errors:
        assert re.match(r"^E\d{3} BrokenPatientView\.\w+: .+", error), error


def test_check_declarations_walks_the_views_it_is_given(app):
    registered = [v for v in app.appbuilder.baseviews if isinstance(v, (PatientListView, ProviderView))]
    fake = SimpleNamespace(baseviews=registered + [BrokenPatientView])  # instances and classes both work
    assert ids(check_declarations(fake)) == ids(check_view(BrokenPatientView))


def test_undeclared_or_empty_search_columns_is_an_error():
    class NoSearch(ModelView):
        datamodel = SQLAInterface(Patient)
        list_columns = ["mrn"]

    class EmptySearch(NoSearch):
        search_columns = []

    assert ids(check_view(NoSearch)) == ["E002"]
    assert ids(check_view(EmptySearch)) == ["E002"]
    assert "NoSearch.search_columns: not declared" in check_view(NoSearch)[0]


def test_search_columns_declared_by_a_clinicdesk_base_counts():
    class ClinicBase(ModelView):
        search_columns = ["mrn", "family_name"]

    class Child(ClinicBase):
        datamodel = SQLAInterface(Patient)

    assert check_view(Child) == []


def test_base_order_on_a_python_property_cannot_sort():
    view = type("V", (PatientListView,), {"base_order": ("display_name", "asc")})
    assert ids(check_view(view)) == ["E004"]
    view = type("V", (PatientListView,), {"base_order": ("dob", "desc")})
    assert ids(check_view(view)) == ["E001"]


def test_fab_own_views_are_skipped_and_ours_are_not():
    assert check_view(UserDBModelView) == []
    subclass = type("ClinicUserView", (UserDBModelView,), {
        "datamodel": SQLAInterface(User), "list_columns": ["username", "nickname"],
    })
    assert ids(check_view(subclass)) == ["E001"]
