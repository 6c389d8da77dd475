"""Contingency plan (HIPAA 164.308(a)(7)): encrypted backups that restore every row, and
restores that change nothing unless the whole backup is authentic."""
import hashlib
import io
import os
import stat
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Disclosure, Model
from app.services import audit
from app.services import backup as backups
from tests.conftest import make_user
from tests.factories import PatientFactory, ProviderFactory

KEY = "a-test-backup-key-that-is-long-enough-0123"
OTHER_KEY = "another-backup-key-that-is-long-enough-987"
NAMES = ("Zyxquorthbacker", "Wemblowitzbackup", "Qazplumtestname")


# --------------------------------------------------------------------------- helpers

def snapshot(url):
    """{table: (row count, sha256 of its rows in primary-key order)} for every model table."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    out = {}
    try:
        with engine.connect() as conn:
            for table in Model.metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(sa.select(table).order_by(*order)).all()
                out[table.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    finally:
        engine.dispose()
    return out


def is_empty(url):
    return not backups.clinic_rows(url)


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith((".clinicdesk-backup-", ".partial-"))]


@pytest.fixture(autouse=True)
def _backup_key(app, monkeypatch):
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY)


@pytest.fixture
def clinic_data(app):
    """Patients, providers, users, disclosures and audit events (views and changes)."""
    providers = [ProviderFactory(), ProviderFactory(credentials="NP")]
    make_user("FrontDesk")
    patients = [PatientFactory(family_name=name, primary_provider_id=providers[i % 2].id)
                for i, name in enumerate(NAMES)]
    for patient in patients:
        audit.access(db.engine, patient_id=patient.id)
        audit.access(db.engine, patient_id=patient.id, action="print", details={"document": "summary"})
    db.session.add(Disclosure(patient_id=patients[0].id, disclosed_on=datetime.now(timezone.utc),
                              recipient="County health department", description="Immunization record",
                              purpose="Public health reporting", created_on=datetime.now(timezone.utc)))
    db.session.commit()
    facts = [{"id": p.id, "family_name": p.family_name, "mrn": p.mrn} for p in patients]
    db.session.remove()
    return facts


@pytest.fixture
def empty_url(database_url, tmp_path):
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    base = sa.engine.make_url(database_url)
    if base.get_backend_name() == "sqlite":
        yield "sqlite:///" + str(tmp_path / "restored" / "clinicdesk.db")
        return
    name = f"{base.database}_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def backup_file(clinic_data, database_url, tmp_path):
    path = str(tmp_path / "clinic.cdbak")
    backups.backup(database_url, path, KEY)
    return path


def assert_refused_and_unchanged(url, path, error, words, key=KEY):
    before = None if is_empty(url) else snapshot(url)
    with pytest.raises(error) as exc:
        backups.restore(url, path, key)
    assert words in str(exc.value) and "Nothing was changed" in str(exc.value)
    if before is None:
        assert is_empty(url)
    else:
        assert snapshot(url) == before


# --------------------------------------------------------------------------- the round trip

def test_cli_backup_then_restore_into_an_empty_database_finds_every_row(app, runner, clinic_data, database_url,
                                                                         empty_url, tmp_path):
    out = tmp_path / "backups" / "nightly.cdbak"
    result = runner.invoke(args=["clinic", "backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "KiB" in result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    source = snapshot(database_url)
    for table in ("patient", "provider", "ab_user", "audit_event", "disclosure", "patient_search_term"):
        assert source[table][0] > 0, f"{table} should hold rows for this test to mean something"

    # A second instance of the application, configured for the empty database, restores it.
    other = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_url,
                       AUDIT_ANCHOR_FILE=str(tmp_path / "anchor.log"), BACKUP_ENCRYPTION_KEY=KEY)
    with other.app_context():  # the commands run in the current app context, so make it this one's
        result = other.test_cli_runner().invoke(args=["clinic", "restore", str(out)])
        db.engine.dispose()
    assert result.exit_code == 0, result.output
    assert "Restored the" in result.output
    assert f"Audit trail intact: {source['audit_event'][0]} rows" in result.output

    restored = snapshot(empty_url)
    assert restored == source
    if empty_url.startswith("sqlite"):
        assert not leftovers(os.path.dirname(empty_url[len("sqlite:///"):]))


def test_restored_database_keeps_the_append_only_audit_triggers(backup_file, empty_url):
    backups.restore(empty_url, backup_file, KEY)
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM audit_event"))
    finally:
        engine.dispose()
    problems, last, later = backups.verify_audit(empty_url, [])
    assert problems == [] and last > 0 and later == []


def test_backup_taken_while_the_app_writes_is_a_consistent_snapshot(clinic_data, database_url, empty_url, tmp_path):
    stop, errors, engine = threading.Event(), [], db.engine
    before = snapshot(database_url)["audit_event"][0]

    def keep_writing():
        try:
            while not stop.is_set():
                audit.access(engine, patient_id=clinic_data[0]["id"], details={"during": "backup"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for n in range(3):
            backups.backup(database_url, str(tmp_path / f"live-{n}.cdbak"), KEY)
    finally:
        stop.set()
        writer.join()
    assert not errors
    backups.restore(empty_url, str(tmp_path / "live-2.cdbak"), KEY)
    problems, last, _ = backups.verify_audit(empty_url, [])
    assert problems == []
    assert before < last <= snapshot(database_url)["audit_event"][0], "events were written during the backups"


# --------------------------------------------------------------------------- what a backup file reveals

def test_backup_file_holds_no_plaintext(clinic_data, backup_file):
    data = open(backup_file, "rb").read()
    assert data.startswith(backups.MAGIC)
    for secret in [p[field] for p in clinic_data for field in ("family_name", "mrn")]:
        assert secret.encode() not in data and secret.encode("utf-16-le") not in data
    for marker in (b"SQLite format 3", b"PGDMP", b"CREATE TABLE", b"audit_event"):
        assert marker not in data


def test_two_backups_of_the_same_data_share_no_ciphertext(clinic_data, database_url, tmp_path):
    first, second = str(tmp_path / "a.cdbak"), str(tmp_path / "b.cdbak")
    backups.backup(database_url, first, KEY)
    backups.backup(database_url, second, KEY)
    a, b = open(first, "rb").read(), open(second, "rb").read()
    assert a[backups.HEADER.size:backups.HEADER.size + 64] != b[backups.HEADER.size:backups.HEADER.size + 64]


# --------------------------------------------------------------------------- restores that must change nothing

def test_wrong_key_fails_clearly_and_changes_nothing(backup_file, empty_url):
    assert_refused_and_unchanged(empty_url, backup_file, backups.WrongKeyError, "wrong key", key=OTHER_KEY)


def test_wrong_key_via_the_command_leaves_the_database_alone(app, runner, backup_file, database_url, monkeypatch):
    before = snapshot(database_url)
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", OTHER_KEY)
    result = runner.invoke(args=["clinic", "restore", "--yes", backup_file])
    assert result.exit_code == 1
    assert "wrong key" in result.output
    assert snapshot(database_url) == before


def test_truncated_file_fails_clearly_and_changes_nothing(backup_file, empty_url):
    data = open(backup_file, "rb").read()
    for cut in (1, 16, len(data) - backups.HEADER.size - 1):
        with open(backup_file, "wb") as fh:
            fh.write(data[:-cut])
        assert_refused_and_unchanged(empty_url, backup_file, backups.DamagedBackupError, "truncated")


def test_file_cut_exactly_at_a_chunk_boundary_is_detected(clinic_data, database_url, empty_url, tmp_path):
    path = str(tmp_path / "small-chunks.cdbak")
    backups.backup(database_url, path, KEY, chunk_log2=12)
    data = open(path, "rb").read()
    chunk = (1 << 12) + backups.TAG_SIZE
    assert len(data) > backups.HEADER.size + 3 * chunk
    with open(path, "wb") as fh:
        fh.write(data[:backups.HEADER.size + 2 * chunk])
    assert_refused_and_unchanged(empty_url, path, backups.DamagedBackupError, "truncated")


@pytest.mark.parametrize("where", ["middle", "last byte", "header kind", "header timestamp", "header salt"])
def test_a_flipped_byte_fails_clearly_and_changes_nothing(backup_file, empty_url, where):
    data = bytearray(open(backup_file, "rb").read())
    offset = {"middle": len(data) // 2, "last byte": len(data) - 1,
              "header kind": 9, "header timestamp": 20, "header salt": 25}[where]
    data[offset] ^= 0x01
    with open(backup_file, "wb") as fh:
        fh.write(data)
    error = backups.WrongKeyError if where == "header salt" else backups.BackupError
    with pytest.raises(error) as exc:
        backups.restore(empty_url, backup_file, KEY)
    assert "damaged" in str(exc.value)
    assert is_empty(empty_url)


def test_restore_into_a_non_empty_database_is_refused_without_yes(app, runner, backup_file, database_url):
    PatientFactory(family_name="Addedafterbackup")
    before = snapshot(database_url)
    result = runner.invoke(args=["clinic", "restore", backup_file])
    assert result.exit_code == 1
    assert "not empty" in result.output and "--yes" in result.output
    assert snapshot(database_url) == before


def test_restore_with_yes_replaces_the_database_with_the_backup(app, runner, backup_file, database_url):
    at_backup = snapshot(database_url)
    PatientFactory(family_name="Addedafterbackup")
    db.session.remove()
    assert snapshot(database_url) != at_backup
    result = runner.invoke(args=["clinic", "restore", "--yes", backup_file])
    assert result.exit_code == 0, result.output
    assert "Audit trail intact" in result.output
    assert snapshot(database_url) == at_backup


def test_backup_of_the_other_backend_is_refused(empty_url, tmp_path):
    other = "postgresql" if empty_url.startswith("sqlite") else "sqlite"
    path = tmp_path / "other.cdbak"
    with open(path, "wb") as fh:
        backups.encrypt_stream(io.BytesIO(b"not this database"), fh, KEY, other)
    assert_refused_and_unchanged(empty_url, str(path), backups.BackupError, f"this is a {other} backup")


# --------------------------------------------------------------------------- the backup command

def test_backup_command_refuses_without_a_key(app, runner, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path))
    for key in (None, "", "too-short"):
        monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", key)
        result = runner.invoke(args=["clinic", "backup"])
        assert result.exit_code == 1
        assert "BACKUP_ENCRYPTION_KEY" in result.output
    assert os.listdir(tmp_path) == []


def test_production_config_has_no_fallback_key(monkeypatch):
    import importlib

    import config

    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    fresh = importlib.reload(config)
    try:
        assert fresh.ProductionConfig.BACKUP_ENCRYPTION_KEY is None
        assert fresh.TestingConfig.BACKUP_ENCRYPTION_KEY == fresh.Config.BACKUP_DEV_KEY
    finally:
        importlib.reload(config)


def test_default_backup_goes_to_the_backup_dir_with_private_modes(app, runner, clinic_data, monkeypatch, tmp_path):
    backup_dir = tmp_path / "backups"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(backup_dir))
    result = runner.invoke(args=["clinic", "backup"])
    assert result.exit_code == 0, result.output
    name, files = sorted(os.listdir(backup_dir))  # the database and, beside it, the documents
    assert name.startswith("clinicdesk-") and name.endswith("Z.cdbak")
    assert files == name.replace(".cdbak", ".files.cdbak")
    assert str(backup_dir / name) in result.output
    assert stat.S_IMODE(os.stat(backup_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(backup_dir / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(backup_dir / files).st_mode) == 0o600


def test_a_failed_backup_leaves_no_file_and_no_plaintext(clinic_data, database_url, monkeypatch, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    real = backups.encrypt_stream

    def fail_halfway(src, dst, *args, **kwargs):
        dst.write(b"partial")
        src.read(100)
        raise OSError("disk full")

    monkeypatch.setattr(backups, "encrypt_stream", fail_halfway)
    out = tmp_path / "out" / "x.cdbak"
    beside_database = os.path.dirname(backups.sqlite_path(database_url)) if database_url.startswith("sqlite") else None
    with pytest.raises(OSError, match="disk full"):
        backups.backup(database_url, str(out), KEY)
    assert os.listdir(out.parent) == [] and os.listdir(scratch) == []
    assert beside_database is None or not leftovers(beside_database)
    monkeypatch.setattr(backups, "encrypt_stream", real)
    backups.backup(database_url, str(out), KEY)
    assert os.listdir(out.parent) == ["x.cdbak"] and os.listdir(scratch) == []
    assert beside_database is None or not leftovers(beside_database)


# --------------------------------------------------------------------------- the stream format

@pytest.mark.parametrize("size", [0, 1, 1024, 4096, 4097, 3 * 4096])
def test_stream_round_trip_at_chunk_edges(size):
    plain = os.urandom(size)
    sealed = io.BytesIO()
    backups.encrypt_stream(io.BytesIO(plain), sealed, KEY, "sqlite", chunk_log2=12)
    opened = io.BytesIO()
    header = backups.decrypt_stream(io.BytesIO(sealed.getvalue()), opened, KEY)
    assert opened.getvalue() == plain and header.kind == "sqlite" and header.chunk_size == 4096


def test_reordered_dropped_or_appended_chunks_are_detected():
    sealed = io.BytesIO()
    backups.encrypt_stream(io.BytesIO(os.urandom(4 * 4096 + 10)), sealed, KEY, "sqlite", chunk_log2=12)
    data, h, c = sealed.getvalue(), backups.HEADER.size, 4096 + backups.TAG_SIZE
    chunks = [data[h + i * c:h + (i + 1) * c] for i in range(5)]
    forgeries = {
        "swapped": data[:h] + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "dropped": data[:h] + chunks[0] + b"".join(chunks[2:]),
        "appended": data + chunks[4],
        "garbage": data + b"\0" * 10,
    }
    for name, forged in forgeries.items():
        with pytest.raises(backups.DamagedBackupError):
            backups.decrypt_stream(io.BytesIO(forged), io.BytesIO(), KEY)


def test_a_forged_header_cannot_ask_for_huge_chunks_or_kdf_costs():
    sealed = io.BytesIO()
    backups.encrypt_stream(io.BytesIO(b"x"), sealed, KEY, "sqlite")
    for offset, value in ((10, 40), (13, 40), (9, 7)):  # scrypt log2(n), log2(chunk size), backend
        forged = bytearray(sealed.getvalue())
        forged[offset] = value
        with pytest.raises(backups.DamagedBackupError, match="header"):
            backups.read_header(io.BytesIO(bytes(forged)))
    with pytest.raises(backups.DamagedBackupError, match="not a ClinicDesk backup"):
        backups.read_header(io.BytesIO(b"SQLite format 3\0" + b"\0" * 100))


def test_restore_names_audit_anchors_written_after_the_backup(app, runner, backup_file, clinic_data):
    audit.access(db.engine, patient_id=clinic_data[0]["id"], details={"after": "backup"})
    with db.engine.connect() as conn:
        seq, _ = audit.anchor_now(conn)
    result = runner.invoke(args=["clinic", "restore", "--yes", backup_file])
    assert result.exit_code == 0, result.output
    assert f"name rows up to {seq}, recorded after this backup" in result.output
    assert "Audit trail intact" in result.output


def test_termination_signal_unwinds_so_temporary_files_are_removed():
    import signal
    from app.cli_backup import _finally_runs_on_termination

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    with pytest.raises(SystemExit) as exc, _finally_runs_on_termination():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert exc.value.code == 128 + signal.SIGTERM


def test_a_restore_that_fails_halfway_through_changes_nothing(backup_file, database_url, monkeypatch):
    PatientFactory(family_name="Addedafterbackup")
    db.session.remove()
    before = snapshot(database_url)
    real = backups.decrypt_stream

    def fail_after_half(src, dst, key):
        if isinstance(dst, backups._Discard):  # PostgreSQL's authentication pass
            return real(src, dst, key)
        plain = io.BytesIO()
        real(src, plain, key)
        dst.write(plain.getvalue()[: len(plain.getvalue()) // 2])
        dst.flush()
        time.sleep(0.5)  # let pg_restore start executing what it was given
        raise backups.DamagedBackupError("the backup is damaged (simulated). Nothing was changed.")

    monkeypatch.setattr(backups, "decrypt_stream", fail_after_half)
    with pytest.raises(backups.DamagedBackupError):
        backups.restore(database_url, backup_file, KEY, force=True)
    assert snapshot(database_url) == before
    if database_url.startswith("sqlite"):
        assert not leftovers(os.path.dirname(backups.sqlite_path(database_url)))


# --------------------------------------------------------------------------- uploaded documents

def _tree(folder):
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = fh.read()
    return out


def test_documents_are_backed_up_encrypted_and_restored_byte_for_byte(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "2026" / "11").mkdir(parents=True)
    (uploads / "2026" / "11" / "a1b2").write_bytes(b"%PDF-1.4 Garcia Jose lab result %%EOF")
    (uploads / "2026" / "11" / "c3d4").write_bytes(bytes(range(256)) * 10)
    out = tmp_path / "b" / "x.files.cdbak"
    assert backups.backup_files(str(uploads), str(out), KEY) == 2
    assert b"Garcia" not in out.read_bytes()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    target = tmp_path / "restored" / "uploads"
    assert backups.restore_files(str(out), str(target), KEY) == 2
    assert _tree(target) == _tree(uploads)
    # A non-empty folder is kept unless asked to replace it.
    with pytest.raises(backups.NotEmptyError):
        backups.restore_files(str(out), str(target), KEY)
    (target / "2026" / "11" / "a1b2").write_bytes(b"changed")
    assert backups.restore_files(str(out), str(target), KEY, force=True) == 2
    assert _tree(target) == _tree(uploads)
    with pytest.raises(backups.WrongKeyError):
        backups.restore_files(str(out), str(tmp_path / "other"), "another key that is long enough, 32+ chars")


def test_a_documents_backup_with_a_path_trick_is_refused(tmp_path):
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    raw.seek(0)
    out = tmp_path / "evil.files.cdbak"
    with open(out, "wb") as dst:
        backups.encrypt_stream(raw, dst, KEY, "files")
    with pytest.raises(backups.DamagedBackupError, match="unsafe entry"):
        backups.restore_files(str(out), str(tmp_path / "uploads"), KEY)
    assert not (tmp_path / "uploads").exists() and not (tmp_path.parent / "etc").exists()


def test_backup_command_writes_the_documents_beside_the_database(app, runner, clinic_data, tmp_path):
    folder = app.config["UPLOAD_FOLDER"]
    os.makedirs(os.path.join(folder, "2026"), exist_ok=True)
    with open(os.path.join(folder, "2026", "f00d"), "wb") as fh:
        fh.write(b"scan")
    out = tmp_path / "cli.cdbak"
    result = runner.invoke(args=["clinic", "backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Documents written" in result.output and (tmp_path / "cli.files.cdbak").exists()


def test_restore_command_puts_the_documents_back_with_the_database(app, runner, clinic_data, database_url, tmp_path):
    folder = app.config["UPLOAD_FOLDER"]
    os.makedirs(os.path.join(folder, "2026"), exist_ok=True)
    scan = os.path.join(folder, "2026", "beef")
    with open(scan, "wb") as fh:
        fh.write(b"insurance card scan")
    out = tmp_path / "full.cdbak"
    assert runner.invoke(args=["clinic", "backup", "--out", str(out)]).exit_code == 0
    os.remove(scan)
    db.session.remove()
    result = runner.invoke(args=["clinic", "restore", "--yes", str(out)])
    assert result.exit_code == 0, result.output
    assert "Restored 1 document file(s)" in result.output
    with open(scan, "rb") as fh:
        assert fh.read() == b"insurance card scan"
