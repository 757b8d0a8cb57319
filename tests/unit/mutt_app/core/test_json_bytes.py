import json
import math

import pytest

from mutt_app.core import json_bytes


def test_what_is_encoded_is_what_the_json_module_reads_back():
    document = {"a": [1, 2**70, "é", {"b": None}], "c": 1.5}
    assert json.loads(json_bytes.encode(document)) == document
    assert json.loads(json_bytes.encode({"s": "\ud800"})) == {"s": "\ud800"}


def test_a_number_json_cannot_carry_is_never_written_as_a_token_a_reader_refuses():
    assert json.loads(json_bytes.encode({"load": math.nan, "peak": math.inf})) == {"load": None, "peak": None}
    with pytest.raises(ValueError):  # the json module's way, for a document orjson cannot take
        json_bytes.encode({"big": 2**70, "load": math.nan})


def test_raw_json_text_goes_in_as_it_is_on_either_encoder():
    raw = json_bytes.Raw('{"b": 1, "a": [2, 3], "big": 123456789012345678901234567890}')
    assert json_bytes.encode({"event": raw, "n": 1}) == b'{"event":{"b": 1, "a": [2, 3], "big": 123456789012345678901234567890},"n":1}'
    # an integer beyond 64 bits outside the raw text: the json module encodes, the raw text is parsed for it
    assert json.loads(json_bytes.encode({"event": raw, "n": 2**70})) == {
        "event": {"b": 1, "a": [2, 3], "big": 123456789012345678901234567890}, "n": 2**70}
