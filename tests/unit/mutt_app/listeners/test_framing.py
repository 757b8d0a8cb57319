import pytest

from mutt_app.listeners.framing import Framer, FramingError


def test_lf_framing_across_reads_skipping_blank_lines():
    framer = Framer()
    assert framer.feed(b"<13>one\n<13>tw") == [b"<13>one"]
    assert framer.feed(b"o\n\n\r\n<13>three\r\n") == [b"<13>two", b"<13>three\r"]
    assert framer.octet_counted is False


def test_lf_framing_keeps_the_last_line_without_lf_at_close():
    framer = Framer()
    assert framer.feed(b"<13>one\n<13>last") == [b"<13>one"]
    assert framer.close() == [b"<13>last"]


def test_a_line_longer_than_the_limit_is_cut_there():
    framer = Framer(max_frame=10)
    assert framer.feed(b"<13>" + b"x" * 20) == [b"<13>xxxxxx", b"xxxxxxxxxx"]


def test_octet_counting_is_detected_and_may_hold_newlines():
    framer = Framer()
    assert framer.feed(b"11 <13>one\ntwo9 <13>thr") == [b"<13>one\ntwo"]
    assert framer.octet_counted is True
    assert framer.feed(b"ee\n5 <13>x") == [b"<13>three", b"<13>x"]


def test_octet_counting_a_frame_cut_short_is_not_a_message():
    framer = Framer()
    assert framer.feed(b"20 <13>short") == []
    assert framer.close() == []


@pytest.mark.parametrize("stream", [b"12x <13>message", b"1234567890123 x", b"99999999 x"])
def test_octet_counting_garbage_is_an_error(stream):
    with pytest.raises(FramingError):
        Framer(max_frame=1000).feed(stream)
