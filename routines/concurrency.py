"""Concurrency groups: at most ``concurrency_limit`` jobs of one ``concurrency_key`` running at once.

The limit is kept by the claim itself, in its transaction: the claim locks one ``ConcurrencyGroup``
row per key it is about to take jobs of, counts the group's running jobs, and claims only as many
as the limit leaves room for. A second runner claiming the same group waits on that row until the
first commits, and then counts the jobs the first has taken. Jobs held back are not written at
all: they stay due, are charged no attempt, and the next claim that finds room takes them.

Batches without a keyed job cost nothing here; a batch with keyed jobs costs two statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count

from .models import ConcurrencyGroup, Job


def admit(rows: list[dict[str, Any]], wall: datetime) -> tuple[list[dict[str, Any]], set[str]]:
    """The rows the groups leave room for, in order, and the keys of the groups found full.

    The caller holds the claim's transaction open and writes the admitted rows in it.
    """
    keys = sorted({row["concurrency_key"] for row in rows if row["concurrency_key"] is not None})
    if not keys:
        return rows, set()
    lock(keys, wall)
    # Read after the lock, so it sees every claim committed before ours could start: under READ
    # COMMITTED (PostgreSQL; Django's default on MySQL) each statement reads afresh, and under
    # REPEATABLE READ this is the transaction's first plain read, which takes its snapshot.
    running: dict[str, int] = dict(
        Job.objects.filter(concurrency_key__in=keys, state="running")
        .values_list("concurrency_key")
        .annotate(n=Count("job_id"))
        .order_by()
    )
    return fit(rows, running)


def fit(rows: list[dict[str, Any]], running: dict[str, int]) -> tuple[list[dict[str, Any]], set[str]]:
    """Which of ``rows`` (in claim order) the groups' room admits, given each key's running count.

    Each job is held to its own ``concurrency_limit``: a job whose limit the running count has
    reached waits, while a later job of the same key with a higher limit may still be admitted.
    """
    counts = dict(running)
    admitted: list[dict[str, Any]] = []
    full: set[str] = set()
    for row in rows:
        key = row["concurrency_key"]
        if key is None:
            admitted.append(row)
        elif counts.get(key, 0) < row["concurrency_limit"]:
            counts[key] = counts.get(key, 0) + 1
            admitted.append(row)
        else:
            full.add(key)
    return admitted, full


def lock(keys: list[str], wall: datetime) -> None:
    """Hold the groups' rows until the transaction ends, creating the ones missing.

    PostgreSQL and MySQL lock rows in the order they read them, so every claim takes the keys
    sorted and two claims can't wait on each other; SQLite has one writer at a time, and the
    UPDATE makes this transaction it.
    """
    if _locked(keys, wall) < len(keys):
        ConcurrencyGroup.objects.bulk_create(
            [ConcurrencyGroup(key=key, claimed_at=wall) for key in keys], ignore_conflicts=True
        )
        _locked(keys, wall)


def _locked(keys: list[str], wall: datetime) -> int:
    groups = ConcurrencyGroup.objects.filter(key__in=keys)
    if connection.vendor == "sqlite":
        return groups.update(claimed_at=wall)
    return len(groups.order_by("key").select_for_update().values_list("key", flat=True))
