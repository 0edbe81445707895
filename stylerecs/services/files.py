"""File helpers shared by the services: checksums and content-addressed storage."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


class SourceTooLarge(ValueError):
    """A stored file is larger than the configured input limit."""


def file_checksum(field_file) -> str:
    """SHA-256 of a stored file (or a new upload), streamed, not read into memory at once."""
    digest = hashlib.sha256()
    if not getattr(field_file, "_committed", True):
        # A new upload that the model's save has not stored yet (the admin saves the
        # style through style_save, which hashes first): hash the upload itself.
        upload = field_file.file
        upload.seek(0)
        for chunk in iter(lambda: upload.read(1 << 20), b""):
            digest.update(chunk)
        upload.seek(0)
        return digest.hexdigest()
    with field_file.storage.open(field_file.name, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_limited(field_file, *, max_bytes: int) -> bytes:
    """The bytes of a stored file, refusing (before reading it) one over ``max_bytes``."""
    storage = field_file.storage
    try:
        size = storage.size(field_file.name)
    except (NotImplementedError, OSError):
        size = None
    if size is not None and size > max_bytes:
        raise SourceTooLarge(f"file too large: {size} bytes > limit {max_bytes}")
    with storage.open(field_file.name, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceTooLarge(f"file too large: more than {max_bytes} bytes")
    return data


def save_content_addressed(data: bytes, *, prefix: str, extension: str) -> str:
    """Store ``data`` under a name derived from its SHA-256 and return that name.

    The same bytes always land at the same name, so a task that runs twice writes no
    second file.
    """
    digest = hashlib.sha256(data).hexdigest()
    name = f"{prefix.rstrip('/')}/{digest[:2]}/{digest}.{extension}"
    if default_storage.exists(name):
        return name
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        # Another worker wrote the same content between exists() and save(): keep one.
        default_storage.delete(saved)
    return name
