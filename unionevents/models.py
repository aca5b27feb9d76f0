"""Import every model so SQLAlchemy's metadata (and Alembic) sees the whole schema."""
from .accounts.models import ApiToken, RoleGrant, User  # noqa: F401
from .activities.models import (  # noqa: F401
    Activity, ActivityEligibleNode, ActivityOccupation, Question, TimeSlot, UnitQuota,
)
from .core.audit import AuditLog  # noqa: F401
from .core.outbox import OutboxMessage  # noqa: F401
from .registrations.models import CheckInReceipt, Registration  # noqa: F401
from .unions.models import UnionNode  # noqa: F401
from .contests.models import (  # noqa: F401
    Award, AwardTier, Contest, ContestJudge, Criterion, Entry, EntryImage, JudgeEntry, Round, RoundEntry, Score,
    Vote,
)
from .health.models import HealthAssessment, HealthAssessmentRevision  # noqa: F401
from .swaps.models import LibraryBook, LibraryStock, StockAdjustment, SwapDonation, SwapRule  # noqa: F401
from .results.models import Feedback  # noqa: F401
from .reports.models import (  # noqa: F401
    ReportActivity, ReportDaily, ReportNodeAncestor, ReportReach, ReportReachSpan,
)
from .notifications.models import InboxRead, ReminderSent, ReminderSetting  # noqa: F401
