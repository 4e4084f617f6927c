"""The per-site recovery runbook, generated from the data: what is backed up, where, how to restore (through
sitekeeper, and with restic alone when sitekeeper itself is down), how to check the key scenarios afterwards,
and whom to call.

It is never written by hand, so it cannot drift from the configuration; what can drift is a person's
understanding of it. So a change that alters the procedure (a release, a new source, another repository or
host) flags it stale with `mark_stale`, and the banner stays until someone marks it reviewed. The signal
receivers below do that for changes to Source, SiteBackup and Repository rows; releases call `mark_stale`.

No secret is ever part of a runbook: the repository password, keys and database URLs are described by where
to retrieve them, never copied.
"""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_save
from django.urls import reverse
from django.utils import timezone

from sitekeeper.backups import presenters
from sitekeeper.backups.models import Layer, Repository, SiteBackup, Source
from sitekeeper.contracts.models import Contact, Site
from sitekeeper.contracts.presenters import zone_of

RESTORE_DIR = "/srv/restore"  # where the manual procedure unpacks a snapshot on the stage host
ESCALATION_EVENT = "backup.restore"

# Fields whose change alters the procedure the runbook describes; other saves (job bookkeeping such as
# check_cursor, alerts or the runbook flags themselves) leave it as it is.
WATCHED: dict[type[Model], tuple[str, ...]] = {
    Repository: ("kind", "location", "port", "region", "status", "known_hosts"),
    SiteBackup: (
        "repository_id",
        "enabled",
        "site_host",
        "ssh_port",
        "ssh_user",
        "known_hosts",
        "data_time",
    ),
    Source: ("environment", "name", "layer", "kind", "path", "includes", "excludes", "db_url", "over_ssh"),
}


# Staleness -----------------------------------------------------------------------------------------------


def is_stale(config: SiteBackup | None) -> bool:
    if config is None or config.runbook_stale_since is None:
        return False
    return config.runbook_reviewed_at is None or config.runbook_stale_since > config.runbook_reviewed_at


def mark_stale(site: Site, reason: str, now: dt.datetime | None = None) -> bool:
    """Flag the site's runbook as needing review (after a release or an infrastructure change).

    Keeps the first moment it went stale and adds the reason to the list; returns False when the site has
    no backup configuration (there is no runbook to flag)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("mark_stale: give the reason the runbook needs a review (e.g. 'release 2.4')")
    config = SiteBackup.objects.filter(site=site).first()
    if config is None:
        return False
    now = now or timezone.now()
    if is_stale(config):
        reasons = [r for r in config.runbook_stale_reason.split("; ") if r]
        if reason not in reasons:
            reasons.append(reason)
        config.runbook_stale_reason = "; ".join(reasons)[-300:]
    else:
        config.runbook_stale_since = now
        config.runbook_stale_reason = reason[:300]
    config.save(update_fields=["runbook_stale_since", "runbook_stale_reason"])
    return True


def mark_reviewed(config: SiteBackup, now: dt.datetime | None = None) -> None:
    config.runbook_reviewed_at = now or timezone.now()
    config.save(update_fields=["runbook_reviewed_at"])


def _watched(instance: Model) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in WATCHED[type(instance)]}


def _before(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if sender not in WATCHED or instance.pk is None:
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._runbook_before = _watched(old) if old is not None else None  # type: ignore[attr-defined]


def _sites_of(instance: Model) -> list[Site]:
    if isinstance(instance, Repository):
        return [config.site for config in instance.sites.select_related("site")]
    return [instance.site]  # type: ignore[attr-defined]


def _after(sender: type[Model], instance: Model, created: bool = False, **kwargs: Any) -> None:
    if sender not in WATCHED:
        return
    if created:
        if sender is Source:  # something new is backed up: the procedure gained a step
            mark_stale(instance.site, f"source {instance.name} added")  # type: ignore[attr-defined]
        return
    before = getattr(instance, "_runbook_before", None)
    if before is None:
        return
    after = _watched(instance)
    changed = sorted(name.removesuffix("_id") for name in after if after[name] != before.get(name))
    if changed:
        what = sender._meta.verbose_name
        for site in _sites_of(instance):
            mark_stale(site, f"{what} changed: {', '.join(changed)}")


def _deleted(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if sender is Source:
        try:
            site = instance.site  # type: ignore[attr-defined]
        except Site.DoesNotExist:
            return  # the whole site is being deleted
        mark_stale(site, f"source {instance.name} removed")  # type: ignore[attr-defined]


def connect_signals() -> None:
    """Called from BackupsConfig.ready()."""
    for model in WATCHED:
        pre_save.connect(_before, sender=model, dispatch_uid=f"runbook_before_{model.__name__}")
        post_save.connect(_after, sender=model, dispatch_uid=f"runbook_after_{model.__name__}")
    post_delete.connect(_deleted, sender=Source, dispatch_uid="runbook_deleted_source")


# The runbook ---------------------------------------------------------------------------------------------


def runbook(site: Site, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything needed to bring the site back, as data (the page and the Markdown render it)."""
    now = now or timezone.now()
    config = presenters.backup_config(site)
    contract = site.client.contract
    zone = zone_of(contract)
    book: dict[str, Any] = {
        "site": {"id": site.pk, "name": str(site), "url": site.url, "platform": site.get_platform_display()},
        "client": site.client.name,
        "generated_at": now,
        "configured": config is not None,
        "stale": is_stale(config),
        "stale_since": config.runbook_stale_since if config else None,
        "stale_reason": config.runbook_stale_reason if config else "",
        "reviewed_at": config.runbook_reviewed_at if config else None,
        "last_verified": presenters.last_verified(site),
        "environments": [
            {"kind": env.kind, "url": env.url} for env in site.environments.all().order_by("kind")
        ],
        "contacts": contacts(site),
        "checks": scenarios(site),
    }
    if config is None:
        book.update(backed_up=[], schedule=[], retention=None, repository=None, restore_steps=[], manual=None)
        return book
    retention = presenters.retention(site)
    book.update(
        backed_up=[
            {"layer": group["label"], "sources": [presenters.source_json(s) for s in group["sources"]]}
            for group in presenters.sources_by_layer(site)
        ],
        schedule=schedule(config, zone),
        retention=retention.as_json(),
        repository=presenters.repository_json(config),
        restore_steps=restore_steps(site, config),
        manual=manual_restore(site, config),
    )
    return book


def schedule(config: SiteBackup, zone: str) -> list[str]:
    if not config.enabled:
        return ["Automatic backups are switched OFF for this site: only on-demand backups run."]
    return [
        f"Data (databases + uploads): daily at {config.data_time:%H:%M} {zone}.",
        f"Code: daily at {config.data_time:%H:%M} {zone}, and on each release.",
        "Configuration: on each change.",
    ]


def contacts(site: Site) -> dict[str, list[dict[str, str]]]:
    """Whom to call: the client's emergency contacts and product owner, then the agency's escalation list."""
    client = [
        {
            "name": c.name,
            "role": c.get_role_display(),
            "email": c.email,
            "phone": c.phone,
            "availability": c.availability,
        }
        for c in site.client.contacts.filter(
            role__in=(Contact.Role.EMERGENCY, Contact.Role.PRODUCT_OWNER)
        ).order_by("-role", "name")  # emergency before product owner
    ]
    from sitekeeper.conf import ConfigError
    from sitekeeper.desk.oncall import escalation_list

    try:
        agency = [
            {"name": r.name or r.label, "channel": r.kind, "target": r.label}
            for r in escalation_list(ESCALATION_EVENT)
        ]
    except ConfigError as exc:
        agency = [{"name": f"escalation list misconfigured: {exc}", "channel": "", "target": ""}]
    return {"client": client, "agency": agency}


def scenarios(site: Site, *, environment: str | None = None) -> list[dict[str, str]]:
    """The key scenarios to check after a restore: the site's HTTP monitors first (they say what the agency
    watches), then the platform's usual ones. With `environment`, only that environment's monitors, and
    the environment is not named (the client's version lists their live site only)."""
    checks: list[dict[str, str]] = []
    seen: set[str] = set()
    monitors = site.monitors.filter(kind="http").order_by("environment", "url")
    if environment is not None:
        monitors = monitors.filter(environment=environment)
    for monitor in monitors:
        if monitor.url in seen:
            continue
        seen.add(monitor.url)
        expect = f'shows "{monitor.keyword}"' if monitor.keyword and not monitor.keyword_absent else "answers"
        checks.append(
            {
                "name": monitor.name or "Monitored page",
                "url": monitor.url,
                "expect": expect if environment is not None else f"{expect} ({monitor.environment})",
            }
        )
    base = site.url.rstrip("/")
    if base + "/" not in seen and base not in seen:
        checks.append({"name": "Home page", "url": base + "/", "expect": "loads with current content"})
    if site.platform == "wordpress":
        checks += [
            {"name": "Log-in", "url": base + "/wp-login.php", "expect": "an editor can sign in"},
            {
                "name": "Latest post and an upload",
                "url": base + "/",
                "expect": "newest post and its image show",
            },
            {"name": "Forms", "url": base + "/", "expect": "a contact form submission arrives"},
        ]
    else:
        checks += [
            {"name": "Log-in", "url": base + "/", "expect": "a user can sign in"},
            {
                "name": "Forms / checkout",
                "url": base + "/",
                "expect": "a test submission or order goes through",
            },
        ]
    return checks


def restore_steps(site: Site, config: SiteBackup) -> list[str]:
    staff_page = reverse("staff_backups_site", args=[site.pk])
    return [
        (
            f"Open the site's backups page ({staff_page}) and pick the recovery point: the snapshot per "
            "layer closest before the damage. Check its restore-test record (last verified restorable)."
        ),
        (
            "Choose Restore… with target Stage (the default) — the whole snapshot, or only the files/tables "
            "that were damaged. sitekeeper restores into the stage environment's sources (same names as "
            "prod)."
        ),
        (
            "Verify on stage: run the key scenarios below against the stage address; compare row counts "
            "with the snapshot's manifest (shown with the restore)."
        ),
        (
            "Only then restore to Production: the form asks for a typed confirmation naming the site and the "
            "recovery point. Whoever confirms accepts losing changes made after that point; sitekeeper "
            "records who decided and why."
        ),
        (
            "Run the key scenarios on production, then note the restore on the incident ticket and tell the "
            "client's contacts."
        ),
        "If the site or repository changed since this runbook was reviewed (banner above), re-read it first.",
    ]


def manual_restore(site: Site, config: SiteBackup) -> dict[str, Any]:
    """Raw restic, for when sitekeeper itself is down. The commands name where secrets come from; the
    password is read from a file by restic (RESTIC_PASSWORD_FILE), never typed on a command line."""
    repo = config.repository
    env = _repository_env(repo)
    tag = f"site-{site.pk}"
    commands = [
        *env,
        "export RESTIC_PASSWORD_FILE=/root/restic-password   # see 'password' below; chmod 600",
        f"restic snapshots --tag {tag}                        # every snapshot of this site",
        f"restic snapshots --tag {tag},layer-data --latest 1   # newest data snapshots",
        "restic ls <snapshot-id>                             # what a snapshot holds",
        f"restic restore <snapshot-id> --target {RESTORE_DIR}  # files land in {RESTORE_DIR}/<original path>",
    ]
    databases = []
    for source in Source.objects.filter(site=site, environment="prod").order_by("layer", "name"):
        name = shlex.quote(source.name)
        if source.kind == Source.Kind.MARIADB:
            databases.append(f"restic dump <snapshot-id> /{name}.sql | mariadb <stage-database>")
        elif source.kind == Source.Kind.POSTGRES:
            databases.append(
                f"restic dump <snapshot-id> /{name}.pgdump | pg_restore --clean --if-exists -d <stage-db>"
            )
        elif source.kind == Source.Kind.SQLITE:
            databases.append(f"restic dump <snapshot-id> /{name}.sqlite3 > <stage-path>/{name}.sqlite3")
        elif source.over_ssh:
            databases.append(f"restic dump <snapshot-id> /files.tar | tar -x -C <stage-folder>   # {name}")
    return {
        "repository": presenters.safe_location(repo),
        "commands": commands,
        "databases": databases,
        "password": (
            f"The repository password is generated by sitekeeper and stored encrypted in its database "
            f"(repository {repo}, id {repo.pk}). An agency admin with access to the sitekeeper host (it "
            "needs the database and SECRET_KEY) writes it to a file only root can read, with the command "
            "below. Without the password the repository cannot be opened: sitekeeper's own database and "
            "SECRET_KEY must be backed up apart from the client repositories. Never paste the password "
            "into a command line, a ticket or chat; delete the file when done."
        ),
        "password_command": (
            "umask 077; sitekeeper shell -c 'from sitekeeper.backups.models import Repository; "
            f"print(Repository.objects.get(pk={repo.pk}).password)' > /root/restic-password"
        ),
    }


def _repository_env(repo: Repository) -> list[str]:
    if repo.kind == Repository.Kind.LOCAL:
        return [f"export RESTIC_REPOSITORY={shlex.quote(repo.location)}"]
    if repo.kind == Repository.Kind.SFTP:
        port = f" -p {repo.port}" if repo.port else ""
        target = repo.location.split(":", 1)[0]
        return [
            f"export RESTIC_REPOSITORY={shlex.quote('sftp:' + repo.location)}",
            (
                f"# SSH key: the repository's key (stored encrypted with it); add -o sftp.command='ssh{port} "
                f"-i <key-file> {target} -s sftp' to each restic command"
            ),
        ]
    location = presenters.safe_location(repo)
    if repo.kind == Repository.Kind.S3:
        return [
            f"export RESTIC_REPOSITORY={shlex.quote('s3:' + location)}",
            "export AWS_ACCESS_KEY_ID=<access key id>   # stored encrypted with the repository",
            "read -rs AWS_SECRET_ACCESS_KEY && export AWS_SECRET_ACCESS_KEY   # typed, not in argv",
            *([f"export AWS_DEFAULT_REGION={repo.region}"] if repo.region else []),
        ]
    scheme, _, rest = location.partition("://")
    return [
        (
            f"export RESTIC_REPOSITORY='rest:{scheme}://<user>:<password>@{rest}'   # REST credentials: "
            "stored encrypted with the repository"
        ),
    ]


# The client's version ------------------------------------------------------------------------------------


def client_runbook(site: Site, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the client needs to know about a recovery — what to expect, who decides, how long the contract
    allows, what they must do or provide — from the same configuration as the engineers' runbook, without
    its procedure, commands, repository locations or server paths."""
    from sitekeeper.backups import presenters_client as words
    from sitekeeper.contracts.presenters import describe_target

    now = now or timezone.now()
    config = presenters.backup_config(site)
    contract = site.client.contract
    zone = zone_of(contract)
    plan = contract.plan if contract else None
    response = plan.target("response", "P1") if plan else None
    recovery = plan.target("recovery", "P1") if plan else None
    owners = [c for c in contacts(site)["client"] if c["role"] == Contact.Role.PRODUCT_OWNER.label]
    decider = ", ".join(c["name"] for c in owners) or "your product owner"
    layers = sorted(set(Source.objects.filter(site=site, environment="prod").values_list("layer", flat=True)))
    retention = presenters.retention(site)
    return {
        "site": {"id": site.pk, "name": str(site), "url": site.url},
        "client": site.client.name,
        "generated_at": now,
        "zone": zone,
        "configured": config is not None,
        "last_verified": presenters.last_verified(site),
        "backed_up": [words.LAYER_WORDS[layer] for layer in Layer.values if layer in layers],
        "schedule": words.schedule_words(config, zone) if config else "",
        "storage": words.storage_words(config) if config else "",
        "retention_days": retention.days,
        "kept": retention.kept,
        "oldest_kept": retention.oldest_kept,
        "timing": client_timing(
            describe_target(response) if response else "",
            describe_target(recovery) if recovery else "",
            bool(plan and plan.after_hours_emergency),
        ),
        "decider": decider,
        "expect": client_steps(decider, describe_target(response) if response else ""),
        "provide": CLIENT_PROVIDES,
        "checks": scenarios(site, environment="prod"),
        "contacts": contacts(site)["client"],
    }


CLIENT_PROVIDES = [
    "When the problem started, as exactly as you can, and what you saw: it decides which backup we use.",
    (
        "Anything added to the site since then that must not be lost (orders, posts, form entries): tell us, "
        "and we save a copy before restoring."
    ),
    "A person who can decide, reachable while we work: your product owner or emergency contact.",
    "Where your hosting is yours: access to it, if we ask for it.",
    "After the restore: check the pages and tasks you rely on (listed below); tell us what is missing.",
]


def _within(target: str) -> str:
    """'4 hours (24/7)' → 'within 4 hours (24/7)'; 'next business day' → 'by the next business day'."""
    return f"by the {target}" if target.startswith("next ") else f"within {target}"


def client_steps(decider: str, response: str) -> list[str]:
    """What happens in a recovery, in order, as the client lives it."""
    answer = f" {_within(response)}" if response else ""
    return [
        (
            "You tell us — a new request with priority P1 (site down, or content lost) — or our monitoring "
            "alerts us first."
        ),
        f"We confirm that we are on it{answer} and agree with you when the damage started.",
        (
            "We pick the backup to go back to: the last one made before the damage. What changed on the site "
            "after that moment is not in it; we tell you what that means before we go on."
        ),
        (
            "We restore it to a test copy of your site first and check it there, so your live site is not "
            "touched yet."
        ),
        (
            "Only with your agreement do we put it on the live site: restoring replaces what is there now, "
            f"so {decider} decides. We record who decided and why."
        ),
        "We check the key pages and tasks below on the live site and tell you when it is back.",
        (
            "Afterwards you receive a short report: what happened, what was restored, what was lost and how "
            "we prevent it from happening again."
        ),
    ]


def client_timing(response: str, recovery: str, around_the_clock: bool) -> list[str]:
    """How long a recovery may take by the contract, in two sentences."""
    hours = "around the clock" if around_the_clock else "in your contract's business hours"
    answer = _within(response) if response else "within the time your plan sets"
    target = recovery or "none is fixed; we work on a P1 request until your site is back"
    return [
        f"We answer an urgent (P1) request {answer}, {hours}.",
        f"Your plan's recovery target: {target}.",
    ]


def client_markdown(book: dict[str, Any]) -> str:
    """The client's version as a Markdown file (the page's download)."""
    site = book["site"]
    lines = [f"# If {site['name']} needs restoring", "", f"{site['url']} · {book['client']}", ""]
    lines += [f"Last verified restorable: {_day(book['last_verified'])}.", ""]
    if not book["configured"]:
        lines += ["**This site is not backed up yet — we are arranging it.**", ""]
    else:
        lines += ["## What is backed up", "", *[f"- {item}" for item in book["backed_up"]], ""]
        lines += [book["schedule"], "", book["storage"], ""]
        if book["retention_days"]:
            lines += [f"Backups are kept for {book['retention_days']} days.", ""]
    lines += ["## How long it takes", "", *[f"- {item}" for item in book["timing"]], ""]
    lines += ["## What happens", "", *[f"{n}. {step}" for n, step in enumerate(book["expect"], 1)], ""]
    decides = f"Restoring the live site replaces what is there now: {book['decider']} decides."
    lines += ["## Who decides", "", decides, ""]
    lines += ["## What we need from you", "", *[f"- {item}" for item in book["provide"]], ""]
    lines += ["## What to check afterwards", ""]
    lines += [f"- [ ] {c['name']}: {c['url']} — {c['expect']}" for c in book["checks"]]
    lines += ["", "## Your contacts we call", ""]
    lines += [
        f"- {c['name']} ({c['role']}): {c['email']}{' · ' + c['phone'] if c['phone'] else ''}"
        for c in book["contacts"]
    ] or ["- none recorded — tell us who to call"]
    return "\n".join(lines) + "\n"


def _day(value: dt.datetime | None) -> str:
    return f"{value:%-d %b %Y}" if value else "not yet"


# Markdown ------------------------------------------------------------------------------------------------


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def to_markdown(book: dict[str, Any]) -> str:
    site = book["site"]
    lines = [f"# Recovery runbook: {site['name']}", ""]
    lines += [
        f"{site['url']} · {site['platform']} · client {book['client']}",
        f"Generated {_when(book['generated_at'])} from sitekeeper's configuration.",
        "",
    ]
    if book["stale"]:
        lines += [
            (
                f"> **STALE since {_when(book['stale_since'])}**: {book['stale_reason']}. "
                "Review before relying on it."
            ),
            "",
        ]
    lines += [
        (
            f"Last reviewed: {_when(book['reviewed_at'])}. Last verified restorable: "
            f"{_when(book['last_verified'])}."
        ),
        "",
    ]
    if not book["configured"]:
        lines += ["**This site has no backup configuration: nothing is backed up.**", ""]
    else:
        lines += _markdown_body(book)
    lines += ["## Key scenarios to check after a restore", ""]
    lines += [f"- [ ] {c['name']}: {c['url']} — {c['expect']}" for c in book["checks"]]
    lines += ["", "## Escalation contacts", "", "Client:"]
    lines += [
        f"- {c['name']} ({c['role']}): {c['email']}{' · ' + c['phone'] if c['phone'] else ''}"
        f"{' · ' + c['availability'] if c['availability'] else ''}"
        for c in book["contacts"]["client"]
    ] or ["- none recorded"]
    lines += ["", "Agency escalation list:"]
    lines += [f"- {c['name']} ({c['channel']}: {c['target']})" for c in book["contacts"]["agency"]] or [
        "- none configured"
    ]
    return "\n".join(lines) + "\n"


def _markdown_body(book: dict[str, Any]) -> list[str]:
    repo, retention = book["repository"], book["retention"]
    lines = ["## What is backed up", ""]
    for group in book["backed_up"]:
        lines.append(f"### {group['layer']}")
        for s in group["sources"]:
            where = s["database"] or s["path"]
            lines.append(
                f"- `{s['name']}` ({s['environment']}, {s['kind']}): {where}"
                f"{' over SSH' if s['over_ssh'] else ''}"
            )
        lines.append("")
    lines += ["Schedule:", *[f"- {item}" for item in book["schedule"]], ""]
    days = retention["days"]
    lines += [
        f"Retention: {days} days (plan)." if days else "Retention: no contract — nothing is forgotten.",
        (
            f"Kept snapshots: {retention['kept']}, oldest {_when(retention['oldest_kept'])}; "
            f"forgotten so far: {retention['forgotten']}."
        ),
        "",
    ]
    lines += ["## Where", "", f"- Repository: {repo['name']} — {repo['kind_label']}: `{repo['location']}`"]
    if not repo["off_site"]:
        lines.append(
            "- **NOT OFF-SITE**: the repository is on the same host as the site; a host loss loses both."
        )
    lines += ["", "## How to restore (with sitekeeper)", ""]
    lines += [f"{n}. {step}" for n, step in enumerate(book["restore_steps"], 1)]
    manual = book["manual"]
    lines += ["", "## If sitekeeper itself is down (restic alone)", "", "```sh", *manual["commands"]]
    lines += [*manual["databases"], "```", "", f"Password: {manual['password']}", ""]
    lines += ["```sh", manual["password_command"], "```", ""]
    return lines


def is_known_layer(value: str) -> bool:
    return value in Layer.values


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url
