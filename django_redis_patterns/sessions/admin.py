"""The user's sessions in the admin: a "Sessions" button on the user's change page.

Compose it with whatever user admin the project has::

    # your admin.py, after your own UserAdmin is registered (or with Django's default)
    from django_redis_patterns.sessions.admin import register_user_sessions_admin
    register_user_sessions_admin()

or, for a project's own class, add the mixin first::

    @admin.register(User)
    class MyUserAdmin(UserSessionsAdminMixin, UserAdmin): ...

The page (``<user>/sessions/``) lists the user's live sessions (created, last seen, IP,
browser, expiry) with a "Revoke" button each and "Log out everywhere". Viewing needs
the view or change permission on users; revoking needs change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .index import logout_everywhere, revoke_session, user_sessions


class UserSessionsAdminMixin:
    """Put before the ModelAdmin class of the user model: ``class A(UserSessionsAdminMixin, UserAdmin)``."""

    sessions_template = "redis_sessions/admin/user_sessions.html"
    #: Wraps the change form the admin would use (the project's own one included).
    sessions_change_form_template = "redis_sessions/admin/user_change_form.html"

    def _sessions_url_name(self) -> str:
        opts = self.opts  # type: ignore[attr-defined]
        return f"{opts.app_label}_{opts.model_name}_sessions"

    def get_urls(self) -> list[Any]:
        """The user admin's URLs plus ``<id>/sessions/``."""
        view = self.admin_site.admin_view(self.user_sessions_view)  # type: ignore[attr-defined]
        own = [path("<path:object_id>/sessions/", view, name=self._sessions_url_name())]
        return own + super().get_urls()  # type: ignore[misc]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False, **kwargs: Any
    ) -> Any:
        """The user's change form, with a **Sessions** button."""
        response = super().render_change_form(request, context, add=add, change=change, **kwargs)  # type: ignore[misc]
        obj = kwargs.get("obj")
        if change and obj is not None and isinstance(response, TemplateResponse):
            # Extend whichever template the admin picked, so a project's own change form keeps working.
            names: Any = response.template_name
            parent = select_template([names] if isinstance(names, str) else list(names))
            response.context_data["redis_sessions_parent"] = parent.template  # type: ignore[index, attr-defined]
            response.context_data["redis_sessions_url"] = reverse(  # type: ignore[index]
                f"{self.admin_site.name}:{self._sessions_url_name()}",  # type: ignore[attr-defined]
                args=[obj.pk],
            )
            response.template_name = self.sessions_change_form_template
        return response

    def user_sessions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A user's sessions page: list, **Revoke**, **Log out everywhere**."""
        model_admin: Any = self
        user = model_admin.get_object(request, unquote(object_id))
        if user is None:
            raise Http404(_("User not found."))
        if not model_admin.has_view_or_change_permission(request, user):
            raise PermissionDenied
        can_revoke = model_admin.has_change_permission(request, user)
        if request.method == "POST":
            if not can_revoke:
                raise PermissionDenied
            if "logout_everywhere" in request.POST:
                count = logout_everywhere(user, keep=request if user.pk == request.user.pk else None)
                messages.success(request, ngettext("%d session revoked.", "%d sessions revoked.", count) % count)
            elif request.POST.get("session"):
                if revoke_session(user, request.POST["session"]):
                    messages.success(request, _("Session revoked."))
                else:
                    messages.warning(request, _("That session had already ended."))
            return HttpResponseRedirect(request.path)
        opts = model_admin.opts
        context = {
            **model_admin.admin_site.each_context(request),
            "title": _("Sessions of %s") % user,
            "opts": opts,
            "original": user,
            "sessions": user_sessions(user, current=request),
            "can_revoke": can_revoke,
            "change_url": reverse(
                f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[user.pk]
            ),
        }
        return TemplateResponse(request, self.sessions_template, context)


def register_user_sessions_admin(site: admin.AdminSite | None = None) -> type:
    """Re-register the user model's admin with :class:`UserSessionsAdminMixin` mixed in; the new class.

    Keeps the currently registered class (the project's own ``UserAdmin`` or Django's), so
    call it after that registration. Idempotent.
    """
    from django.contrib.auth.admin import UserAdmin

    site = site or admin.site
    user_model = get_user_model()
    current: type = type(site._registry[user_model]) if site.is_registered(user_model) else UserAdmin
    if issubclass(current, UserSessionsAdminMixin):
        return current
    combined = type(current.__name__, (UserSessionsAdminMixin, current), {"__module__": current.__module__})
    if site.is_registered(user_model):
        site.unregister(user_model)
    site.register(user_model, combined)
    return combined
