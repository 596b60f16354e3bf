"""System checks of the leaderboard app (ids redis_patterns.E040–E049, W040–W049, I041, I043)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, Info, Warning, register

from django_redis_patterns.exceptions import ImproperlyConfigured


@register()
def check_leaderboard_models(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E040: a LeaderboardMixin model whose inner ``class Leaderboard`` is invalid.
    W040: its default manager bypasses LeaderboardQuerySet (bulk paths would not sync)."""
    from .models import LeaderboardMixin

    errors: list[CheckMessage] = []
    for model in apps.get_models():
        if issubclass(model, LeaderboardMixin):
            errors += check_model(model)
    return errors


def check_model(model: Any) -> list[CheckMessage]:
    from .models import LeaderboardQuerySet, ModelLeaderboard

    errors: list[CheckMessage] = []
    try:
        ModelLeaderboard(model, model.__dict__.get("Leaderboard") or getattr(model, "Leaderboard", None))
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), obj=model, id="redis_patterns.E040"))
    if not isinstance(model._default_manager.get_queryset(), LeaderboardQuerySet):
        errors.append(
            Warning(
                f"{model._meta.label}'s default manager does not use LeaderboardQuerySet: "
                "QuerySet.update(), bulk_create() and bulk_update() will not update its leaderboard.",
                hint="Build the manager from LeaderboardQuerySet, e.g. objects = LeaderboardQuerySet.as_manager().",
                obj=model,
                id="redis_patterns.W040",
            )
        )
    return errors


@register("admin")
def check_leaderboard_admins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E041: LeaderboardAdminMixin on the admin of a model that has no leaderboard."""
    from django.contrib import admin

    from .admin import LeaderboardAdminMixin
    from .models import LeaderboardMixin

    if not apps.is_installed("django.contrib.admin"):
        return []
    errors: list[CheckMessage] = []
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, LeaderboardAdminMixin) and not issubclass(model, LeaderboardMixin):
            errors.append(
                Error(
                    f"{type(model_admin).__name__} uses LeaderboardAdminMixin but {model._meta.label} "
                    "does not use LeaderboardMixin.",
                    hint="Add LeaderboardMixin to the model, or remove the admin mixin.",
                    obj=model_admin,
                    id="redis_patterns.E041",
                )
            )
    return errors


@register(deploy=True)
def check_boards_held(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Deployment checks (``manage.py check --deploy``), which ask Redis: I041, a model's board
    is missing from Redis (its first read rebuilds it: nothing to do); E042, the same with self-healing off
    (reads raise BoardMissing until ``leaderboard_rebuild``); W042, Redis could not be asked.
    For the current period boards Redis lost: I043, its first read rebuilds it (``period_field``);
    W043, it will not be rebuilt (no ``period_field``, ``period_scores = "gain"``, or
    self-healing off): it holds only what was written since the loss."""
    from .heal import board_states, period_states

    messages: list[CheckMessage] = []
    states = board_states()
    for period in period_states(states):
        if period.heals:
            messages.append(Info(period.describe(), obj=period.label, id="redis_patterns.I043"))
            continue
        hint = None
        if not period.board.periods_heal and period.board.period_scores == "same":
            hint = "Set period_field (a DateTimeField updated with the score, e.g. auto_now) in Leaderboard."
        messages.append(Warning(period.describe(), hint=hint, obj=period.label, id="redis_patterns.W043"))
    for state in states:
        if state.held is None:
            messages.append(Warning(state.describe(), obj=state.label, id="redis_patterns.W042"))
        elif not state.held:
            if state.board.self_heal:
                messages.append(Info(state.describe(), obj=state.label, id="redis_patterns.I041"))
            else:
                messages.append(
                    Error(
                        state.describe(),
                        hint=f"python manage.py leaderboard_rebuild {state.label}",
                        obj=state.label,
                        id="redis_patterns.E042",
                    )
                )
    return messages
