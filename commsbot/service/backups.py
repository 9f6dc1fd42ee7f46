"""Backups of the store and restoring one: the operations behind ``backup`` and ``restore``.

A backup is the store's copy (``PATH``, one SQLite file, as before) and the images kept
with the store beside it in ``PATH.images/``, named by their digest as in ``uploads/``.
Images are written after the copy of the store, so the copy names no image made later;
a backup from before images were kept has no folder, and says so when checked or restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from commsbot.content import images
from commsbot.errors import StoreError
from commsbot.service.lock import StoreLock
from commsbot.store import Store
from commsbot.store import backup as backup_q
from commsbot.store.backup import Summary

NOT_INCLUDED = "images not included (a backup made before commsbot kept images with it)"


@dataclass(frozen=True)
class Images:
    """What a backup or a store holds of the images its posts name."""

    included: bool  # the backup has its images folder
    present: int
    missing: tuple[str, ...]  # kept images named but not there (or damaged)
    # Images named by a path of the officer's own (posts queued before images were kept):
    # not in the store, so not in its backups.
    outside: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.included:
            said = NOT_INCLUDED
            if self.missing:
                said += f"; its posts name {len(self.missing)} kept image(s)"
        else:
            said = f"images: {self.present} present, {len(self.missing)} missing"
            if self.missing:
                said += f" ({_listed(self.missing)})"
        if self.outside:
            listed = _listed(self.outside)
            said += f"; {len(self.outside)} outside the store, not backed up ({listed})"
        return said


@dataclass(frozen=True)
class Checked:
    """A backup's store and its images."""

    summary: Summary
    images: Images

    def describe(self) -> str:
        return f"{self.summary.describe()}; {self.images.describe()}"


@dataclass(frozen=True)
class Restored:
    """What a restore did: what it put back, where the replaced store is kept, how many
    due posts now wait, and how many images it brought back."""

    checked: Checked
    aside: Path | None
    held: int
    copied: int


def _listed(names: tuple[str, ...], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def images_folder(path: Path) -> Path:
    """Where the backup at ``path`` keeps its images."""
    return path.with_name(f"{path.name}.images")


def _images(found: Summary, where: Path | None) -> Images:
    """The kept images ``found`` names, looked for in the folder ``where`` (None: none)."""
    wanted = sorted(images.names(found.images))
    outside = tuple(
        sorted(
            i
            for i in found.images
            if images.name_of(i) is None and Path(i).expanduser().is_absolute()
        )
    )
    if where is None:
        return Images(False, 0, tuple(wanted), outside)
    missing = tuple(n for n in wanted if not _intact(where / n))
    return Images(True, len(wanted) - len(missing), missing, outside)


def _intact(path: Path) -> bool:
    try:
        return path.is_file() and images.intact(path)
    except OSError:
        return False


def check(path: Path) -> Checked:
    """What the backup at ``path`` holds; a backup that fails its integrity check is an error."""
    found = backup_q.check(path)
    if found.integrity != "ok":
        raise StoreError(f"{path}: fails its integrity check: {found.integrity}")
    folder = images_folder(path)
    return Checked(found, _images(found, folder if folder.is_dir() else None))


def backup(store: Store, path: Path, now: datetime, *, force: bool = False) -> Checked:
    """Copy the store to ``path`` and its images beside it, safely while the service runs."""
    found = backup_q.backup(store, path, now, force=force)
    source, target = images.folder(store.path), images_folder(path)
    try:
        kept = sorted(p for p in source.iterdir() if images.NAME_RE.match(p.name))
    except FileNotFoundError:
        kept = []
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StoreError(f"{source}: cannot be read: {exc.strerror}; no backup written") from None
    try:
        target.mkdir(exist_ok=True)
        for image in kept:  # every kept image, not only those posts name: a draft's too
            if not (target / image.name).exists():
                images.write(target / image.name, image.read_bytes())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StoreError(
            f"{target}: cannot write the images: {exc.strerror or exc}; no backup written"
        ) from None
    return Checked(found, _images(found, target))


def restore(store_path: Path, path: Path, now: datetime) -> Restored:
    """Put the backup at ``path`` in place of the store, holding the store's lock.

    Its images join those kept with the store first (none is replaced or removed: a name
    is its content), so a store that is restored never names an image it lacks for want
    of copying; the replaced store is kept aside as before.
    """
    with StoreLock(store_path, "commsbot restore"):
        checked = check(path)
        copied = 0
        source, target = images_folder(path), images.folder(store_path)
        if checked.images.included:
            try:
                for image in sorted(source.iterdir()):
                    fresh = not (target / image.name).exists()
                    if fresh and images.NAME_RE.match(image.name) and _intact(image):
                        images.write(target / image.name, image.read_bytes())
                        copied += 1
            except OSError as exc:
                raise StoreError(
                    f"{target}: cannot restore the images: {exc.strerror or exc}; "
                    "the store is as it was"
                ) from None
        found, aside, held = backup_q.restore(store_path, path, now)
    here = _images(found, target)
    result = Images(checked.images.included, here.present, here.missing, here.outside)
    return Restored(Checked(found, result), aside, held, copied)
