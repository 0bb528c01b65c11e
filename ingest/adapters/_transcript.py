"""What line-based chat logs share (WhatsApp's ``.txt`` export; Signal's if it comes): the phone's
own words for its notices in each language it ships in, and the digits, marks and calendars its
date headers are written with.

Three parts, each used by the adapters through the functions at the end of its section:

1. **Characters**: bidi and invisible marks (removed from headers, names and texts; U+200D, the
   emoji zero-width joiner, is kept), the special spaces phones put in times, and non-ASCII digits
   (Arabic-Indic, Persian, Devanagari, Bengali, Thai, ...) turned into ASCII one for one, so that
   an offset in a normalised header is an offset in the raw line once removed marks are counted.
2. **Calendars**: a phone set to another calendar writes its year: Thai iPhones the Buddhist era
   (Gregorian + 543: ``12/3/2565``, two-digit ``65``), Japanese ones the imperial era (``R4/03/12``,
   ``令和4/03/12``, ``H31/04/30``), Iranian ones the Solar Hijri (``1401/12/21``) and some Arabic
   ones the Islamic (Hijri) calendar (``1445/08/30``, read as the tabular civil calendar: Umm
   al-Qura may differ by a day). The calendar is decided per file from its years.
3. **Notices**: :data:`LOCALES` holds, per language, the phrases WhatsApp writes instead of a
   message (media left out of the export, deleted messages, missed calls, security and encryption
   notices, group events, polls, locations, the edit marker, the file's title). Each entry is a
   regular expression (case-insensitive); a kind missing from a language falls back on the
   key-word rules below the table (a ``<...>`` line that names media, an iOS line that ends with
   a word for "omitted", a maps link with coordinates), so a locale whose exact wording differs
   a little is still recognised. Adding a language is adding one entry.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from ingest.text import MARKS, strip_marks  # noqa: F401  (adapters use them as tr.MARKS, tr.strip_marks)

# ---------------------------------------------------------------------------------------------------
# 1. Characters

# In headers and names the byte-order mark goes too.
HEADER_REMOVED = frozenset(map(ord, MARKS + "\ufeff"))
_SPACES = {0x202F: " ", 0x00A0: " ", 0x2009: " ", 0x2007: " ", 0x200A: " "}
# Decimal digits of the scripts phones write dates in: Arabic-Indic, Persian (extended Arabic-Indic),
# Devanagari, Bengali, Gurmukhi, Gujarati, Tamil, Telugu, Kannada, Malayalam, Thai, Lao, Myanmar,
# Khmer, full-width.
_DIGIT_ZEROS = (0x0660, 0x06F0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50,
                0x0ED0, 0x1040, 0x17E0, 0xFF10)
_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)}
_NAME_TABLE = {**dict.fromkeys(HEADER_REMOVED), **_SPACES}
_HEADER_TABLE = {**dict.fromkeys(HEADER_REMOVED), **_SPACES, **_DIGITS, ord("،"): ","}


@lru_cache(maxsize=4096)
def clean_name(name: str) -> str:
    """A sender's name as written, without marks (iOS wraps phone numbers in them) and with plain spaces."""
    return name.translate(_NAME_TABLE).strip()


def normalise_header(line: str) -> str:
    """A header line as the header patterns read it: marks and BOM removed, special spaces made
    plain, digits made ASCII, the Arabic comma made a comma. Every kept character maps to one."""
    return line if line.isascii() else line.translate(_HEADER_TABLE)


def raw_offset(raw: str, clean: str, clean_offset: int) -> int:
    """The index in ``raw`` of the character at ``clean_offset`` in ``clean = normalise_header(raw)``."""
    if len(clean) == len(raw):  # nothing was removed
        return clean_offset
    kept = 0
    for i, ch in enumerate(raw):
        if kept == clean_offset:
            return i
        if ord(ch) not in HEADER_REMOVED:
            kept += 1
    return len(raw)


# ---------------------------------------------------------------------------------------------------
# 2. Calendars

# Japanese eras: the letter iOS writes and the kanji, and the Gregorian year of the era's year 0.
ERAS = {"R": 2018, "令和": 2018, "H": 1988, "平成": 1988}
ERA_PATTERN = "|".join(sorted(ERAS, key=len, reverse=True))
BUDDHIST_OFFSET = 543


def file_calendar(years: list[tuple[str | None, int, bool]]) -> str:
    """The calendar of a file's dates from its year fields ``(era, year, written with four digits)``:
    ``"buddhist"`` when a four-digit year is above 2400 or a two-digit one is 50 or more (Buddhist
    2552-2599 is Gregorian 2009-2056; WhatsApp's Gregorian two-digit years are 09-49),
    ``"jalali"`` when four-digit years run 1300-1424, ``"hijri"`` when they run 1425-1600,
    else ``"gregorian"`` (Japanese era years are read per date and do not count)."""
    plain = [(y, four) for era, y, four in years if era is None]
    if any(four and y > 2400 for y, four in plain) or any(not four and 50 <= y < 100 for y, four in plain):
        return "buddhist"
    four_digit = [y for y, four in plain if four]
    if four_digit and max(four_digit) < 1700:
        return "jalali" if max(four_digit) < 1425 else "hijri"
    return "gregorian"


def gregorian(calendar: str, era: str | None, y: int, m: int, d: int) -> tuple[int, int, int] | None:
    """(year, month, day) in the Gregorian calendar; None when the date cannot exist."""
    if era is not None:
        y += ERAS[era]
    elif y < 100:
        y += 2500 - BUDDHIST_OFFSET if calendar == "buddhist" else 2000
    elif calendar == "buddhist" or y > 2400:
        y -= BUDDHIST_OFFSET
    elif calendar == "jalali":
        return _jalali(y, m, d)
    elif calendar == "hijri":
        return _hijri(y, m, d)
    try:
        date(y, m, d)
    except ValueError:
        return None
    return y, m, d


def _jalali(y: int, m: int, d: int) -> tuple[int, int, int] | None:
    """Solar Hijri (Iran's calendar: 6 months of 31 days, 5 of 30, then 29 or 30) to Gregorian."""
    if not (1 <= m <= 12 and 1 <= d <= (31 if m <= 6 else 30)):
        return None
    # Days since 1 Farvardin 1 (= 22 March 622 Julian), by the 33-year arithmetic rule.
    y0 = y - 1
    days = 365 * y0 + (y0 * 8 + 29) // 33 + (31 * (m - 1) if m <= 7 else 30 * (m - 1) + 6) + d - 1
    return _from_ordinal(days + date(622, 3, 22).toordinal() - 1)


def _hijri(y: int, m: int, d: int) -> tuple[int, int, int] | None:
    """Tabular (civil) Islamic calendar to Gregorian: months of 30 and 29 days, 11 leap years in 30."""
    if not (1 <= m <= 12 and 1 <= d <= 30):
        return None
    days = (y - 1) * 354 + (3 + 11 * y) // 30 + 29 * (m - 1) + m // 2 + d - 1
    return _from_ordinal(days + date(622, 7, 19).toordinal())


def _from_ordinal(n: int) -> tuple[int, int, int]:
    g = date.fromordinal(n)
    return g.year, g.month, g.day


# ---------------------------------------------------------------------------------------------------
# 3. Notices, per language
#
# Kinds (each a tuple of regular expressions, matched case-insensitively):
#   media          Android's whole-message placeholder, with its angle brackets: <Media omitted>
#   omitted        iOS's placeholder for one media kind: "image omitted" (a file name may precede it)
#   sticker        the placeholders among those that are stickers
#   file_attached  the words in Android's "IMG-2023...jpg (file attached)"
#   deleted        "This message was deleted"          -> skipped as unsent
#   deleted_own    "You deleted this message"          -> unsent, and its sender is the owner
#   call           missed/answered call notices        -> system (the whole text)
#   e2e            encryption and security-code notices -> system (the start of the text)
#   group          group events (created, added, left, joined by link, subject/icon/description
#                  changed): system, and the chat is a group (searched in the notice)
#   notice         other notices iOS writes as a message (number changed, disappearing messages)
#   poll / option  the words of "POLL:" and its "OPTION: ..." lines
#   location       the label of "location: https://maps.google.com/?q=..."
#   live_location  "Live location shared"
#   edited         the text inside "<This message was edited>" at the end of a message
#   waiting        "Waiting for this message" (never delivered)  -> empty
#   title          the export's file name, "WhatsApp Chat with (?P<who>.+)"

LOCALES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "media": (r"<Media omitted>",),
        "omitted": (r"(?:image|photo|video|audio|sticker|GIF|document|Contact card|contact) omitted",),
        "sticker": (r"sticker omitted",),
        "file_attached": (r"file attached",),
        "deleted": (r"This message was deleted",),
        "deleted_own": (r"You deleted this message",),
        "call": (r"Missed (?:group )?(?:voice|video) call", r"(?:Group )?(?:Voice|Video) call",
                 r"Silenced (?:voice|video) call"),
        "e2e": (r"Messages and calls are end-to-end encrypted",
                r"Messages (?:you send )?to this (?:chat|group) and calls are (?:now )?secured with end-to-end",
                r"Your security code with .+ changed", r"This chat is with a business account"),
        "group": (r"created group", r"created this group", r"\badded\b", r"\bremoved\b", r"\bleft$",
                  r"joined using this group's invite link", r"changed the subject", r"changed this group's",
                  r"changed the group (?:name|description|icon|settings)", r"deleted this group's icon",
                  r"^You were added", r"^You joined", r"now an admin"),
        "notice": (r"changed their phone number", r"changed to \+", r"turned (?:on|off) disappearing",
                   r"^Disappearing messages", r"^You (?:un)?blocked this contact", r"is a contact\.?$"),
        "poll": (r"POLL",), "option": (r"OPTION",),
        "location": (r"location",), "live_location": (r"Live location shared",),
        "edited": (r"This message was edited",),
        "waiting": (r"Waiting for this message",),
        "title": (r"WhatsApp Chat (?:with|-) (?P<who>.+)",),
    },
    "es": {
        "media": (r"<Multimedia omitido>", r"<Archivo omitido>"),
        "omitted": (r"(?:imagen|foto|video|vídeo|audio|sticker|GIF|documento|tarjeta de contacto|contacto) "
                    r"omitid[oa]",),
        "sticker": (r"sticker omitido",),
        "file_attached": (r"archivo adjunto",),
        "deleted": (r"Se eliminó este mensaje", r"Este mensaje fue eliminado"),
        "deleted_own": (r"Eliminaste este mensaje",),
        "call": (r"Llamada (?:grupal )?(?:de voz|de video|de vídeo) perdida", r"Llamada (?:de voz|de video|de vídeo)"),
        "e2e": (r"Los mensajes y las llamadas están cifrados de extremo a extremo",
                r"Tu código de seguridad con .+ cambió"),
        "group": (r"creó (?:el )?grupo", r"\baña?dió\b", r"\beliminó a\b", r"\bsalió del grupo", r"\bsalió$",
                  r"se unió usando el enlace", r"cambió el (?:asunto|nombre|ícono|icono|descripción)",
                  r"cambió la (?:descripción|imagen)", r"^Te añadi"),
        "notice": (r"cambió su número", r"mensajes temporales"),
        "poll": (r"ENCUESTA",), "option": (r"OPCIÓN",),
        "location": (r"ubicación",), "live_location": (r"Ubicación en tiempo real compartida",),
        "edited": (r"Se editó este mensaje\.?",),
        "waiting": (r"Esperando (?:el|este) mensaje",),
        "title": (r"Chat de WhatsApp con (?P<who>.+)",),
    },
    "pt": {  # Brazil and Portugal
        "media": (r"<Mídia oculta>", r"<Multimédia omitido>", r"<Multimédia omitida>", r"<Mídia omitida>"),
        "omitted": (r"(?:imagem|foto|vídeo|áudio|ficheiro de áudio|figurinha|sticker|GIF|documento|"
                    r"cartão de contato|contacto|contato) (?:ocult[oa]|omitid[oa]|não revelad[oa])",),
        "sticker": (r"(?:figurinha|sticker) (?:ocult[oa]|omitid[oa]|não revelad[oa])",),
        "file_attached": (r"arquivo anexado", r"ficheiro anexado", r"anexo"),
        "deleted": (r"Mensagem apagada", r"Esta mensagem foi apagada", r"Esta mensagem foi eliminada"),
        "deleted_own": (r"Você apagou esta mensagem", r"Apagou esta mensagem", r"Eliminou esta mensagem"),
        "call": (r"Chamada (?:de voz|de vídeo) perdida", r"Chamada (?:de voz|de vídeo)"),
        "e2e": (r"As mensagens e (?:as )?(?:chamadas|ligações) são (?:protegidas com a )?(?:criptografi|encriptad)",
                r"Seu código de segurança com .+ mudou", r"O seu código de segurança com .+ mudou"),
        "group": (r"criou o grupo", r"\badicionou\b", r"\bremoveu\b", r"\bsaiu\b",
                  r"entrou usando o link", r"entrou através do link", r"mudou o (?:assunto|nome|ícone)",
                  r"alterou o (?:assunto|nome|ícone)", r"(?:mudou|alterou) a (?:descrição|imagem)",
                  r"^Você foi adicionad", r"^Você entrou", r"^Foi adicionad"),
        "notice": (r"mudou (?:seu|o) número", r"alterou o (?:seu )?número", r"mensagens temporárias"),
        "poll": (r"ENQUETE", r"SONDAGEM"), "option": (r"OPÇÃO",),
        "location": (r"localização",),
        "live_location": (r"Localização em tempo real compartilhada", r"Localização em tempo real partilhada"),
        "edited": (r"Mensagem editada", r"Esta mensagem foi editada"),
        "waiting": (r"Aguardando (?:esta )?mensagem", r"A aguardar (?:esta )?mensagem"),
        "title": (r"Conversa do WhatsApp com (?P<who>.+)", r"Conversa de WhatsApp com (?P<who>.+)"),
    },
    "hi": {
        "media": (r"<मीडिया (?:छोड़ दिया गया|हटा दिया गया|शामिल नहीं है|छोड़ा गया)>",),
        "omitted": (r"(?:इमेज|फ़ोटो|फोटो|वीडियो|ऑडियो|स्टिकर|GIF|दस्तावेज़|संपर्क कार्ड) (?:छोड़ा गया|छोड़ दिया गया|हटा दिया गया|शामिल नहीं)",),
        "sticker": (r"स्टिकर .+",),
        "file_attached": (r"फ़ाइल संलग्न", r"फ़ाइल अटैच की गई"),
        "deleted": (r"यह मैसेज (?:डिलीट कर दिया गया था|हटा दिया गया)", r"यह संदेश हटा दिया गया(?: था)?"),
        "deleted_own": (r"आपने यह मैसेज डिलीट किया", r"आपने यह संदेश हटा दिया"),
        "call": (r"मिस्ड (?:वॉइस|वीडियो) कॉल",),
        "e2e": (r"मैसेज और कॉल एंड-टू-एंड एन्क्रिप्टेड", r"संदेश और कॉल एंड-टू-एंड"),
        "group": (r"ने ग्रुप .*बनाया", r"ने .+ को जोड़ा", r"को (?:जोड़ा|हटाया)", r"ने ग्रुप छोड़ दिया", r"बाहर निकल गए",
                  r"इनवाइट लिंक", r"ने विषय बदला", r"ने (?:ग्रुप का )?(?:विवरण|आइकन) बदला"),
        "poll": (r"पोल", r"मतदान"), "option": (r"विकल्प",),
        "location": (r"लोकेशन", r"स्थान"), "live_location": (r"लाइव लोकेशन शेयर की गई",),
        "edited": (r"यह मैसेज एडिट किया गया", r"यह संदेश संपादित किया गया"),
        "title": (r"WhatsApp चैट:? (?P<who>.+)", r"(?P<who>.+) के साथ WhatsApp चैट"),
    },
    "id": {
        "media": (r"<Media tidak disertakan>", r"<Media dihilangkan>"),
        "omitted": (r"(?:gambar|foto|video|audio|stiker|GIF|dokumen|kartu kontak) (?:tidak disertakan|dihilangkan)",),
        "sticker": (r"stiker (?:tidak disertakan|dihilangkan)",),
        "file_attached": (r"file terlampir", r"berkas terlampir"),
        "deleted": (r"Pesan ini (?:telah )?dihapus",),
        "deleted_own": (r"Anda (?:telah )?menghapus pesan ini",),
        "call": (r"Panggilan (?:suara|video) (?:grup )?tak terjawab", r"Panggilan (?:suara|video)"),
        "e2e": (r"Pesan dan panggilan terenkripsi secara end-to-end", r"Kode keamanan Anda dengan .+ telah berubah"),
        "group": (r"membuat grup", r"\bmenambahkan\b", r"\bmengeluarkan\b", r"\bkeluar$", r"bergabung menggunakan tautan",
                  r"mengubah (?:subjek|nama grup|ikon|deskripsi)", r"^Anda ditambahkan"),
        "notice": (r"mengganti nomor telepon", r"pesan sementara"),
        "poll": (r"POLLING", r"JAJAK PENDAPAT"), "option": (r"OPSI", r"PILIHAN"),
        "location": (r"lokasi",), "live_location": (r"Lokasi terkini dibagikan",),
        "edited": (r"Pesan ini telah diedit", r"Pesan ini diedit"),
        "waiting": (r"Menunggu pesan ini",),
        "title": (r"Chat WhatsApp dengan (?P<who>.+)",),
    },
    "ru": {
        "media": (r"<Медиа отсутствуют>", r"<Без медиафайлов>", r"<Медиафайлы отсутствуют>", r"<Медиа пропущены>"),
        "omitted": (r"(?:изображение|фото|видео|аудио|стикер|GIF|документ|карточка контакта|контакт) "
                    r"(?:отсутству(?:ет|ют)|не добавлен[аоы]?|пропущен[аоы]?)",),
        "sticker": (r"стикер .+",),
        "file_attached": (r"файл прикреплён", r"файл прикреплен", r"файл добавлен", r"прикреплённый файл"),
        "deleted": (r"(?:Данное|Это) сообщение (?:было )?удалено",),
        "deleted_own": (r"Вы удалили (?:данное|это) сообщение",),
        "call": (r"Пропущенный (?:групповой )?(?:аудио|видео)звонок", r"Пропущенный (?:аудио|видео|голосовой) ?звонок",
                 r"(?:Аудио|Видео)звонок", r"Голосовой звонок"),
        "e2e": (r"Сообщения и звонки защищены сквозным шифрованием", r"Ваш код безопасности .+ изменился",
                r"Ваш код безопасности для .+ изменён"),
        "group": (r"создал\S* групп", r"\bдобавил", r"\bудалил\S* \S", r"\bвыш(?:ел|ла)\b", r"покинул",
                  r"присоедин\S* (?:по|через) ссылк", r"изменил\S* (?:тему|название|описание|значок|изображение|фото)",
                  r"^Вас добавил"),
        "notice": (r"сменил\S* номер", r"изменил\S* номер", r"исчезающ"),
        "poll": (r"ОПРОС",), "option": (r"ВАРИАНТ",),
        "location": (r"геопозиция", r"местоположение", r"геолокация"),
        "live_location": (r"Трансляция (?:геопозиции|геоданных|местоположения)",
                          r"Геоданные в реальном времени.*"),
        "edited": (r"Сообщение (?:было )?изменено", r"Сообщение отредактировано"),
        "waiting": (r"Ожидание (?:этого )?сообщения",),
        "title": (r"Чат WhatsApp с (?P<who>.+)", r"WhatsApp чат с (?P<who>.+)"),
    },
    "uk": {
        "media": (r"<Медіа пропущено>", r"<Медіафайли пропущено>", r"<Без медіафайлів>", r"<Медіа відсутні>"),
        "omitted": (r"(?:зображення|фото|відео|аудіо|наліпк[аи]|стікер|GIF|GIF-анімацію|документ|картка контакту) "
                    r"(?:відсутн[єія]|пропущено|не додано)", r"Наклейку не додано"),
        "sticker": (r"(?:наліпк[аи]|стікер|Наклейку) .+",),
        "file_attached": (r"файл додано", r"файл прикріплено"),
        "deleted": (r"Це повідомлення (?:було )?видалено",),
        "deleted_own": (r"Ви видалили це повідомлення",),
        "call": (r"Пропущений (?:груповий )?(?:аудіо|відео)дзвінок", r"(?:Аудіо|Відео)дзвінок"),
        "e2e": (r"Повідомлення (?:й|та|і) дзвінки захищено наскрізним шифруванням", r"Ваш код безпеки .+ змінився"),
        "group": (r"створи\S* групу", r"\bдода\S*\b", r"\bвидали\S* \S", r"\bвийш(?:ов|ла)\b",
                  r"приєдна\S* за посиланням", r"змін\S* (?:тему|назву|опис|значок|зображення)"),
        "notice": (r"змін\S* номер", r"зникаюч"),
        "poll": (r"ОПИТУВАННЯ",), "option": (r"ВАРІАНТ",),
        "location": (r"геопозиція", r"місцезнаходження", r"локація"),
        "live_location": (r"Трансляція геопозиції",),
        "edited": (r"Повідомлення (?:було )?змінено", r"Повідомлення відредаговано"),
        "title": (r"Чат WhatsApp з (?P<who>.+)",),
    },
    "de": {
        "media": (r"<Medien ausgeschlossen>", r"<Medien weggelassen>", r"<Medien ausgelassen>"),
        "omitted": (r"(?:Bild|Foto|Video|Audio|Sticker|GIF|Dokument|Kontaktkarte|Kontakt) (?:weggelassen|ausgelassen)",),
        "sticker": (r"Sticker (?:weggelassen|ausgelassen)",),
        "file_attached": (r"Datei angehängt",),
        "deleted": (r"Diese Nachricht wurde gelöscht",),
        "deleted_own": (r"Du hast diese Nachricht gelöscht",),
        "call": (r"Verpasster (?:Gruppen-?)?(?:Sprach|Video)anruf", r"(?:Sprach|Video)anruf"),
        "e2e": (r"Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt",
                r"Deine Sicherheitsnummer für .+ hat sich geändert", r"Dein Sicherheitscode für .+ hat sich geändert"),
        "group": (r"hat (?:die )?Gruppe .*erstellt", r"hat .+ hinzugefügt", r"hat .+ entfernt", r"hat die Gruppe verlassen",
                  r"\bist ausgetreten", r"über den Einladungslink", r"hat den Betreff", r"hat das Gruppenbild",
                  r"hat die Gruppenbeschreibung", r"^Du wurdest hinzugefügt", r"^Du bist .*beigetreten"),
        "notice": (r"Telefonnummer .*geändert", r"hat zu .+ gewechselt", r"selbstlöschende Nachrichten"),
        "poll": (r"UMFRAGE",), "option": (r"OPTION",),
        "location": (r"Standort",), "live_location": (r"Live-Standort geteilt",),
        "edited": (r"Diese Nachricht wurde bearbeitet",),
        "waiting": (r"Warten auf diese Nachricht",),
        "title": (r"WhatsApp[- ]Chat mit (?P<who>.+)",),
    },
    "fr": {
        "media": (r"<Médias omis>", r"<Fichier omis>"),
        "omitted": (r"(?:image|photo|vidéo|audio|sticker|autocollant|GIF|document|fiche contact|carte de contact) "
                    r"(?:absente?|omise?|manquante?|retirée?)", r"Fiche contact manquante"),
        "sticker": (r"(?:sticker|autocollant) .+",),
        "file_attached": (r"fichier joint", r"fichier attaché"),
        "deleted": (r"Ce message a été supprimé",),
        "deleted_own": (r"Vous avez supprimé ce message",),
        "call": (r"Appel (?:vocal|vidéo) (?:de groupe )?manqué", r"Appel (?:vocal|vidéo)"),
        "e2e": (r"Les messages et (?:les )?appels sont chiffrés de bout en bout",
                r"Votre code de sécurité avec .+ a changé"),
        "group": (r"a créé (?:le )?groupe", r"\ba ajouté\b", r"\ba retiré\b", r"\best parti", r"\ba quitté",
                  r"a rejoint (?:ce groupe )?(?:via|avec) le lien", r"a (?:modifié|changé) le sujet",
                  r"a (?:modifié|changé) (?:l'icône|la description|le nom)", r"^Vous avez été ajouté"),
        "notice": (r"a changé de numéro", r"messages éphémères"),
        "poll": (r"SONDAGE",), "option": (r"OPTION",),
        "location": (r"position", r"localisation"), "live_location": (r"Position en direct partagée",),
        "edited": (r"Ce message a été modifié",),
        "waiting": (r"En attente de ce message",),
        "title": (r"Discussion WhatsApp avec (?P<who>.+)",),
    },
    "it": {
        "media": (r"<Media omessi>", r"<Media omesso>"),
        "omitted": (r"(?:immagine|foto|video|audio|sticker|GIF|documento|scheda contatto) "
                    r"(?:omess[oai]|esclus[oai]|non inclus[oai])",),
        "sticker": (r"sticker .+",),
        "file_attached": (r"file allegato",),
        "deleted": (r"Questo messaggio è stato eliminato",),
        "deleted_own": (r"Hai eliminato questo messaggio",),
        "call": (r"Chiamata (?:vocale|video) (?:di gruppo )?persa", r"Chiamata (?:vocale|video)"),
        "e2e": (r"I messaggi e le chiamate sono crittografati end-to-end",
                r"Il tuo codice di sicurezza con .+ è cambiato"),
        "group": (r"ha creato il gruppo", r"\bha aggiunto\b", r"\bha rimosso\b", r"\bè uscit[oa]",
                  r"si è unit[oa] (?:tramite|usando) il link", r"ha cambiato (?:l'oggetto|il nome|l'immagine|la descrizione)",
                  r"ha modificato (?:l'oggetto|il nome|l'immagine|la descrizione)", r"^Sei stato aggiunto"),
        "notice": (r"ha cambiato (?:il suo )?numero", r"messaggi effimeri"),
        "poll": (r"SONDAGGIO",), "option": (r"OPZIONE",),
        "location": (r"posizione",), "live_location": (r"Posizione in tempo reale condivisa",),
        "edited": (r"Questo messaggio è stato modificato",),
        "waiting": (r"In attesa di questo messaggio",),
        "title": (r"Chat WhatsApp con (?P<who>.+)",),
    },
    "tr": {
        "media": (r"<Medya dahil edilmedi>", r"<Medya atlandı>", r"<Medya atlanmış>"),
        "omitted": (r"(?:görüntü|resim|fotoğraf|video|ses|çıkartma|GIF|belge|kişi kartı) (?:dahil edilmedi|atlandı)",),
        "sticker": (r"çıkartma .+",),
        "file_attached": (r"dosya ekli", r"dosya eklendi"),
        "deleted": (r"Bu mesaj silindi",),
        "deleted_own": (r"Bu mesajı sildiniz", r"Bu mesajı sildin"),
        "call": (r"Cevapsız (?:grup )?(?:sesli|görüntülü) arama", r"(?:Sesli|Görüntülü) arama"),
        "e2e": (r"Mesajlar ve aramalar uçtan uca şifrelidir", r"ile olan güvenlik kodunuz değişti"),
        "group": (r"grubunu oluşturdu", r"grubu oluşturdu", r"\bekledi\b", r"\bçıkardı\b", r"\bayrıldı\b",
                  r"davet bağlantısını kullanarak katıldı", r"konuyu değiştirdi", r"grup simgesini değiştirdi",
                  r"grup açıklamasını değiştirdi"),
        "notice": (r"telefon numarasını değiştirdi", r"süreli mesajlar"),
        "poll": (r"ANKET",), "option": (r"SEÇENEK",),
        "location": (r"konum",), "live_location": (r"Canlı konum paylaşıldı",),
        "edited": (r"Bu mesaj düzenlendi",),
        "title": (r"(?P<who>.+) ile WhatsApp Sohbeti", r"WhatsApp Sohbeti: (?P<who>.+)"),
    },
    "ar": {
        "media": (r"<تم استبعاد الوسائط>", r"<الوسائط محذوفة>", r"<تم حذف الوسائط>", r"<لم يتم تضمين الوسائط>"),
        "omitted": (r"لم يتم إدراج (?:الصورة|صورة GIF|المقاطع الصوتية|المقطع الصوتي|الفيديوهات|الفيديو|المستند|"
                    r"بطاقة جهة اتصال|الملصق)", r"تم حذف الملصقات", r"(?:الصورة|الفيديو|الصوت|الملصق|المستند) محذوف(?:ة)?"),
        "sticker": (r"تم حذف الملصقات", r"لم يتم إدراج الملصق", r"الملصق محذوف"),
        "file_attached": (r"ملف مرفق", r"الملف مرفق"),
        "deleted": (r"تم حذف هذه الرسالة",),
        "deleted_own": (r"لقد حذفت هذه الرسالة", r"حذفتَ هذه الرسالة", r"حذفت هذه الرسالة"),
        "call": (r"مكالمة (?:صوتية|فيديو) (?:جماعية )?فائتة", r"مكالمة (?:صوتية|فيديو)"),
        "e2e": (r"الرسائل والمكالمات مشفرة تمامًا بين الطرفين", r"الرسائل والمكالمات مشفرة", r"تغيّر رمز الأمان",
                r"تغير رمز الأمان"),
        "group": (r"أنشأ (?:ال)?مجموعة", r"\bأضاف\b", r"\bأزال\b", r"\bغادر\b", r"انضم باستخدام رابط",
                  r"غيّر (?:الموضوع|اسم المجموعة|صورة المجموعة|وصف المجموعة)", r"غير (?:الموضوع|وصف المجموعة)",
                  r"^تمت إضافتك"),
        "notice": (r"غيّر رقم هاتفه", r"الرسائل المؤقتة"),
        "poll": (r"استطلاع(?: رأي)?",), "option": (r"خيار", r"الخيار"),
        "location": (r"الموقع",), "live_location": (r"تمت مشاركة الموقع المباشر",),
        "edited": (r"تم تعديل هذه الرسالة",),
        "title": (r"دردشة واتساب مع (?P<who>.+)", r"محادثة واتساب مع (?P<who>.+)"),
    },
    "fa": {
        "media": (r"<رسانه حذف شد>", r"<رسانه حذف شده>", r"<بدون رسانه>", r"<رسانه‌ها حذف شدند>"),
        "omitted": (r"(?:تصویر|عکس|ویدیو|ویدئو|صوت|استیکر|برچسب|GIF|سند|کارت مخاطب) (?:حذف شد|حذف شده|درج نشد)",),
        "sticker": (r"(?:استیکر|برچسب) .+",),
        "file_attached": (r"فایل پیوست شد", r"فایل پیوست"),
        "deleted": (r"این پیام حذف شد",),
        "deleted_own": (r"(?:شما )?این پیام را حذف کردید",),
        "call": (r"تماس (?:صوتی|تصویری) (?:گروهی )?(?:از دست رفته|بی‌پاسخ|بی پاسخ)",),
        "e2e": (r"پیام‌ها و تماس‌ها رمزگذاری سرتاسری", r"پیام ها و تماس ها رمزگذاری سرتاسری", r"کد امنیتی شما با .+ تغییر"),
        "group": (r"گروه .*را ایجاد کرد", r"را اضافه کرد", r"را حذف کرد", r"خارج شد", r"با استفاده از پیوند دعوت",
                  r"موضوع را .*تغییر داد", r"(?:تصویر|توضیحات) گروه را تغییر داد"),
        "notice": (r"شماره تلفن .*تغییر", r"پیام‌های ناپدیدشونده"),
        "poll": (r"نظرسنجی",), "option": (r"گزینه",),
        "location": (r"موقعیت مکانی", r"مکان"), "live_location": (r"موقعیت مکانی زنده هم‌رسانی شد",),
        "edited": (r"این پیام ویرایش شد",),
        "title": (r"گفتگوی واتساپ با (?P<who>.+)", r"گفت‌وگوی واتساپ با (?P<who>.+)"),
    },
    "nl": {
        "media": (r"<Media weggelaten>",),
        "omitted": (r"(?:afbeelding|foto|video|audio|sticker|GIF|document|contactkaart) weggelaten",),
        "sticker": (r"sticker weggelaten",),
        "file_attached": (r"bestand bijgevoegd",),
        "deleted": (r"Dit bericht is verwijderd",),
        "deleted_own": (r"(?:Je|U) hebt dit bericht verwijderd", r"Je hebt dit bericht verwijderd"),
        "call": (r"Gemiste (?:groeps)?(?:spraak|video)-?oproep", r"(?:Spraak|Video)-?oproep"),
        "e2e": (r"Berichten en (?:oproepen|gesprekken) zijn end-to-end versleuteld",
                r"Je beveiligingscode met .+ is gewijzigd"),
        "group": (r"heeft (?:de )?groep .*aangemaakt", r"heeft .+ toegevoegd", r"heeft .+ verwijderd",
                  r"heeft de groep verlaten", r"\bis vertrokken", r"via de uitnodigingslink",
                  r"heeft het onderwerp", r"heeft de (?:groepsafbeelding|groepsomschrijving|groepsbeschrijving)",
                  r"^(?:Je|U) bent toegevoegd"),
        "notice": (r"telefoonnummer .*gewijzigd", r"is overgestapt naar", r"verdwijnende berichten"),
        "poll": (r"PEILING",), "option": (r"OPTIE",),
        "location": (r"locatie",), "live_location": (r"Live locatie gedeeld", r"Live-locatie gedeeld"),
        "edited": (r"Dit bericht is bewerkt",),
        "waiting": (r"Wachten op dit bericht",),
        "title": (r"WhatsApp[- ]chat met (?P<who>.+)",),
    },
    "pl": {
        "media": (r"<Pominięto multimedia>", r"<Multimedia pominięte>"),
        "omitted": (r"(?:obraz|zdjęcie|wideo|film|audio|naklejk[ai]|GIF|dokument|wizytówka) "
                    r"(?:pominięt[oya]|został[oa]? pominięt[oya])", r"Pominięto (?:obraz|zdjęcie|wideo|audio|naklejkę|GIF|dokument)"),
        "sticker": (r".*naklejk.*",),
        "file_attached": (r"załączono plik", r"plik załączony", r"załączony plik"),
        "deleted": (r"Ta wiadomość została usunięta", r"Wiadomość została usunięta"),
        "deleted_own": (r"Usunięto tę wiadomość", r"Usunął\S* tę wiadomość", r"Ta wiadomość została usunięta przez ciebie"),
        "call": (r"Nieodebrane połączenie (?:grupowe )?(?:głosowe|wideo)", r"Połączenie (?:głosowe|wideo)"),
        "e2e": (r"Wiadomości i połączenia są szyfrowane end-to-end", r"Twój kod zabezpieczenia z .+ zmienił się"),
        "group": (r"utworzył\S* grupę", r"\bdodał\S*\b", r"\busunął\S* \S", r"\bopuścił\S*\b", r"\bwyszedł\b",
                  r"dołączył\S* (?:przy użyciu|za pomocą) linku", r"zmienił\S* (?:temat|nazwę|ikonę|opis)"),
        "notice": (r"zmienił\S* numer", r"znikające wiadomości"),
        "poll": (r"ANKIETA",), "option": (r"OPCJA",),
        "location": (r"lokalizacja",), "live_location": (r"Udostępniono lokalizację na żywo",),
        "edited": (r"Ta wiadomość została edytowana", r"Wiadomość edytowana"),
        "title": (r"Czat WhatsApp z (?P<who>.+)",),
    },
    "th": {
        "media": (r"<ไม่รวมสื่อ>", r"<ละเว้นสื่อ>", r"<สื่อถูกละไว้>", r"<ไม่มีสื่อ>"),
        "omitted": (r"(?:รูปภาพ|ภาพ|วิดีโอ|เสียง|สติกเกอร์|GIF|เอกสาร|บัตรรายชื่อ)(?: ?ถูก)? ?(?:ละไว้|ละเว้น|ไม่ได้แนบ)",
                    r"ไม่รวม(?:รูปภาพ|ภาพ|วิดีโอ|เสียง|สติกเกอร์|GIF|เอกสาร)"),
        "sticker": (r".*สติกเกอร์.*",),
        "file_attached": (r"แนบไฟล์", r"ไฟล์แนบ"),
        "deleted": (r"ข้อความนี้ถูกลบ(?:แล้ว)?",),
        "deleted_own": (r"คุณลบข้อความนี้(?:แล้ว)?",),
        "call": (r"สายที่ไม่ได้รับ.*", r"(?:การโทรด้วยเสียง|วิดีโอคอล)(?:ที่ไม่ได้รับ)?"),
        "e2e": (r"ข้อความและการโทรได้รับการเข้ารหัสตั้งแต่ต้นทางถึงปลายทาง", r"รหัสความปลอดภัยของคุณกับ .+ เปลี่ยน"),
        "group": (r"สร้างกลุ่ม", r"\S ได้เพิ่ม", r"\Sเพิ่ม\S", r"ได้ลบ", r"ออกจากกลุ่ม", r"ได้ออก", r"ลิงก์เชิญ",
                  r"เปลี่ยน(?:ชื่อ|หัวข้อ|ไอคอน|คำอธิบาย)กลุ่ม", r"เปลี่ยนหัวข้อ"),
        "notice": (r"เปลี่ยนหมายเลขโทรศัพท์", r"ข้อความที่หายไป"),
        "poll": (r"โพล", r"แบบสำรวจ"), "option": (r"ตัวเลือก",),
        "location": (r"ตำแหน่งที่ตั้ง", r"ตำแหน่ง"), "live_location": (r"แชร์ตำแหน่งแบบสด(?:แล้ว)?",),
        "edited": (r"ข้อความนี้ถูกแก้ไข(?:แล้ว)?",),
        "title": (r"แชท WhatsApp กับ ?(?P<who>.+)",),
    },
    "ja": {
        "media": (r"<メディアなし>", r"<メディアは含まれていません>", r"<メディアを省略しました>", r"<メディアは省略されました>"),
        "omitted": (r"(?:画像|写真|動画|ビデオ|音声|オーディオ|スタンプ|ステッカー|GIF|書類|ドキュメント|連絡先カード)"
                    r"(?:を|は)?(?:省略しました|省略されました|省略|含まれていません|なし)",),
        "sticker": (r"(?:スタンプ|ステッカー).*",),
        "file_attached": (r"ファイル添付", r"添付ファイル"),
        "deleted": (r"このメッセージは削除されました",),
        "deleted_own": (r"(?:この)?メッセージを削除しました",),
        "call": (r"不在着信.*", r"(?:音声|ビデオ)通話(?:の不在着信)?"),
        "e2e": (r"メッセージと通話はエンドツーエンドで暗号化されています", r"セキュリティコードが変更されました",
                r".+とのセキュリティコードが変更"),
        "group": (r"グループ.*を作成しました", r"を追加しました", r"を削除しました", r"退出しました",
                  r"招待リンク.*参加しました", r"(?:グループ名|件名|アイコン|説明)を変更しました"),
        "notice": (r"電話番号を変更しました", r"消えるメッセージ"),
        "poll": (r"アンケート", r"投票"), "option": (r"選択肢", r"オプション"),
        "location": (r"位置情報", r"場所"), "live_location": (r"ライブ位置情報(?:を)?共有(?:しました|中)?",),
        "edited": (r"このメッセージは編集されました",),
        "title": (r"(?P<who>.+)とのWhatsAppチャット", r"WhatsApp ?チャット[:：-]? ?(?P<who>.+)"),
    },
    "ko": {
        "media": (r"<미디어 파일 제외됨>", r"<미디어 없음>", r"<미디어 생략>", r"<미디어 파일 생략>"),
        "omitted": (r"(?:이미지|사진|동영상|비디오|오디오|음성|스티커|GIF|문서|연락처 카드) ?(?:생략됨|제외됨|생략|없음)",),
        "sticker": (r"스티커.*",),
        "file_attached": (r"파일 첨부됨", r"첨부 파일"),
        "deleted": (r"삭제된 메시지입니다", r"이 메시지는 삭제되었습니다"),
        "deleted_own": (r"메시지를 삭제했습니다", r"이 메시지를 삭제했습니다"),
        "call": (r"부재중 (?:그룹 )?(?:음성|영상) ?통화", r"(?:음성|영상) ?통화"),
        "e2e": (r"메시지와 통화는 종단간 암호화", r"메시지 및 통화는 종단간 암호화", r"님과의 보안 코드가 변경"),
        "group": (r"그룹.*만들었습니다", r"님을 추가했습니다", r"님을 내보냈습니다", r"님이 나갔습니다",
                  r"초대 링크", r"(?:그룹 이름|제목|아이콘|그룹 설명)을 변경했습니다"),
        "notice": (r"전화번호를 변경했습니다", r"사라지는 메시지"),
        "poll": (r"투표", r"설문"), "option": (r"옵션", r"선택지"),
        "location": (r"위치",), "live_location": (r"실시간 위치 공유(?:됨)?",),
        "edited": (r"이 메시지는 수정되었습니다", r"수정된 메시지입니다"),
        "title": (r"(?P<who>.+)(?:님)?과의 WhatsApp 대화", r"(?P<who>.+)와의 WhatsApp 대화"),
    },
    "zh-Hans": {
        "media": (r"<省略影音内容>", r"<媒体已省略>", r"<已忽略媒体>", r"<省略媒体>", r"<媒体文件已忽略>"),
        "omitted": (r"(?:图片|照片|视频|音频|贴图|GIF|文档|联系人名片)(?:已)?(?:省略|忽略|删除)",),
        "sticker": (r"贴图.*",),
        "file_attached": (r"附件", r"已附加文件", r"文件已附加"),
        "deleted": (r"此消息已删除", r"此消息已被删除", r"该消息已被删除"),
        "deleted_own": (r"你删除了此消息", r"您删除了此消息"),
        "call": (r"未接(?:群组)?(?:语音|视频)通话", r"(?:语音|视频)通话"),
        "e2e": (r"消息和通话都进行端到端加密", r"消息和通话已进行端到端加密", r"你与.+的安全码已更改"),
        "group": (r"创建了群组", r"创建了群", r"添加了", r"移除了", r"已退出", r"退出了群组", r"通过群组邀请链接加入",
                  r"更改了(?:群组)?(?:主题|名称|图标|描述|简介)"),
        "notice": (r"更换了电话号码", r"限时消息"),
        "poll": (r"投票",), "option": (r"选项",),
        "location": (r"位置",), "live_location": (r"已共享实时位置", r"实时位置已共享"),
        "edited": (r"此消息已编辑", r"该消息已编辑"),
        "title": (r"与(?P<who>.+)的 ?WhatsApp ?聊天", r"WhatsApp ?聊天 ?[-–] ?(?P<who>.+)"),
    },
    "zh-Hant": {
        "media": (r"<已略過媒體>", r"<省略媒體>", r"<媒體已省略>", r"<已忽略媒體>"),
        "omitted": (r"(?:圖片|相片|影片|音訊|貼圖|GIF|文件|聯絡人卡片)(?:已)?(?:略過|省略|忽略)",),
        "sticker": (r"貼圖.*",),
        "file_attached": (r"附件", r"已附加檔案", r"檔案已附加"),
        "deleted": (r"此訊息已(?:被)?刪除", r"這則訊息已(?:被)?刪除"),
        "deleted_own": (r"你已?刪除了?此訊息", r"你已刪除這則訊息", r"您已刪除此訊息"),
        "call": (r"未接(?:群組)?(?:語音|視訊)通話", r"(?:語音|視訊)通話"),
        "e2e": (r"訊息和通話均(?:採用|已進行)端對端加密", r"訊息和通話已進行端對端加密", r"你與.+的安全碼已變更"),
        "group": (r"建立了群組", r"新增了", r"移除了", r"已離開", r"離開了群組", r"透過群組邀請連結加入",
                  r"變更了(?:群組)?(?:主題|名稱|圖示|說明)"),
        "notice": (r"變更了電話號碼", r"自動消失訊息"),
        "poll": (r"投票",), "option": (r"選項",),
        "location": (r"位置",), "live_location": (r"已分享即時位置", r"即時位置已分享"),
        "edited": (r"此訊息已編輯", r"這則訊息已編輯"),
        "title": (r"與(?P<who>.+)的 ?WhatsApp ?對話", r"與(?P<who>.+)的 ?WhatsApp ?聊天"),
    },
    "vi": {
        "media": (r"<Media bị bỏ qua>", r"<Đã bỏ qua tệp phương tiện>", r"<Tệp phương tiện bị bỏ qua>",
                  r"<Không bao gồm tệp phương tiện>"),
        "omitted": (r"(?:hình ảnh|ảnh|video|âm thanh|nhãn dán|sticker|GIF|tài liệu|thẻ liên hệ) (?:bị bỏ qua|đã bị bỏ qua|bị lược bỏ)",
                    r"Đã bỏ qua (?:hình ảnh|ảnh|video|âm thanh|nhãn dán|GIF|tài liệu)"),
        "sticker": (r".*nhãn dán.*",),
        "file_attached": (r"tệp đính kèm", r"đã đính kèm tệp"),
        "deleted": (r"Tin nhắn này đã bị xóa", r"Tin nhắn này đã bị xoá"),
        "deleted_own": (r"Bạn đã xóa tin nhắn này", r"Bạn đã xoá tin nhắn này"),
        "call": (r"Cuộc gọi (?:thoại|video) (?:nhóm )?nhỡ", r"Cuộc gọi (?:thoại|video)"),
        "e2e": (r"Tin nhắn và cuộc gọi được mã hóa đầu cuối", r"Tin nhắn và cuộc gọi được mã hoá đầu cuối",
                r"Mã bảo mật của bạn với .+ đã thay đổi"),
        "group": (r"đã tạo nhóm", r"đã thêm", r"đã xóa .+ khỏi", r"đã rời", r"tham gia bằng liên kết mời",
                  r"đã (?:thay đổi|đổi) (?:chủ đề|tên nhóm|biểu tượng|mô tả)"),
        "notice": (r"đã đổi số điện thoại", r"tin nhắn tự hủy"),
        "poll": (r"CUỘC THĂM DÒ Ý KIẾN", r"THĂM DÒ Ý KIẾN", r"BÌNH CHỌN"), "option": (r"LỰA CHỌN", r"TÙY CHỌN"),
        "location": (r"vị trí",), "live_location": (r"Đã chia sẻ vị trí trực tiếp",),
        "edited": (r"Tin nhắn này đã được chỉnh sửa", r"Đã chỉnh sửa tin nhắn này"),
        "title": (r"Đoạn chat WhatsApp với (?P<who>.+)", r"Cuộc trò chuyện WhatsApp với (?P<who>.+)"),
    },
}

# Key words behind the fallbacks, for wordings the table does not hold exactly.
_MEDIA_WORDS = (r"media|medien|médias?|multim[eé]dia|mídia|медиа|медіа|medya|メディア|미디어|媒体|媒體|影音|สื่อ|"
                r"मीडिया|الوسائط|رسانه|phương tiện|multimedia")
_OMIT_WORDS = (r"omitted|omitid[oa]|omise?s?|omess[oai]|absente?|manquante?|weggelassen|ausgelassen|ausgeschlossen|"
               r"weggelaten|ocult[oa]|não revelad[oa]|отсутству\S*|пропущен\S*|відсутн\S*|не добавлен\S*|"
               r"dahil edilmedi|atland\S*|tidak disertakan|dihilangkan|pominięt\S*|bỏ qua|省略\S*|略過|忽略|"
               r"제외됨|생략됨|ละไว้|ละเว้น|छोड़ा गया|हटा दिया गया|حذف شد|درج نشد|لم يتم إدراج|استبعاد|esclus[oai]")
_STICKER_WORDS = (r"sticker|stiker|стикер|наліпк|наклейк|naklejk|çıkartma|figurinha|autocollant|ملصق|استیکر|"
                  r"สติกเกอร์|スタンプ|ステッカー|스티커|贴图|貼圖|nhãn dán|स्टिकर")
_EDITED_WORDS = (r"edit|bearbeit|modific|modifié|bewerkt|изменен|изменён|отредакт|змінено|відредаг|düzenlen|diedit|"
                 r"edytowan|editad|編集|编辑|編輯|수정|แก้ไข|संपादित|एडिट|تعديل|ویرایش|chỉnh sửa")
_MAPS_URL = (r"https?://(?:maps\.google\.[a-z.]+/|www\.google\.[a-z.]+/maps|maps\.apple\.com/|goo\.gl/maps/|"
             r"maps\.app\.goo\.gl/)\S*")


def _phrases(kind: str) -> list[str]:
    return [p for table in LOCALES.values() for p in table.get(kind, ())]


def _whole(kind: str, extra: tuple[str, ...] = ()) -> re.Pattern:
    """The kind's phrases as one pattern for a whole text, a final full stop allowed."""
    return re.compile(rf"^(?:{'|'.join([*_phrases(kind), *extra])})\.?$", re.IGNORECASE)


MEDIA = _whole("media", (rf"<[^<>\n]{{0,40}}(?:{_MEDIA_WORDS}|{_OMIT_WORDS})[^<>\n]{{0,40}}>",))
# iOS: "image omitted"; after a mark also behind a document's name ("Report.pdf • ‎3 pages ‎document
# omitted"), and any short line ending in a word for "omitted" (a wording the table lacks).
OMITTED = _whole("omitted")
OMITTED_AFTER_NAME = re.compile(rf"^(?:.*\s)?(?:{'|'.join(_phrases('omitted'))})\.?$", re.IGNORECASE)
OMITTED_LOOSE = re.compile(rf"^(?:\S+ ){{0,3}}(?:{_OMIT_WORDS})\.?$", re.IGNORECASE)
STICKER = re.compile(rf"(?:{'|'.join(_phrases('sticker'))}|{_STICKER_WORDS})", re.IGNORECASE)
ATTACHED = re.compile(r"^<[^<>:\n]{1,40}: ?(?P<file>[^<>\n]+\.\w{2,5})>$")
FILE_ATTACHED = re.compile(
    rf"^(?P<file>\S.*\.\w{{2,5}}) \((?:{'|'.join(_phrases('file_attached'))})\)$"
    r"|^(?P<wafile>(?:IMG|VID|AUD|PTT|STK|DOC|GIF)-\d{8}-WA\d+\.\w{2,5}) \([^()\n]{2,40}\)$", re.IGNORECASE)
DELETED = _whole("deleted")
DELETED_OWN = _whole("deleted_own")
CALL = re.compile(rf"^(?:{'|'.join(_phrases('call'))})(?:[,.،、].*)?$", re.IGNORECASE)
E2E = re.compile(rf"^(?:{'|'.join(_phrases('e2e'))})", re.IGNORECASE)
GROUP = re.compile("|".join(_phrases("group")), re.IGNORECASE)
NOTICE = re.compile("|".join(_phrases("notice")), re.IGNORECASE)
POLL = re.compile(rf"^(?:{'|'.join(_phrases('poll'))}) ?[:：]$", re.IGNORECASE)
OPTION = re.compile(rf"^(?:{'|'.join(_phrases('option'))}) ?[:：] .*$", re.IGNORECASE)
_OPTION_LOOSE = re.compile(r"^[^\s:]{1,30} ?: .*\(\d+[^()\n]{0,20}\)$")
# The kinds recognised from the first line alone, tried in this order by one match: the common case
# (a plain message) costs one call.
FIRST_LINE = re.compile("^(?:" + "|".join([
    rf"(?P<deleted_own>(?:{'|'.join(_phrases('deleted_own'))})\.?$)",
    rf"(?P<deleted>(?:{'|'.join(_phrases('deleted'))})\.?$)",
    rf"(?P<waiting>{'|'.join(_phrases('waiting'))})",
    rf"(?P<live_location>(?:{'|'.join(_phrases('live_location'))})\.?$)",
    rf"(?P<call>(?:{'|'.join(_phrases('call'))})(?:[,.،、].*)?$)",
    rf"(?P<e2e>{'|'.join(_phrases('e2e'))})",
    rf"(?P<omitted>(?:{'|'.join(_phrases('omitted'))})\.?$)",
]) + ")", re.IGNORECASE)
FIRST_LINE_KINDS = ("deleted_own", "deleted", "waiting", "live_location", "call", "e2e", "omitted")
LOCATION = re.compile(
    rf"^(?:(?:{'|'.join(_phrases('location'))}) ?[:：] ?{_MAPS_URL}"
    r"|(?:[^\n:]{1,60} ?: ?)?https?://maps\.google\.[a-z.]+/\?q=-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?\S*)$", re.IGNORECASE)
LIVE_LOCATION = _whole("live_location")
EDITED = re.compile(rf"\s*<(?:{'|'.join(_phrases('edited'))}|[^<>\n]{{0,40}}(?:{_EDITED_WORDS})[^<>\n]{{0,40}})\.?>$",
                    re.IGNORECASE)
# Encryption notices in any wording: iOS writes them as a message that starts with a mark.
E2E_WORDS = re.compile(
    r"end-to-end|Ende-zu-Ende|extremo a extremo|ponta a ponta|ponto a ponto|de bout en bout|сквозн|наскрізн|"
    r"uçtan uca|端到端|端對端|エンドツーエンド|종단간|ตั้งแต่ต้นทางถึงปลายทาง|سرتاسری|بين الطرفين|đầu cuối|"
    r"एंड-टू-एंड|security code|Sicherheitsnummer|código de seguridad|código de segurança|code de sécurité|"
    r"codice di sicurezza|beveiligingscode|код безопасности|код безпеки|güvenlik kodu|kode keamanan|"
    r"kod zabezpieczenia|رمز الأمان|کد امنیتی|รหัสความปลอดภัย|セキュリティコード|보안 코드|安全码|安全碼|mã bảo mật|"
    r"सुरक्षा कोड", re.IGNORECASE)
WAITING = re.compile(rf"^(?:{'|'.join(_phrases('waiting'))})", re.IGNORECASE)
TITLES = [re.compile(rf"^{p}$", re.IGNORECASE) for p in _phrases("title")]
# A quotation mark opened and not closed: the ": " that follows is inside a quoted group title.
_OPEN_QUOTE = re.compile(r"^[^\"“”«»„‟「」『』]*[\"“«„「『][^\"“”«»„‟「」『』]*$")


def is_poll(lines: list[str]) -> bool:
    """A poll: a first line that is the word "POLL:" (or its translation, or any one word and a colon
    when two or more lines below read ``WORD: choice (N votes)``)."""
    first = lines[0].strip()
    if POLL.match(first):
        return True
    if not re.fullmatch(r"[^\s:]{2,30} ?[:：]", first):
        return False
    options = [ln.strip() for ln in lines[1:] if OPTION.match(ln.strip()) or _OPTION_LOOSE.match(ln.strip())]
    return len(options) >= 2


def is_location(first: str) -> bool:
    """A shared location (``location: https://maps.google.com/?q=lat,lon``) or live location."""
    return bool(LOCATION.match(first) or LIVE_LOCATION.match(first))


@lru_cache(maxsize=4096)
def quoted_title_notice(before_colon: str) -> bool:
    """Whether an Android notice line's first ``": "`` sits in a group title it quotes (``X created
    group "Trip: 2018"``) rather than after a sender's name."""
    return bool(_OPEN_QUOTE.match(before_colon) or GROUP.search(before_colon))


def title(name: str) -> str | None:
    """The contact or group a file name says the export is with (``WhatsApp Chat with X``)."""
    for rx in TITLES:
        m = rx.match(name)
        if m:
            return m.group("who")
    return None
