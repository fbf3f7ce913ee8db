"""Texts built in Python (core.messages): Vietnamese as a ``str``, translated with their values on
a page in another language, and harmless wherever a plain ``str`` goes (JSON, pickles, logs)."""

from __future__ import annotations

import json
import pickle
from fractions import Fraction

from litestar.serialization import encode_json

from motcua.core.messages import Figure, InSentence, Message, MessageError, Term, in_language
from motcua.core.settings import PROJECT_ROOT
from motcua.core.theming import Themes, translations
from motcua.dossiers.lifecycle import DossierError

REFUSED = Message(
    "Không thể %(action)s khi hồ sơ đang ở trạng thái “%(status)s”.",
    action=Message("rút hồ sơ"),
    status=Term("Đã trả kết quả"),
)
IN_ENGLISH = "You cannot withdraw the dossier while its status is “Đã trả kết quả (Result delivered)”."


def test_a_message_is_its_vietnamese_text() -> None:
    assert REFUSED == "Không thể rút hồ sơ khi hồ sơ đang ở trạng thái “Đã trả kết quả”."
    assert isinstance(REFUSED, str)
    assert f"{REFUSED}" == str(REFUSED) == REFUSED
    assert json.loads(encode_json({"detail": REFUSED})) == {"detail": str(REFUSED)}
    assert json.dumps(REFUSED, ensure_ascii=False) == f'"{REFUSED}"'
    copy = pickle.loads(pickle.dumps(REFUSED))  # noqa: S301 (our own bytes)
    assert isinstance(copy, Message) and copy.msgid == REFUSED.msgid and copy == REFUSED


def test_translated_with_its_labels_and_terms() -> None:
    english = translations("en").gettext
    term = Themes(PROJECT_ROOT / "themes").env(lang="en").filters["term"]
    assert REFUSED.render(english, term) == IN_ENGLISH
    # Without the term filter a legal label is translated like any other.
    assert "“Result delivered”" in in_language(REFUSED, english)
    assert in_language(REFUSED, translations("vi").gettext) == REFUSED
    # A plain text is looked up as a msgid; data that is no msgid stays as it is.
    assert in_language("Trả kết quả", english) == "Deliver the result"
    assert in_language("Nguyễn Thị Mai", english) == "Nguyễn Thị Mai"


def test_a_translation_whose_placeholders_do_not_match_falls_back_to_vietnamese() -> None:
    broken = {"Xin chào %(name)s": "Hello %(nom)s"}
    message = Message("Xin chào %(name)s", name="Mai")
    assert message.render(lambda text: broken.get(text, text)) == "Xin chào Mai"


def test_errors_keep_their_message_for_the_page() -> None:
    error = DossierError(REFUSED)
    assert isinstance(error, MessageError)
    assert isinstance(str(error), Message)
    assert str(DossierError("Một lỗi")) == "Một lỗi"


def test_templates_translate_a_message_with_underscore() -> None:
    themes = Themes(PROJECT_ROOT / "themes")
    source = "{{ _(error) }}|{{ _(plain) }}"
    english = themes.env(lang="en").from_string(source).render(error=REFUSED, plain="Trả kết quả")
    assert english == f"{IN_ENGLISH}|Deliver the result"
    vietnamese = themes.env().from_string(source).render(error=REFUSED, plain="Trả kết quả")
    assert vietnamese == f"{REFUSED}|Trả kết quả"
    # Values are data: escaped like any other text.
    hostile = Message("Không có thủ tục mã %(code)s trên cổng này.", code="<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in themes.env(lang="en").from_string("{{ _(m) }}").render(m=hostile)


def test_figures_are_written_the_reader_way() -> None:
    share = Message("Tỷ lệ đúng hạn: %(share)s", share=Figure(Fraction(91, 200), percent=True))
    assert share == "Tỷ lệ đúng hạn: 45,5%"
    assert share.render(lambda text: "On time: %(share)s", lang="en") == "On time: 45.5%"
    assert Figure(24).text("en") == "24" and Figure(Fraction(1, 3)).text() == "0,33"
    # Still a str for everything else: str's own methods work as they always did.
    assert share.translate(str.maketrans("%", "‰")) == "Tỷ lệ đúng hạn: 45,5‰"


def test_a_form_label_inside_a_sentence() -> None:
    required = Message("Vui lòng nhập %(field)s.", field=InSentence("Họ tên cha"))
    assert required == "Vui lòng nhập họ tên cha."
    english = Themes(PROJECT_ROOT / "themes").env(lang="en").from_string("{{ _(m) }}").render(m=required)
    assert english == "Enter “Họ tên cha”."
