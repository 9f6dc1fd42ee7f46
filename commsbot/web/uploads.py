"""Images uploaded in Compose: checked to be images, kept by their content's digest.

A post names its image by path, as ``queue add --image`` does; an upload is written
once to the ``uploads`` folder beside the store and named ``<sha256>.<ext>``, so the
same image sent twice is one file, and the name carries nothing a person typed.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from commsbot.config import Config
from commsbot.errors import ContentError

# What every platform takes; Pillow's format name -> the file's extension.
FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}
NAME_RE = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")


def folder(config: Config) -> Path:
    return config.store.path.parent / "uploads"


def save(config: Config, filename: str, data: bytes) -> str:
    """Keep an uploaded image; its name (for ``find``). Not an image is a ContentError
    naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format or ""
            img.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise ContentError(
            f"image {filename}: not an image file (PNG, JPEG, GIF or WebP)"
        ) from None
    if kind not in FORMATS:
        raise ContentError(f"image {filename}: {kind} is not taken; use PNG, JPEG, GIF or WebP")
    name = f"{hashlib.sha256(data).hexdigest()}.{FORMATS[kind]}"
    target = folder(config) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)  # a reader never sees half a file
    return name


def find(config: Config, name: str) -> Path | None:
    """The file of an uploaded image by its name; None for any other name."""
    if not NAME_RE.match(name):
        return None
    path = folder(config) / name
    return path if path.is_file() else None


def name_of(config: Config, image: str | None) -> str | None:
    """The upload name of a post's image, when it is an upload."""
    if not image:
        return None
    path = Path(image)
    if path.parent != folder(config).resolve():
        return None
    return path.name if find(config, path.name) else None
