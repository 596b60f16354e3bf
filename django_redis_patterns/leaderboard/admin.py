"""``LeaderboardAdminMixin``: a "Leaderboard" page for a ``LeaderboardMixin`` model's admin.

::

    @admin.register(Player)
    class PlayerAdmin(LeaderboardAdminMixin, admin.ModelAdmin):
        search_fields = ["name"]

Adds a "Leaderboard" button to the changelist (it extends whatever changelist template is
already configured, so it composes with other admin mixins such as django-import-export)
and ``<app>/<model>/leaderboard/``: ranks, members linked to their change pages, scores,
pagination, a search box that jumps to a member's page, period and partition selectors, a
score-distribution chart (inline SVG), and a banner with a "Rebuild" button when the board
and the table disagree. Viewing needs the view (or change) permission; rebuilding needs the
change permission and a POST with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.contrib import messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.core.paginator import InvalidPage, Page
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import ngettext

from . import periods as periods_mod
from .board import _OUTAGES, BoardMissing, Leaderboard, LeaderboardUnavailable, _failed, _page_number
from .conf import get as get_settings
from .models import ModelLeaderboard, board_for
from .rebuild import RebuildError, counts, rebuild
from .scores import LeaderboardError

#: Past periods offered by the period selector, per kind.
PERIOD_CHOICES = 6
CHART_BINS = 20


class LeaderboardAdminMixin:
    """Mix into the ``ModelAdmin`` of a ``LeaderboardMixin`` model (before ``ModelAdmin``)."""

    leaderboard_template = "admin/redis_leaderboard/leaderboard.html"
    leaderboard_change_list_template = "admin/redis_leaderboard/change_list.html"
    leaderboard_per_page: int | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Chain templates: ours extends whatever was configured (Django's, or another mixin's).
        self.leaderboard_base_change_list_template = getattr(self, "change_list_template", None)
        self.change_list_template = self.leaderboard_change_list_template

    # -- URLs ---------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        """The admin's URLs plus ``leaderboard/`` and ``leaderboard/rebuild/``."""
        info = self.opts.app_label, self.opts.model_name  # type: ignore[attr-defined]
        site = self.admin_site  # type: ignore[attr-defined]
        ours = [
            path("leaderboard/", site.admin_view(self.leaderboard_view), name="{}_{}_leaderboard".format(*info)),
            path(
                "leaderboard/rebuild/",
                site.admin_view(self.leaderboard_rebuild_view),
                name="{}_{}_leaderboard_rebuild".format(*info),
            ),
        ]
        # before Django's catch-all "<path:object_id>/"
        return ours + super().get_urls()  # type: ignore[misc]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The changelist, with a **Leaderboard** button added to its template."""
        extra_context = {
            "leaderboard_base_change_list_template": self.leaderboard_base_change_list_template,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)  # type: ignore[misc, no-any-return]

    # -- the page -------------------------------------------------------------------------
    def get_leaderboard(self, request: HttpRequest) -> ModelLeaderboard:
        """The board the page shows (the model's ``leaderboard``); override to show another."""
        return board_for(self.model)  # type: ignore[attr-defined]

    def _url(self, name: str) -> str:
        opts = self.opts  # type: ignore[attr-defined]
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}")  # type: ignore[attr-defined]

    def _view_of(self, board: Leaderboard, request: HttpRequest) -> tuple[Leaderboard, str, str]:
        """The board view the query string asks for, and the chosen (period, partition) values."""
        period = request.GET.get("period", "")
        partition = request.GET.get("partition", "")
        view = board
        if partition and board.partitioned:
            view = view.partition(partition)
        if period:
            kind, _, start = period.partition(":")
            try:
                day = dt.date.fromisoformat(start) if len(start) == 10 else dt.date.fromisoformat(start + "-01")
                view = view.period(kind, at=day)
            except Exception:
                period = ""
        return view, period, partition

    def _period_choices(self, board: Leaderboard, selected: str) -> list[tuple[str, str]]:
        """The current period of each kind, and the past ones whose board has members (one
        pipelined ZCARD per candidate, one round trip); the selected one is always listed."""
        today = timezone.now().astimezone(dt.UTC).date()
        candidates = []
        for kind in board.periods:
            for i, day in enumerate(periods_mod.recent(kind, today, PERIOD_CHOICES)):
                value = periods_mod.label(kind, day)
                name = {"daily": "Day", "weekly": "Week of", "monthly": "Month"}[kind]
                shown = day.strftime("%Y-%m") if kind == "monthly" else day.isoformat()
                current = {"daily": " (today)", "weekly": " (this week)", "monthly": " (this month)"}[kind]
                candidates.append((value, f"{name} {shown}{current if i == 0 else ''}", i == 0))
        if not candidates:
            return []
        try:
            pipe = board.client().pipeline(transaction=False)
            for value, _, _ in candidates:
                pipe.zcard(f"{board.base_key}:{value}")  # the period board's key (see board.py)
            sizes = pipe.execute()
        except _OUTAGES as exc:
            raise _failed(board.alias, "leaderboard period sizes", exc) from exc
        return [
            (value, label)
            for (value, label, current), size in zip(candidates, sizes, strict=True)
            if current or size or value == selected
        ]

    def _page(self, view: Leaderboard, number: str, per_page: int) -> Page:
        """Django's ListView convention: "last" is the last page; a page number that is not
        an integer or is out of range is a 404, never silently another page."""
        if number == "last":
            first = view.page(1, per_page)
            last = first.paginator.num_pages
            return first if last == 1 else view.page(last, per_page)
        try:
            valid = _page_number(number)
        except LeaderboardError as exc:
            raise Http404(f"Invalid page ({number!r}): {exc}") from None
        try:
            return view.page(valid, per_page)
        except InvalidPage as exc:
            raise Http404(f"Invalid page ({number!r}): {exc}") from None

    def leaderboard_view(self, request: HttpRequest) -> HttpResponse:
        """The admin's leaderboard page: ranks, search, period and partition selectors, histogram."""
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        board = self.get_leaderboard(request)
        view, period, partition = self._view_of(board, request)
        per_page = self.leaderboard_per_page or get_settings().ADMIN_PER_PAGE
        query = request.GET.get("q", "").strip()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "title": f"Leaderboard: {self.opts.verbose_name_plural}",  # type: ignore[attr-defined]
            "board": board,
            "period": period,
            "partition": partition,
            "q": query,
            "period_choices": [],
            "partition_choices": [],
            "has_change_permission": self.has_change_permission(request),  # type: ignore[attr-defined]
            "rebuild_url": self._url("leaderboard_rebuild"),
            "leaderboard_url": self._url("leaderboard"),
            "changelist_url": self._url("changelist"),
        }
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        try:
            number = request.GET.get("page", "1")
            highlight = None
            if query:
                found = self._search(request, query)
                position = None if found is None else view.position_of(found)
                if position is None:
                    context["search_miss"] = True
                else:
                    highlight = str(found.pk)  # type: ignore[union-attr]
                    number = str(position // per_page + 1)
            page = self._page(view, number, per_page)
            context["period_choices"] = self._period_choices(board, period)
            context["page"] = page
            context["rows"] = [self._row(entry, highlight) for entry in page.object_list]
            context["page_range"] = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
            context["chart"] = self._chart(view)
            context["partition_choices"] = board.partitions() if board.partitioned else []
            if not period and not partition:
                rows, members, rebuilt = counts(board)
                context["db_rows"], context["board_members"] = rows, members
                context["drift"] = rows != members
                context["rebuilt_at"] = None if rebuilt is None else dt.datetime.fromtimestamp(rebuilt, tz=dt.UTC)
        except LeaderboardUnavailable as exc:
            context["unavailable"] = str(exc)
        except BoardMissing as exc:  # self-healing off for this board, or a rebuild still running
            context["board_missing"] = str(exc)
        context["base_query"] = urlencode({k: v for k, v in (("period", period), ("partition", partition)) if v})
        return TemplateResponse(request, self.leaderboard_template, context)

    def _search(self, request: HttpRequest, query: str) -> Any:
        """The first row the admin's search finds for ``query`` (search_fields, else the pk)."""
        model = self.model  # type: ignore[attr-defined]
        queryset = model._default_manager.all()
        if self.get_search_fields(request):  # type: ignore[attr-defined]
            queryset, _ = self.get_search_results(request, queryset, query)  # type: ignore[attr-defined]
        else:
            try:
                queryset = queryset.filter(pk=model._meta.pk.to_python(query))
            except Exception:
                return None
        return queryset.order_by("pk").first()

    def _row(self, entry: Any, highlight: str | None) -> dict[str, Any]:
        opts = self.opts  # type: ignore[attr-defined]
        url = reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",  # type: ignore[attr-defined]
            args=[quote(entry.obj.pk)],
        )
        return {"rank": entry.rank, "score": entry.score, "obj": entry.obj, "url": url, "me": entry.member == highlight}

    def _chart(self, view: Leaderboard) -> dict[str, Any]:
        """Bars of an inline SVG histogram (no scripts, no external assets)."""
        count, low, high, bins = view.histogram(CHART_BINS)
        width, height, gap = 600, 140, 2
        tallest = max(bins) if bins else 0
        bar_w = width / len(bins)
        bars = []
        for i, n in enumerate(bins):
            h = 0 if not tallest else max(1 if n else 0, round((height - 20) * math.sqrt(n / tallest)))
            lo = None if low is None else low + (high - low) * i / len(bins)  # type: ignore[operator]
            bars.append(
                {
                    "x": round(i * bar_w + gap / 2, 1),
                    "y": height - h,
                    "w": round(bar_w - gap, 1),
                    "h": h,
                    "n": n,
                    "lo": lo,
                }
            )
        return {"count": count, "low": low, "high": high, "bars": bars, "width": width, "height": height}

    # -- changelist action ------------------------------------------------------------------
    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """The admin's actions plus **Re-sync selected to the leaderboard** (change permission)."""
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if self.has_change_permission(request):  # type: ignore[attr-defined]
            func = LeaderboardAdminMixin.leaderboard_resync
            actions["leaderboard_resync"] = (func, "leaderboard_resync", func.short_description)  # type: ignore[attr-defined]
        return actions

    def leaderboard_resync(self, request: HttpRequest, queryset: Any) -> None:
        """Write the selected rows' current scores to the board now."""
        try:
            count = self.get_leaderboard(request).sync(queryset)
        except LeaderboardUnavailable as exc:
            self.message_user(request, f"Leaderboard not updated: {exc}", messages.ERROR)  # type: ignore[attr-defined]
            return
        self.message_user(  # type: ignore[attr-defined]
            request,
            ngettext("%d row re-synced to the leaderboard.", "%d rows re-synced to the leaderboard.", count) % count,
        )

    leaderboard_resync.short_description = "Re-sync selected to the leaderboard"  # type: ignore[attr-defined]

    @csrf_protect_m
    def leaderboard_rebuild_view(self, request: HttpRequest) -> HttpResponse:
        """POST: rebuild the model's board from the table (change permission), then redirect back."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        board = self.get_leaderboard(request)
        try:
            result = rebuild(board)
        except (LeaderboardUnavailable, RebuildError) as exc:
            self.message_user(request, f"Leaderboard not rebuilt: {exc}", messages.ERROR)  # type: ignore[attr-defined]
        else:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Leaderboard rebuilt: {result.members:,} members in {result.seconds:.2f} s.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._url("leaderboard"))
