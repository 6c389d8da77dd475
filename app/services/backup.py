"""Encrypted backups and restores (HIPAA 164.308(a)(7), contingency plan).

A backup is the database's own snapshot (SQLite's online backup API, or
`pg_dump --format=custom`) encrypted as a stream of AES-256-GCM chunks:

    header (61 bytes, authenticated as associated data of every chunk)
      magic "CDBACKUP" | version | backend | scrypt log2(n), r, p | log2(chunk size)
      | created (unix seconds) | salt (16) | nonce prefix (7) | key check (16)
    chunk 0 .. chunk k: ciphertext of <= chunk size plaintext bytes + 16-byte tag

The 96-bit nonce of chunk i is nonce prefix | i (32 bits) | 1 if the chunk is the
last one else 0 (the STREAM construction): reordered, dropped, or appended chunks and
a file cut anywhere, even on a chunk boundary, fail authentication. The key is
derived with scrypt from BACKUP_ENCRYPTION_KEY and a fresh salt, so each file has a
key of its own and no nonce repeats under a key; the key check lets a wrong key be
named as such instead of as damage.

PostgreSQL plaintext never reaches the disk: pg_dump is piped into the encryptor, and
a restore authenticates the whole file before a second pass decrypts it into
pg_restore. SQLite's snapshot and restored copy live beside the database file, in a
private 0700 directory, as 0600 files, removed on the way out whatever happens.
"""
import hmac
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"CDBACKUP"
VERSION = 1
# files: the uploaded documents. 4 is no single bit flip away from 1 or 2, so a damaged
# kind byte reads as damage, not as the other kind of backup.
KINDS = {"sqlite": 1, "postgresql": 2, "files": 4}
KIND_NAMES = {code: name for name, code in KINDS.items()}
HEADER = struct.Struct(">8sBBBBBBQ16s7s16s")
TAG_SIZE = 16
CHUNK_LOG2 = 20  # 1 MiB of plaintext per chunk
SCRYPT = (15, 8, 1)  # log2(n), r, p: ~32 MiB and ~0.3 s per derivation
MIN_KEY_LENGTH = 32
# Tables that `flask clinic init` / migrations fill without any clinic data in them.
STRUCTURE_TABLES = {
    "alembic_version", "audit_chain", "ab_permission", "ab_view_menu", "ab_permission_view",
    "ab_role", "ab_permission_view_role",
}
PG_DUMP = os.environ.get("PG_DUMP", "pg_dump")
PG_RESTORE = os.environ.get("PG_RESTORE", "pg_restore")


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


class WrongKeyError(BackupError):
    pass


class DamagedBackupError(BackupError):
    pass


class NotEmptyError(BackupError):
    pass


@dataclass
class Header:
    kind: str
    kdf: tuple
    chunk_log2: int
    created: int
    salt: bytes
    nonce_prefix: bytes
    key_check: bytes
    raw: bytes = b""

    @property
    def chunk_size(self):
        return 1 << self.chunk_log2


# --------------------------------------------------------------------------- keys

def check_key(key):
    """Refuse a missing or short BACKUP_ENCRYPTION_KEY (used before writing a backup)."""
    if not key:
        raise BackupError(
            "BACKUP_ENCRYPTION_KEY is not set: refusing to back up (backups are always encrypted). "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))' and keep "
            "a copy away from the backups (without it they cannot be restored)."
        )
    if len(key) < MIN_KEY_LENGTH:
        raise BackupError(f"BACKUP_ENCRYPTION_KEY must be at least {MIN_KEY_LENGTH} characters long.")


def _derive(key, salt, kdf):
    """(AES-256 key, key check) from the secret and the file's salt."""
    log2n, r, p = kdf
    material = Scrypt(salt=salt, length=64, n=1 << log2n, r=r, p=p).derive(key.encode("utf-8"))
    return material[:32], material[32:48]


def _nonce(prefix, counter, last):
    if counter >= 1 << 32:
        raise BackupError("backup too large: more than 2**32 chunks")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _read_full(src, size):
    """Read `size` bytes, fewer only at the end of the stream."""
    parts, missing = [], size
    while missing:
        data = src.read(missing)
        if not data:
            break
        parts.append(data)
        missing -= len(data)
    return b"".join(parts)


# --------------------------------------------------------------------------- stream format

def encrypt_stream(src, dst, key, kind, *, chunk_log2=CHUNK_LOG2, kdf=SCRYPT):
    """Encrypt everything readable from `src` into `dst`; returns the plaintext byte count."""
    salt, prefix = os.urandom(16), os.urandom(7)
    aes_key, key_check = _derive(key, salt, kdf)
    header = HEADER.pack(MAGIC, VERSION, KINDS[kind], *kdf, chunk_log2, int(time.time()), salt, prefix, key_check)
    dst.write(header)
    aead = AESGCM(aes_key)
    chunk_size = 1 << chunk_log2
    counter, total = 0, 0
    chunk = _read_full(src, chunk_size)
    while True:
        following = _read_full(src, chunk_size) if len(chunk) == chunk_size else b""
        last = not following
        dst.write(aead.encrypt(_nonce(prefix, counter, last), chunk, header))
        total += len(chunk)
        if last:
            return total
        chunk, counter = following, counter + 1


def read_header(src):
    """Parse and sanity-check the header (not yet authenticated: the chunks do that)."""
    raw = _read_full(src, HEADER.size)
    if len(raw) < HEADER.size or not raw.startswith(MAGIC):
        raise DamagedBackupError("not a ClinicDesk backup (or its header is damaged).")
    magic, version, kind, log2n, r, p, chunk_log2, created, salt, prefix, key_check = HEADER.unpack(raw)
    if version != VERSION:
        raise DamagedBackupError(f"backup format version {version} is not supported (this program reads {VERSION}).")
    # Bounds keep a forged header from making us allocate gigabytes before authentication.
    if kind not in KIND_NAMES or not (10 <= log2n <= 22 and 1 <= r <= 32 and 1 <= p <= 16 and 10 <= chunk_log2 <= 26):
        raise DamagedBackupError("the backup's header is damaged.")
    return Header(KIND_NAMES[kind], (log2n, r, p), chunk_log2, created, salt, prefix, key_check, raw)


def open_key(header, key):
    """The AES-GCM cipher for this file, or WrongKeyError."""
    if not key:
        raise WrongKeyError("BACKUP_ENCRYPTION_KEY is not set: the backup cannot be decrypted. Nothing was changed.")
    aes_key, key_check = _derive(key, header.salt, header.kdf)
    if not hmac.compare_digest(key_check, header.key_check):
        raise WrongKeyError(
            "wrong key: this backup was not encrypted with the configured BACKUP_ENCRYPTION_KEY "
            "(or its header is damaged). Nothing was changed."
        )
    return AESGCM(aes_key)


def decrypt_stream(src, dst, key):
    """Decrypt and authenticate `src` into `dst`; returns the Header. Fails on any damage."""
    header = read_header(src)
    aead = open_key(header, key)
    size = header.chunk_size + TAG_SIZE
    counter = 0
    chunk = _read_full(src, size)
    while True:
        following = _read_full(src, size) if len(chunk) == size else b""
        last = not following
        try:
            dst.write(aead.decrypt(_nonce(header.nonce_prefix, counter, last), chunk, header.raw))
        except InvalidTag:
            where = "is truncated or its end is damaged" if last else f"is damaged (chunk {counter})"
            raise DamagedBackupError(f"the backup {where}: authentication failed. Nothing was changed.") from None
        if last:
            return header
        chunk, counter = following, counter + 1


# --------------------------------------------------------------------------- files

@contextmanager
def private_tempdir(parent=None):
    """A 0700 directory for plaintext, removed with everything in it on the way out."""
    path = tempfile.mkdtemp(prefix=".clinicdesk-backup-", dir=parent)
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _create_private(path):
    """Create `path` (which must not exist) with mode 0600 and open it for binary writing."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _atomic_output(out_path, mode=0o600):
    """Yield a private file next to `out_path`; it replaces `out_path` only if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
        _fsync_dir(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def default_backup_path(backup_dir):
    """instance/backups/clinicdesk-<UTC timestamp>.cdbak, never an existing name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = os.path.join(backup_dir, f"clinicdesk-{stamp}.cdbak")
    n = 1
    while os.path.exists(path):
        path = os.path.join(backup_dir, f"clinicdesk-{stamp}-{n}.cdbak")
        n += 1
    return path


# --------------------------------------------------------------------------- databases

def backend_of(url):
    name = sa.engine.make_url(url).get_backend_name()
    if name not in KINDS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}.")
    return name


def sqlite_path(url):
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("an in-memory or URI SQLite database cannot be backed up or restored; use a file path.")
    return os.path.abspath(database)


def pg_environment(url):
    """(conninfo without password, environment with PGPASSWORD) for pg_dump/pg_restore."""
    url = sa.engine.make_url(url)
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    password = url.password
    for name, value in url.query.items():
        value = value[-1] if isinstance(value, tuple) else value
        if name == "password":
            password = value
        else:
            params[name] = value

    def quote(value):
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    conninfo = " ".join(f"{k}={quote(v)}" for k, v in params.items() if v not in (None, ""))
    env = dict(os.environ)  # PGSSLROOTCERT, PGPASSFILE ... still apply; the URL's own values win
    if password:
        env["PGPASSWORD"] = str(password)  # never on the command line, where `ps` shows it
    return conninfo, env


def _run_pg(args, env, **kwargs):
    try:
        return subprocess.Popen(args, env=env, **kwargs)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} not found: install the PostgreSQL client (Debian: postgresql-client) "
                          "of the server's major version.") from None


def table_counts(url):
    """{table: row count} for every table in the database (None if the database file is absent)."""
    if backend_of(url) == "sqlite" and not os.path.exists(sqlite_path(url)):
        return None
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
                    for name in names}
    finally:
        engine.dispose()


def clinic_rows(url):
    """{table: rows} for tables holding clinic data (roles, permissions and the schema version excluded)."""
    counts = table_counts(url) or {}
    return {name: n for name, n in counts.items() if n and name not in STRUCTURE_TABLES}


# --------------------------------------------------------------------------- backup

@dataclass
class BackupResult:
    path: str
    size: int
    plaintext_size: int
    kind: str
    seconds: float


def backup(url, out_path, key, *, chunk_log2=CHUNK_LOG2):
    """Write an encrypted snapshot of the database at `url` to `out_path` (0600)."""
    check_key(key)
    kind = backend_of(url)
    started = time.monotonic()
    with _atomic_output(out_path) as out:
        plaintext = (_backup_sqlite if kind == "sqlite" else _backup_postgresql)(url, out, key, chunk_log2)
    return BackupResult(out_path, os.path.getsize(out_path), plaintext, kind, time.monotonic() - started)


def _backup_sqlite(url, out, key, chunk_log2):
    source_path = sqlite_path(url)
    if not os.path.exists(source_path):
        raise BackupError(f"the database file {source_path} does not exist.")
    # The snapshot sits beside the database: room for it, and no wider exposure than the database's own.
    with private_tempdir(os.path.dirname(source_path)) as tmp:
        copy = os.path.join(tmp, "snapshot.db")
        _create_private(copy).close()  # sqlite3 keeps the 0600 of an existing file
        source = sqlite3.connect(source_path, timeout=30)
        target = sqlite3.connect(copy)
        try:
            # One step (pages=-1) copies a consistent snapshot, WAL contents included,
            # while the application keeps reading and writing.
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (check,) = target.execute("PRAGMA quick_check").fetchone()
        finally:
            target.close()
            source.close()
        if check != "ok":
            raise BackupError(f"the snapshot failed SQLite's quick_check: {check}")
        with open(copy, "rb") as src:
            return encrypt_stream(src, out, key, "sqlite", chunk_log2=chunk_log2)


def _backup_postgresql(url, out, key, chunk_log2):
    conninfo, env = pg_environment(url)
    with tempfile.TemporaryFile() as errors:
        proc = _run_pg([PG_DUMP, "--format=custom", "--no-password", f"--dbname={conninfo}"],
                       env, stdout=subprocess.PIPE, stderr=errors)
        try:
            plaintext = encrypt_stream(proc.stdout, out, key, "postgresql", chunk_log2=chunk_log2)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise BackupError(f"pg_dump failed (exit {code}): {errors.read().decode(errors='replace').strip()}")
    return plaintext


# --------------------------------------------------------------------------- restore

@dataclass
class RestoreResult:
    kind: str
    created: int
    target: str
    seconds: float


def inspect_backup(in_path, key):
    """Read the header and check the key, without decrypting the data: (Header)."""
    with open(in_path, "rb") as fh:
        header = read_header(fh)
    open_key(header, key)
    return header


def restore(url, in_path, key, *, force=False):
    """Restore the backup `in_path` into the database at `url`.

    Everything is authenticated before anything is changed. A database that already
    holds clinic data is refused unless `force`. SQLite: the file is replaced
    atomically (stop the application first). PostgreSQL: pg_restore --clean
    --if-exists --no-owner in a single transaction.
    """
    kind = backend_of(url)
    started = time.monotonic()
    header = inspect_backup(in_path, key)
    if header.kind != kind:
        raise BackupError(f"this is a {header.kind} backup but the configured database is {kind}. Nothing was changed.")
    if not force:
        try:
            rows = clinic_rows(url)
        except sa.exc.OperationalError as exc:
            raise BackupError(f"cannot open the configured database: {exc.orig}") from None
        if rows:
            sample = ", ".join(f"{name} ({n})" for name, n in sorted(rows.items())[:5])
            raise NotEmptyError(
                f"the database is not empty ({sample}{', ...' if len(rows) > 5 else ''}): refusing to overwrite it. "
                "Restore into an empty database, or pass --yes to replace its contents. Nothing was changed."
            )
    if kind == "sqlite":
        target = _restore_sqlite(url, in_path, key)
    else:
        target = _restore_postgresql(url, in_path, key)
    return RestoreResult(kind, header.created, target, time.monotonic() - started)


def _restore_sqlite(url, in_path, key):
    target = sqlite_path(url)
    directory = os.path.dirname(target)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    mode = os.stat(target).st_mode & 0o777 if os.path.exists(target) else 0o600
    # The private directory sits beside the database so that the final rename is atomic.
    with private_tempdir(directory) as tmp:
        restored = os.path.join(tmp, "restored.db")
        with open(in_path, "rb") as src, _create_private(restored) as dst:
            decrypt_stream(src, dst, key)
            dst.flush()
            os.fsync(dst.fileno())
        conn = sqlite3.connect(restored)
        try:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
        if check != "ok":
            raise DamagedBackupError(f"the restored database failed SQLite's quick_check: {check}. Nothing was changed.")
        os.chmod(restored, mode)
        # A leftover write-ahead log belongs to the old file: SQLite would replay it into the new one.
        for suffix in ("-wal", "-shm", "-journal"):
            if os.path.exists(target + suffix):
                os.unlink(target + suffix)
        os.replace(restored, target)
        _fsync_dir(directory)
    return target


class _Discard:
    def write(self, data):
        return len(data)


def _restore_postgresql(url, in_path, key):
    conninfo, env = pg_environment(url)
    # First pass: authenticate every chunk, so pg_restore is never fed a forged or cut file.
    with open(in_path, "rb") as src:
        decrypt_stream(src, _Discard(), key)
    # Second pass: decrypt straight into pg_restore; no plaintext touches the disk.
    with tempfile.TemporaryFile() as errors:
        args = [PG_RESTORE, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                "--exit-on-error", "--no-password", f"--dbname={conninfo}"]
        proc = _run_pg(args, env, stdin=subprocess.PIPE, stdout=errors, stderr=errors)
        try:
            with open(in_path, "rb") as src:
                decrypt_stream(src, proc.stdin, key)
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit status and message say why
        except BaseException:
            proc.kill()  # a half-fed pg_restore must never reach its COMMIT
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise BackupError(f"pg_restore failed (exit {code}); its single transaction was rolled back, nothing "
                              f"was changed: {errors.read().decode(errors='replace').strip()}")
    return sa.engine.make_url(url).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- after a restore

def verify_audit(url, anchors):
    """Audit-chain check of a restored database: (problems, last row, anchors past the backup's end).

    Anchors written after the backup was taken name rows the backup cannot contain; they
    are reported apart instead of as damage.
    """
    from . import audit

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            head = conn.execute(sa.text("SELECT seq FROM audit_chain WHERE id = 1")).scalar() or 0
            within = [a for a in anchors if a[0] <= head]
            problems, last = audit.verify(conn, within)
    finally:
        engine.dispose()
    return problems, last, [a for a in anchors if a[0] > head]


def schema_revision(url):
    """The Alembic revision recorded in the database, or None."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- uploaded documents

def files_path(backup_path):
    """The documents' backup beside a database backup: x.cdbak -> x.files.cdbak."""
    root, ext = os.path.splitext(backup_path)
    return f"{root}.files{ext or '.cdbak'}"


def backup_files(upload_dir, out_path, key, *, chunk_log2=CHUNK_LOG2):
    """Write the uploaded documents (a tar of `upload_dir`) encrypted to `out_path` (0600).

    The tar is built in a private directory beside the uploads (no wider exposure than
    the files themselves), then encrypted; returns the number of files.
    """
    import tarfile

    check_key(key)
    count = 0
    parent = os.path.dirname(os.path.abspath(upload_dir))
    os.makedirs(parent, exist_ok=True)
    with private_tempdir(parent) as tmp:
        tar_path = os.path.join(tmp, "files.tar")
        with tarfile.open(tar_path, "w") as tar:
            if os.path.isdir(upload_dir):
                for root, _dirs, names in os.walk(upload_dir):
                    for name in sorted(names):
                        full = os.path.join(root, name)
                        if os.path.isfile(full) and not os.path.islink(full):
                            tar.add(full, arcname=os.path.relpath(full, upload_dir), recursive=False)
                            count += 1
        with open(tar_path, "rb") as src, _atomic_output(out_path) as out:
            encrypt_stream(src, out, key, "files", chunk_log2=chunk_log2)
    return count


def restore_files(in_path, upload_dir, key, *, force=False):
    """Put the documents of `in_path` back as `upload_dir`; everything is checked first.

    A non-empty `upload_dir` is refused unless `force`; then it is replaced as a whole
    (the old tree is removed only after the new one is in place). Returns the file count.
    """
    import tarfile

    with open(in_path, "rb") as fh:
        header = read_header(fh)
    open_key(header, key)
    if header.kind != "files":
        raise BackupError("this is not a documents backup. Nothing was changed.")
    existing = [f for _, _, names in os.walk(upload_dir) for f in names] if os.path.isdir(upload_dir) else []
    if existing and not force:
        raise NotEmptyError(f"{upload_dir} already holds {len(existing)} file(s): refusing to overwrite them. "
                            "Pass --yes to replace them. Nothing was changed.")
    parent = os.path.dirname(os.path.abspath(upload_dir))
    os.makedirs(parent, exist_ok=True)
    with private_tempdir(parent) as tmp:
        tar_path = os.path.join(tmp, "files.tar")
        with open(in_path, "rb") as src, _create_private(tar_path) as dst:
            decrypt_stream(src, dst, key)
        staged = os.path.join(tmp, "uploads")
        os.mkdir(staged, 0o700)
        count = 0
        with tarfile.open(tar_path, "r") as tar:
            for member in tar.getmembers():
                name = os.path.normpath(member.name)
                if not member.isfile() or os.path.isabs(name) or name.startswith(".."):
                    raise DamagedBackupError(f"the documents backup holds an unsafe entry {member.name!r}. Nothing was changed.")
            tar.extractall(staged, filter="data")
            count = sum(1 for m in tar.getmembers() if m.isfile())
        for root, dirs, names in os.walk(staged):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700)
            for n in names:
                os.chmod(os.path.join(root, n), 0o600)
        old = os.path.join(tmp, "previous")
        if os.path.isdir(upload_dir):
            os.replace(upload_dir, old)
        os.replace(staged, upload_dir)
    return count
