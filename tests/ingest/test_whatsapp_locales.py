"""WhatsApp in the languages and calendars it ships in: the rules the golden fixtures
(``tests/fixtures/whatsapp/locale_*``, ``thai_buddhist_ios``, ``japanese_era_ios``,
``arabic_digits_android``, ``same_minute_repeats``, ``tz_lisbon``, ``polls_locations``,
``empty_chat``) do not pin down on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import schema, times
from ingest.adapters import _transcript as tr
from ingest.adapters import whatsapp
from ingest.source import open_source

LRM = "\u200e"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "whatsapp"


def _read(tmp_path: Path, text: str, name: str = "WhatsApp Chat with Ana.txt", tz=None):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with open_source(path, tz=tz) as source:
        return whatsapp.read(source)


def _times(frame) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M:%S}" for t in frame["timestamp"]]


# --- identical messages in the same minute ------------------------------------------------------------

def test_repeats_in_one_minute_are_distinct_messages_with_stable_ids(tmp_path):
    text = ("05/03/2023, 10:00 - Ana: <Media omitted>\n05/03/2023, 10:00 - Ana: <Media omitted>\n"
            "05/03/2023, 10:00 - Ana: ok\n05/03/2023, 10:00 - Ana: ok\n05/03/2023, 10:00 - Ana: ok\n")
    first = _read(tmp_path, text)
    again = _read(tmp_path, text)
    assert len(first) == 5 and first["message_id"].is_unique
    assert first["message_id"].tolist() == again["message_id"].tolist()  # a re-ingest de-duplicates
    wall = 1678010400000  # 2023-03-05 10:00 as written
    thread = "whatsapp:WhatsApp Chat with Ana"
    assert first["message_id"].tolist() == [
        schema.message_id("whatsapp", thread, "Ana", wall, ""),
        schema.message_id("whatsapp", thread, "Ana", wall, "#2"),
        schema.message_id("whatsapp", thread, "Ana", wall, "ok"),  # the first keeps the id it always had
        schema.message_id("whatsapp", thread, "Ana", wall, "ok#2"),
        schema.message_id("whatsapp", thread, "Ana", wall, "ok#3"),
    ]


# --- wall-clock times in the export's zone ------------------------------------------------------------

def test_times_are_read_in_the_zone_and_ids_do_not_change_with_it(tmp_path):
    text = "25/03/2023, 10:00 - Rita: bom dia\n26/03/2023, 10:00 - Tiago: mudou a hora\n"
    utc = _read(tmp_path, text)
    lisbon = _read(tmp_path, text, tz=times.zone("Europe/Lisbon"))
    assert _times(utc) == ["2023-03-25 10:00:00", "2023-03-26 10:00:00"]
    assert _times(lisbon) == ["2023-03-25 10:00:00", "2023-03-26 09:00:00"]  # summer time from 26 March
    assert utc["message_id"].tolist() == lisbon["message_id"].tolist()
    assert lisbon["seq"].tolist() == [0, 1]


# --- digits and calendars ------------------------------------------------------------------------------

def test_buddhist_years_two_and_four_digits(tmp_path):
    text = f"[12/3/2565 14:02:11] Somchai: hi\n{LRM}[12/3/65 14:03:00] Malee: hello\n"
    assert _times(_read(tmp_path, text, "_chat.txt")) == ["2022-03-12 14:02:11", "2022-03-12 14:03:00"]


def test_two_digit_years_of_a_gregorian_file_stay_20xx(tmp_path):
    assert _times(_read(tmp_path, "[12/3/22 14:02:11] Somchai: hi\n", "_chat.txt")) == ["2022-03-12 14:02:11"]


@pytest.mark.parametrize(("header", "expected"), [
    ("[H31/04/30 23:59:00]", "2019-04-30 23:59:00"),
    ("[R1/05/01 0:00:30]", "2019-05-01 00:00:30"),
    ("[令和元/05/01 9:00:00]", "2019-05-01 09:00:00"),
    ("[令和4/03/12 14:02:11]", "2022-03-12 14:02:11"),
    ("[平成30/12/31 8:00:00]", "2018-12-31 08:00:00"),
])
def test_japanese_era_years(tmp_path, header, expected):
    assert _times(_read(tmp_path, f"{header} 佐藤: こんにちは\n", "_chat.txt")) == [expected]


@pytest.mark.parametrize(("line", "expected"), [
    ("١٢/٣/٢٠٢٢، ٢:٠٢ م - أحمد: مرحبا", "2022-03-12 14:02:00"),  # Arabic-Indic digits, Arabic comma, PM
    ("١٣\u200f/٣\u200f/٢٠٢٢، ٩:١٥ ص - أحمد: مرحبا", "2022-03-13 09:15:00"),  # RLM marks, AM
    ("१२/०३/२०२२, २:०२ pm - राहुल: नमस्ते", "2022-03-12 14:02:00"),  # Devanagari
    ("১২/০৩/২০২২, ১৪:০২ - রাহুল: হ্যালো", "2022-03-12 14:02:00"),  # Bengali
    ("[๑๒/๓/๒๕๖๕ ๑๔:๐๒:๑๑] Malee: สวัสดี", "2022-03-12 14:02:11"),  # Thai digits, Buddhist year
    ("۱۴۰۱/۱۲/۲۱، ۱۴:۰۲ - رضا: سلام", "2023-03-12 14:02:00"),  # Persian digits, Solar Hijri year
    ("1403/01/01، 08:00 - رضا: نوروز", "2024-03-20 08:00:00"),  # Nowruz of a leap year's successor
    ("1445/09/01، 20:00 - أحمد: رمضان كريم", "2024-03-11 20:00:00"),  # Hijri (tabular) year
    ("2022. 3. 12. 오후 2:02 - 민수: 안녕", "2022-03-12 14:02:00"),  # Korean dots and 오후
    ("12/03/2022, 2:02 CH - Lan: chào", "2022-03-12 14:02:00"),  # Vietnamese CH (chiều)
])
def test_non_ascii_digits_and_calendars_in_headers(tmp_path, line, expected):
    frame = _read(tmp_path, line + "\n")
    assert _times(frame) == [expected]
    assert len(frame) == 1


def test_calendar_conversions():
    assert tr._jalali(1402, 12, 29) == (2024, 3, 19)
    assert tr._jalali(1403, 12, 30) == (2025, 3, 20)  # 1403 is a leap year
    assert tr._jalali(1401, 7, 31) is None  # months 7-11 have 30 days
    assert tr._hijri(1445, 9, 1) == (2024, 3, 11)
    assert tr.file_calendar([(None, 2565, True)]) == "buddhist"
    assert tr.file_calendar([(None, 65, False)]) == "buddhist"
    assert tr.file_calendar([(None, 23, False), (None, 2023, True)]) == "gregorian"
    assert tr.file_calendar([("R", 4, False)]) == "gregorian"


# --- marks --------------------------------------------------------------------------------------------

def test_marks_are_stripped_from_texts_and_the_emoji_joiner_kept(tmp_path):
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    text = (f"12/03/2022, 10:00 - Ana: {LRM}olá \u202bمرحبا\u202c @\u2068Bo\u2069 {family}\u061c\n"
            f"12/03/2022, 10:01 - \u202a+351 912 345 678\u202c: ok\u200f\n")
    frame = _read(tmp_path, text)
    assert frame["text"].tolist() == [f"olá مرحبا @Bo {family}", "ok"]
    assert frame["sender"].tolist() == ["Ana", "+351 912 345 678"]


def test_header_normalisation_keeps_offsets():
    raw = "\u200f١٢/٣/٢٠٢٢، ٢:٠٢ م - أحمد: ١٢٣"
    clean = tr.normalise_header(raw)
    assert clean.startswith("12/3/2022, 2:02 م - ")
    at = clean.index("أحمد")
    assert raw[tr.raw_offset(raw, clean, at):] == "أحمد: ١٢٣"  # the text keeps its own digits


# --- notices in every language ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # Android media placeholders
    ("<Media omitted>", "attachment"), ("<Medien ausgeschlossen>", "attachment"),
    ("<Multimedia omitido>", "attachment"), ("<Медиа отсутствуют>", "attachment"),
    ("<Без медиафайлов>", "attachment"), ("<Media weggelaten>", "attachment"), ("<Mídia oculta>", "attachment"),
    ("<Médias omis>", "attachment"), ("<Media omessi>", "attachment"), ("<Medya dahil edilmedi>", "attachment"),
    ("<Media tidak disertakan>", "attachment"), ("<Pominięto multimedia>", "attachment"),
    ("<Медіа пропущено>", "attachment"), ("<省略影音内容>", "attachment"), ("<已略過媒體>", "attachment"),
    ("<미디어 파일 제외됨>", "attachment"), ("<メディアなし>", "attachment"), ("<ไม่รวมสื่อ>", "attachment"),
    ("<تم استبعاد الوسائط>", "attachment"), ("<رسانه حذف شد>", "attachment"),
    ("<मीडिया छोड़ दिया गया>", "attachment"), ("<Media bị bỏ qua>", "attachment"),
    ("<Mediendatei weggelassen>", "attachment"),  # a wording not in the table: key words
    # iOS media placeholders (after U+200E)
    (f"{LRM}image omitted", "attachment"), (f"{LRM}Bild weggelassen", "attachment"),
    (f"{LRM}imagen omitida", "attachment"), (f"{LRM}изображение отсутствует", "attachment"),
    (f"{LRM}afbeelding weggelaten", "attachment"), (f"{LRM}imagem não revelada", "attachment"),
    (f"{LRM}immagine omessa", "attachment"), (f"{LRM}image absente", "attachment"),
    (f"{LRM}GIF-анімацію пропущено", "attachment"), (f"{LRM}لم يتم إدراج الصورة", "attachment"),
    (f"{LRM}Report.pdf • {LRM}3 pages {LRM}document omitted", "attachment"),
    (f"{LRM}Kontaktkarte ausgelassen", "attachment"), (f"{LRM}rasm tashlab ketildi omitted", "attachment"),
    (f"{LRM}sticker omitted", "sticker"), (f"{LRM}Sticker weggelassen", "sticker"),
    (f"{LRM}стикер не добавлен", "sticker"), (f"{LRM}تم حذف الملصقات", "sticker"),
    (f"{LRM}<attached: 00000012-PHOTO-2022-03-12-14-08-00.jpg>", "attachment"),
    (f"{LRM}<Anhang: 00000012-PHOTO-2022-03-12-14-08-00.jpg>", "attachment"),
    (f"{LRM}<adjunto: 00000013-STICKER-2022-03-12-14-08-00.webp>", "sticker"),
    ("IMG-20230113-WA0003.jpg (Datei angehängt)", "attachment"), ("report.pdf (archivo adjunto)", "attachment"),
    ("STK-20230113-WA0004.webp (fichier joint)", "sticker"),
    # deleted messages
    ("This message was deleted", "unsent"), ("Se eliminó este mensaje.", "unsent"),
    ("Eliminaste este mensaje.", "unsent"), ("Mensagem apagada", "unsent"), ("Apagou esta mensagem.", "unsent"),
    ("Diese Nachricht wurde gelöscht.", "unsent"), ("Ce message a été supprimé", "unsent"),
    ("Hai eliminato questo messaggio.", "unsent"), ("Bu mesaj silindi", "unsent"),
    ("Pesan ini telah dihapus", "unsent"), ("Данное сообщение удалено.", "unsent"),
    ("Это сообщение было удалено", "unsent"), ("Ви видалили це повідомлення.", "unsent"),
    ("Dit bericht is verwijderd", "unsent"), ("このメッセージは削除されました", "unsent"),
    ("삭제된 메시지입니다", "unsent"), ("此消息已删除", "unsent"), ("此訊息已刪除", "unsent"),
    ("Tin nhắn này đã bị xóa", "unsent"), ("Ta wiadomość została usunięta", "unsent"),
    ("این پیام حذف شد", "unsent"), ("تم حذف هذه الرسالة.", "unsent"), ("ข้อความนี้ถูกลบแล้ว", "unsent"),
    ("यह संदेश हटा दिया गया था", "unsent"),
    # calls, security and group notices
    (f"{LRM}Missed video call", "system"), (f"{LRM}Verpasster Sprachanruf", "system"),
    (f"{LRM}Пропущенный аудиозвонок", "system"), (f"{LRM}Llamada de voz perdida", "system"),
    (f"{LRM}Gemiste video-oproep", "system"),
    (f"{LRM}Cuộc gọi thoại nhỡ", "system"), (f"{LRM}不在着信", "system"),
    (f"{LRM}Ana changed the group description", "system"), (f"{LRM}Ana a changé de numéro.", "system"),
    (f"{LRM}Kod zabezpieczenia z Aną zmienił się. Dotknij, aby dowiedzieć się więcej.", "system"),
    (f"{LRM}Mesajlar ve aramalar uçtan uca şifrelidir.", "system"),
    ("Messages and calls are end-to-end encrypted. No one outside of this chat can read them.", "system"),
    # polls and locations
    ("POLL:\nDinner?\nOPTION: Pizza (2 votes)\nOPTION: Sushi (1 vote)", "poll"),
    ("ОПРОС:\nКогда?\nВАРИАНТ: сегодня (1 голос)\nВАРИАНТ: завтра (0 голосов)", "poll"),
    ("QUIZ:\nCo?\nX: a (1 głos)\nX: b (0 głosów)", "poll"),  # unknown words, the shape of a poll
    ("location: https://maps.google.com/?q=38.7223,-9.1393", "location"),
    ("konum: https://maps.google.com/?q=41.0,29.0", "location"),
    ("Live location shared", "location"), ("Live-Standort geteilt", "location"),
    # ordinary texts that look a little like notices stay texts
    ("the image omitted from the report", "text"), ("I deleted this message by mistake", "text"),
    ("see https://maps.google.com/?q=38.7,-9.1 there", "text"), ("<b>bold</b>", "text"),
    (f"{LRM}hello", "text"),
])
def test_classify_across_locales(text, expected):
    got = whatsapp._classify(text)
    assert (got if isinstance(got, str) else got[0]) == expected


@pytest.mark.parametrize(("deleted", "owner"), [
    ("You deleted this message", True), ("Du hast diese Nachricht gelöscht.", True),
    ("Вы удалили данное сообщение", True), ("Je hebt dit bericht verwijderd.", True),
    ("Eliminaste este mensaje.", True), ("This message was deleted", False), ("Diese Nachricht wurde gelöscht.", False),
])
def test_own_deletions_name_the_owner(tmp_path, deleted, owner):
    frame = _read(tmp_path, f"12/03/2022, 10:00 - Ana: hi\n12/03/2022, 10:01 - Bo: {deleted}\n")
    assert frame.attrs["me"] == (["Bo"] if owner else [])
    assert frame.attrs["skipped"] == {"unsent": 1}


def test_edit_markers_in_other_languages_are_removed(tmp_path):
    text = ("12/03/2022, 10:00 - Ana: hallo <Diese Nachricht wurde bearbeitet>\n"
            f"12/03/2022, 10:01 - Bo: привет {LRM}<Сообщение изменено>\n")
    assert _read(tmp_path, text)["text"].tolist() == ["hallo", "привет"]


def test_group_notices_in_other_languages_make_a_group(tmp_path):
    text = ('12.03.2022, 14:02 - Ольга создал(а) группу "Дача: лето"\n'
            "12.03.2022, 14:05 - Ольга: Привет\n12.03.2022, 14:06 - Иван: Привет\n")
    frame = _read(tmp_path, text)
    assert frame["is_group"].all()
    assert frame["sender"].tolist() == ["Ольга", "Иван"]  # the quoted title's colon is no sender
    assert frame.attrs["skipped"] == {"system": 1}


def test_titles_in_other_languages():
    assert tr.title("WhatsApp-Chat mit Lea") == "Lea"
    assert tr.title("Чат WhatsApp с Ольгой") == "Ольгой"
    assert tr.title("Ana ile WhatsApp Sohbeti") == "Ana"
    assert tr.title("دردشة واتساب مع أحمد") == "أحمد"
    assert tr.title("notes") is None


def test_the_locale_table_covers_the_common_kinds():
    core = {"media", "omitted", "deleted", "deleted_own", "call", "e2e", "group", "poll", "location", "title"}
    assert len(tr.LOCALES) >= 20
    for code, table in tr.LOCALES.items():
        assert core <= set(table), f"{code} lacks {sorted(core - set(table))}"


# --- files with no message ----------------------------------------------------------------------------

def test_a_file_with_only_notices_is_listed_as_empty(tmp_path):
    folder = tmp_path / "chats"
    folder.mkdir()
    (folder / "WhatsApp Chat with Nobody.txt").write_text(
        "14/02/2024, 09:00 - Messages and calls are end-to-end encrypted. Tap to learn more.\n", encoding="utf-8")
    (folder / "WhatsApp Chat with Gone.txt").write_text(
        "14/02/2024, 09:00 - Gone: This message was deleted\n", encoding="utf-8")  # a message, deleted
    (folder / "WhatsApp Chat with Eva.txt").write_text("14/02/2024, 09:05 - Eva: hi!\n", encoding="utf-8")
    with open_source(folder) as source:
        frame = whatsapp.read(source)
    assert frame.attrs["empty_files"] == ["WhatsApp Chat with Nobody.txt"]
    assert frame["text"].tolist() == ["hi!"]
    assert frame.attrs["skipped"] == {"system": 1, "unsent": 1}


def test_golden_repeats_case_keeps_every_message():
    with open_source(FIXTURES / "same_minute_repeats" / "input" / "WhatsApp Chat with Ana.txt") as source:
        frame = whatsapp.read(source)
    assert len(frame) == 7 and frame["message_id"].is_unique


def test_ids_of_texts_with_marks_are_those_written_before_marks_were_stripped(tmp_path):
    """iOS wraps mentioned numbers in U+2068/U+2069: the stored text loses them, the id does not
    change, so a workspace ingested before adds nothing twice."""
    raw = "oi @\u2068+55 11 9999\u2069 tudo bem?"
    frame = _read(tmp_path, f"12/01/2019, 21:05 - Ana: {raw}\n12/01/2019, 21:06 - Bo: plain\n")
    assert list(frame["text"]) == ["oi @+55 11 9999 tudo bem?", "plain"]
    wall = [1547327100000, 1547327160000]
    assert list(frame["message_id"]) == [
        schema.message_id("whatsapp", frame["thread_id"][0], "Ana", wall[0], raw),
        schema.message_id("whatsapp", frame["thread_id"][0], "Bo", wall[1], "plain")]
