"""Why a preventive visit is proposed, as data: a catalogue key and its parameters, read in zh (default) or en.

A :class:`Reason` is ``plan.reason.<code>`` of the message catalogue (facility/locale) with ``{name}``
parameters. A parameter is a number already written out (probabilities and risks read the same in both
languages), a time (shown in local time, :func:`facility.i18n.format_local`), or a :class:`Localized` text (the
drivers in words with units, :mod:`predict.explain`), so the same reason reads in Chinese for a Chinese engineer
and in English for an English reader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from facility.i18n import format_local, language, t


@dataclass(frozen=True)
class Localized:
    """A text in zh and in en."""

    zh: str
    en: str

    def text(self, lang: str | None) -> str:
        return self.en if language(lang) == "en" else self.zh


Param = str | dt.datetime | Localized


@dataclass(frozen=True)
class Reason:
    """One reason: ``code`` names the catalogue message ``plan.reason.<code>``, ``params`` fill it."""

    code: str
    params: tuple[tuple[str, Param], ...] = ()

    def __post_init__(self) -> None:
        if not self.code.replace("_", "").isalnum():
            raise ValueError(f"reason code must be letters, digits and '_', but was {self.code!r}")

    def param(self, name: str) -> Param | None:
        return dict(self.params).get(name)

    def text(self, lang: str | None = None) -> str:
        """The reason in ``lang`` (zh by default)."""
        values = {k: _value(v, lang) for k, v in self.params}
        return t(f"plan.reason.{self.code}", lang, **values)


def reason(code: str, **params: Param) -> Reason:
    return Reason(code, tuple(params.items()))


def _value(v: Param, lang: str | None) -> str:
    if isinstance(v, Localized):
        return v.text(lang)
    if isinstance(v, dt.datetime):
        return format_local(v, lang)
    return v
