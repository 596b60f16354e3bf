from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from .game import MAX_ROUND_SCORE
from .models import Player


class SignupForm(UserCreationForm):
    region = forms.ChoiceField(choices=Player.REGIONS, initial="eu")


class PlayForm(forms.Form):
    """``score`` is optional: the browser page rolls it on the server; tests and the API may send one."""

    score = forms.IntegerField(min_value=0, max_value=MAX_ROUND_SCORE, required=False)
