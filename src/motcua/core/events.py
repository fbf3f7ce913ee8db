"""Typed domain events: what happened, with everything a subscriber needs to act on it.

A domain emits an event inside its transaction (``core.actions.emit``); each subscriber is a
Dramatiq actor that takes ``event`` (the payload) and gets it once the transaction has committed,
through the outbox. Events carry plain values, so a subscriber (notifications, above all) never
imports the model of the domain that emitted it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self, get_type_hints


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event. ``tenant`` is the slug of the tenant it happened in (None for what
    happens on the platform itself, such as the console's administrators)."""

    tenant: str | None

    def to_payload(self) -> dict[str, Any]:
        """JSON-safe values (datetimes as ISO strings, tuples as lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Self:
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            hint = str(hints.get(f.name, ""))
            if value is not None and "datetime" in hint and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class DossierEvent(Event):
    """Something happened to a dossier that its applicant must hear about.

    ``kind`` names it (``dossier_accepted``, ``payment_received``… the notification kinds);
    ``key`` makes delivery idempotent (the same key is never delivered twice). The snapshot is
    taken in the transaction that made the change, so the message tells what was true then.
    """

    kind: str
    key: str
    code: str
    procedure_name: str
    status_label: str
    applicant_name: str = ""
    due_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    reason: str | None = None
    items: tuple[str, ...] = ()
    fee_vnd: int | None = None
    new_due_at: datetime | None = None
    receipt: str | None = None
    receipt_id: int | None = None
    # The applicant's language (core.theming.LANGUAGES): the message is written in it.
    language: str = "vi"


@dataclass(frozen=True, kw_only=True)
class DeadlineEvent(Event):
    """A dossier is about to be late, or is late: staff must hear about it (``kind`` is
    ``due_soon``, ``overdue`` or ``reception_overdue``; ``emails`` are the staff to tell)."""

    kind: str
    key: str
    code: str
    procedure_name: str
    status_label: str
    applicant_name: str = ""
    due_at: datetime | None = None
    emails: tuple[str, ...] = ()
    # The language of each of ``emails`` (the UI language its owner last logged in with), in the
    # same order; missing (an event stored before languages were carried) means Vietnamese.
    languages: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ReceiptIssued(Event):
    """A receipt was issued (its PDF is to be filed)."""

    receipt_id: int


@dataclass(frozen=True, kw_only=True)
class TenantOnboarded(Event):
    """A tenant became active for the first time (its own audit trail is to be opened)."""


@dataclass(frozen=True, kw_only=True)
class RolesChanged(Event):
    """Who holds which role on a site changed, or the site stopped granting any (a tenant
    suspended): every session of ``site`` (a tenant slug, or ``console``) must read its roles
    again before its next request acts."""

    site: str


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A Dramatiq actor, by name and queue: the outbox stores these, so the code that emits an
    event never imports the module of the actor that handles it."""

    actor_name: str
    queue_name: str


_subscribers: dict[type[Event], list[Subscriber]] = {}


def subscribe(event_type: type[Event], subscriber: Subscriber) -> None:
    """Called at import time by the module that declares the actor (every actor module is
    imported by ``core.broker.setup_broker``, so subscriptions are known in every process)."""
    listed = _subscribers.setdefault(event_type, [])
    if subscriber not in listed:
        listed.append(subscriber)


def subscribers_of(event_type: type[Event]) -> tuple[Subscriber, ...]:
    return tuple(_subscribers.get(event_type, ()))
