"""Messages people read, in zh-CN (default) and English, from one gettext catalogue per language.

The catalogues are ``facility/locale/<lang>/LC_MESSAGES/messages.po`` (read with Babel, no compile step).
Message ids are stable keys (``order.state.assigned``); placeholders are ``{name}`` and are filled by
``t(key, lang, name=...)`` here and by ``t(key, {name: ...})`` in the pages, which load the same catalogue as
JSON (``page_catalogue``). Field names come from the wire contract (``facility.contract.FIELD_NAMES``).

Use from any module::

    from facility.i18n import t, field_label, format_local, pick_language
    t("order.state.assigned", "zh")          # "已派单"
    field_label("water_pump", "flow_m3h", "en")  # "Flow"
    format_local(order.opened_at, "zh")      # "2026-11-23 17:05" (Asia/Shanghai)
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from facility.contract import FIELD_NAMES, AssetKind

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: language code → gettext locale folder; the first is the default
LANGUAGES: dict[str, str] = {"zh": "zh_CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"
#: the time zone pages and reports show times in unless an estate says otherwise
DEFAULT_TIMEZONE = "Asia/Shanghai"
_FORMATS = {"zh": "%Y-%m-%d %H:%M", "en": "%d %b %Y %H:%M"}


def normalize(lang: str | None) -> str | None:
    """'zh-CN', 'zh_Hans', 'ZH' → 'zh'; 'en-US' → 'en'; anything else → None."""
    if not lang:
        return None
    base = lang.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def language(lang: str | None) -> str:
    """A supported language code; the default (zh) for None or an unsupported one."""
    return normalize(lang) or DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (q-values honoured), or None."""
    best: tuple[float, str] | None = None
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        code = normalize(tag)
        if code is not None and q > 0 and (best is None or q > best[0]):
            best = (q - i * 1e-6, code)  # equal q: the earlier one wins
    return best[1] if best else None


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: ``?lang=`` first, then the ``lang`` cookie, then Accept-Language, then zh."""
    return normalize(query) or normalize(cookie) or from_accept_language(accept_language) or DEFAULT_LANGUAGE


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of ``lang`` (key → text); a key missing from the catalogue falls back to zh."""
    code = language(lang)
    path = LOCALE_DIR / LANGUAGES[code] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=LANGUAGES[code])
    # an empty translation is written as " " (gettext treats "" as untranslated)
    return {str(m.id): str(m.string).strip() for m in cat if m.id and m.string}


def t(key: str, lang: str | None = None, **params: object) -> str:
    """The message ``key`` in ``lang`` with ``{name}`` placeholders filled; the key itself when unknown."""
    own, fallback = catalogue(language(lang)), catalogue(DEFAULT_LANGUAGE)
    text = own[key] if key in own else fallback.get(key, key)
    return text.format(**params) if params else text


def field_label(kind: AssetKind | str, field: str, lang: str | None = None) -> str:
    """A telemetry field's name as people say it (from the contract); the raw name if it has none."""
    names = FIELD_NAMES.get(AssetKind(kind), {}).get(field)
    if names is None:
        return field
    return names[0] if language(lang) == "zh" else names[1]


def unit_label(unit: str, lang: str | None = None) -> str:
    """A contract unit as shown next to a value ('count' → '次', 'bool' → '')."""
    key = f"unit.{unit}"
    text = t(key, lang)
    return unit if text == key else text


def format_local(
    when: dt.datetime | None, lang: str | None = None, timezone: str = DEFAULT_TIMEZONE, seconds: bool = False
) -> str:
    """``when`` (aware) in local time (Asia/Shanghai by default), never UTC on a page; '—' for None."""
    if when is None:
        return "—"
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass a timezone-aware time")
    fmt = _FORMATS[language(lang)] + (":%S" if seconds else "")
    return when.astimezone(ZoneInfo(timezone)).strftime(fmt)


#: the line that opens a language's part of a text stored in several (:func:`bilingual`); the first part is zh
_PART = "\n\n——— {lang} ———\n"


def bilingual(texts: dict[str, str]) -> str:
    """One stored text holding each language's version (zh first, then ``——— en ———`` and the English): a
    generated text (a proposal's reasons) read back in the reader's language by :func:`in_language`."""
    parts = [texts.get(DEFAULT_LANGUAGE, "")]
    parts += [_PART.format(lang=code) + text for code, text in texts.items() if code != DEFAULT_LANGUAGE]
    return "".join(parts)


def in_language(stored: str, lang: str | None = None) -> str:
    """The part of a :func:`bilingual` text in ``lang`` (zh when it has no such part); other text as it is."""
    code = language(lang)
    parts = {DEFAULT_LANGUAGE: stored}
    for other in LANGUAGES:
        marker = _PART.format(lang=other)
        if other != DEFAULT_LANGUAGE and marker in stored:
            head, _, tail = parts[DEFAULT_LANGUAGE].partition(marker)
            parts[DEFAULT_LANGUAGE], parts[other] = head, tail
    return parts.get(code, parts[DEFAULT_LANGUAGE])


def page_catalogue(lang: str) -> dict[str, str]:
    """What the pages load as JSON: the language's messages plus ``field.<kind>.<name>`` from the contract."""
    code = language(lang)
    out = {**catalogue(DEFAULT_LANGUAGE), **catalogue(code)}
    for kind, names in FIELD_NAMES.items():
        for name in names:
            out[f"field.{kind.value}.{name}"] = field_label(kind, name, code)
    return out
