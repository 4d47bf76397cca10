"""Hand-built SQL for the hot paths: the claim, the fenced finish, the Run finish, bulk inserts.

The ORM's expression compilation (Case/When, bulk_update, bulk_create) cost more CPU per row
than the database's own work, so these few statements are written out. Values still go through
each field's own database adaptation, and every statement keeps the fence the ORM version had.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

from .models import Job, Run

# Statements with a placeholder per value stay under SQLite's (32,766) and MySQL's (65,535) limits.
CHUNK = 200
# Rows per executemany(): bounds what a driver buffers (MySQLdb turns it into multi-row INSERTs).
INSERT_BATCH = 1000
RUN_FINISH_FIELDS = ["status", "result", "error", "finished_at", "scope", "steps", "metadata"]


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A concrete column of ``model`` (never a reverse relation: these statements write columns)."""
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found


def column(model: type[models.Model], name: str) -> str:
    name_in_db = concrete_field(model, name).column
    assert name_in_db is not None
    return name_in_db


def _value(model: type[Job] | type[Run], name: str, value: Any) -> Any:
    return concrete_field(model, name).get_db_prep_save(value, connection)


def insert(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]], *, return_pks: bool = False
) -> list[Any]:
    """INSERT ``rows`` (each the values of ``names``, in order), as bulk_create would, only cheaper.

    Returns the new primary keys in row order when ``return_pks`` is asked and the database can
    say them (PostgreSQL, SQLite 3.35+, MariaDB 10.5+, as with bulk_create); otherwise nothing.
    ``rows`` may be a generator: it is read a chunk at a time, each chunk adapted just before it
    is sent, so a large insert does not keep every row alive at once.
    """
    fields = [concrete_field(model, name) for name in names]
    columns = [column(model, name) for name in names]
    adapters = [_adapter(f) for f in fields]
    source = iter(rows)

    def chunks(size: int) -> Iterator[list[list[Any]]]:
        while chunk := [
            [v if a is None or v is None else a(v) for a, v in zip(adapters, row, strict=True)]
            for row in itertools.islice(source, size)
        ]:
            yield chunk

    with connection.cursor() as cursor:
        if copies():
            return _copy(cursor, model, columns, chunks(INSERT_BATCH), return_pks)
        qn = connection.ops.quote_name
        head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) VALUES "
        one = f"({', '.join(['%s'] * len(fields))})"
        if not (return_pks and connection.features.can_return_rows_from_bulk_insert):
            # One prepared statement run for every row: what SQLite's and MySQL's drivers do fastest.
            for chunk in chunks(INSERT_BATCH):
                cursor.executemany(head + one, chunk)
            return []
        returning = f"RETURNING {qn(model._meta.db_table)}.{qn(model._meta.pk.column)}"
        pks: list[Any] = []
        for chunk in chunks(max(1, 999 // len(fields))):  # SQLite's default limit of bound parameters
            cursor.execute(f"{head}{', '.join([one] * len(chunk))} {returning}", [v for row in chunk for v in row])
            pks += [row[0] for row in cursor.fetchall()]
        return pks


def insert_objects(objs: Sequence[models.Model], *, return_pks: bool) -> None:
    """``bulk_create`` of unsaved rows by ``insert``; auto keys are set when asked and said."""
    if not objs:
        return
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    rows = ([getattr(obj, f.attname) for f in fields] for obj in objs)
    pks = insert(
        type(objs[0]), [f.attname for f in fields], rows, return_pks=return_pks and meta.auto_field is not None
    )
    alias = connection.alias
    for obj, pk in itertools.zip_longest(objs, pks):
        if pk is not None:
            obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias


def copies() -> bool:
    """Whether inserts go by COPY: PostgreSQL through psycopg 3 (psycopg2's cursors have no ``copy``)."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3  # type: ignore[import-untyped]

    return bool(is_psycopg3)


def _copy(
    cursor: Any, model: type[models.Model], columns: list[str], chunks: Iterator[list[list[Any]]], return_pks: bool
) -> list[Any]:
    """PostgreSQL: COPY, its fastest way in; keys asked for are drawn from the sequence first.

    Django quotes every parameter in Python (client-side binding), which made INSERTs of many rows
    cost more than the server's work; COPY streams the rows instead.
    """
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    pks: list[Any] = []
    if return_pks:
        pending = [row for chunk in chunks for row in chunk]  # counted before the COPY starts
        pk = model._meta.pk.column
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, len(pending)]
        )
        pks = sorted(row[0] for row in cursor.fetchall())
        chunks = iter([[[key, *row] for key, row in zip(pks, pending, strict=True)]])
        columns = [pk, *columns]
    statement = f"COPY {table} ({', '.join(qn(c) for c in columns)}) FROM STDIN"

    def copy_rows(sql: str, params: Any, many: bool, context: Any) -> None:
        with connection.wrap_database_errors, cursor.copy(sql) as copy:
            for chunk in chunks:
                for row in chunk:
                    copy.write_row(row)

    # Through the connection's execute wrappers, as execute() is, so whatever counts or guards
    # statements (connection.execute_wrapper, the bench's counter) sees the COPY too.
    cursor._execute_with_wrappers(statement, None, False, copy_rows)
    return pks


def _adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a non-None value of ``field`` is sent; None where the Python value goes as it is."""
    ops = connection.ops
    if isinstance(field, models.JSONField):
        if copies() or type(ops).adapt_json_value is BaseDatabaseOperations.adapt_json_value:
            # The text Django's json.dumps(value, cls=encoder) makes (COPY takes text too), by one
            # encoder for every row instead of a new one per value.
            return (field.encoder or json.JSONEncoder)().encode
        return functools.partial(ops.adapt_json_value, encoder=field.encoder)
    if isinstance(field, models.DateTimeField):
        # Rows written together mostly share their times (created_at, one due time): adapt each once.
        return functools.cache(ops.adapt_datetimefield_value)
    if isinstance(field, (models.CharField, models.IntegerField, models.BooleanField)):
        return None
    return functools.partial(field.get_db_prep_save, connection=connection)


def claim_update(
    rows: list[dict[str, Any]],
    run_ids: dict[str, str],
    due_at: datetime,
    now: datetime,
    lease: datetime,
    runner_id: str,
    locked: bool,
) -> int:
    """Move ``rows`` to ``running`` in one UPDATE; the number of rows this runner won.

    Locked rows (PostgreSQL, MySQL) cannot have changed; on SQLite each row's ``version`` must
    still be the one read, so a row another runner claimed in between is skipped.
    """
    qn = connection.ops.quote_name
    params: list[Any] = []
    cases = []
    for job_id, run_id in run_ids.items():
        cases.append("WHEN %s THEN %s")
        params += [job_id, run_id]
    # Order matters on MySQL, which assigns left to right: read `state` before setting it.
    sets = (
        f"{qn('current_slot_at')} = CASE WHEN {qn('state')} = 'retry_waiting' THEN {qn('current_slot_at')}"
        f" ELSE COALESCE({qn('next_slot_at')}, {qn('next_run_at')}) END,"
        f" {qn('attempt_count')} = {qn('attempt_count')} + 1,"
        f" {qn('current_run_id')} = CASE {qn('job_id')} {' '.join(cases)} END,"
        f" {qn('claimed_by')} = %s, {qn('lease_expires_at')} = %s, {qn('updated_at')} = %s,"
        f" {qn('version')} = {qn('version')} + 1, {qn('state')} = 'running'"
    )
    params += [runner_id, _value(Job, "lease_expires_at", lease), _value(Job, "updated_at", now)]
    if locked:
        where = f"{qn('job_id')} IN ({', '.join(['%s'] * len(rows))})"
        params += [row["job_id"] for row in rows]
    else:
        where = " OR ".join([f"({qn('job_id')} = %s AND {qn('version')} = %s)"] * len(rows))
        for row in rows:
            params += [row["job_id"], row["version"]]
    params += [_value(Job, "next_run_at", due_at)]
    # InnoDB may otherwise search the rows through the (state, next_run_at) index and lock other
    # runners' rows on the way: a deadlock. The keys are all it needs.
    hint = " FORCE INDEX (PRIMARY)" if connection.vendor == "mysql" else ""
    sql = (
        f"UPDATE {qn(Job._meta.db_table)}{hint} SET {sets} WHERE ({where})"
        f" AND {qn('state')} IN ('active', 'retry_waiting') AND {qn('next_run_at')} <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def fenced_update(job_id: str, run_id: str, fields: dict[str, Any]) -> bool:
    """Write ``fields`` to the job only if ``run_id`` still holds it."""
    qn = connection.ops.quote_name
    sets = [f"{qn(column(Job, name))} = %s" for name in fields]
    params = [_value(Job, name, value) for name, value in fields.items()]
    sql = (
        f"UPDATE {qn(Job._meta.db_table)} SET {', '.join(sets)}, {qn('version')} = {qn('version')} + 1"
        f" WHERE {qn('job_id')} = %s AND {qn('current_run_id')} = %s AND {qn('state')} = 'running'"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, job_id, run_id])
        return bool(cursor.rowcount > 0)


def fenced_update_many(writes: list[tuple[str, str, dict[str, Any]]]) -> set[str] | None:
    """``fenced_update`` of many jobs in a few statements; the job ids written.

    Each row keeps its own fence (its ``job_id`` with its ``current_run_id``), so a job another
    runner took over is left alone exactly as with one UPDATE per job. None for a single write
    and on SQLite before 3.35 (no UPDATE … RETURNING): the caller then writes one by one.
    """
    if len(writes) < 2:
        return None
    if connection.vendor == "postgresql":
        return _fenced_update_unnest(writes)
    if connection.vendor == "sqlite":
        import sqlite3

        if sqlite3.sqlite_version_info < (3, 35):
            return None
    elif connection.vendor != "mysql":
        return None
    won: set[str] = set()
    for start in range(0, len(writes), CHUNK):
        chunk = writes[start : start + CHUNK]
        won |= _fenced_update_locked(chunk) if connection.vendor == "mysql" else _fenced_update_returning(chunk)
    return won


def _case_sets(writes: list[tuple[str, str, dict[str, Any]]]) -> tuple[str, list[Any]]:
    """``col = CASE job_id WHEN … END, …``: each job's own values, other columns left as they are."""
    qn = connection.ops.quote_name
    names = list(dict.fromkeys(name for _, _, fields in writes for name in fields))
    sets: list[str] = []
    params: list[Any] = []
    for name in names:
        quoted = qn(column(Job, name))
        whens = []
        for job_id, _, fields in writes:
            if name in fields:
                whens.append("WHEN %s THEN %s")
                params += [job_id, _value(Job, name, fields[name])]
        sets.append(f"{quoted} = CASE {qn('job_id')} {' '.join(whens)} ELSE {quoted} END")
    sets.append(f"{qn('version')} = {qn('version')} + 1")
    return ", ".join(sets), params


def _fenced_update_returning(writes: list[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """SQLite: one UPDATE … RETURNING with every row's fence in its WHERE."""
    qn = connection.ops.quote_name
    sets, params = _case_sets(writes)
    fences = " OR ".join([f"({qn('job_id')} = %s AND {qn('current_run_id')} = %s)"] * len(writes))
    for job_id, run_id, _ in writes:
        params += [job_id, run_id]
    sql = (
        f"UPDATE {qn(Job._meta.db_table)} SET {sets}"
        f" WHERE {qn('state')} = 'running' AND ({fences}) RETURNING {qn('job_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _fenced_update_locked(writes: list[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """MySQL/MariaDB have no UPDATE … RETURNING: lock the rows, keep those the fence passes, write them.

    The locks last until the caller's transaction ends, so no other runner can take a row over
    between the read of its fence and the write.
    """
    qn = connection.ops.quote_name
    runs = {job_id: run_id for job_id, run_id, _ in writes}
    table = qn(Job._meta.db_table)
    marks = ", ".join(["%s"] * len(writes))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('job_id')}, {qn('current_run_id')} FROM {table}"
            f" WHERE {qn('job_id')} IN ({marks}) AND {qn('state')} = 'running' FOR UPDATE",
            list(runs),
        )
        held = {job_id for job_id, run_id in cursor.fetchall() if runs.get(job_id) == run_id}
        writes = [w for w in writes if w[0] in held]
        if writes:
            sets, params = _case_sets(writes)
            cursor.execute(
                f"UPDATE {table} SET {sets} WHERE {qn('job_id')} IN ({', '.join(['%s'] * len(writes))})",
                [*params, *(w[0] for w in writes)],
            )
    return held


def _array_type(model: type[models.Model], name: str) -> str:
    """``varchar[]`` rather than ``varchar(64)[]``: a cast to the sized type would truncate."""
    return str(concrete_field(model, name).db_type(connection)).split("(")[0] + "[]"


def _update_from_arrays(
    model: type[Job] | type[Run], keys: list[str], names: list[str], rows: list[list[Any]], where: str, tail: str = ""
) -> Any:
    """``UPDATE … FROM unnest(arrays)`` on PostgreSQL: one parameter per column, not per value.

    A CASE over every row costs the server O(rows²) and the client a placeholder per value;
    unnest joins the rows by key with one array per column. ``rows[i]`` holds the values of
    ``keys + names`` for one row; ``where`` may use ``t`` (the table) and ``v.k0``… (the keys).
    """
    qn = connection.ops.quote_name
    columns = [*keys, *names]
    arrays = [[row[i] for row in rows] for i in range(len(columns))]
    aliases = [f"k{i}" for i in range(len(keys))] + [f"c{i}" for i in range(len(names))]
    unnest = ", ".join(f"%s::{_array_type(model, column)}" for column in columns)
    sets = ", ".join(f"{qn(column(model, n))} = v.c{i}" for i, n in enumerate(names))
    sql = (
        f"UPDATE {qn(model._meta.db_table)} AS t SET {sets}{tail}"
        f" FROM unnest({unnest}) AS v({', '.join(aliases)}) WHERE {where}"
    )
    cursor = connection.cursor()
    cursor.execute(sql, arrays)
    return cursor


def _fenced_update_unnest(writes: list[tuple[str, str, dict[str, Any]]]) -> set[str]:
    groups: dict[tuple[str, ...], list[tuple[str, str, dict[str, Any]]]] = {}
    for write in writes:
        groups.setdefault(tuple(sorted(write[2])), []).append(write)
    won: set[str] = set()
    for names, group in groups.items():
        rows = [[job_id, run_id, *(_value(Job, n, fields[n]) for n in names)] for job_id, run_id, fields in group]
        with _update_from_arrays(
            Job,
            ["job_id", "current_run_id"],
            list(names),
            rows,
            "t.job_id = v.k0 AND t.current_run_id = v.k1 AND t.state = 'running' RETURNING t.job_id",
            tail=', "version" = t."version" + 1',
        ) as cursor:
            won.update(row[0] for row in cursor.fetchall())
    return won


def finish_runs(runs: list[Run]) -> None:
    """Write the final fields of ``runs``: one UPDATE per chunk (unnest on PostgreSQL, else CASE)."""
    if not runs:
        return
    if connection.vendor == "postgresql":
        rows = [[run.run_id, *(_value(Run, n, getattr(run, n)) for n in RUN_FINISH_FIELDS)] for run in runs]
        _update_from_arrays(Run, ["run_id"], RUN_FINISH_FIELDS, rows, "t.run_id = v.k0").close()
        return
    qn = connection.ops.quote_name
    # SQLite's and MySQL's placeholder limits: keep a statement under 999 parameters.
    per = max(1, 999 // (2 * len(RUN_FINISH_FIELDS) + 1))
    for start in range(0, len(runs), per):
        chunk = runs[start : start + per]
        sets: list[str] = []
        params: list[Any] = []
        for name in RUN_FINISH_FIELDS:
            quoted = qn(column(Run, name))
            whens = " ".join(["WHEN %s THEN %s"] * len(chunk))
            sets.append(f"{quoted} = CASE {qn('run_id')} {whens} END")
            for run in chunk:
                params += [run.run_id, _value(Run, name, getattr(run, name))]
        params += [run.run_id for run in chunk]
        sql = (
            f"UPDATE {qn(Run._meta.db_table)} SET {', '.join(sets)}"
            f" WHERE {qn('run_id')} IN ({', '.join(['%s'] * len(chunk))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
