"""Sign-in: by username or email, throttled (accounts.throttle)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm

from . import throttle


class EmailOrUsernameBackend(ModelBackend):
    """Members sign in with the email they joined with; staff with their username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from django.contrib.auth import get_user_model

        if username and "@" in username:
            User = get_user_model()
            user = User.objects.filter(email__iexact=username.strip()).order_by("id").first()
            if user is not None:
                username = user.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)


class SignInForm(AuthenticationForm):
    username = forms.CharField(
        label="Email or username", max_length=254, widget=forms.TextInput(attrs={"autofocus": True})
    )
    error_messages = {
        "invalid_login": "That email (or username) and password don't match. Try again, or "
        "reset your password.",
        "inactive": "This account is inactive.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        address = throttle.client_address(self.request)
        if username and password:
            why = throttle.refusal(username, address)
            if why:
                raise forms.ValidationError(why, code="throttled")
            self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                throttle.record_failure(username, address)
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
            throttle.record_success(username)
        return self.cleaned_data
