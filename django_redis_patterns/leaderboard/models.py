"""``LeaderboardMixin``: a model whose rows are kept on a Redis leaderboard.

::

    class Player(LeaderboardMixin, models.Model):
        score = models.IntegerField(default=0)
        region = models.CharField(max_length=8)

        class Leaderboard:
            score_field = "score"
            ranking = "competition"            # or "dense", "ordinal"
            periods = ["weekly"]
            partition_by = "region"
            include = lambda player: player.active   # or a Q object
            display_fields = ["name"]          # kept in Redis: pages read no SQL

    Player.leaderboard.top(10)                 # entries: .rank .score .member .obj (+ the obj's attributes)
    player.leaderboard_rank

How the board follows the table:

* ``post_save``/``post_delete`` schedule a sync with ``transaction.on_commit`` (a rolled-back
  transaction or savepoint never reaches Redis). The sync re-reads the row *after* commit
  and writes that value, so ``score=F("score") + 1`` and out-of-order commits converge.
  A save whose ``update_fields`` leave out every field the board uses does nothing.
* ``QuerySet.update``/``bulk_create``/``bulk_update`` send no signals: the default manager's
  :class:`LeaderboardQuerySet` schedules the same sync for the rows they touched.
  ``Player.leaderboard.sync(queryset)`` syncs any rows by hand.
* ``display_fields``: those fields are written next to the score (a hash, member -> JSON) and
  read in the same call as the rows, so entries' ``.obj`` is built without SQL: a model
  instance with those fields loaded and the others deferred (reading one costs a query, as
  with ``.only()``). Rows without stored data (a board synced before the option, or after a
  rebuild, which drops it) are read from the database once and their data written back.
* Redis down during a sync: the database write has already committed and stays; the miss is
  logged (warning once per outage, then each miss at info) and retried with the next sync
  in this process; ``manage.py leaderboard_rebuild --check`` shows drift, a rebuild repairs it.
  A read of the committed rows that fails with an ``OperationalError`` (SQLite's "database is
  locked" under concurrent writers) is tried again three times within 0.26 s, then handled
  the same way.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import redis.exceptions
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, models, router, transaction
from django.db.models import Q
from django.db.models.signals import class_prepared, post_delete, post_save
from django.utils import timezone

from django_redis_patterns.client import instrument, scripts
from django_redis_patterns.exceptions import ImproperlyConfigured

from . import periods as periods_mod
from . import scores
from .board import _OUTAGES, KEEP, Entry, Leaderboard, LeaderboardUnavailable, _failed, _recovered, _write, node_client
from .conf import get as get_settings

logger = logging.getLogger("django_redis_patterns.leaderboard")

_CONFIG_FIELDS = {
    "name",
    "using",
    "score_field",
    "order",
    "ranking",
    "periods",
    "partition_by",
    "include",
    "key_prefix",
    "period_scores",
    "display_fields",
    "self_heal",
    "period_field",
}
#: Pks whose sync failed, retried with the next successful sync (bounded).
_VERIFY_ROUNDS = 3
#: Pauses (s) between reads of the committed rows that fail with an OperationalError.
_READ_RETRY_PAUSES = (0.01, 0.05, 0.2)
_MAX_PENDING = 10_000


class ModelLeaderboard(Leaderboard):
    """The board of a model: members are ``str(pk)``; reads return entries whose ``.obj`` is
    the row (fetched in one query per read)."""

    def __init__(self, model: type[models.Model], config: type | None):
        options = {k: v for k, v in vars(config).items() if not k.startswith("_")} if config else {}
        unknown = sorted(set(options) - _CONFIG_FIELDS)
        label = model._meta.label
        if unknown:
            raise ImproperlyConfigured(
                f"{label}.Leaderboard has unknown option(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(_CONFIG_FIELDS))}"
            )
        self.model = model
        self.score_field = self._field(options.get("score_field", "score"), "score_field").attname
        partition_by = options.get("partition_by")
        self.partition_attname = None if partition_by is None else self._field(partition_by, "partition_by").attname
        include = options.get("include")
        if isinstance(include, staticmethod):
            include = include.__func__
        if include is not None and not (callable(include) or isinstance(include, Q | dict)):
            raise ImproperlyConfigured(f"{label}.Leaderboard.include must be a callable, a Q or a dict of filters")
        self.include: Callable[[Any], bool] | Q | None = Q(**include) if isinstance(include, dict) else include
        display = options.get("display_fields", ())
        if isinstance(display, str) or not all(isinstance(name, str) for name in display):
            raise ImproperlyConfigured(f"{label}.Leaderboard.display_fields must be a list of field names")
        self._display = [self._field(name, "display_fields") for name in display]
        for field in self._display:
            if field.is_relation or not field.concrete or field.primary_key:
                raise ImproperlyConfigured(
                    f"{label}.Leaderboard.display_fields: {field.name!r} must be a plain column of the model "
                    "(not a relation or the primary key)"
                )
        #: attnames of display_fields, in order
        self.display_fields = tuple(field.attname for field in self._display)
        self_heal = options.get("self_heal")
        if self_heal is not None and not isinstance(self_heal, bool):
            raise ImproperlyConfigured(f"{label}.Leaderboard.self_heal must be True or False, got {self_heal!r}")
        self._self_heal = self_heal
        super().__init__(
            options.get("name") or label.lower(),
            using=options.get("using"),
            order=options.get("order", "desc"),
            ranking=options.get("ranking", "competition"),
            periods=list(options.get("periods", ())),
            partitioned=partition_by is not None,
            key_prefix=options.get("key_prefix"),
            period_scores=options.get("period_scores", "same"),
        )
        self._pending: set[Any] = set()
        self._pending_lock = threading.Lock()
        #: the DateTimeField/DateField recording when a row's score last changed: period boards
        #: are rebuilt from the rows it puts inside the period (None: they are not rebuilt)
        self.period_field: str | None = self._period_field(options.get("period_field"))

    def _period_field(self, name: Any) -> str | None:
        if name is None:
            return None
        label = self.model._meta.label
        field = self._field(name, "period_field")
        if not isinstance(field, models.DateTimeField | models.DateField):
            raise ImproperlyConfigured(
                f"{label}.Leaderboard.period_field = {name!r} must be a DateTimeField or DateField "
                f"(when the row's score last changed), not a {type(field).__name__}"
            )
        if not self.periods:
            raise ImproperlyConfigured(
                f"{label}.Leaderboard.period_field = {name!r} needs periods (e.g. periods = ['weekly']): "
                "it is only used to rebuild period boards"
            )
        if self.period_scores != "same":
            raise ImproperlyConfigured(
                f"{label}.Leaderboard.period_field = {name!r} cannot rebuild period_scores = "
                f"{self.period_scores!r} boards: the table holds each row's current score, not what it "
                "gained in a period; remove period_field (those period boards are not rebuilt)"
            )
        return str(field.attname)

    # -- self-healing (heal.py) -----------------------------------------------------------
    @property
    def guarded(self) -> bool:
        return True  # the table can rebuild it: reads check that Redis still holds it

    @property
    def self_heal(self) -> bool:
        """Whether a read that finds the board missing rebuilds it (else: BoardMissing)."""
        return get_settings().SELF_HEAL if self._self_heal is None else self._self_heal

    def _heal(self, reply: str = "") -> None:
        from .heal import heal

        heal(self, _missing_period(reply))

    async def _aheal(self, reply: str = "") -> None:
        from .heal import aheal

        await aheal(self, _missing_period(reply))

    @property
    def periods_heal(self) -> bool:
        """Whether the table can rebuild this board's period boards (``period_field`` set)."""
        return self.period_field is not None

    def _period_arg(self) -> str:
        # "+p": the period's own marker decides whether Redis holds it (read.lua), so a lost
        # period board is rebuilt from the rows whose period_field falls inside it. A period
        # past its retention has expired on purpose: it reads as empty, never rebuilt.
        if self._period is None or self.period_field is None:
            return super()._period_arg()
        if self._at is not None:
            first = periods_mod.start(self._period, datetime.datetime.fromtimestamp(self._at, datetime.UTC).date())
            if periods_mod.expires_at(self._period, first, get_settings().PERIOD_RETAIN) <= time.time() + 60:
                return self._period
        return self._period + "+p"

    def period_queryset(self, kind: str, first: datetime.date, using: str | None = None) -> models.QuerySet[Any]:
        """The rows whose ``period_field`` falls inside the ``kind`` period starting on ``first``
        (UTC, as all periods): the source of that period board's rebuild."""
        if self.period_field is None:
            raise ImproperlyConfigured(f"{self.model._meta.label}.Leaderboard has no period_field")
        name = self.model._meta.get_field(self.period_field).name
        end = periods_mod.stop(kind, first)
        low: Any = first
        high: Any = end
        if isinstance(self.model._meta.get_field(name), models.DateTimeField):
            low, high = _utc_bound(first), _utc_bound(end)
        return self.db_queryset(using).filter(**{f"{name}__gte": low, f"{name}__lt": high})

    def _field(self, name: Any, option: str) -> Any:
        try:
            return self.model._meta.get_field(name)
        except Exception:
            raise ImproperlyConfigured(
                f"{self.model._meta.label}.Leaderboard.{option} = {name!r} is not a field of the model"
            ) from None

    # -- which fields a save must touch to matter ----------------------------------------
    def relevant(self, fields: Iterable[str] | None) -> bool:
        """Whether a save of these ``update_fields`` can change the board."""
        if fields is None or self.include is not None:
            return True
        names = set(fields)
        wanted = {self.score_field, self.score_field.removesuffix("_id"), *self.display_fields}
        if self.partition_attname:
            wanted |= {self.partition_attname, self.partition_attname.removesuffix("_id")}
        return bool(names & wanted)

    # -- members <-> rows ---------------------------------------------------------------
    def _member_of(self, member: Any) -> str:
        if isinstance(member, models.Model):
            if member.pk is None:
                raise scores.LeaderboardError(f"{member!r} has no primary key yet")
            return str(member.pk)
        return super()._member_of(member)

    def _pks(self, rows: Sequence[Entry]) -> dict[str, Any]:
        pk_field = self.model._meta.pk
        out: dict[str, Any] = {}
        for entry in rows:
            try:
                out[entry.member] = pk_field.to_python(entry.member)  # type: ignore[union-attr]
            except Exception:  # a member that is no pk of this model: treated as stale
                continue
        return out

    def _attach(self, rows: list[Entry], objects: dict[Any, Any], pks: dict[str, Any]) -> tuple[list[Entry], list[str]]:
        kept, stale = [], []
        for entry in rows:
            obj = objects.get(pks.get(entry.member))
            if obj is None:
                stale.append(entry.member)
                continue
            entry.obj = obj
            kept.append(entry)
        return kept, stale

    def _materialize(self, rows: list[Entry]) -> list[Entry]:
        missing = [entry for entry in rows if entry.obj is None]  # no display data on the board
        if not missing:
            return rows
        pks = self._pks(missing)
        objects = self.model._base_manager.in_bulk(list(pks.values()))
        _, stale = self._attach(missing, objects, pks)
        if stale:
            self._remove_stale(stale)
        if self.display_fields:
            self._store_payloads(objects.values())
        return [entry for entry in rows if entry.obj is not None]

    async def _amaterialize(self, rows: list[Entry]) -> list[Entry]:
        missing = [entry for entry in rows if entry.obj is None]
        if not missing:
            return rows
        pks = self._pks(missing)
        objects = await self.model._base_manager.ain_bulk(list(pks.values()))
        _, stale = self._attach(missing, objects, pks)
        if stale:
            for member in stale:
                await self.aremove(member)
        if self.display_fields:
            await sync_to_async(self._store_payloads)(list(objects.values()))
        return [entry for entry in rows if entry.obj is not None]

    def _remove_stale(self, members: list[str]) -> None:
        # Rows deleted behind the board's back (raw SQL, another process while Redis was down).
        logger.info("leaderboard %s: removing %d member(s) whose rows are gone: %s", self.name, len(members), members)
        try:
            self._pipeline_writes([self.write_args("remove", m, "0") for m in members])
        except LeaderboardUnavailable:
            pass

    # -- writing rows ---------------------------------------------------------------------
    def db_queryset(self, using: str | None = None) -> models.QuerySet[Any]:
        """The rows that belong on the board (``include`` applied when it is a Q)."""
        qs = self.model._base_manager.using(using or router.db_for_read(self.model)).all()
        if isinstance(self.include, Q):
            qs = qs.filter(self.include)
        return qs

    def rows(self, queryset: models.QuerySet[Any], *, removals: bool = True) -> Iterable[tuple[str, Any, Any]]:
        """(member, score or None to remove, partition value) for each row of ``queryset``.

        ``removals=False`` (a rebuild) skips the rows ``include`` leaves out instead of
        listing them for removal, sparing a query for their pks."""
        for member, value, part, _ in self.rows_with_data(queryset, removals=removals):
            yield member, value, part

    def rows_with_data(
        self, queryset: models.QuerySet[Any], *, removals: bool = True
    ) -> Iterable[tuple[str, Any, Any, str | None]]:
        """:meth:`rows` plus each row's display data (JSON; None without display_fields or for
        a removal)."""
        display = self.display_fields
        if callable(self.include):
            for obj in queryset.iterator(chunk_size=2000):
                value = getattr(obj, self.score_field) if self.include(obj) else None
                part = getattr(obj, self.partition_attname) if self.partition_attname else None
                data = self._payload([getattr(obj, name) for name in display]) if value is not None else None
                yield str(obj.pk), value, part, data
            return
        fields = ["pk", self.score_field] + ([self.partition_attname] if self.partition_attname else [])
        extra = len(fields)
        fields += display
        if isinstance(self.include, Q):
            included = queryset.filter(self.include)
            wanted = set(queryset.values_list("pk", flat=True)) if removals and queryset.query.where else None
            seen = set()
            for row in included.values_list(*fields).iterator(chunk_size=2000):
                seen.add(row[0])
                yield str(row[0]), row[1], row[2] if self.partition_attname else None, self._row_payload(row, extra)
            for pk in (wanted or set()) - seen:
                yield str(pk), None, None, None
            return
        for row in queryset.values_list(*fields).iterator(chunk_size=2000):
            yield str(row[0]), row[1], row[2] if self.partition_attname else None, self._row_payload(row, extra)

    # -- display data ----------------------------------------------------------------------
    @property
    def data_key(self) -> str:
        """The hash of display data: member -> JSON object of display_fields (same slot as the board)."""
        return f"{self.base_key}:d"

    def _row_payload(self, row: Sequence[Any], extra: int) -> str | None:
        # A row without a score leaves the board: no data for it.
        return None if row[1] is None else self._payload(row[extra:])

    def _payload(self, values: Sequence[Any]) -> str | None:
        if not self.display_fields:
            return None
        data = dict(zip(self.display_fields, values, strict=True))
        return json.dumps(data, cls=_Encoder, separators=(",", ":"))

    def _rows_call(self, op: str, *extra: scripts.ArgT) -> Any:
        # range/around/score bring each row's display data along ("+d", see read.lua).
        return super()._rows_call(op + "+d" if self.display_fields else op, *extra)

    def _rows(self, reply: list[Any]) -> tuple[int, list[Entry]]:
        count, entries = super()._rows(reply)
        if len(reply) > 4:
            db = router.db_for_read(self.model)
            for entry, raw in zip(entries, reply[4], strict=True):
                if raw:
                    entry.obj = self._from_payload(db, entry.member, raw)
        return count, entries

    def _from_payload(self, db: str, member: str, raw: bytes | str) -> Any:
        """A model instance from stored display data (None when unreadable: the row is then read)."""
        try:
            data = json.loads(raw)
            pk = self.model._meta.pk.to_python(member)  # type: ignore[union-attr]
            values = [field.to_python(data[field.attname]) for field in self._display]
        except Exception:  # written under other display_fields, or not by us: read the row instead
            return None
        names = [self.model._meta.pk.attname, *self.display_fields]  # type: ignore[union-attr]
        return self.model.from_db(db, names, [pk, *values])

    def _store_payloads(self, objects: Iterable[Any]) -> None:
        """Write back the display data of rows read from the database (a board synced before
        display_fields, or rebuilt): the next read needs no SQL for them."""
        mapping = {str(obj.pk): self._payload([getattr(obj, n) for n in self.display_fields]) for obj in objects}
        if not mapping:
            return
        try:
            node_client(self.client(), self.base_key).hset(self.data_key, mapping=mapping)  # type: ignore[arg-type]
        except _OUTAGES:
            pass  # only a cache of the rows: the next read tries again

    def row_args(self, member: str, value: Any, part: Any) -> list[scripts.ArgT] | None:
        """Write-script ARGV for one row (None: invalid score, logged and skipped)."""
        if value is None:
            return self.write_args("remove", member, "0")
        try:
            stored = scores.encode(scores.check(value, self.score_field), self.descending)
        except scores.InvalidScore as exc:
            logger.error("leaderboard %s: row %s not synced: %s", self.name, member, exc)
            return None
        return self.write_args("set", member, stored, part if self.partitioned else KEEP)

    def _pipeline_writes(
        self, all_args: list[list[scripts.ArgT]], payloads: dict[str, str | None] | None = None
    ) -> None:
        """Run many write-script calls, pipelined in batches (each call is atomic on its own);
        ``payloads`` (member -> display data, None to drop it) ride in the same round trips."""
        data = self._data_commands(payloads or {})
        if not all_args and not data:
            return
        keys = [self.base_key]
        batch = get_settings().BATCH_SIZE
        try:
            client = node_client(self.client(), self.base_key)
            for i in range(0, max(len(all_args), 1), batch):
                chunk = all_args[i : i + batch]
                last = i + batch >= len(all_args)
                for attempt in range(2):
                    pipe = client.pipeline(transaction=False)
                    for args in chunk:
                        pipe.evalsha(_write.sha, 1, *keys, *args)
                    for command in data if last else ():
                        pipe.execute_command(*command)
                    replies = pipe.execute(raise_on_error=False)
                    missing = [r for r in replies if isinstance(r, redis.exceptions.NoScriptError)]
                    if missing and attempt == 0:
                        # A new or restarted server: load once, then resend (writes are idempotent).
                        _write(client, keys, chunk[0])
                        continue
                    errors = [r for r in replies if isinstance(r, Exception)]
                    if errors:
                        raise errors[0]
                    break
        except _OUTAGES as exc:
            raise _failed(self.alias, "leaderboard sync", exc) from exc
        _recovered(self.alias)

    def _data_commands(self, payloads: dict[str, str | None]) -> list[tuple[Any, ...]]:
        if not self.display_fields or not payloads:
            return []
        commands: list[tuple[Any, ...]] = []
        stored = [(m, p) for m, p in payloads.items() if p is not None]
        dropped = [m for m, p in payloads.items() if p is None]
        for i in range(0, len(stored), 500):
            commands.append(("HSET", self.data_key, *[x for pair in stored[i : i + 500] for x in pair]))
        for i in range(0, len(dropped), 500):
            commands.append(("HDEL", self.data_key, *dropped[i : i + 500]))
        return commands

    def sync_pks(self, pks: Iterable[Any], using: str | None = None) -> int:
        """Write the committed state of these rows (absent/excluded rows are removed)."""
        if instrument.LISTENERS:
            with instrument.operation("leaderboard", "sync", alias=self.alias, board=self.name):
                rows = self._sync_pks(pks, using)
            instrument.emit("leaderboard", "sync", self.alias, board=self.name, operation="sync", size=rows)
            return rows
        return self._sync_pks(pks, using)

    def _sync_pks(self, pks: Iterable[Any], using: str | None) -> int:
        with self._pending_lock:
            wanted = set(pks) | self._pending
            self._pending.clear()
        if not wanted:
            return 0
        try:
            qs = self.model._base_manager.using(using or router.db_for_read(self.model)).filter(pk__in=wanted)
            writes = self._committed_writes(qs, wanted)
            for _ in range(_VERIFY_ROUNDS):
                self._pipeline_writes(
                    [args for args, _ in writes.values() if args is not None],
                    {member: data for member, (_, data) in writes.items()},
                )
                # Two syncs of one row can interleave: the one that read the older committed
                # value may write last. Each sync re-reads after writing and writes again what
                # changed meanwhile, so the last write on the board is of a value read after it.
                again = self._committed_writes(qs, wanted)
                writes = {member: write for member, write in again.items() if write != writes.get(member)}
                if not writes:
                    break
            else:
                logger.warning(
                    "leaderboard %s: rows %s kept changing during sync; leaderboard_rebuild repairs drift",
                    self.name,
                    sorted(writes),
                )
        except (LeaderboardUnavailable, OperationalError) as exc:
            with self._pending_lock:
                if len(self._pending) + len(wanted) <= _MAX_PENDING:
                    self._pending |= wanted
            logger.log(
                logging.INFO if isinstance(exc, LeaderboardUnavailable) else logging.WARNING,
                "leaderboard %s: %d row(s) not synced (%s), will retry with the next sync; "
                "leaderboard_rebuild repairs drift",
                self.name,
                len(wanted),
                "Redis down" if isinstance(exc, LeaderboardUnavailable) else f"database: {exc}",
            )
            raise
        return len(wanted)

    def _committed_writes(
        self, qs: models.QuerySet[Any], wanted: set[Any]
    ) -> dict[str, tuple[list[scripts.ArgT] | None, str | None]]:
        """member -> (the write that puts its committed state on the board, removal if gone;
        its display data, None when removed)."""
        for pause in _READ_RETRY_PAUSES:
            try:
                return self._read_committed(qs, wanted)
            except OperationalError:
                # Often a moment's contention (SQLite: "database is locked" while another
                # writer commits): the row is committed, so reading it again is safe.
                time.sleep(pause)
        return self._read_committed(qs, wanted)

    def _read_committed(
        self, qs: models.QuerySet[Any], wanted: set[Any]
    ) -> dict[str, tuple[list[scripts.ArgT] | None, str | None]]:
        found: dict[str, tuple[list[scripts.ArgT] | None, str | None]] = {}
        for member, value, part, data in self.rows_with_data(qs):
            found[member] = (self.row_args(member, value, part), data)
        for pk in wanted:
            if str(pk) not in found:
                found[str(pk)] = (self.write_args("remove", str(pk), "0"), None)
        return found

    def sync(self, queryset: models.QuerySet[Any] | None = None) -> int:
        """Write these rows' current values now (default: every row). Returns rows written.

        Not atomic for the whole board: use ``manage.py leaderboard_rebuild`` to replace it."""
        if instrument.LISTENERS:
            with instrument.operation("leaderboard", "sync", alias=self.alias, board=self.name):
                rows = self._sync_rows(queryset)
            instrument.emit("leaderboard", "sync", self.alias, board=self.name, operation="sync", size=rows)
            return rows
        return self._sync_rows(queryset)

    def _sync_rows(self, queryset: models.QuerySet[Any] | None) -> int:
        qs = queryset if queryset is not None else self.model._base_manager.all()
        all_args, payloads = [], {}
        for member, value, part, data in self.rows_with_data(qs):
            args = self.row_args(member, value, part)
            if args is not None:
                all_args.append(args)
                payloads[member] = data
        self._pipeline_writes(all_args, payloads)
        return len(all_args)

    def schedule(self, pks: Iterable[Any], using: str) -> None:
        """Sync these rows once the current transaction on ``using`` commits."""
        pks = [pk for pk in pks if pk is not None]
        if pks:
            transaction.on_commit(functools.partial(_sync_after_commit, self, pks, using), using=using, robust=True)


def _missing_period(reply: str) -> str | None:
    """ "weekly:2026-11-30" from the read script's "board missing period weekly:2026-11-30"."""
    marker = "board missing period "
    return reply.split(marker, 1)[1].split()[0] if marker in reply else None


def _utc_bound(day: datetime.date) -> datetime.datetime:
    """Midnight UTC starting ``day``, as the database compares it: aware with USE_TZ, else
    naive in TIME_ZONE (how Django stores naive datetimes)."""
    moment = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    if django_settings.USE_TZ:
        return moment
    return timezone.make_naive(moment, timezone.get_default_timezone())


class _Encoder(DjangoJSONEncoder):
    """Django's JSON encoder, but datetimes and times keep their microseconds (it cuts them to
    milliseconds, as JavaScript does): display data must read back equal to the column."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


def _sync_after_commit(board: ModelLeaderboard, pks: list[Any], using: str) -> None:
    try:
        board.sync_pks(pks, using=using)
    except (LeaderboardUnavailable, OperationalError):
        pass  # logged; pks kept for retry
    except Exception:
        logger.exception("leaderboard %s: sync of %s failed", board.name, pks)


class _BoardDescriptor:
    """``Model.leaderboard``: the model's board, built once per concrete model."""

    def __get__(self, instance: Any, owner: type[models.Model]) -> ModelLeaderboard:
        return board_for(owner)


_boards: dict[type, ModelLeaderboard] = {}
_boards_lock = threading.Lock()


def board_for(model: type[models.Model]) -> ModelLeaderboard:
    """The one ``ModelLeaderboard`` of a concrete ``LeaderboardMixin`` model (``Model.leaderboard``)."""
    concrete = model._meta.concrete_model or model
    if model._meta.abstract:
        raise AttributeError(f"{model.__name__} is abstract; leaderboard belongs to concrete models")
    board = _boards.get(concrete)
    if board is None:
        with _boards_lock:
            board = _boards.get(concrete)
            if board is None:
                board = _boards[concrete] = ModelLeaderboard(
                    concrete, concrete.__dict__.get("Leaderboard") or getattr(concrete, "Leaderboard", None)
                )
    return board


class LeaderboardQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """Re-syncs rows changed by ``update``/``bulk_create``/``bulk_update`` after commit."""

    def update(self, **kwargs: Any) -> int:
        board = board_for(self.model)
        if not board.relevant(kwargs):
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            pks = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            board.schedule(pks, self.db)
        return count

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        created = super().bulk_create(objs, *args, **kwargs)
        pks = [obj.pk for obj in created if obj.pk is not None]
        if len(pks) < len(created):
            logger.warning(
                "leaderboard %s: bulk_create returned %d row(s) without a pk; run leaderboard_rebuild to add them",
                board_for(self.model).name,
                len(created) - len(pks),
            )
        board_for(self.model).schedule(pks, self.db)
        return created

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None) -> int:
        objs = list(objs)
        fields = list(fields)
        count = super().bulk_update(objs, fields, batch_size=batch_size)
        board = board_for(self.model)
        if board.relevant(fields):
            board.schedule([obj.pk for obj in objs], self.db)
        return count


class LeaderboardMixin(models.Model):
    """Abstract base: keeps the model's rows on a leaderboard (see module docs)."""

    leaderboard: ClassVar[_BoardDescriptor] = _BoardDescriptor()  # type: ignore[assignment]

    objects = LeaderboardQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def leaderboard_rank(self) -> int | None:
        """This row's rank (None when not on the board); one round trip."""
        return board_for(type(self)).rank_of(self)

    @property
    def leaderboard_score(self) -> scores.Score | None:
        """This row's score on its board, read from Redis (one round trip)."""
        return board_for(type(self)).score_of(self)


def _on_save(sender: type[models.Model], instance: Any, using: str, update_fields: Any = None, **kwargs: Any) -> None:
    board = board_for(sender)
    if update_fields is not None and not board.relevant(update_fields):
        return
    board.schedule([instance.pk], using)


def _on_delete(sender: type[models.Model], instance: Any, using: str, **kwargs: Any) -> None:
    board_for(sender).schedule([instance.pk], using)


def _connect(sender: type[models.Model], **kwargs: Any) -> None:
    # Per concrete subclass: the abstract mixin's own class creation is too early (its
    # subclasses' _meta does not exist yet), class_prepared is the first safe moment.
    if not issubclass(sender, LeaderboardMixin) or sender._meta.abstract:
        return
    uid = f"django_redis_patterns.leaderboard:{sender._meta.label_lower}"
    post_save.connect(_on_save, sender=sender, dispatch_uid=uid, weak=False)
    post_delete.connect(_on_delete, sender=sender, dispatch_uid=uid, weak=False)


class_prepared.connect(_connect, dispatch_uid="django_redis_patterns.leaderboard.connect")
