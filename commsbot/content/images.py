"""The images posts use, kept with the store: checked to be images, named by their digest.

Compose's uploads and ``queue add --image`` both land here, in the ``uploads`` folder
beside the store, as ``<sha256>.<ext>``: the same image twice is one file, the name carries
nothing a person typed, and a backup or a restore can copy the folder without asking what
is in it (a file is what its name says, or it is damaged). A post names its image by this
file's path; at send time the name is looked up in the folder beside the store it is sent
from, so a store restored elsewhere finds its images.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable
from pathlib import Path

from commsbot.errors import N_, ContentError

# What every platform takes; Pillow's format name -> the file's extension.
FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}
NAME_RE = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")
FOLDER = "uploads"
# The largest image taken (Mastodon's own default limit for images is 16 MB; every
# platform re-encodes or refuses above its own, which the channels say at send time).
MAX_BYTES = 10 << 20
# Images an announcement carries: what Bluesky shows and Mastodon takes a status.
MOST_IMAGES = 4
TOO_LARGE = N_("image %(image)s: larger than %(size)s MB")


def folder(store_path: Path) -> Path:
    """Where the images of the store at ``store_path`` are kept."""
    return store_path.parent / FOLDER


def keep(store_path: Path, label: str, data: bytes) -> str:
    """Keep an image's bytes with the store; its name (for ``find``). Not an image, or
    one too large, is a ContentError naming ``label`` (the file as the person knows it)."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ContentError(TOO_LARGE, image=label, size=MAX_BYTES >> 20)
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format or ""
            img.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise ContentError(
            N_("image %(image)s: not an image file (PNG, JPEG, GIF or WebP)"), image=label
        ) from None
    if kind not in FORMATS:
        raise ContentError(
            N_("image %(image)s: %(kind)s is not taken; use PNG, JPEG, GIF or WebP"),
            image=label,
            kind=kind,
        )
    name = f"{hashlib.sha256(data).hexdigest()}.{FORMATS[kind]}"
    try:
        write(folder(store_path) / name, data)
    except OSError as exc:
        raise ContentError(
            f"image {label}: cannot be kept in {folder(store_path)}: {exc.strerror or exc}"
        ) from None
    return name


def keep_file(store_path: Path, path: Path) -> Path:
    """Copy the image file at ``path`` into the store's images; the kept copy's path."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ContentError(TOO_LARGE, image=str(path), size=MAX_BYTES >> 20)
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(f"image {path}: {exc.strerror or exc}") from None
    return folder(store_path).resolve() / keep(store_path, str(path), data)


def keep_local(store_path: Path, image: str) -> str:
    """An item's image as it is stored: a file found here (an absolute path, or one
    relative to the current folder) is copied into the store's images and named by the
    copy, so backups keep it and its source may move. A URL, an image kept already, or
    a relative path not found here (the channel finds it under its ``image_folder`` at
    send time, as before images were kept) is left as it is."""
    if re.match(r"https?://", image, re.IGNORECASE) or name_of(image) is not None:
        return image
    try:
        path = Path(image).expanduser()
        found = path.is_file()
    except (OSError, RuntimeError):  # a name too long; "~someone" with no such home
        return image
    return str(keep_file(store_path, path)) if found else image


def write(target: Path, data: bytes) -> None:
    """Write a content-addressed file once; a reader never sees half of it."""
    if target.exists():
        return  # same name, same bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    partial.replace(target)


def find(store_path: Path, name: str) -> Path | None:
    """The file of a kept image by its name; None for any other name or a missing file."""
    if not NAME_RE.match(name):
        return None
    path = folder(store_path) / name
    return path if path.is_file() else None


def name_of(image: str | None) -> str | None:
    """The kept image a post's image names (its file name), or None for any other
    image (a URL, a file of the officer's own)."""
    if not image or re.match(r"https?://", image, re.IGNORECASE):
        return None
    path = Path(image)
    return path.name if path.parent.name == FOLDER and NAME_RE.match(path.name) else None


def names(images: Iterable[str | None]) -> set[str]:
    """The kept images among posts' images."""
    return {n for n in map(name_of, images) if n is not None}


def intact(path: Path) -> bool:
    """Whether a kept image's bytes are still what its name says."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path.name.split(".", 1)[0] == digest


def all_for_sending(
    store_path: Path, image: str | None, extra: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...], str | None]:
    """A post's image and its further images as its channel reads them (``for_sending``
    of each), and what is wrong with the first that is missing."""
    image, missing = for_sending(store_path, image)
    found = []
    for further in extra:
        read, problem = for_sending(store_path, further)
        missing = missing or problem
        found.append(read or further)
    return image, tuple(found), missing


def for_sending(store_path: Path, image: str | None) -> tuple[str | None, str | None]:
    """A post's image as its channel reads it, and what is wrong when it is missing.

    A kept image is found by name beside the store it is sent from (a restored store
    may live elsewhere than the one that kept it); a file of the officer's own, named
    by an absolute path, must still be there. URLs and relative paths (an item's image,
    found by the channel's ``image_folder``) are the channel's to read.
    """
    if not image:
        return image, None
    name = name_of(image)
    if name is not None:
        found = find(store_path, name)
        if found is None:
            return image, (
                f"image missing from {FOLDER} ({name} is not in {folder(store_path)}); "
                "restore a backup made with its images, then queue retry"
            )
        return str(found.resolve()), None
    path = Path(image).expanduser()
    if path.is_absolute() and not path.is_file():
        return image, f"image missing: {image} (put the file back, then queue retry)"
    return image, None
