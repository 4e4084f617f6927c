"""Readable names in the Django admin index for the third-party apps it lists (instead of "AXES",
"OTP_TOTP", "OTP_STATIC"). The labels stay the packages' own, so their tables and migrations are unchanged."""

from axes.apps import AppConfig as AxesConfig
from django_otp.plugins.otp_static.apps import DefaultConfig as StaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpConfig


class LoginLockoutsConfig(AxesConfig):
    verbose_name = "Login lockouts (django-axes)"


class AuthenticatorAppsConfig(TotpConfig):
    verbose_name = "Second factor: authenticator apps"


class BackupCodesConfig(StaticConfig):
    verbose_name = "Second factor: backup codes"
