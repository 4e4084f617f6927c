"""Build update package zips from the Debian WordPress tree at test time."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

WORDPRESS = Path("/usr/share/wordpress")
AKISMET = WORDPRESS / "wp-content/plugins/akismet"
THEME = WORDPRESS / "wp-content/themes/twentytwentythree"


def zip_folder(
    folder: Path,
    top: str,
    *,
    edit: Callable[[str, bytes], bytes] | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A zip of `folder` unpacking into `top/`; `edit(rel, data)` may change a file's content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                data = path.read_bytes()
                archive.writestr(f"{top}/{rel}", edit(rel, data) if edit else data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def set_version(data: bytes, version: str) -> bytes:
    return re.sub(rb"(?m)^(\s*\*?\s*Version:\s*)\S+", rb"\g<1>" + version.encode(), data, count=1)


def akismet(version: str = "5.0.3", *, inject: str = "") -> bytes:
    """Akismet with another Version header; `inject` is PHP code run when the plugin loads."""

    def edit(rel: str, data: bytes) -> bytes:
        if rel != "akismet.php":
            return data
        data = set_version(data, version)
        data = data.replace(
            b"define( 'AKISMET_VERSION', '5.0.2' );", f"define( 'AKISMET_VERSION', '{version}' );".encode()
        )
        if inject:
            data = data.replace(b"<?php", b"<?php\n" + inject.encode() + b"\n", 1)
        return data

    return zip_folder(AKISMET, "akismet", edit=edit)


def fatal_always() -> str:
    return "sitekeeper_undefined_function_for_the_test();"


def fatal_on_port(port: int) -> str:
    return (
        f"if ((int) ($_SERVER['SERVER_PORT'] ?? 0) === {port}) {{ sitekeeper_undefined_function_on_prod(); }}"
    )
