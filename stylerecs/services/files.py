"""File helpers shared by the services: checksums and content-addressed storage."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

logger = logging.getLogger(__name__)


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


def save_content_addressed(data: bytes, *, prefix: str, extension: str, storage=None) -> str:
    """Store ``data`` under a name derived from its SHA-256 and return that name.

    The same bytes always land at the same name, so a task that runs twice writes no
    second file. The name is trusted only once its file holds exactly those bytes: a
    write cut half-way (full disk, quota, a kill between chunks) must never leave a
    partial file there for the next run to approve. So:

    - an existing file under the name is checked (size, then SHA-256) and replaced when
      it is not the expected content;
    - on a local-disk storage (FileSystemStorage), the bytes are written under a temporary name and
      renamed into place (``os.replace`` is atomic), so the name never holds part of
      them; object stores (S3 and the like) publish an object only once its upload
      completed, and the result is checked the same way.
    """
    storage = storage or default_storage
    digest = hashlib.sha256(data).hexdigest()
    name = f"{prefix.rstrip('/')}/{digest[:2]}/{digest}.{extension}"
    if storage.exists(name):
        if _holds(storage, name, data, digest):
            return name
        logger.warning("Replacing %s: its content is not what its name says (torn write)", name)
        storage.delete(name)
    local = _local_path(storage, name)
    if local is not None:
        _write_and_rename(storage, name, data, local)
    else:
        saved = storage.save(name, ContentFile(data))
        if saved != name:
            # Another worker wrote the same content between exists() and save(): keep one.
            storage.delete(saved)
    if not _holds(storage, name, data, digest):
        raise OSError(f"stored file {name} does not hold the bytes written (torn write)")
    return name


def _holds(storage, name: str, data: bytes, digest: str) -> bool:
    """Whether the stored file ``name`` is exactly ``data`` (size first: it is cheap)."""
    try:
        if storage.size(name) != len(data):
            return False
        sha = hashlib.sha256()
        with storage.open(name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
    except FileNotFoundError:
        return False
    return sha.hexdigest() == digest


def _local_path(storage, name: str) -> str | None:
    """The file's path where the storage keeps files on a local disk, else None.

    Only FileSystemStorage (and its subclasses) promises that ``path()`` is where the
    bytes live: other storages may answer ``path()`` and keep the bytes elsewhere.
    """
    return storage.path(name) if isinstance(storage, FileSystemStorage) else None


def _write_and_rename(storage, name: str, data: bytes, final_path: str) -> None:
    """Write through the storage under a temporary name, then rename it into place."""
    folder, _, base = name.rpartition("/")
    temporary = f"{folder}/.{base}.{uuid.uuid4().hex}.part"
    saved = temporary
    try:
        saved = storage.save(temporary, ContentFile(data))
        os.replace(storage.path(saved), final_path)
    except BaseException:
        # A write cut half-way leaves its part under the temporary name only: remove it.
        with contextlib.suppress(OSError):
            storage.delete(saved)
        raise
