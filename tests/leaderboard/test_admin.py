"""The admin leaderboard page: permissions with Django's client, real use in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from django_redis_patterns import get_redis
from tests.leaderboard_app.models import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("boards_exist")]

URL = "/admin/leaderboard_app/player/leaderboard/"
REBUILD = "/admin/leaderboard_app/player/leaderboard/rebuild/"


def staff(django_user_model: Any, name: str, *perms: str) -> Any:
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="leaderboard_app"))
    return user


def players(n: int) -> list[Player]:
    return Player.objects.bulk_create(
        [Player(name=f"p{i:03d}", score=(i * 7) % 40, region="eu" if i % 3 else "us") for i in range(n)]
    )


def test_urls_are_named_like_admin_urls(redis_ready: Any) -> None:
    assert reverse("admin:leaderboard_app_player_leaderboard") == URL
    assert reverse("admin:leaderboard_app_player_leaderboard_rebuild") == REBUILD


def test_view_permission_is_enforced(redis_ready: Any, django_user_model: Any, client: Client) -> None:
    players(3)
    client.force_login(staff(django_user_model, "nobody"))
    assert client.get(URL).status_code == 403
    assert client.post(REBUILD).status_code == 403
    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_view_only_users_see_the_board_but_cannot_rebuild(
    redis_ready: Any, django_user_model: Any, client: Client
) -> None:
    players(3)
    get_redis().delete(Player.leaderboard.base_key)  # drift: empty board, 3 rows
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="leaderboard-drift"' in html and 'id="leaderboard-rebuild"' not in html
    assert client.post(REBUILD).status_code == 403
    assert Player.leaderboard.count() == 0
    assert client.get(REBUILD).status_code in (403, 405)


def test_rebuild_needs_post_csrf_and_change_permission(redis_ready: Any, django_user_model: Any) -> None:
    players(4)
    get_redis().delete(Player.leaderboard.base_key)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(django_user_model, "editor", "view_player", "change_player"))
    assert client.get(REBUILD).status_code == 405
    assert client.post(REBUILD).status_code == 403  # no CSRF token
    assert Player.leaderboard.count() == 0
    html = client.get(URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = client.post(REBUILD, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert "Leaderboard rebuilt: 4 members" in response.content.decode()
    assert Player.leaderboard.count() == 4


def test_changelist_button_composes_with_other_mixins(redis_ready: Any, django_user_model: Any, client: Client) -> None:
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    html = client.get("/admin/leaderboard_app/player/").content.decode()
    assert 'id="leaderboard-link"' in html and f'href="{URL}"' in html
    assert 'id="other-tool"' in html  # the other mixin's tool is still there


def test_redis_down_shows_an_error_not_a_500(
    redis_ready: Any, django_user_model: Any, client: Client, redis_factory: Any, settings: Any
) -> None:
    from django_redis_patterns.client import connections

    group = redis_factory("standalone")
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": group.url}}
    connections.reset()
    group.servers[0].kill()
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    response = client.get(URL)
    assert response.status_code == 200
    assert 'id="leaderboard-unavailable"' in response.content.decode()


def test_admin_page_in_a_real_browser(
    redis_ready: Any, django_user_model: Any, live_server: Any, browser: Any, artifact: Any, settings: Any
) -> None:
    import django.contrib.admin

    # staticfiles is not installed in the test settings: the live server serves STATIC_ROOT,
    # so point it at the admin's own assets for styled screenshots.
    settings.STATIC_ROOT = str(Path(django.contrib.admin.__file__).parent / "static")
    players(60)
    django_user_model.objects.create_superuser("admin", "a@example.com", "pw")
    page = browser.new_page()
    response = page.goto(live_server.url + "/admin/login/?next=/admin/leaderboard_app/player/")
    assert response.status == 200, page.content()[:3000]
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/leaderboard_app/player/")
    assert page.locator("#other-tool").count() == 1
    page.click("#leaderboard-link")
    page.wait_for_url("**" + URL)
    assert "Leaderboard" in page.locator(".breadcrumbs").inner_text()

    # list: 25 rows, best first, ranks in competition order, names linking to change pages
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 25
    ranks = [int(t) for t in page.locator("#result_list td.rank").all_inner_texts()]
    scores = [int(t) for t in page.locator("#result_list td.score").all_inner_texts()]
    assert ranks[0] == 1 and scores == sorted(scores, reverse=True)
    assert ranks == [1 + sum(1 for s in scores if s > score) for score in scores]  # first page: exact
    first = Player.objects.get(name=page.locator("#result_list tbody th a").first.inner_text())
    assert page.locator("#result_list tbody th a").first.get_attribute("href") == (
        f"/admin/leaderboard_app/player/{first.pk}/change/"
    )
    assert page.locator("#leaderboard-chart rect").count() == 20
    assert page.locator("#leaderboard-drift").count() == 0
    page.screenshot(path=artifact("01-list"), full_page=True)

    # paginate
    page.click("#leaderboard-paginator a:text-is('3')")
    page.wait_for_url("**page=3")
    assert page.locator("#result_list tbody tr").count() == 10
    assert page.locator("#leaderboard-paginator .this-page").inner_text() == "3"

    # search jumps to the member's neighbourhood
    worst = Player.objects.order_by("score", "-pk").first()
    assert worst is not None
    page.fill("#id_q", worst.name)
    page.click("#leaderboard-search")
    page.wait_for_load_state()
    highlighted = page.locator("#result_list tr.me")
    assert highlighted.count() == 1 and worst.name in highlighted.inner_text()
    assert page.locator("#leaderboard-paginator .this-page").inner_text() == "3"
    page.fill("#id_q", "no-such-player")
    page.click("#leaderboard-search")
    page.wait_for_load_state()
    assert page.locator("#leaderboard-search-miss").count() == 1

    # switch period, then partition
    page.fill("#id_q", "")
    page.select_option("#id_period", label=page.locator("#id_period option", has_text="this week").inner_text())
    page.wait_for_url("**period=weekly*")
    assert page.locator("#result_list tbody tr").count() == 25
    page.select_option("#id_partition", "us")
    page.wait_for_url("**partition=us*")
    assert "period=weekly" in page.url
    assert page.locator("#leaderboard-paginator").inner_text().strip().endswith("20 members")
    page.screenshot(path=artifact("02-weekly-us"), full_page=True)

    # drift, then rebuild from the banner
    client = get_redis()
    for player in Player.objects.all()[:5]:
        client.zrem(Player.leaderboard.base_key, str(player.pk))
    page.goto(live_server.url + URL)
    banner = page.locator("#leaderboard-drift")
    assert "55" in banner.inner_text() and "60" in banner.inner_text()
    page.screenshot(path=artifact("03-drift"), full_page=True)
    page.click("#leaderboard-rebuild")
    page.wait_for_url("**" + URL)
    assert "Leaderboard rebuilt: 60 members" in page.locator(".messagelist").inner_text()
    assert page.locator("#leaderboard-drift").count() == 0
    assert Player.leaderboard.count() == 60
    page.screenshot(path=artifact("04-rebuilt"), full_page=True)


def test_resync_action_needs_change_permission(redis_ready: Any, django_user_model: Any, client: Client) -> None:
    rows = players(3)
    get_redis().delete(Player.leaderboard.base_key)
    changelist = "/admin/leaderboard_app/player/"
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    assert "leaderboard_resync" not in client.get(changelist).content.decode()
    client.force_login(staff(django_user_model, "editor", "view_player", "change_player"))
    assert "leaderboard_resync" in client.get(changelist).content.decode()
    response = client.post(
        changelist, {"action": "leaderboard_resync", "_selected_action": [rows[0].pk, rows[1].pk]}, follow=True
    )
    assert "2 rows re-synced to the leaderboard." in response.content.decode()
    assert Player.leaderboard.count() == 2


def test_out_of_range_and_bad_pages_are_404_and_last_is_the_last_page(
    redis_ready: Any, django_user_model: Any, client: Client
) -> None:
    players(60)  # 25 per page: 3 pages
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    for bad in ("999", "4", "0", "-1", "abc", "2.5", ""):
        response = client.get(URL, {"page": bad})
        assert response.status_code == 404, bad  # never silently page 1
    last = client.get(URL, {"page": "last"})
    assert last.status_code == 200 and last.context["page"].number == 3
    assert len(last.context["rows"]) == 10
    assert client.get(URL, {"page": "3"}).context["page"].number == 3
    # a period or partition view has its own page count
    assert client.get(URL, {"page": "2", "partition": "us"}).status_code == 404  # 20 members: 1 page
    assert client.get(URL, {"page": "last", "partition": "us"}).context["page"].number == 1
    # an empty board still has its page 1
    get_redis().delete(Player.leaderboard.base_key)
    assert client.get(URL).status_code == 200


def test_the_period_list_hides_past_periods_whose_board_is_empty(
    redis_ready: Any, django_user_model: Any, client: Client
) -> None:
    import datetime as dt

    from django.utils import timezone

    today = timezone.now().astimezone(dt.UTC).date()
    board = Player.leaderboard
    yesterday = today - dt.timedelta(days=1)
    board.set_score("1", 10, at=yesterday)  # yesterday's board (kept PERIOD_RETAIN=1 day after it ends)
    client.force_login(staff(django_user_model, "viewer", "view_player"))
    choices = [value for value, _ in client.get(URL).context["period_choices"]]

    def day(d: dt.date) -> str:
        return f"daily:{d.isoformat()}"

    def week(d: dt.date) -> str:
        return f"weekly:{(d - dt.timedelta(days=d.weekday())).isoformat()}"

    # today and this week always; yesterday and its week (this week or last) have members; the
    # other four past days and weeks on offer are empty and hidden
    assert set(choices) == {day(today), day(yesterday), week(today), week(yesterday)}
    assert day(today - dt.timedelta(days=2)) not in choices
    # a period asked for by URL stays listed (and selected) even when its board is empty
    empty = day(today - dt.timedelta(days=3))
    response = client.get(URL, {"period": empty})
    assert empty in [value for value, _ in response.context["period_choices"]]
    assert f'<option value="{empty}" selected>' in response.content.decode()


def test_a_lost_board_heals_or_says_it_is_missing(
    redis_ready: Any, django_user_model: Any, client: Client, settings: Any
) -> None:
    players(30)
    client.force_login(staff(django_user_model, "editor", "view_player", "change_player"))
    get_redis().flushall()  # Redis lost everything, the board's marker with it
    page = client.get(URL)
    assert page.status_code == 200 and page.context["page"].paginator.count == 30  # rebuilt by the read
    assert 'id="leaderboard-drift"' not in page.content.decode()
    settings.REDIS_PATTERNS = {"LEADERBOARD": {"SELF_HEAL": False}}
    get_redis().flushall()
    html = client.get(URL).content.decode()
    assert 'id="leaderboard-missing"' in html and "leaderboard_rebuild leaderboard_app.Player" in html
    assert 'id="leaderboard-rebuild"' in html  # the editor can rebuild it from here
