"""The one city/theme lookup: the network's cities and themes, read from the store once.

Rendering takes a city's and theme's rows for an item; the CLI, imports and feeds turn
what an officer typed into a slug (with a near-miss suggestion); the bot reads cities
and themes out of free words; statistics list them in order so empty groups show.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from commsbot.errors import N_, Message
from commsbot.store import Store
from commsbot.store import content as q
from commsbot.text import slugify

if TYPE_CHECKING:
    from commsbot.i18n import Speaker

Kind = str  # "city" or "theme"


NEAR_MISS = {
    "city": N_("unknown city %(value)s; did you mean %(near)s?"),
    "theme": N_("unknown theme %(value)s; did you mean %(near)s?"),
}
# A city or theme not known, as a command's option names it and as a form's field does.
OPTION_PROBLEM = {"city": N_("--city: %(problem)s"), "theme": N_("--theme: %(problem)s")}
FIELD_PROBLEM = {"city": N_("city: %(problem)s"), "theme": N_("theme: %(problem)s")}
NOT_KNOWN = {
    "city": N_("unknown city %(value)s (known: %(known)s)"),
    "theme": N_("unknown theme %(value)s (known: %(known)s)"),
}


@dataclass
class Places:
    """Cities and themes by slug (their rows), and by every name a person may type."""

    cities: dict[str, dict[str, Any]] = field(default_factory=dict)
    themes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # slugify(slug | name | local name) -> (kind, slug); the first of a name wins.
    keys: dict[str, tuple[Kind, str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, city_rows: Sequence[dict[str, Any]], theme_rows: Sequence[dict[str, Any]]
    ) -> Places:
        cities = {c["slug"]: c for c in city_rows}
        themes = {t["slug"]: t for t in theme_rows}
        keys: dict[str, tuple[Kind, str]] = {}
        for kind, table in (("city", cities), ("theme", themes)):
            for slug, row in table.items():
                names = [slug, row["name"], row.get("local_name") or "", *row.get("aliases", ())]
                for key in map(slugify, names):
                    if key:
                        keys.setdefault(key, (kind, slug))
        return cls(cities, themes, keys)

    @classmethod
    def load(cls, store: Store) -> Places:
        return cls.of(q.cities(store), q.themes(store))

    def spoken(self, words: Speaker) -> Places:
        """These places for a reader of ``words``' language: theme names and descriptions
        from the catalogs (``content.theme_names``), the English name still understood."""
        if words.language == "en":
            return self
        # Not ``words.gettext(row["name"])``: the catalogs' extractor would take "name" for
        # a message. The themes' own names are marked in ``content.theme_names``.
        spoken = words.translations.gettext
        themes = []
        for row in self.themes.values():
            description = row.get("description")
            themes.append(
                {
                    **row,
                    "name": spoken(row["name"]),
                    "description": spoken(description) if description else description,
                    "aliases": [*row.get("aliases", ()), row["name"]],
                }
            )
        return Places.of(list(self.cities.values()), themes)

    def table(self, kind: Kind) -> dict[str, dict[str, Any]]:
        return self.cities if kind == "city" else self.themes

    def context(self, item: dict[str, Any]) -> dict[str, Any]:
        """What a template gets: the item, its city's row and its theme's row."""
        return {
            "item": item,
            "city": self.cities.get(item.get("city") or ""),
            "theme": self.themes.get(item.get("theme") or ""),
        }

    def named(self, kind: Kind) -> tuple[tuple[str, str], ...]:
        """(slug, name) of every city or theme, in the store's order."""
        return tuple((slug, row["name"]) for slug, row in self.table(kind).items())

    def resolve(self, kind: Kind, value: str) -> str:
        """The slug of a city or theme given by slug, name or local name; a ValueError
        naming a near miss (or the known ones) otherwise."""
        table = self.table(kind)
        if value in table:
            return value
        lowered = value.strip().lower()
        for slug, row in table.items():
            if lowered in (row["name"].lower(), slugify(row["name"]), slug):
                return slug
        for slug, row in table.items():  # a local name (Warszawa) or an exonym (Pilsen)
            others = [row.get("local_name") or "", *row.get("aliases", ())]
            if lowered and lowered in (name.lower() for name in others):
                return slug
        by_name = {row["name"].lower(): slug for slug, row in table.items()}
        candidates = list(table) + list(by_name)
        near = difflib.get_close_matches(lowered, candidates, n=1, cutoff=0.5)
        suggestion = by_name.get(near[0], near[0]) if near else None
        if suggestion:
            said = NEAR_MISS[kind]
            raise ValueError(Message(said, value=repr(value), near=repr(suggestion)))
        said = NOT_KNOWN[kind]
        raise ValueError(Message(said, value=repr(value), known=", ".join(sorted(table))))

    def split_cities(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """(cities named by single words, in any of their names; the other words)."""
        cities: list[str] = []
        rest: list[str] = []
        for word in words:
            found = self.keys.get(slugify(word))
            if found is not None and found[0] == "city":
                if found[1] not in cities:
                    cities.append(found[1])
            else:
                rest.append(word)
        return cities, rest

    def parse(self, words: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """(cities, themes, words not understood); names of several words are matched whole."""
        cities: list[str] = []
        themes: list[str] = []
        unknown: list[str] = []
        i = 0
        while i < len(words):
            for end in range(min(len(words), i + 4), i, -1):
                found = self.keys.get(slugify(" ".join(words[i:end])))
                if found is not None:
                    target = cities if found[0] == "city" else themes
                    if found[1] not in target:
                        target.append(found[1])
                    i = end
                    break
            else:
                unknown.append(words[i])
                i += 1
        return cities, themes, unknown

    def near_name(self, word: str) -> str | None:
        """The city or theme name closest to a word not understood, if one is close."""
        names = [c["name"] for c in self.cities.values()] + [
            t["name"] for t in self.themes.values()
        ]
        near = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
        return near[0] if near else None
