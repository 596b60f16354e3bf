"""Every public name has a docstring, so the API reference is complete.

Public names: what each package's ``__all__`` exports, and the public classes and functions
of every object the API reference pages render (``::: path``
directives in docs/reference/api/, narrowed by their ``members:`` lists), with the public
methods and properties of those classes. Each settings
dataclass field carries a ``#:`` comment (what the settings reference describes).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from types import ModuleType
from typing import Any

import django
import pytest

from django_redis_patterns import conf

from .conftest import DOCS, REPO

PACKAGES = [
    "django_redis_patterns",
    "django_redis_patterns.cache",
    "django_redis_patterns.sessions",
    "django_redis_patterns.ratelimit",
    "django_redis_patterns.locks",
    "django_redis_patterns.leaderboard",
    "django_redis_patterns.testing",
]
DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\n(?:    options:\n      members: \[(?P<members>[^\]]*)\]\n)?", re.M)


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _own_members(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module.__name__
    ]


def _with_methods(path: str, obj: Any) -> list[tuple[str, Any]]:
    """The object, and for a class its public methods and properties (an override of a
    documented base-class method counts as documented: it keeps the base's contract)."""
    found = [(path, obj)]
    if inspect.isclass(obj):
        for name, value in vars(obj).items():
            kinds = (property, classmethod, staticmethod)
            if name.startswith("_") or not (inspect.isfunction(value) or isinstance(value, kinds)):
                continue
            if not _documented(value) and any(
                _documented(base.__dict__[name]) for base in obj.__mro__[1:] if name in base.__dict__
            ):
                continue
            found.append((f"{path}.{name}", value))
    return found


def public_objects() -> list[tuple[str, Any]]:
    """(dotted name, object) of every public name the docs promise."""
    django.setup()
    found: dict[str, Any] = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", _own_members(module)):
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.update(_with_methods(f"{package}.{name}", obj))
    for page in sorted((DOCS / "reference" / "api").glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text()):
            obj = _resolve(match.group("path"))
            if inspect.ismodule(obj):
                wanted = (
                    [m.strip() for m in match.group("members").split(",")]
                    if match.group("members")
                    else _own_members(obj)
                )
                for name in wanted:
                    value = getattr(obj, name)
                    if inspect.isclass(value) or inspect.isfunction(value):
                        found.update(_with_methods(f"{obj.__name__}.{name}", value))
            else:
                found.update(_with_methods(match.group("path"), obj))
    return sorted(found.items())


def _documented(obj: Any) -> bool:
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return bool(own and own.strip())


def test_every_public_name_has_a_docstring() -> None:
    objects = public_objects()
    assert len(objects) > 500  # the directives and exports were found
    missing = [name for name, obj in objects if not _documented(obj)]
    assert missing == [], f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("section", ["", *conf.SECTIONS])
def test_every_setting_has_a_comment(section: str) -> None:
    cls = conf.CoreSettings if not section else conf.section_class(section)
    source = inspect.getsource(cls)
    for field in dataclasses.fields(cls):
        assert re.search(rf"#: [^\n]*\n(?:\s*#:[^\n]*\n)*\s*{field.name}:", source), f"{cls.__name__}.{field.name}"


def test_the_api_pages_exist() -> None:
    assert (REPO / "mkdocs.yml").read_text().count("reference/api/") == len(
        list((DOCS / "reference" / "api").glob("*.md"))
    )
