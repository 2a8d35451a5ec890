"""All tables; importing this module registers them on ``SQLModel.metadata``."""

from backend.models.base import utcnow
from backend.models.detection import ImageObject
from backend.models.duplicate import (
    DuplicateGroup,
    GroupDecision,
    GroupMember,
    GroupStatus,
    ImagePair,
    PairDecision,
    RegroupMark,
    Verdict,
)
from backend.models.embedding import ImageEmbedding
from backend.models.google import (
    PICK_OPEN,
    GoogleConnection,
    GoogleOAuthState,
    GooglePick,
    PickState,
)
from backend.models.image import Image, ImageState, IngestionMode
from backend.models.job import Job, JobState
from backend.models.session import AuthSession, LoginFailure, SessionKind
from backend.models.user import User

__all__ = [
    "AuthSession",
    "DuplicateGroup",
    "GroupDecision",
    "GroupMember",
    "GoogleConnection",
    "GoogleOAuthState",
    "GooglePick",
    "GroupStatus",
    "Image",
    "ImageEmbedding",
    "ImageObject",
    "ImagePair",
    "ImageState",
    "IngestionMode",
    "Job",
    "JobState",
    "LoginFailure",
    "PICK_OPEN",
    "PairDecision",
    "PickState",
    "RegroupMark",
    "SessionKind",
    "User",
    "Verdict",
    "utcnow",
]
