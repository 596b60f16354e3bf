"""CachedModelBackend listed alone replaces Django's ModelBackend: sign-up, log-in, permissions.

A project lists ``AUTHENTICATION_BACKENDS = [CachedModelBackend]`` and nothing else, so an
ordinary sign-up view (``create_user(); login(request, user)``) needs no ``backend=``, the
login form authenticates through it, and Django's permission API answers as with
ModelBackend, from the database at each request, whatever copy of the user Redis holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import Group, Permission
from django.test import Client

from django_redis_patterns.sessions.auth import CachedModelBackend
from tests.sessions.conftest import cached_copy
from tests.topologies import all_topologies

pytestmark = pytest.mark.django_db

CACHED = "django_redis_patterns.sessions.auth.CachedModelBackend"
PERM_CACHES = ("_perm_cache", "_user_perm_cache", "_group_perm_cache")


@pytest.fixture(autouse=True)
def only_our_backend(settings: Any, topology: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = [CACHED]


_copy = cached_copy


def _perm(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="testapp", codename=codename)


@all_topologies
def test_a_projects_own_sign_up_view_logs_the_new_user_in(
    topology: Any, django_user_model: Any, django_assert_num_queries: Any
) -> None:
    """tests/sessions/urls.py's signup view: create_user(); login(request, user), no backend=."""
    client = Client()
    response = client.post("/signup/", {"username": "newbie", "password": "a-long-password-1"})
    assert response.status_code == 200, response.content
    assert client.session[BACKEND_SESSION_KEY] == CACHED
    newbie = django_user_model.objects.get(username="newbie")
    with django_assert_num_queries(1):  # login() saved last_login: one read, then cached
        assert client.get("/whoami/").json()["username"] == "newbie"
    with django_assert_num_queries(0):
        assert client.get("/whoami/").json()["username"] == "newbie"
    assert _copy(newbie) == newbie


def test_the_login_form_authenticates_through_it_and_refuses_inactive_users(django_user_model: Any) -> None:
    ada = django_user_model.objects.create_user("ada", password="right-password")
    client = Client()
    assert client.login(username="ada", password="wrong-password") is False
    assert client.login(username="ada", password="right-password") is True
    assert client.session[BACKEND_SESSION_KEY] == CACHED
    assert client.get("/whoami/").json()["username"] == "ada"
    ada.is_active = False
    ada.save()
    assert client.get("/whoami/").json()["authenticated"] is False
    assert Client().login(username="ada", password="right-password") is False


def test_permissions_of_a_cached_user_are_read_fresh_at_every_request(
    django_user_model: Any, django_assert_num_queries: Any
) -> None:
    ada = django_user_model.objects.create_user("ada", password="pw-pw-pw-pw")
    editors = Group.objects.create(name="editors")
    editors.permissions.add(_perm("change_profile"))
    ada.groups.add(editors)
    ada.user_permissions.add(_perm("view_profile"))
    client = Client()
    client.force_login(ada)
    client.get("/whoami/")  # reads the row (login saved last_login) and caches it
    with django_assert_num_queries(2):  # no user row: the user's and the groups' permissions only
        first = client.get("/perms/").json()
    assert first == {
        "has_perm": True,
        "has_module_perms": True,
        "all": ["testapp.change_profile", "testapp.view_profile"],
        "user": ["testapp.view_profile"],
        "group": ["testapp.change_profile"],
    }
    stored = _copy(ada)
    assert stored is not None and not set(vars(stored)) & set(PERM_CACHES)  # no permissions in Redis

    # Changes that send no post_save for the user (many-to-many) show at the next request.
    editors.permissions.remove(_perm("change_profile"))
    second = client.get("/perms/").json()
    assert second["has_perm"] is False and second["group"] == []
    assert second["all"] == ["testapp.view_profile"]
    editors.permissions.add(_perm("change_profile"))
    assert client.get("/perms/").json()["has_perm"] is True
    ada.groups.remove(editors)
    assert client.get("/perms/").json()["has_perm"] is False
    ada.user_permissions.clear()
    third = client.get("/perms/").json()
    assert third["all"] == [] and third["has_module_perms"] is False
    assert _copy(ada) == ada  # all the while the user itself came from Redis

    # Superuser status is a field of the user: its save makes the copy out of date at once.
    ada.is_superuser = True
    ada.save()
    assert client.get("/perms/?perm=testapp.delete_profile").json()["has_perm"] is True
    ada.is_superuser = False
    ada.save()
    assert client.get("/perms/?perm=testapp.delete_profile").json()["has_perm"] is False


def test_the_backends_permission_api_matches_model_backends(django_user_model: Any) -> None:
    from django.contrib.auth.backends import ModelBackend

    ada = django_user_model.objects.create_user("ada")
    bob = django_user_model.objects.create_user("bob", is_active=False)
    for user in (ada, bob):
        user.user_permissions.add(_perm("change_profile"))
    editors = Group.objects.create(name="editors")
    editors.permissions.add(_perm("view_profile"))
    ada.groups.add(editors)
    ours, django = CachedModelBackend(), ModelBackend()
    ours.get_user(ada.pk)  # reads the database, caches the row
    cached_ada = ours.get_user(ada.pk)
    assert cached_ada == _copy(ada) == ada  # this one came from Redis
    expected = {
        "get_user_permissions": {"testapp.change_profile"},
        "get_group_permissions": {"testapp.view_profile"},
        "get_all_permissions": {"testapp.change_profile", "testapp.view_profile"},
    }
    for method, perms in expected.items():
        assert getattr(ours, method)(cached_ada) == getattr(django, method)(ada) == perms
    assert ours.has_perm(cached_ada, "testapp.change_profile") is True
    assert ours.has_module_perms(cached_ada, "testapp") is True
    assert ours.has_perm(bob, "testapp.change_profile") is False  # inactive users have no permissions
    assert ours.get_user(bob.pk) is None  # and are nobody
    assert set(ours.with_perm("testapp.change_profile")) == set(django.with_perm("testapp.change_profile")) == {ada}
    assert ours.user_can_authenticate(bob) is False


def test_with_two_backends_listed_login_must_name_one(settings: Any, django_user_model: Any) -> None:
    """docs/sessions.md: two backends make the plain sign-up view fail; backend= fixes it."""
    settings.AUTHENTICATION_BACKENDS = [CACHED, "django.contrib.auth.backends.ModelBackend"]
    client = Client()
    with pytest.raises(ValueError, match="multiple authentication backends"):
        client.post("/signup/", {"username": "one", "password": "a-long-password-1"})
    client.post("/signup/", {"username": "two", "password": "a-long-password-1", "backend": CACHED})
    assert client.session[BACKEND_SESSION_KEY] == CACHED
    assert client.get("/whoami/").json()["username"] == "two"


def test_sessions_logged_in_by_model_backend_end_once_it_is_no_longer_listed(
    settings: Any, django_user_model: Any
) -> None:
    """docs/sessions.md: why switching lists both backends for one SESSION_COOKIE_AGE."""
    from django_redis_patterns.sessions.backend import SessionStore

    ada = django_user_model.objects.create_user("ada")
    session = SessionStore()
    session.update(
        {
            "_auth_user_id": str(ada.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": ada.get_session_auth_hash(),
        }
    )
    session.save()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    settings.AUTHENTICATION_BACKENDS = [CACHED, "django.contrib.auth.backends.ModelBackend"]
    assert client.get("/whoami/").json()["username"] == "ada"  # while both are listed
    settings.AUTHENTICATION_BACKENDS = [CACHED]
    assert client.get("/whoami/").json()["authenticated"] is False
