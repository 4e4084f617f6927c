"""Forms of the web pages."""

from __future__ import annotations

from django import forms

from sitekeeper.access.models import ApiToken


class TokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]
        labels = {"name": "Token name"}
        help_texts = {"name": "What the token is for, e.g. “reporting script” — so you know what to revoke."}
        widgets = {"name": forms.TextInput(attrs={"placeholder": "reporting script", "autocomplete": "off"})}
