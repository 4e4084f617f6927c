"""Secrets at rest: Fernet under a key derived from SECRET_KEY, and the model field that uses it."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from sitekeeper.access.crypto import DecryptionError, EncryptedTextField, decrypt, encrypt, fingerprint
from sitekeeper.notify.models import NotificationPreference

KEY_A = "a" * 50
KEY_B = "b" * 50


def test_round_trip_and_every_encryption_differs(settings):
    settings.SECRET_KEY = KEY_A
    first, second = encrypt("pässwörd 🔑"), encrypt("pässwörd 🔑")
    assert first != second
    assert "pässwörd" not in first
    assert first.isascii()
    assert decrypt(first) == decrypt(second) == "pässwörd 🔑"


def test_a_different_secret_key_fails_with_a_clear_error(settings):
    settings.SECRET_KEY = KEY_A
    token = encrypt("hunter2")
    settings.SECRET_KEY = KEY_B
    with pytest.raises(DecryptionError, match="different SECRET_KEY") as caught:
        decrypt(token)
    assert "hunter2" not in str(caught.value)


def test_a_corrupt_value_fails_with_the_same_clear_error(settings):
    settings.SECRET_KEY = KEY_A
    with pytest.raises(DecryptionError, match="corrupt"):
        decrypt("not-a-fernet-token")


def test_old_keys_in_fallbacks_still_decrypt_and_new_values_use_the_new_key(settings):
    settings.SECRET_KEY = KEY_A
    old = encrypt("hunter2")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_B, [KEY_A]
    assert decrypt(old) == "hunter2"
    new = encrypt("hunter2")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_B, []
    assert decrypt(new) == "hunter2"


def test_fingerprints_are_stable_keyed_and_not_the_value(settings):
    settings.SECRET_KEY = KEY_A
    assert fingerprint("x") == fingerprint("x")
    assert fingerprint("x") != fingerprint("y")
    keyed_a = fingerprint("x")
    settings.SECRET_KEY = KEY_B
    assert fingerprint("x") != keyed_a
    assert len(keyed_a) == 64


def test_audit_value_shows_a_change_without_the_secret():
    field = EncryptedTextField()
    assert field.audit_value("") == ""
    assert field.audit_value(None) is None
    assert field.audit_value("hunter2").startswith("encrypted:")
    assert "hunter2" not in field.audit_value("hunter2")
    assert field.audit_value("hunter2") != field.audit_value("hunter3")


@pytest.fixture
def contact(acme):
    return acme.contacts.get(role="product_owner")


def _raw(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, target FROM notify_notificationpreference WHERE id = %s", [pk])
        return cursor.fetchone()


@pytest.mark.django_db
def test_the_field_stores_ciphertext_and_reads_plaintext(contact):
    preference = NotificationPreference.objects.create(
        contact=contact, kind="webhook", target="https://hooks.test/T0KEN", secret="hunter2"
    )
    raw_secret, raw_target = _raw(preference.pk)
    assert "hunter2" not in raw_secret
    assert "T0KEN" not in raw_target
    assert decrypt(raw_secret) == "hunter2"
    assert preference.secret == "hunter2"  # the instance keeps plaintext after saving
    assert NotificationPreference.objects.get().secret == "hunter2"
    assert NotificationPreference.objects.values_list("secret", flat=True).get() == "hunter2"


@pytest.mark.django_db
def test_update_encrypts_and_empty_stays_empty(contact):
    preference = NotificationPreference.objects.create(contact=contact, kind="email", target="a@b.test")
    assert _raw(preference.pk)[0] == ""
    NotificationPreference.objects.update(secret="hunter3")
    assert "hunter3" not in _raw(preference.pk)[0]
    assert NotificationPreference.objects.get().secret == "hunter3"


@pytest.mark.django_db
def test_loading_with_the_wrong_key_raises(contact, settings):
    NotificationPreference.objects.create(contact=contact, kind="email", target="a@b.test", secret="hunter2")
    settings.SECRET_KEY = KEY_B
    with pytest.raises(DecryptionError):
        NotificationPreference.objects.get()


@pytest.mark.django_db
def test_the_database_cannot_filter_on_an_encrypted_value(contact):
    NotificationPreference.objects.create(contact=contact, kind="email", target="a@b.test")
    with pytest.raises(FieldError, match="encrypted"):
        NotificationPreference.objects.filter(secret="hunter2").exists()
    assert NotificationPreference.objects.filter(secret__isnull=False).count() == 1
