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
