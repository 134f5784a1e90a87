from chronik.events.catalogue import localize, pick_language, readable


def test_unknown_types_read_as_their_own_words() -> None:
    assert readable("user.human.added") == "User human added"
    assert readable("order_line-removed") == "Order line removed"
    assert localize("event", "no.such.type", "de").localized_message == "No such type"


def test_accept_language_picks_the_best_language_we_have() -> None:
    assert pick_language(None) == "en"
    assert pick_language("de-CH, de;q=0.9, en;q=0.8") == "de"
    assert pick_language("fr, en;q=0.5, de;q=0.7") == "de"
    assert pick_language("fr, it") == "en"
    assert pick_language("de;q=garbage, en") == "en"


def test_localized_keys_follow_zitadel() -> None:
    found = localize("aggregate", "user", "de")
    assert (found.key, found.localized_message) == ("AggregateTypes.user", "Benutzer")
