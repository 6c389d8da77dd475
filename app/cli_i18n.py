"""`flask clinic i18n extract|update|compile|check`: the message catalogs under translations/.

pybabel does the work (the venv's Babel, run by this interpreter); every non-zero exit
stops the command with pybabel's output and a non-zero status of its own. FAB's own
`flask fab babel-*` commands ignore pybabel's status, so they are not used.

- extract: app/ and Flask-AppBuilder's package, each with translations/babel.cfg, merged
  into translations/messages.pot (FAB's strings too: FAB ships no ar or vi catalog).
- update: every catalog brought up to the template (new languages initialised); empty
  entries of FAB's strings take FAB's own translation where FAB ships the language.
- compile: the .mo files the app loads (build output, not in git).
- check: fails on untranslated or fuzzy entries, entries missing from a catalog,
  placeholder errors, and .mo files missing or older than their .po.
"""
import gettext
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import click
from babel.messages.pofile import read_po, write_po
from flask import current_app
from flask.cli import with_appcontext

from .cli import clinic_cli

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP_DIR = os.path.join(PROJECT_DIR, "app")
# gettext's and lazy_gettext's aliases as the two code bases import them.
KEYWORDS = ["_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "lazy_ngettext:1,2", "__"]
FAB_LOCATION = "flask_appbuilder/"


class PybabelFailed(click.ClickException):
    exit_code = 2


def fab_dir():
    import flask_appbuilder

    return os.path.dirname(os.path.abspath(flask_appbuilder.__file__))


def pybabel(*args, cwd=None):
    """Run pybabel; raise PybabelFailed (with its output) on a non-zero exit."""
    # Not `python -m babel.messages.frontend`: its __main__ drops main()'s return value, so a
    # compile with errors would exit 0. This runs the same main() as the pybabel script.
    cmd = [sys.executable, "-c", "import sys; from babel.messages.frontend import main; sys.exit(main())", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PybabelFailed(f"pybabel {args[0]} failed (exit status {proc.returncode}):\n"
                            f"{proc.stdout}{proc.stderr}".rstrip())
    return proc.stdout + proc.stderr


def _read(path):
    with open(path, "rb") as fh:
        return read_po(fh)


def _write(path, catalog):
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=100)


def extract(directory):
    """Write <directory>/messages.pot from app/, reports/ and FAB's package; return (ours, fab's, total) counts."""
    cfg = os.path.join(directory, "babel.cfg")
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    with tempfile.TemporaryDirectory() as tmp:
        ours_pot, fab_pot = os.path.join(tmp, "app.pot"), os.path.join(tmp, "fab.pot")
        common = ["-F", cfg, *keywords, "--add-comments=Translators:", "--sort-by-file",
                  "--project=ClinicDesk", "--copyright-holder=ClinicDesk", "--width=100"]
        # Each pass runs beside its tree, so locations read app/... and flask_appbuilder/...
        # reports/ holds the report definitions (titles, parameter and column labels).
        pybabel("extract", *common, "-o", ours_pot, "app", "reports", cwd=PROJECT_DIR)
        pybabel("extract", *common, "-o", fab_pot, "flask_appbuilder", cwd=os.path.dirname(fab_dir()))
        catalog, fab = _read(ours_pot), _read(fab_pot)
    ours = sum(1 for m in catalog if m.id)
    for message in fab:
        if not message.id:
            continue
        mine = catalog.get(message.id, context=message.context)
        if mine is None:
            catalog[message.id] = message
        else:
            mine.locations = list(dict.fromkeys(list(mine.locations) + list(message.locations)))
    total = sum(1 for m in catalog if m.id)
    _write(os.path.join(directory, "messages.pot"), catalog)
    return ours, sum(1 for m in fab if m.id), total


def catalog_languages(directory, configured=()):
    """Languages with a catalog in `directory`, plus `configured` ones (English needs none)."""
    found = {name for name in os.listdir(directory)
             if os.path.isdir(os.path.join(directory, name, "LC_MESSAGES"))}
    return sorted(found | {code for code in configured if code != "en"})


def po_path(directory, lang):
    return os.path.join(directory, lang, "LC_MESSAGES", "messages.po")


def fab_translations(lang):
    """FAB's compiled catalog for `lang` as {msgid: msgstr} ({} if FAB ships none).

    The .mo is read, not the .po: some of FAB's .po headers do not parse."""
    mo = os.path.join(fab_dir(), "translations", lang, "LC_MESSAGES", "messages.mo")
    if not os.path.exists(mo):
        return {}
    with open(mo, "rb") as fh:
        return {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if isinstance(k, str) and k and v}


def update(directory, languages):
    """Bring each language's catalog up to messages.pot (initialising new ones); fill
    FAB's strings from FAB's catalog; return {lang: entries filled from FAB}."""
    pot = os.path.join(directory, "messages.pot")
    filled = {}
    for lang in languages:
        path = po_path(directory, lang)
        if os.path.exists(path):
            # No fuzzy matching: its guesses ("Signed in" -> "Sign up") cost translators more than they save.
            pybabel("update", "-i", pot, "-d", directory, "-l", lang, "--ignore-obsolete", "--no-fuzzy-matching",
                    "--width=100")
        else:
            pybabel("init", "-i", pot, "-d", directory, "-l", lang, "--width=100")
        catalog = _read(path)
        catalog.fuzzy = False  # a new catalog's header is "fuzzy", and pybabel compile would skip it whole
        filled[lang] = _fill_from_fab(catalog, fab_translations(lang))
        _write(path, catalog)
    return filled


def _fill_from_fab(catalog, fab):
    count = 0
    for message in catalog:
        if not message.id or message.string or message.pluralizable:
            continue
        if not any(loc.startswith(FAB_LOCATION) for loc, _ in message.locations):
            continue
        text = fab.get(message.id)
        if not text:
            continue
        message.string = text
        if list(message.check(catalog)):  # FAB's translation breaks a placeholder: leave it
            message.string = ""
            continue
        message.user_comments = list(message.user_comments) + ["from Flask-AppBuilder's catalog"]
        count += 1
    return count


def compile_catalogs(directory):
    """Compile every .po under `directory` to .mo (fuzzy entries are left out)."""
    return pybabel("compile", "-d", directory, "--statistics")


def stale_catalogs(directory):
    """The .po files whose .mo is missing or older."""
    out = []
    for lang in catalog_languages(directory):
        po = po_path(directory, lang)
        mo = po[:-3] + ".mo"
        if os.path.exists(po) and (not os.path.exists(mo) or os.path.getmtime(mo) < os.path.getmtime(po)):
            out.append(po)
    return out


@dataclass
class CatalogReport:
    lang: str
    total: int = 0
    untranslated: list = field(default_factory=list)
    fuzzy: list = field(default_factory=list)
    missing: list = field(default_factory=list)  # in messages.pot, not in the catalog
    errors: list = field(default_factory=list)  # placeholder mismatches, unreadable files, stale .mo

    @property
    def ok(self):
        return not (self.untranslated or self.fuzzy or self.missing or self.errors)


def check(directory, languages=None):
    """One CatalogReport per catalog in `directory`."""
    pot_path = os.path.join(directory, "messages.pot")
    template = _read(pot_path) if os.path.exists(pot_path) else None
    reports = []
    for lang in languages or catalog_languages(directory):
        report = CatalogReport(lang)
        reports.append(report)
        path = po_path(directory, lang)
        if not os.path.exists(path):
            report.errors.append(f"no catalog: {path}")
            continue
        try:
            catalog = _read(path)
        except Exception as exc:  # a broken file is one more problem to list
            report.errors.append(f"cannot read {path}: {exc}")
            continue
        for message in catalog:
            if not message.id:
                continue
            report.total += 1
            strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
            if not all(strings):
                report.untranslated.append(message.id)
            elif message.fuzzy:
                report.fuzzy.append(message.id)
        if catalog.fuzzy:
            report.fuzzy.append("(catalog header)")
        for message, errors in catalog.check():
            report.errors += [f"{message.id!r}: {error}" for error in errors]
        if template is not None:
            report.missing = [m.id for m in template if m.id and catalog.get(m.id, context=m.context) is None]
        mo = path[:-3] + ".mo"
        if not os.path.exists(mo):
            report.errors.append(f"{mo} is missing: run `flask clinic i18n compile`")
        elif os.path.getmtime(mo) < os.path.getmtime(path):
            report.errors.append(f"{mo} is older than its .po: run `flask clinic i18n compile`")
    return reports


def _directory(value):
    return value or current_app.config["TRANSLATIONS_DIR"]


@clinic_cli.group("i18n")
def i18n_cli():
    """Message catalogs: extract, update, compile, check."""


directory_option = click.option("--directory", "-d", type=click.Path(file_okay=False),
                                help="Catalog directory (default: the app's translations/).")


@i18n_cli.command("extract")
@directory_option
@with_appcontext
def extract_command(directory):
    """Write translations/messages.pot from app/ and Flask-AppBuilder."""
    directory = _directory(directory)
    ours, fab, total = extract(directory)
    click.echo(f"{os.path.join(directory, 'messages.pot')}: {total} messages "
               f"({ours} from app/, {fab} from Flask-AppBuilder, {ours + fab - total} in both).")


@i18n_cli.command("update")
@directory_option
@click.option("--language", "-l", "only", multiple=True, help="Only this language (repeatable).")
@with_appcontext
def update_command(directory, only):
    """Update (or create) each language's catalog from messages.pot."""
    directory = _directory(directory)
    languages = list(only) or catalog_languages(directory, current_app.config["LANGUAGES"])
    for lang, count in update(directory, languages).items():
        click.echo(f"{po_path(directory, lang)} updated" + (f"; {count} filled from Flask-AppBuilder" if count else ""))


@i18n_cli.command("compile")
@directory_option
@with_appcontext
def compile_command(directory):
    """Compile the catalogs to the .mo files the app loads."""
    click.echo(compile_catalogs(_directory(directory)).rstrip())


@i18n_cli.command("check")
@directory_option
@click.option("--verbose", "-v", is_flag=True, help="List every untranslated and fuzzy message.")
@with_appcontext
def check_command(directory, verbose):
    """Exit 1 unless every catalog is complete, not fuzzy, current and compiled."""
    failed = False
    for r in check(_directory(directory)):
        failed |= not r.ok
        click.echo(f"{r.lang}: {r.total} messages, {len(r.untranslated)} untranslated, {len(r.fuzzy)} fuzzy, "
                   f"{len(r.missing)} missing from the catalog, {len(r.errors)} other problems"
                   + ("" if r.ok else "  << FAIL"))
        for msgid in (r.untranslated + r.fuzzy + r.missing if verbose else []):
            click.echo(f"    {msgid!r}")
        for error in r.errors:
            click.echo(f"    {error}")
    if failed:
        click.echo("Catalogs are not complete.", err=True)
        sys.exit(1)
    click.echo("All catalogs complete.")
