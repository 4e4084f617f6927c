"""Django admin for backups: where each client's repository lives and what each site backs up.

Secrets (SSH keys, S3 keys, database URLs with passwords) are write-only here: never rendered, a blank field
keeps the stored value. The repository password is generated and never shown — the runbook says how an
agency admin retrieves it (`sitekeeper shell`, deliberately outside the web UI). Runs, snapshots and tests
are written by the jobs only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from sitekeeper.backups.models import BackupRun, Repository, RestoreTest, SiteBackup, Snapshot, Source


def _secret(help_text: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=f"{help_text} Leave blank to keep the stored value.",
    )


class _KeepSecrets(forms.ModelForm):
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.secret_fields:
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        return data


class RepositoryForm(_KeepSecrets):
    secret_fields = ("ssh_key", "access_key", "secret_key")
    ssh_key = _secret("SFTP: the private key (OpenSSH format).")
    access_key = _secret("S3 access key id / REST user.")
    secret_key = _secret("S3 secret key / REST password.")

    class Meta:
        model = Repository
        fields = ("client", "name", "kind", "location", "port", "ssh_key", "known_hosts", "access_key",
                  "secret_key", "region", "check_slices")  # fmt: skip


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    form = RepositoryForm
    list_display = ("__str__", "kind", "location", "status", "initialized_at", "download_until", "deleted_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "location", "client__name")
    readonly_fields = ("status", "initialized_at", "download_until", "deleted_at", "deletion_evidence")

    def get_fields(self, request: HttpRequest, obj: Repository | None = None) -> list[str]:
        return [*RepositoryForm.Meta.fields, *self.readonly_fields]


class SiteBackupForm(_KeepSecrets):
    secret_fields = ("ssh_key",)
    ssh_key = _secret("The site host's SSH private key for sitekeeper (OpenSSH format).")

    class Meta:
        model = SiteBackup
        fields = ("site", "repository", "enabled", "site_host", "ssh_port", "ssh_user", "ssh_key",
                  "known_hosts", "data_time", "stale_hours", "timeout_minutes")  # fmt: skip


@admin.register(SiteBackup)
class SiteBackupAdmin(admin.ModelAdmin):
    form = SiteBackupForm
    list_display = ("__str__", "repository", "enabled", "site_host", "data_time", "is_off_site")
    list_filter = ("enabled",)
    raw_id_fields = ("site",)

    @admin.display(boolean=True, description="off-site")
    def is_off_site(self, obj: SiteBackup) -> bool:
        return obj.off_site


class SourceForm(_KeepSecrets):
    secret_fields = ("db_url",)
    db_url = _secret("mysql://user:password@host:port/db or postgres://…")

    class Meta:
        model = Source
        fields = ("site", "environment", "name", "layer", "kind", "path", "includes", "excludes", "db_url",
                  "over_ssh")  # fmt: skip


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ("__str__", "kind", "layer", "environment", "path", "over_ssh")
    list_filter = ("kind", "layer", "environment")
    raw_id_fields = ("site",)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BackupRun)
class BackupRunAdmin(_ReadOnly):
    list_display = ("__str__", "status", "trigger", "started_at", "finished_at", "attempts")
    list_filter = ("status", "layer", "trigger")


@admin.register(Snapshot)
class SnapshotAdmin(_ReadOnly):
    list_display = ("short_id", "site", "layer", "source_name", "time", "bytes_processed", "forgotten_at")
    list_filter = ("layer",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retention and termination let snapshots go, with evidence


@admin.register(RestoreTest)
class RestoreTestAdmin(_ReadOnly):
    list_display = ("__str__", "status", "check_subset", "check_passed", "started_at", "finished_at")
    list_filter = ("status",)
