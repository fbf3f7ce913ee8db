"""The internal workflow of a procedure and where each dossier is in it.

The status a citizen sees (``dossiers.models.DossierStatus``) says where the dossier stands for
them; the steps say where it is inside the administration: which unit, which role, since when,
and how much of the legal deadline that step may use (its share, in working hours). A
procedure without steps of its own follows ``DEFAULT_STEPS``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase
from motcua.identity.models import N_


class StepKind(enum.StrEnum):
    RECEPTION = "reception"  # the one-stop desk checks and accepts the dossier
    DEPARTMENT = "department"  # the deciding unit takes it and assigns a specialist
    SPECIALIST = "specialist"  # a specialist examines it and prepares the result
    LEADER = "leader"  # a leader approves (or sends it back)
    RETURN = "return"  # the result goes back to the desk that received the dossier
    DELIVERY = "delivery"  # the desk hands the result to the citizen

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def role(self) -> str:
        """The unit role (``organisation.models.UnitRole``) that acts at this step."""
        return _ROLES[self]

    @property
    def at_receiving_unit(self) -> bool:
        """Whether the step happens at the unit that received the dossier (else at the one
        that decides it)."""
        return self in (StepKind.RECEPTION, StepKind.RETURN, StepKind.DELIVERY)


_KIND_LABELS = {
    StepKind.RECEPTION: N_("Tiếp nhận hồ sơ"),
    StepKind.DEPARTMENT: N_("Chuyển đơn vị giải quyết"),
    StepKind.SPECIALIST: N_("Chuyên viên thẩm định, dự thảo kết quả"),
    StepKind.LEADER: N_("Lãnh đạo phê duyệt"),
    StepKind.RETURN: N_("Trả kết quả về bộ phận Một cửa"),
    StepKind.DELIVERY: N_("Trả kết quả cho người dân"),
}
_ROLES = {
    StepKind.RECEPTION: "reception",
    StepKind.DEPARTMENT: "leader",
    StepKind.SPECIALIST: "specialist",
    StepKind.LEADER: "leader",
    StepKind.RETURN: "reception",
    StepKind.DELIVERY: "reception",
}

# (kind, share of the legal deadline in percent): what a procedure follows by default.
DEFAULT_STEPS: tuple[tuple[StepKind, int], ...] = (
    (StepKind.RECEPTION, 10),
    (StepKind.DEPARTMENT, 10),
    (StepKind.SPECIALIST, 50),
    (StepKind.LEADER, 20),
    (StepKind.RETURN, 5),
    (StepKind.DELIVERY, 5),
)


class Outcome(enum.StrEnum):
    DONE = "done"
    SENT_BACK = "sent_back"
    TRANSFERRED = "transferred"

    @property
    def label(self) -> str:
        return {
            Outcome.DONE: N_("Hoàn thành"),
            Outcome.SENT_BACK: N_("Trả lại bước trước"),
            Outcome.TRANSFERRED: N_("Chuyển đơn vị khác giải quyết"),
        }[self]


class WorkflowStep(TenantBase):
    """One step of a procedure's own workflow (``position`` from 0)."""

    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("procedure_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    share_percent: Mapped[int] = mapped_column(Integer)


class DossierStep(TenantBase):
    """A dossier's stay in one step: opened when it arrives there, closed with its outcome."""

    __tablename__ = "dossier_steps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    assignee: Mapped[str | None] = mapped_column(String(12))
    budget_hours: Mapped[float] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The working hours it took, kept when it closes: the forecast's history.
    worked_hours: Mapped[float | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))  # who closed it
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Transfer(TenantBase):
    """A dossier handed to another unit to decide (liên thông): commune → province department,
    department → department. Kept for the history and for the indicators per unit."""

    __tablename__ = "dossier_transfers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consultation(TenantBase):
    """One unit asked for its opinion on a dossier, with its own deadline; the dossier's step
    cannot be completed until every opinion asked for is in."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    asking_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    asked_by: Mapped[str] = mapped_column(String(200))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
