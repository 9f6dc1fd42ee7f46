"""Reading the gettext catalogs: packaged ``.po`` files compiled by Babel when first used,
under the user's overrides.

Compiling at load (a few milliseconds per language, once per process) means an installed
package or a fresh clone never carries a stale ``.mo``, and a translator's edited ``.po``
in the templates folder works without a build step.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path
from typing import TYPE_CHECKING

from commsbot.errors import TemplateError

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

DOMAIN = "commsbot"
PACKAGED = Path(__file__).parent / "locale"


def catalog_path(folder: Path, language: str) -> Path:
    """Where a language's catalog lives under a ``locale`` folder's parent."""
    return folder / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def packaged_catalog(language: str) -> Path:
    return catalog_path(PACKAGED.parent, language)


def read_catalog(path: Path, language: str) -> Catalog:
    """A ``.po`` file as a Babel catalog; a broken file is a one-line TemplateError."""
    from babel.messages.pofile import PoFileError, read_po

    try:
        with path.open("rb") as handle:
            return read_po(handle, locale=language, domain=DOMAIN, abort_invalid=True)
    except PoFileError as exc:
        raise TemplateError(f"catalog {path}: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TemplateError(f"catalog {path}: cannot be read ({exc})") from None


def compile_catalog(catalog: Catalog) -> gettext.GNUTranslations:
    """A catalog compiled in memory; fuzzy and empty translations are left out, so the
    English message (or a fallback catalog) shows instead."""
    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translations(language: str, user_folder: Path | None = None) -> gettext.NullTranslations:
    """The messages of a language: the user's catalog first, then the packaged one."""
    chain: list[gettext.NullTranslations] = []
    folders = [user_folder] if user_folder is not None else []
    for path in [catalog_path(f, language) for f in folders] + [packaged_catalog(language)]:
        if path.is_file():
            chain.append(compile_catalog(read_catalog(path, language)))
    if not chain:
        return gettext.NullTranslations()
    first = chain[0]
    for later in chain[1:]:
        first.add_fallback(later)
    return first
