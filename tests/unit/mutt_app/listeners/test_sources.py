import pytest

from mutt_app.listeners.sources import Sources


def test_the_first_source_holding_the_address_is_the_senders():
    sources = Sources.parse("core=10.1.0.0/16, 2001:db8::/32; lab=10.0.0.0/8;local=127.0.0.1")
    assert sources.of("10.1.2.3").name == "core"
    assert sources.of("10.9.9.9").name == "lab"
    assert sources.of("2001:db8::7").name == "core"
    assert sources.of("::ffff:127.0.0.1").name == "local"
    assert sources.of("192.0.2.1") is None
    assert sources.of("not an address") is None
    assert sources.of("10.1.2.3").rate_key == "listener:core"


@pytest.mark.parametrize(("text", "error"), [
    ("", "no sources"),
    ("10.0.0.0/8", "write a source as"),
    ("a=10.0.0.0/8;a=10.1.0.0/16", "named twice"),
    ("a=10.0.0.300/8", "source 'a'"),
    ("a=", "no networks"),
    ("a b=10.0.0.0/8", "write a source as"),
])
def test_bad_settings_say_what_is_wrong(text, error):
    with pytest.raises(ValueError, match=error):
        Sources.parse(text)
