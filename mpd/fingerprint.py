"""Fingerprints of input files, so an earlier output is reused only when its inputs are unchanged.

A digest of each file's bytes is taken while the file is read anyway (no extra pass), together with
its name and size. Outputs store the fingerprint in their manifest; a later run compares and either
redoes the step or names what changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import ujson


def digest_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def digest_text(text: str) -> str:
    return digest_bytes(text.encode())


def digest_json(value) -> str:
    """Digest of a JSON-able value (keys sorted), e.g. a step's settings."""
    return digest_text(ujson.dumps(value, sort_keys=True, ensure_ascii=False))


@dataclass
class SourceDigest:
    """Name → (size, digest) of every file read; filled by the reader as it goes."""

    files: dict[str, list] = field(default_factory=dict)

    def add(self, name: str, data: bytes) -> None:
        self.files[name] = [len(data), digest_bytes(data)]

    def summary(self) -> dict:
        return {
            "files": dict(sorted(self.files.items())),
            "digest": digest_json(sorted(self.files.items())),
        }


def describe_change(old: dict | None, new: dict) -> str | None:
    """What differs between two stored fingerprints (None if nothing): files added, removed or
    changed."""
    if old is not None and old.get("digest") == new.get("digest"):
        return None
    before, after = (old or {}).get("files", {}), new.get("files", {})
    changes = []
    for label, names in (
        ("added", sorted(set(after) - set(before))),
        ("removed", sorted(set(before) - set(after))),
        ("changed", sorted(n for n in set(after) & set(before) if after[n] != before[n])),
    ):
        if names:
            changes.append(f"{len(names)} file(s) {label} ({_first(names)})")
    return "; ".join(changes) or "the input files differ"


def _first(names: list[str], shown: int = 2) -> str:
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
