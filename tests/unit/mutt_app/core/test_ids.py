import time
import uuid

from mutt_app.core import ids


def test_ids_are_version_7_uuids_ordered_by_time_and_unique():
    before = time.time_ns() // 1_000_000
    made = [ids.new_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(hex=value) for value in made]
    assert all(len(value) == 32 and value == value.lower() for value in made)
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert all(before <= u.int >> 80 <= after for u in parsed)
    assert len(set(made)) == len(made)
    assert [value[:12] for value in made] == sorted(value[:12] for value in made)  # the milliseconds lead


def test_the_random_bits_vary_within_a_millisecond():
    made = [ids.new_id() for _ in range(1000)]
    assert len({value[12:] for value in made}) == 1000
    assert len({value[13:16] for value in made}) > 100  # rand_a, after the version digit


def test_the_canonical_form_has_hyphens():
    value = ids.new_uuid()
    assert len(value) == 36 and uuid.UUID(value).version == 7
