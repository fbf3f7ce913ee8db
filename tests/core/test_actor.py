"""The one value that says who acted, in which role and from where."""

from __future__ import annotations

import pytest

from motcua.core.audit import Actor, ActorKind


def test_each_kind_is_recorded_in_one_form() -> None:
    assert str(Actor.citizen(42)) == "citizen:42"
    assert str(Actor.officer("001178006789")) == "officer:001178006789"
    assert str(Actor.tenant_admin("001178006789")) == "tenant_admin:001178006789"
    assert str(Actor.platform_admin("001178006789")) == "platform_admin:001178006789"
    assert str(Actor.system("online-payment")) == "system:online-payment"
    assert str(Actor.operator()) == "operator:cli"
    assert str(Actor(kind=ActorKind.PERSON, id="001***")) == "person:001***"


def test_the_address_travels_with_the_actor_but_not_in_its_name() -> None:
    officer = Actor.officer("001178006789", address="203.0.113.7")
    assert officer.address == "203.0.113.7"
    assert str(officer) == "officer:001178006789"


def test_staff_and_citizens_are_not_mistaken_for_each_other() -> None:
    assert Actor.officer("001178006789").personal_id == "001178006789"
    assert Actor.citizen(7).citizen_id == 7
    with pytest.raises(ValueError, match="not a member of staff"):
        _ = Actor.citizen(7).personal_id
    with pytest.raises(ValueError, match="not a citizen"):
        _ = Actor.officer("001178006789").citizen_id


@pytest.mark.parametrize("bad", ["officer:1", "x" * 151])
def test_an_id_that_would_make_the_recorded_name_ambiguous_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an actor id"):
        Actor.officer(bad)


def test_actors_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Actor(ActorKind.OFFICER, "1")  # type: ignore[call-arg]
