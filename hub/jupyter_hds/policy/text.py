"""Sentences people read, kept as a template and its values until an adapter knows the reader.

The policy core decides in English and never knows who reads: a `Text` is a gettext message
(`{name}` fields) with its values, `str()` gives the English, and an adapter calls
`translate(gettext, ngettext)` with the reader's catalogue (`jupyter_hds.i18n`). Values may
be `Text`s themselves, so a refusal can wrap another one's reason. The audit record keeps
the English; only what people read on a page is translated.

Messages are found by `scripts/translations.py` (the `Text` and `Plural` calls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def _english(message: str) -> str:
    return message


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


class Text:
    """A sentence to translate: a message with `{name}` fields, and their values."""

    def __init__(self, message: str, /, **values: Any):
        self.message, self.values = message, values

    def translate(self, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
        return gettext(self.message).format(**self._values(gettext, ngettext))

    def _values(self, gettext: Gettext, ngettext: Ngettext) -> dict[str, Any]:
        return {key: _translated(value, gettext, ngettext) for key, value in self.values.items()}

    def __str__(self) -> str:
        return self.translate()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, **{self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class Plural(Text):
    """A sentence whose form depends on a count `n`: `Plural("{n} member", "{n} members", n=2)`."""

    def __init__(self, singular: str, plural: str, /, *, n: int, **values: Any):
        super().__init__(singular, n=n, **values)
        self.plural = plural

    def translate(self, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
        n = self.values["n"]
        return ngettext(self.message, self.plural, n).format(**self._values(gettext, ngettext))

    def __repr__(self) -> str:
        return f"Plural({self.message!r}, {self.plural!r}, **{self.values!r})"


class Joined(Text):
    """Sentences or parts shown one after the other, with `separator` between them."""

    def __init__(self, parts: Iterable[Text | str], separator: str = "; "):
        super().__init__("", parts=tuple(parts))
        self.separator = separator

    def translate(self, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
        parts = (_translated(part, gettext, ngettext) for part in self.values["parts"])
        return self.separator.join(part for part in parts if part)

    def __repr__(self) -> str:
        return f"Joined({self.values['parts']!r}, {self.separator!r})"


def _translated(value: Any, gettext: Gettext, ngettext: Ngettext) -> Any:
    return value.translate(gettext, ngettext) if isinstance(value, Text) else value


def as_text(value: Text | str) -> Text:
    """`value` as a Text; a plain string (from code that does not translate) stays as it is."""
    return value if isinstance(value, Text) else Verbatim(value)


class Verbatim(Text):
    """A string from code that does not translate it: shown as it is, in every language."""

    def __init__(self, value: str):
        super().__init__("", value=value)

    def translate(self, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
        return self.values["value"]
