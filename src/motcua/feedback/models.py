from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, SmallInteger, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase

# The five levels of the satisfaction survey (Decision 766/QĐ-TTg).
SCORE_LABELS = {
    1: "Rất không hài lòng",
    2: "Không hài lòng",
    3: "Bình thường",
    4: "Hài lòng",
    5: "Rất hài lòng",
}


class Rating(TenantBase):
    """One rating per dossier, by the citizen who owns it, once the result is delivered."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def score_label(self) -> str:
        return SCORE_LABELS.get(self.score, str(self.score))


class Feedback(TenantBase):
    """Phản ánh, kiến nghị: a citizen's complaint or suggestion, owed an answer by ``due_at``."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    subject: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def answered_on_time(self) -> bool | None:
        """None while unanswered; the satisfaction indicator counts the True ones."""
        return None if self.answered_at is None else self.answered_at <= self.due_at

    def overdue(self, now: datetime) -> bool:
        """Late: unanswered past the deadline, or answered after it."""
        if self.answered_at is None:
            return now > self.due_at
        return self.answered_at > self.due_at
