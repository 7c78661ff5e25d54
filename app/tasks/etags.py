"""Entity tags for tasks: the ETag is the row's `version`, bumped by every change."""

from __future__ import annotations


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an `If-Match` header accepts; None when absent or `*` (any current version).
    Weak or foreign tags never match (RFC 9110 §13.1.1 uses strong comparison)."""
    if header is None or header.strip() == "*":
        return None
    versions = []
    for tag in _tags(header):
        if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit():
            versions.append(int(tag[1:-1]))
    return versions


def none_match(header: str | None, version: int) -> bool:
    """True when `If-None-Match` names the current version (weak comparison): reply 304."""
    if header is None:
        return False
    current = etag(version)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))
