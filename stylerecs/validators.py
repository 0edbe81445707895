"""Upload validation: an image field's file must decode, fully, as an allowed image.

Django's ``ImageField`` only runs Pillow's ``verify()``, which reads the header and a
checksum but no pixel: a truncated scan, a frame whose header claims more pixels than
its data holds, or a bomb under Pillow's own limit is accepted and fails later, on a
worker. ``validate_image_upload`` decodes the file the way the workers will (the
engine's ``decode_image``, with the same limits, in a child process where
``ISOLATE_DECODING`` says so), so staff get a form error now instead of a failed style
or variant later. Pillow and numpy only: it runs in a web process without torch.
"""

from __future__ import annotations

import importlib

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .conf import stylerecs_settings

# Decoded at most this large: enough to read every byte of the scan, cheap to hold.
PREVIEW_SIDE = 256
DECODE_TIMEOUT_S = 30


def _images():
    # Through the ENGINE setting, like the services; its images module needs no torch.
    return importlib.import_module(f"{stylerecs_settings.ENGINE}.images")


def validate_image_upload(file) -> None:
    """Raise ``ValidationError`` unless ``file`` decodes as an allowed image within limits."""
    images = _images()
    max_bytes = int(stylerecs_settings.MAX_IMAGE_BYTES)
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(
            _("The file is too large (%(size)d bytes; at most %(max)d)."),
            code="file_too_large",
            params={"size": size, "max": max_bytes},
        )
    file.seek(0)
    data = file.read(max_bytes + 1)
    file.seek(0)
    limits = images.ImageLimits(
        max_bytes=max_bytes, max_pixels=int(stylerecs_settings.MAX_IMAGE_PIXELS)
    )
    try:
        if stylerecs_settings.ISOLATE_DECODING:
            images.decode_image_isolated(
                data, limits=limits, max_side=PREVIEW_SIDE, timeout=DECODE_TIMEOUT_S
            )
        else:
            images.decode_image(data, limits=limits, max_side=PREVIEW_SIDE)
    except images.ImageError as exc:
        raise ValidationError(
            _("This file cannot be used as an image: %(reason)s"),
            code="invalid_image",
            params={"reason": exc},
        ) from exc


class ValidatedImageFormMixin:
    """A ModelForm mixin: every newly uploaded file of ``image_fields`` is fully decoded."""

    image_fields: tuple[str, ...] = ()

    def clean(self):
        data = super().clean()
        for name in self.image_fields:
            upload = self.files.get(self.add_prefix(name))
            if upload is not None and name not in self.errors:
                try:
                    validate_image_upload(upload)
                except ValidationError as exc:
                    self.add_error(name, exc)
        return data
