"""Declarations check (Django's admin checks idea): every column a view names must exist.

FAB accepts most misspelt names at start-up and fails only when a page renders them
(list/show/order columns, base_order), or stops the app with a bare ``KeyError``
(search/add/edit columns). ``check_declarations(appbuilder)`` reads the class
declarations of every registered model view, without instantiating anything, and
returns one line per mistake: a stable id, where it is, what is wrong, and a hint.

    E001 PatientListView.search_columns: 'dob' is not a column of Patient (hint: did you mean 'birth_date'?)

Ids:
    E001  a name is not a column, relationship or attribute of the model
    E002  search_columns left undeclared or empty (FAB then searches every column)
    E003  search_columns names a Python attribute or a dotted path: FAB cannot filter on it
    E004  order_columns / base_order names something the database cannot sort by
    E005  base_order is not a (column, "asc" | "desc") pair
    E006  a column declaration is a string or a mapping instead of a list of names
    E007  add/edit columns name a Python attribute: it cannot be a form field
    E008  validators_columns names a column that is on neither form: the validator never runs
"""
import difflib

from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.baseviews import BaseCRUDView
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import RelationshipProperty

FAB_PACKAGE = "flask_appbuilder"
# (declaration, fieldsets that replace it when set)
COLUMN_LISTS = (
    ("list_columns", None),
    ("search_columns", None),
    ("show_columns", "show_fieldsets"),
    ("add_columns", "add_fieldsets"),
    ("edit_columns", "edit_fieldsets"),
    ("order_columns", None),
)
COLUMN_DICTS = ("label_columns", "description_columns", "formatters_columns", "validators_columns")


def check_declarations(appbuilder):
    """Return every declaration error of the model views registered on `appbuilder`."""
    errors = []
    for view in appbuilder.baseviews:
        errors.extend(check_view(view))
    return errors


def check_view(view):
    """Return the declaration errors of one model view (class or instance).

    FAB's own views (security, OpenAPI, menu) are not ours to fix and are skipped.
    """
    cls = view if isinstance(view, type) else type(view)
    if cls.__module__.split(".")[0] == FAB_PACKAGE:
        return []
    if not issubclass(cls, (BaseCRUDView, ModelRestApi)):
        return []
    datamodel = _declared(cls, "datamodel")
    model = getattr(datamodel, "obj", None)
    if model is None:
        return []
    return _ViewChecker(cls, model).run()


def _declared(cls, name):
    """The class-level value of `name` (FAB stores the defaults it fills in on the instance)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


class _ViewChecker:
    def __init__(self, cls, model):
        self.cls = cls
        self.model = model
        self.mapper = sa_inspect(model)
        self.errors = []
        self.reported = set()  # names already reported, so a FAB-generated label adds no noise

    def error(self, code, attr, message, hint=None):
        line = f"{code} {self.cls.__name__}.{attr}: {message}"
        if hint:
            line += f" (hint: {hint})"
        self.errors.append(line)

    # -- what a name is -------------------------------------------------------------

    def kind(self, name, model=None):
        """'column', 'relationship', 'hybrid', 'attribute' or None for a (dotted) name."""
        model = model or self.model
        mapper = sa_inspect(model)
        head, _, rest = name.partition(".")
        prop = mapper.attrs.get(head) if head in mapper.attrs else None
        if rest:
            if isinstance(prop, RelationshipProperty):
                return self.kind(rest, prop.mapper.class_)
            return None
        if prop is not None:
            return "relationship" if isinstance(prop, RelationshipProperty) else "column"
        descriptor = mapper.all_orm_descriptors.get(head)
        if descriptor is not None and getattr(descriptor, "extension_type", None) is hybrid_property.extension_type:
            return "hybrid"
        if hasattr(model, head):
            return "attribute"
        return None

    def suggest(self, name):
        """A one-line hint: the closest existing name, else where the model is defined."""
        model, prefix = self.model, ""
        *path, last = name.split(".")
        for part in path:  # follow a dotted name as far as it goes
            prop = sa_inspect(model).attrs.get(part) if part in sa_inspect(model).attrs else None
            if not isinstance(prop, RelationshipProperty):
                break
            model, prefix = prop.mapper.class_, prefix + part + "."
        else:
            candidates = list(sa_inspect(model).attrs.keys())
            close = difflib.get_close_matches(last, candidates, n=1, cutoff=0.6)
            if close:
                return f"did you mean '{prefix}{close[0]}'?"
        return f"name a column, relationship or property of {model.__name__} ({model.__module__})"

    def missing(self, attr, name):
        self.reported.add(name)
        self.error("E001", attr, f"'{name}' is not a column of {self.model.__name__}", self.suggest(name))

    # -- the checks ------------------------------------------------------------------

    def run(self):
        for attr, fieldsets_attr in COLUMN_LISTS:
            names = self.names(attr, fieldsets_attr)
            if names is None:
                continue
            for name in names:
                getattr(self, f"check_{attr}", self.check_display)(attr, name)
        self.check_search_declared()
        self.check_base_order()
        for attr in COLUMN_DICTS:
            self.check_dict(attr)
        return self.errors

    def names(self, attr, fieldsets_attr, report=True):
        """The names a declaration lists, or None when it is not declared (or malformed)."""
        fieldsets = _declared(self.cls, fieldsets_attr) if fieldsets_attr else None
        if fieldsets:
            return [name for _, spec in fieldsets for name in spec.get("fields", ())]
        value = _declared(self.cls, attr)
        if value is None:
            return None
        if isinstance(value, (str, dict)):
            if not report:
                return None
            self.error("E006", attr, f"must be a list of column names, not a {type(value).__name__}",
                       f"write [{value!r}]" if isinstance(value, str) else "use a list; labels go in label_columns")
            return None
        return list(value)

    def check_display(self, attr, name):
        if self.kind(name) is None:
            self.missing(attr, name)

    def check_search_columns(self, attr, name):
        kind = self.kind(name)
        if kind is None:
            self.missing(attr, name)
        elif kind not in ("column", "relationship") or "." in name:
            self.reported.add(name)
            self.error("E003", attr, f"'{name}' is not a database column of {self.model.__name__}: FAB cannot filter on it",
                       "search a stored column (or a relationship) instead")

    def check_form_columns(self, attr, name):
        extra = _declared(self.cls, attr.replace("_columns", "_form_extra_fields")) or {}
        if name in extra:
            return
        kind = self.kind(name)
        if kind is None:
            self.missing(attr, name)
        elif kind not in ("column", "relationship") or "." in name:
            self.reported.add(name)
            self.error("E007", attr, f"'{name}' is not a database column of {self.model.__name__}: it cannot be a form field",
                       f"declare it in {attr.replace('_columns', '_form_extra_fields')} or drop it")

    check_add_columns = check_edit_columns = check_form_columns

    def check_order_columns(self, attr, name):
        kind = self.kind(name)
        if kind is None:
            self.missing(attr, name)
        elif kind not in ("column", "hybrid"):
            self.reported.add(name)
            self.error("E004", attr, f"'{name}' is not a sortable column of {self.model.__name__}",
                       "sort by a stored column; a Python property cannot go into ORDER BY")

    def check_search_declared(self):
        value = _declared(self.cls, "search_columns")
        if value is None:
            self.error("E002", "search_columns", "not declared: FAB then searches every column and fills relation "
                       "filters with the whole related table", "declare the few columns staff really search by")
        elif not value and not isinstance(value, str):
            self.error("E002", "search_columns", "is empty: FAB treats an empty list as undeclared and searches every column",
                       "declare the few columns staff really search by")

    def check_base_order(self):
        value = _declared(self.cls, "base_order")
        if value is None:
            return
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str)
                and value[1] in ("asc", "desc")):
            self.error("E005", "base_order", f"{value!r} is not a (column, 'asc' | 'desc') pair",
                       "write base_order = ('family_name', 'asc')")
            return
        kind = self.kind(value[0])
        if kind is None:
            self.missing("base_order", value[0])
        elif kind not in ("column", "hybrid"):
            self.error("E004", "base_order", f"'{value[0]}' is not a sortable column of {self.model.__name__}",
                       "sort by a stored column; a Python property cannot go into ORDER BY")

    def check_dict(self, attr):
        value = _declared(self.cls, attr)
        if not value:
            return
        if not isinstance(value, dict):
            self.error("E006", attr, f"must be a mapping of column name to value, not a {type(value).__name__}")
            return
        extra = set(_declared(self.cls, "add_form_extra_fields") or ()) | set(_declared(self.cls, "edit_form_extra_fields") or ())
        for name in value:
            if name in self.reported:
                continue
            if name not in extra and self.kind(name) is None:
                self.missing(attr, name)
        if attr == "validators_columns":
            form_names = set()
            for form_attr, fieldsets_attr in (("add_columns", "add_fieldsets"), ("edit_columns", "edit_fieldsets")):
                declared = _declared(self.cls, form_attr) or _declared(self.cls, fieldsets_attr)
                if declared is None:
                    return  # FAB puts every column on that form
                form_names.update(self.names(form_attr, fieldsets_attr, report=False) or ())
            for name in value:
                if name not in form_names and name not in self.reported:
                    self.error("E008", attr, f"'{name}' is on neither the add nor the edit form: its validators never run",
                               f"add '{name}' to add_columns/edit_columns or drop the validator")
