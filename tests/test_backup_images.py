"""Images kept with the store: ``queue add --image`` copies the file, ``backup`` writes
the images beside the store's copy, ``restore`` brings them back, and a post whose image
is gone at send time fails saying so instead of going out without it. All through the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from commsbot.content import images
from commsbot.errors import ContentError
from tests.support.base import Invoke


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(out, "PNG")
    return out.getvalue()


def kept_name(data: bytes) -> str:
    return f"{hashlib.sha256(data).hexdigest()}.png"


def add_with_image(invoke: Invoke, picture: Path) -> None:
    result = invoke(
        "queue", "add", "Study visit to Pécs", "--image", str(picture), "--alt", "A full room",
        "--now",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.fixture
def picture(tmp_path: Path, invoke: Invoke) -> Path:
    """The officer's picture, queued with an announcement as post 1 (on the outbox)."""
    path = tmp_path / "visit.png"
    path.write_bytes(png())
    add_with_image(invoke, path)
    return path


def outbox_lines(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "outbox" / "outbox.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def remove_store(tmp_path: Path) -> None:
    for name in ("commsbot.db", "commsbot.db-wal", "commsbot.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    shutil.rmtree(tmp_path / "uploads")


def test_queue_add_keeps_a_copy_so_the_officers_file_may_move(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    shown = invoke("queue", "show", "1").output
    kept = (tmp_path / "uploads" / kept_name(png())).resolve()
    assert f"image            {kept}\n" in shown and "image_alt        A full room\n" in shown
    picture.unlink()  # the officer tidies their desktop
    assert invoke("run", "--once").exit_code == 0
    [line] = outbox_lines(tmp_path)
    assert line["image_alt"] == "A full room"
    assert (tmp_path / "outbox" / str(line["image"])).read_bytes() == png()


def test_queue_add_refuses_what_the_console_refuses_naming_the_file(
    tmp_path: Path, invoke: Invoke
) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    result = invoke("queue", "add", "Hi", "--image", str(notes), "--alt", "x", "--now")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: image {notes}: not an image file (PNG, JPEG, GIF or WebP)\n"
    ), result.output
    huge = tmp_path / "huge.png"
    with huge.open("wb") as f:
        f.truncate((10 << 20) + 1)
    result = invoke("queue", "add", "Hi", "--image", str(huge), "--alt", "x", "--now")
    assert result.exit_code == 1
    assert result.output == f"Error: image {huge}: larger than 10 MB\n", result.output
    assert "Traceback" not in result.output
    listed = invoke("queue", "list", "--format", "json")
    assert listed.exit_code == 0 and json.loads(listed.output)["posts"] == []


def test_backup_then_losing_everything_then_restore_sends_the_post_with_its_image(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    # An image uploaded but not yet used (a draft in Compose) is kept by the backup too.
    draft = tmp_path / "draft.png"
    draft.write_bytes(png("green"))
    add_with_image(invoke, draft)
    assert invoke("queue", "cancel", "2").exit_code == 0
    picture.unlink()
    made = invoke("backup", str(tmp_path / "b.db"))
    assert made.exit_code == 0, made.output
    assert "images: 2 present, 0 missing" in made.output
    folder = tmp_path / "b.db.images"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [kept_name(png()), kept_name(png("green"))]
    )
    checked = invoke("backup", "--check", str(tmp_path / "b.db"))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("backup ok: ") and "images: 2 present, 0 missing" in (
        checked.output
    )

    remove_store(tmp_path)
    restored = invoke("restore", str(tmp_path / "b.db"))
    assert restored.exit_code == 0, restored.output
    assert "images restored: 2 copied, 2 in place" in restored.output
    assert (tmp_path / "uploads" / kept_name(png())).read_bytes() == png()
    # Due before the restore: it may have gone out after the backup, so it waits.
    assert "1 post(s) due before the restore wait for approval" in restored.output
    assert invoke("queue", "approve", "1").exit_code == 0
    sent = invoke("run", "--once")
    assert sent.exit_code == 0, sent.output
    [line] = outbox_lines(tmp_path)
    assert line["post_id"] == 1 and line["image_alt"] == "A full room"
    assert (tmp_path / "outbox" / str(line["image"])).read_bytes() == png()


def test_an_old_backup_of_the_store_alone_restores_saying_images_were_not_included(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    assert invoke("backup", str(tmp_path / "old.db")).exit_code == 0
    shutil.rmtree(tmp_path / "old.db.images")  # as a backup made before images were kept
    checked = invoke("backup", "--check", str(tmp_path / "old.db"))
    assert checked.exit_code == 0, checked.output
    assert "images not included (a backup made before commsbot kept images with it)" in (
        checked.output
    )
    assert "its posts name 1 kept image(s)" in checked.output

    remove_store(tmp_path)
    restored = invoke("restore", str(tmp_path / "old.db"))
    assert restored.exit_code == 0, restored.output
    assert "note: images not included" in restored.output
    assert "only the store was restored" in restored.output
    assert (
        f"1 image(s) its posts name are not in the store's uploads folder ({kept_name(png())})"
        in (restored.output)
    )
    assert invoke("queue", "approve", "1").exit_code == 0
    run = invoke("run", "--once")
    assert "Traceback" not in run.output
    assert outbox_lines(tmp_path) == []  # not posted without its image
    shown = invoke("queue", "show", "1").output
    assert "status           failed\n" in shown
    assert f"last_error       image missing from uploads ({kept_name(png())} is not in" in shown


def test_a_damaged_image_in_a_backup_is_reported_missing(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    assert invoke("backup", str(tmp_path / "b.db")).exit_code == 0
    (tmp_path / "b.db.images" / kept_name(png())).write_bytes(png("blue"))
    checked = invoke("backup", "--check", str(tmp_path / "b.db"))
    assert checked.exit_code == 1, checked.output
    assert checked.output.startswith("backup incomplete: ")
    assert f"images: 0 present, 1 missing ({kept_name(png())})" in checked.output


def test_a_post_whose_image_is_gone_at_send_time_fails_saying_so_until_it_is_back(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    kept = tmp_path / "uploads" / kept_name(png())
    os.replace(kept, tmp_path / "aside.png")
    run = invoke("run", "--once")
    assert run.exit_code == 1, run.output  # something needs the officer
    assert "Traceback" not in run.output
    assert outbox_lines(tmp_path) == []
    status = invoke("status")
    assert "announcement-1  image missing from uploads (" in status.output, status.output
    shown = invoke("queue", "show", "1")
    assert (
        "status           failed\n" in shown.output
        and "restore a backup made with its images" in shown.output
    )

    os.replace(tmp_path / "aside.png", kept)
    assert invoke("queue", "retry", "1").exit_code == 0
    assert invoke("run", "--once").exit_code == 0
    [line] = outbox_lines(tmp_path)
    assert (tmp_path / "outbox" / str(line["image"])).read_bytes() == png()


def test_kept_images_are_one_file_per_image_and_found_only_by_their_name(tmp_path: Path) -> None:
    store = tmp_path / "commsbot.db"
    first = images.keep(store, "a.png", png("blue"))
    assert images.keep(store, "b.png", png("blue")) == first
    assert [p.name for p in images.folder(store).iterdir()] == [first]
    assert images.find(store, first) is not None
    assert images.find(store, "../commsbot.db") is None
    bmp = io.BytesIO()
    Image.new("RGB", (4, 3)).save(bmp, "BMP")
    with pytest.raises(ContentError, match=r"^image x\.bmp: BMP is not taken; use PNG"):
        images.keep(store, "x.bmp", bmp.getvalue())


def test_at_send_time_a_kept_image_is_found_beside_the_store_it_is_sent_from(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "old-home" / "uploads" / kept_name(png())
    here = tmp_path / "new-home" / "commsbot.db"
    image, problem = images.for_sending(here, str(elsewhere))
    assert image == str(elsewhere) and problem is not None and kept_name(png()) in problem
    images.keep(here, "visit.png", png())
    image, problem = images.for_sending(here, str(elsewhere))
    assert problem is None and Path(str(image)).read_bytes() == png()
    # A file of the officer's own (a post queued before images were kept) must be there.
    own = tmp_path / "desk" / "visit.png"
    assert images.for_sending(here, str(own)) == (
        str(own),
        f"image missing: {own} (put the file back, then queue retry)",
    )
    # URLs and an item's relative path are the channel's to fetch or find.
    assert images.for_sending(here, "https://x.example/a.png") == ("https://x.example/a.png", None)
    assert images.for_sending(here, "practices/a.png") == ("practices/a.png", None)


def test_a_post_queued_before_images_were_kept_names_its_file_in_backups_and_at_send(
    tmp_path: Path, invoke: Invoke, picture: Path
) -> None:
    from commsbot.store import Store

    # As `queue add --image` stored it before: the path of the officer's own file.
    own = tmp_path / "desk" / "visit.png"
    with Store(tmp_path / "commsbot.db") as store:
        store.conn.execute(
            "UPDATE posts SET payload = json_set(payload, '$.image', ?)", (str(own),)
        )
    made = invoke("backup", str(tmp_path / "b.db"))
    assert made.exit_code == 0, made.output
    assert f"images: 0 present, 0 missing; 1 outside the store, not backed up ({own})" in (
        made.output
    )
    assert invoke("run", "--once").exit_code == 1
    assert outbox_lines(tmp_path) == []
    shown = invoke("queue", "show", "1").output
    assert f"last_error       image missing: {own} (put the file back, then queue retry)" in shown


def mill_file(tmp_path: Path, image: str, further: list[str]) -> None:
    """``mill.json``: one practice with its images, and the city and theme it names."""
    data = {
        "cities": [{"slug": "pecs", "name": "Pécs", "country": "Hungary", "aliases": []}],
        "themes": [{"slug": "brokerage", "name": "Brokerage", "description": ""}],
        "practices": [
            {
                "slug": "mill",
                "title": "The old mill",
                "city": "pecs",
                "theme": "brokerage",
                "image": image,
                "images": further,
            }
        ],
    }
    (tmp_path / "mill.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_practices_images_are_kept_backed_up_restored_and_checked_at_send_time(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Every image of a practice (its ``image`` and its further ``images``) is copied
    into the store at import, so backups keep them all and a missing one stops the post."""
    desk = tmp_path / "desk"
    desk.mkdir()
    colours = ("red", "green", "blue")
    for colour in colours:
        (desk / f"{colour}.png").write_bytes(png(colour))
    mill_file(tmp_path, str(desk / "red.png"), [str(desk / f"{c}.png") for c in colours[1:]])
    imported = invoke("content", "import", str(tmp_path / "mill.json"))
    assert imported.exit_code == 0, imported.output
    shutil.rmtree(desk)
    exported = json.loads(invoke("content", "export").output)["practices"][0]
    uploads = (tmp_path / "uploads").resolve()
    assert exported["image"] == str(uploads / kept_name(png("red")))
    assert exported["images"] == [str(uploads / kept_name(png(c))) for c in colours[1:]]

    made = invoke("backup", str(tmp_path / "b.db"))
    assert made.exit_code == 0, made.output
    assert "images: 3 present, 0 missing" in made.output
    (tmp_path / "b.db.images" / kept_name(png("blue"))).unlink()
    checked = invoke("backup", "--check", str(tmp_path / "b.db"))
    assert checked.exit_code == 1, checked.output
    assert f"images: 2 present, 1 missing ({kept_name(png('blue'))})" in checked.output
    assert invoke("backup", "--force", str(tmp_path / "b.db")).exit_code == 0

    remove_store(tmp_path)
    restored = invoke("restore", str(tmp_path / "b.db"))
    assert restored.exit_code == 0, restored.output
    assert "images restored: 3 copied, 3 in place" in restored.output

    # A further image gone at send time stops the post like a first one does.
    os.replace(uploads / kept_name(png("blue")), tmp_path / "aside.png")
    run = invoke("run", "--once")
    assert "Traceback" not in run.output
    assert outbox_lines(tmp_path) == []
    shown = invoke("queue", "show", "1").output
    assert "status           failed\n" in shown, shown
    assert f"image missing from uploads ({kept_name(png('blue'))} is not in" in shown


def test_an_import_naming_a_file_that_is_not_an_image_says_which_and_stores_nothing(
    tmp_path: Path, invoke: Invoke
) -> None:
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "red.png").write_bytes(png())
    mill_file(tmp_path, str(tmp_path / "red.png"), [str(tmp_path / "notes.png")])
    result = invoke("content", "import", str(tmp_path / "mill.json"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output == (
        f"Error: {tmp_path / 'mill.json'}: practices[0]: images: image {tmp_path / 'notes.png'}: "
        "not an image file (PNG, JPEG, GIF or WebP)\n"
    ), result.output
    assert json.loads(invoke("content", "export").output)["practices"] == []


def test_a_store_from_before_naming_the_practices_own_files_still_posts_and_lists_them(
    tmp_path: Path, invoke: Invoke
) -> None:
    """A practice imported before its images were kept names the files where they were:
    they are still read from there, and backups say they are outside the store."""
    import sqlite3

    desk = tmp_path / "desk"
    desk.mkdir()
    for colour in ("red", "green"):
        (desk / f"{colour}.png").write_bytes(png(colour))
    mill_file(tmp_path, str(desk / "red.png"), [str(desk / "green.png")])
    assert invoke("content", "import", str(tmp_path / "mill.json")).exit_code == 0
    with sqlite3.connect(tmp_path / "commsbot.db") as conn:  # as the older store holds it
        conn.execute(
            "UPDATE practices SET image = ?, images = ?",
            (str(desk / "red.png"), json.dumps([str(desk / "green.png")])),
        )
    conn.close()

    made = invoke("backup", str(tmp_path / "b.db"))
    assert made.exit_code == 0, made.output
    assert "images: 0 present, 0 missing; 2 outside the store, not backed up" in made.output
    run = invoke("run", "--once")
    assert run.exit_code == 0, run.output
    [line] = outbox_lines(tmp_path)
    assert (tmp_path / "outbox" / str(line["image"])).read_bytes() == png("red")


@pytest.mark.parametrize("image", ["~nobody-here/a.png", "x" * 5000, "practices/a.png"])
def test_an_image_path_not_found_here_is_left_for_the_channels_image_folder(
    tmp_path: Path, image: str
) -> None:
    assert images.keep_local(tmp_path / "commsbot.db", image) == image
    assert not (tmp_path / "uploads").exists()
