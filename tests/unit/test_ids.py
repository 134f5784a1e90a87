from ulid import ULID

from chronik.ids import is_ulid, new_ulid, new_ulids


def test_new_ulids_are_standard_ulids_of_now() -> None:
    before = ULID().milliseconds
    ids = new_ulids(50)
    after = ULID().milliseconds
    assert len(set(ids)) == 50
    for text in ids:
        parsed = ULID.from_str(text)
        assert str(parsed) == text
        assert before <= parsed.milliseconds <= after


def test_is_ulid_refuses_what_is_not_a_canonical_ulid() -> None:
    assert is_ulid(new_ulid())
    assert not is_ulid(new_ulid().lower())
    assert not is_ulid("8" + new_ulid()[1:])  # overflows 128 bits
    assert not is_ulid("not-a-ulid")
    assert not is_ulid(new_ulid() + "0")
