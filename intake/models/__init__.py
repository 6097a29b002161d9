"""All models, imported here so that Alembic and ``db.create_all`` see every table."""

# Session hooks: the directory version, and the queue columns of a case.
from intake.models import directory_version, queue_state  # noqa: F401
from intake.models.audit import AuditChainHead, AuditEvent
from intake.models.case import Case, CaseAttachment, CaseMessage, SampleCase
from intake.models.consent import ConsentChannel, ConsentGiver, ConsentPurpose, ConsentRecord
from intake.models.directory import DirectoryEntry
from intake.models.enums import (
    CaseOutcome,
    CaseStatus,
    MessageKind,
    ReferralOutcome,
    Role,
    SealedBy,
    SharedStatus,
    Urgency,
)
from intake.models.referral import (
    AWAITING,
    NEAREST_DEADLINE_FIRST,
    CommunicationType,
    OutboxStatus,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    UnStep,
    UnStepKind,
)
from intake.models.search import CaseSearchIndex, CaseSearchToken
from intake.models.second_factor import Passkey, RecoveryCode
from intake.models.skeleton import CaseSkeleton, ReferralSkeleton
from intake.models.staff_session import StaffSession
from intake.models.submission_token import SubmissionToken
from intake.models.system import Heartbeat, OrgSetting
from intake.models.user import KeyGrant, OrgKey, RecoveryKit, RecoverySeal, User

__all__ = [
    "AWAITING",
    "NEAREST_DEADLINE_FIRST",
    "AuditChainHead",
    "AuditEvent",
    "Case",
    "CaseAttachment",
    "CaseMessage",
    "CaseOutcome",
    "CaseSearchIndex",
    "CaseSearchToken",
    "CaseSkeleton",
    "CaseStatus",
    "CommunicationType",
    "ConsentChannel",
    "ConsentGiver",
    "ConsentPurpose",
    "ConsentRecord",
    "DirectoryEntry",
    "Heartbeat",
    "KeyGrant",
    "MessageKind",
    "OrgKey",
    "OrgSetting",
    "OutboxStatus",
    "Passkey",
    "RecoveryCode",
    "Referral",
    "ReferralKind",
    "ReferralOutcome",
    "RecoveryKit",
    "RecoverySeal",
    "ReferralSkeleton",
    "ReferralState",
    "ReminderOutbox",
    "Role",
    "UnStep",
    "UnStepKind",
    "SampleCase",
    "SealedBy",
    "SharedStatus",
    "StaffSession",
    "SubmissionToken",
    "Urgency",
    "User",
]
