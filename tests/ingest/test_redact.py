"""Redaction on hand-made text: e-mails, phone numbers in several national formats, URLs, names."""

from __future__ import annotations

import re

import pytest

from ingest.redact import Redactor

PHONES = [  # (how it is written, the same number written another way)
    ("(415) 555-2671", "+1 415 555 2671"),  # US
    ("415.555.2671", "+1-415-555-2671"),  # US, dots
    ("07911 123456", "+44 7911 123456"),  # UK mobile
    ("020 7946 0958", "+44 20 7946 0958"),  # UK London
    ("06 12 34 56 78", "+33 6 12 34 56 78"),  # FR
    ("01 42 68 53 00", "+33 1 42 68 53 00"),  # FR Paris
    ("030 12345678", "+49 30 12345678"),  # DE Berlin
    ("0151 23456789", "+49 151 23456789"),  # DE mobile
    ("(11) 91234-5678", "+55 11 91234-5678"),  # BR São Paulo mobile
    ("98765 43210", "+91 98765 43210"),  # IN mobile
]


@pytest.mark.parametrize(("national", "international"), PHONES)
def test_phone_numbers_national_and_international_get_one_placeholder(national, international):
    r = Redactor()
    out = r.text(f"call me on {national} or {international}, thanks")
    assert out == "call me on <PHONE_1> or <PHONE_1>, thanks"


def test_international_forms_of_any_country():
    r = Redactor()
    assert r.text("JP +81 3-1234-5678; ES +34 612 34 56 78; 0044 7911 123456") == (
        "JP <PHONE_1>; ES <PHONE_2>; <PHONE_3>")


def test_numbers_that_are_not_phone_numbers_stay():
    text = "order 123456 shipped in 2023, it cost 1500000 and arrives 2024-03-15 at 10:30"
    assert Redactor().text(text) == text


def test_emails_are_replaced_case_insensitively():
    r = Redactor()
    out = r.text("write to Kim.Lee+chat@Example.co.uk, or kim.lee+chat@example.co.uk, or bo_99@mail.fr.")
    assert out == "write to <EMAIL_1>, or <EMAIL_1>, or <EMAIL_2>."


def test_urls_in_their_common_forms_keep_trailing_punctuation():
    r = Redactor()
    out = r.text("see https://example.com/a?b=1&c=2. also (http://x.org/page) and www.foo.org, "
                 "or github.com/kim/repo! and https://en.wikipedia.org/wiki/Foo_(bar) ok")
    assert out == "see <URL_1>. also (<URL_2>) and <URL_3>, or <URL_4>! and <URL_5> ok"


def test_the_same_value_keeps_its_placeholder_across_texts_and_numbers_follow_first_use():
    r = Redactor()
    a = r.text("mail ana@x.com, site https://ana.dev/, phone +44 7911 123456")
    b = r.text("new: bo@y.org; old: ana@x.com; 07911 123456; https://ana.dev/")
    assert a == "mail <EMAIL_1>, site <URL_1>, phone <PHONE_1>"
    assert b == "new: <EMAIL_2>; old: <EMAIL_1>; <PHONE_1>; <URL_1>"
    assert r.distinct() == {"URL": 1, "EMAIL": 2, "PHONE": 1, "NAME": 0, "THREAD": 0}


def test_a_second_instance_numbers_from_one_again():
    assert Redactor().text("x@y.com") == Redactor().text("z@w.com") == "<EMAIL_1>"


def test_mixed_message_with_everything():
    r = Redactor(names=["Ana Beatriz Souza"])
    text = ("Ana said: email ana.souza@gmail.com or call +55 11 91234-5678, "
            "photos at https://photos.app/ana, Souza family says hi")
    out = r.text(text)
    assert out == ("<NAME_1> said: email <EMAIL_1> or call <PHONE_1>, "
                   "photos at <URL_1>, <NAME_1> family says hi")
    assert not re.search(r"\d{4}|@|https?:", out)


def test_names_whole_words_case_insensitive_longest_first():
    r = Redactor(names=["Kim Lee", "Bo Chen"])
    out = r.text("KIM LEE and kim met Chen; Bo came; Kimberly and Leeds stay")
    # "Bo" is too short to match alone; "Chen" is Bo Chen's placeholder
    assert out == "<NAME_1> and <NAME_1> met <NAME_2>; Bo came; Kimberly and Leeds stay"
    assert r.name("Kim Lee") == "<NAME_1>" and r.name("Someone Else") == "Someone Else"


def test_kept_people_keep_the_first_name_they_share():
    r = Redactor(names=["Kim Park"], keep=["Kim Lee"])
    assert r.text("Kim told Park, Kim Park laughed") == "Kim told <NAME_1>, <NAME_1> laughed"


def test_redacting_twice_changes_nothing_more():
    r = Redactor(names=["Ana Lima"])
    once = r.text("Ana: ana@x.com https://a.b/c +44 7911 123456")
    assert r.text(once) == once
