"""The audit trail: append hash-chained events, capture changes, verify the chain.

Access events are written in their own transaction (they are kept even when the
request fails); change events are written in the transaction of the change, so a
change and its record commit or roll back together.
"""
import hashlib
import json
import logging
import os
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from ..models.audit import GENESIS_HASH, AuditChain, AuditEvent
from ..models.base import utcnow

log = logging.getLogger("clinicdesk.audit")
anchor_log = logging.getLogger("clinicdesk.audit.anchor")

HASHED_FIELDS = (
    "seq", "occurred_at", "user_id", "username", "action", "object_type", "object_id",
    "patient_id", "details", "flagged", "ip", "path",
)
SECRET_MARK = "***"


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def row_hash(prev_hash, record):
    payload = canonical({f: record.get(f) for f in HASHED_FIELDS})
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def actor():
    """Who is acting and from where: the logged-in user, the client address, the path."""
    if not has_request_context():
        return {"user_id": None, "username": "system", "ip": None, "path": None}
    user = getattr(g, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    return {
        "user_id": user.id if authenticated else None,
        "username": user.username if authenticated else None,
        "ip": request.remote_addr,
        "path": request.path[:300],  # the query string is never recorded
    }


def append(conn, *, action, object_type=None, object_id=None, patient_id=None, details=None,
           flagged=False, who=None):
    """Append one event on `conn` inside its transaction; returns (seq, hash)."""
    who = who or actor()
    chain = AuditChain.__table__
    seq, prev = conn.execute(
        update(chain).where(chain.c.id == 1).values(seq=chain.c.seq + 1).returning(chain.c.seq, chain.c.head_hash)
    ).one()
    record = {
        "seq": seq,
        "occurred_at": utcnow(),
        "user_id": who.get("user_id"),
        "username": who.get("username"),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "patient_id": patient_id,
        "details": canonical(details) if details is not None else None,
        "flagged": bool(flagged),
        "ip": who.get("ip"),
        "path": who.get("path"),
    }
    digest = row_hash(prev, record)
    conn.execute(insert(AuditEvent.__table__).values(**record, prev_hash=prev, hash=digest))
    conn.execute(update(chain).where(chain.c.id == 1).values(head_hash=digest))
    every = current_app.config.get("AUDIT_ANCHOR_EVERY", 0) if has_app_context() else 0
    if every and seq % every == 0:
        _pending_anchors().append((seq, digest))
    return seq, digest


def record(engine, **fields):
    """Append one event in its own transaction (kept even if the caller's work fails)."""
    with engine.begin() as conn:
        result = append(conn, **fields)
    flush_anchors()
    return result


def access(engine, *, patient_id, object_type="Patient", object_id=None, action="view", details=None, flagged=False):
    """Record that patient data was shown (chart, form, PDF, export, API read).

    Accesses made under a break-glass grant (g.break_glass) are flagged for review.
    """
    flagged = flagged or (has_request_context() and bool(g.get("break_glass")))
    return record(engine, action=action, object_type=object_type,
                  object_id=patient_id if object_id is None else object_id,
                  patient_id=patient_id, details=details, flagged=flagged)


# --------------------------------------------------------------------------- changes

def _plain(value):
    if isinstance(value, (datetime, date, Decimal)):
        return _json_default(value)
    return value


def _changes(obj, kind):
    """Changed column values of obj, old -> new; secret columns are masked."""
    state = inspect(obj)
    secret = set(getattr(obj, "__audit_secret__", ()))
    skip = set(getattr(obj, "__audit_skip__", ())) | {"version", "changed_on", "changed_by_fk", "created_on", "created_by_fk"}
    out = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in skip:
            continue
        hist = state.attrs[key].history
        if kind == "create":
            value = getattr(obj, key)
            if value is None:
                continue
            out[key] = SECRET_MARK if key in secret else _plain(value)
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
            out[key] = [SECRET_MARK, SECRET_MARK] if key in secret else [_plain(old), _plain(new)]
    return out


def _collection_changes(obj, attr):
    hist = inspect(obj).attrs[attr].history
    return {"added": sorted(str(x) for x in hist.added), "removed": sorted(str(x) for x in hist.deleted)}


def _security_event(kind, obj):
    """Role and user changes: who may do what (permission changes are audited too)."""
    table = getattr(obj, "__tablename__", None)
    if table == "ab_role":
        perms = _collection_changes(obj, "permissions")
        if kind == "update" and not (perms["added"] or perms["removed"]):
            return None
        return dict(action="permission_change", object_type="Role", object_id=obj.id,
                    details={"role": obj.name, "kind": kind, "permissions": perms})
    if table == "ab_user":
        changes = _changes(obj, kind) if kind != "delete" else {}
        for noisy in ("last_login", "login_count", "fail_login_count"):
            changes.pop(noisy, None)
        if "password" in changes:
            changes["password"] = SECRET_MARK
        roles = _collection_changes(obj, "roles") if kind != "delete" else {"added": [], "removed": []}
        if kind == "update" and not changes and not (roles["added"] or roles["removed"]):
            return None
        return dict(action="user_" + kind, object_type="User", object_id=obj.id,
                    details={"user": obj.username, "changes": changes, "roles": roles})
    return None


def _primary_key(obj):
    """The row's id: a new row has it after its INSERT, but no identity key until the flush ends."""
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return key[0] if key else None


def _audit_changes(session, flush_context):
    """after_flush: one event per created/changed/deleted audited row, same transaction."""
    events = []
    for kind, objs in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            patient_attr = getattr(obj, "__audit_patient__", None)
            if patient_attr is None:
                security = _security_event(kind, obj)
                if security:
                    events.append(security)
                continue
            changes = _changes(obj, kind) if kind != "delete" else {}
            if kind == "update" and not changes:
                continue
            events.append(
                dict(
                    action=kind,
                    object_type=type(obj).__name__,
                    object_id=_primary_key(obj),
                    patient_id=getattr(obj, patient_attr),
                    details={"changes": changes} if changes else None,
                )
            )
    if events:
        conn = session.connection()
        who = actor()
        for e in events:
            append(conn, who=who, **e)


event.listen(Session, "after_flush", _audit_changes)
# Anchors computed inside a transaction are written only once it has committed.
event.listen(Session, "after_commit", lambda session: flush_anchors())
event.listen(Session, "after_rollback", lambda session: _pending_anchors().clear())


# --------------------------------------------------------------------------- anchors

def _pending_anchors():
    """Anchors due in this app context, written after the transaction that made them."""
    if has_app_context():
        return g.setdefault("_audit_anchors", [])
    return []


def anchor_path():
    return current_app.config.get("AUDIT_ANCHOR_FILE") or os.path.join(current_app.instance_path, "audit-anchor.log")


def write_anchor(seq, digest):
    """Append the chain head to the anchor file (opened append-only) and the anchor log."""
    line = f"{utcnow().isoformat()} {seq} {digest}\n"
    fd = os.open(anchor_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)
    anchor_log.info("audit chain head seq=%s hash=%s", seq, digest)


def flush_anchors():
    pending = _pending_anchors()
    while pending:
        write_anchor(*pending.pop(0))


def anchor_now(conn):
    """Anchor the current head (for `flask clinic audit-anchor`, e.g. from cron)."""
    row = conn.execute(select(AuditChain.seq, AuditChain.head_hash).where(AuditChain.id == 1)).one()
    if row.seq:
        write_anchor(row.seq, row.head_hash)
    return row.seq, row.head_hash


def read_anchors(path):
    anchors = []
    if not os.path.exists(path):
        return anchors
    with open(path, encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                anchors.append((int(parts[1]), parts[2]))
    return anchors


# --------------------------------------------------------------------------- verify

def verify(conn, anchors=()):
    """Walk the chain; return a list of problems (empty means intact)."""
    problems = []
    prev, expected_seq = GENESIS_HASH, 1
    anchored = {seq for seq, _ in anchors}
    hashes = {}
    table = AuditEvent.__table__
    result = conn.execution_options(yield_per=5000).execute(select(table).order_by(table.c.seq))
    for row in result:
        rec = dict(row._mapping)
        if rec["seq"] != expected_seq:
            problems.append(f"rows {expected_seq}..{rec['seq'] - 1} are missing")
        if rec["prev_hash"] != prev:
            problems.append(f"row {rec['seq']}: does not follow the previous row")
        if row_hash(rec["prev_hash"], rec) != rec["hash"]:
            problems.append(f"row {rec['seq']}: content was altered")
        prev, expected_seq = rec["hash"], rec["seq"] + 1
        if rec["seq"] in anchored:
            hashes[rec["seq"]] = rec["hash"]
    last_seq = expected_seq - 1
    head = conn.execute(select(AuditChain.seq, AuditChain.head_hash).where(AuditChain.id == 1)).one_or_none()
    if head is not None and (head.seq != last_seq or (last_seq and head.head_hash != prev)):
        problems.append(f"the chain head says row {head.seq} but the table ends at row {last_seq}")
    for seq, digest in anchors:
        if seq > last_seq:
            problems.append(f"anchored row {seq} is missing: rows were cut off the end")
        elif hashes.get(seq) != digest:
            problems.append(f"row {seq} does not match its anchor")
    return problems, last_seq


# --------------------------------------------------------------------------- review

ACTIONS = (
    "view", "download", "create", "update", "delete", "merge", "export", "print", "break_glass", "login",
    "login_failed", "logout", "lockout", "unlock", "permission_change", "user_create", "user_update",
    "user_delete", "disclosure", "report",
)


def find_events(session, *, patient_ids=None, username=None, start=None, end=None, action=None,
                flagged_only=False, limit=500):
    """Events matching the auditor's filters, newest first, at most `limit` (+1 to flag more)."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if patient_ids is not None:
        stmt = stmt.where(AuditEvent.patient_id.in_(patient_ids))
    if username:
        stmt = stmt.where(AuditEvent.username == username)
    if start is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= start)
    if end is not None:
        stmt = stmt.where(AuditEvent.occurred_at < end)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if flagged_only:
        stmt = stmt.where(AuditEvent.flagged.is_(True))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit
