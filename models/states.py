"""The stored values of states, kinds and levels, as plain enums.

The table models (models/campaign.py, models/directory.py, models/outbox.py) use them as column types and
re-export them; they live here so that reading or labelling a value loads no ORM (a read-only command and
models/labels.py import only this module).
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    LAUNCHED = "launched"
    COLLECTING = "collecting"
    CLOSED = "closed"
    IN_REVIEW = "in_review"
    AWARDED = "awarded"
    ARCHIVED = "archived"


class DeadlineKind(StrEnum):
    PERIOD_REPORT = "period_report"
    FINAL_REPORT = "final_report"
    DOSSIER = "dossier"


class UnitLevel(StrEnum):
    """Position in the THADS tree. Values are stable identifiers; labels are what a clerk writes."""

    BO = "bo"  # Bộ Tư pháp
    CUC = "cuc"  # Cục Quản lý THADS (formerly Tổng cục THADS)
    BAN = "ban"  # a department of the Cục (Ban, Văn phòng Cục)
    TINH = "tinh"  # provincial THADS body (formerly Cục THADS tỉnh)
    KHU_VUC = "khu_vuc"  # regional office (Phòng THADS khu vực; formerly Chi cục THADS)
    PHONG = "phong"  # a department inside a provincial body or regional office


class DisciplineForm(StrEnum):
    """Discipline and law-violation forms, lowest first (the order matters for 'from khiển trách up')."""

    KHIEN_TRACH = "khien_trach"
    CANH_CAO = "canh_cao"
    HA_BAC_LUONG = "ha_bac_luong"
    GIANG_CHUC = "giang_chuc"
    CACH_CHUC = "cach_chuc"
    BUOC_THOI_VIEC = "buoc_thoi_viec"
    VI_PHAM_PHAP_LUAT = "vi_pham_phap_luat"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be sent (possibly after a temporary failure, see next_attempt_at)
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    FAILED = "failed"  # permanent failure or attempts exhausted; last_error says why
    CANCELLED = "cancelled"  # no longer owed (e.g. a reminder after the report arrived); never sent
