"""The campaign definition: everything a plan (Kế hoạch) states, as a validated pydantic model read from YAML.

A definition is written once per campaign by the office that runs it (see examples/). Every later stage
reads its settings from here: the launch (scope, plan document), collection (fields, indicators, reporting
calendar), reminders, the council (eligibility, voting rules, dossier) and the awards (forms, quotas,
reward multipliers).

All models forbid unknown keys, so a typo in the YAML is an error with a file line, not a silent default.
`canonical_json` / `definition_hash` give a formatting-independent identity so a relaunch of the same
definition can be recognised.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from thidua import errors
from thidua.errors import InvalidInput
from thidua.models.ledger_rules import MEASURES, Measure
from thidua.models.states import DisciplineForm, UnitLevel
from thidua.models.text import fmt_date, nfc, parse_date
from thidua.models.workdays import DayOffRule

if TYPE_CHECKING:
    import yaml

# ---------------------------------------------------------------- shared value types


def _text(value: str) -> str:
    out = nfc(value)
    if not out:
        raise ValueError("không được để trống (bỏ hẳn mục này nếu không dùng)")
    return out


# Every free-text input goes through NFC: Word and Excel often hand over decomposed Vietnamese.
Text = Annotated[str, AfterValidator(_text)]

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{2,59}$")
_UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_YEAR_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_FILE_TYPE_RE = re.compile(r"^[a-z0-9]{1,10}$")


def _key(value: str) -> str:
    out = nfc(value)
    if not _KEY_RE.match(out):
        raise ValueError(f"khóa “{out}” phải viết thường, không dấu, dạng chữ_số (ví dụ: carried_over)")
    return out


def _unit_code(value: str) -> str:
    out = nfc(value)
    if not _UNIT_CODE_RE.match(out):
        raise ValueError(f"mã đơn vị “{out}” chỉ gồm chữ không dấu, số, dấu chấm, gạch ngang (≤ 40 ký tự)")
    return out


def _email(value: str) -> str:
    out = nfc(value).lower()
    if not _EMAIL_RE.match(out):
        raise ValueError(f"“{out}” không phải địa chỉ email hợp lệ")
    return out


def _year_month(value: str) -> str:
    out = nfc(value)
    match = _YEAR_MONTH_RE.match(out)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"“{out}” phải có dạng yyyy-mm (ví dụ 2024-01)")
    return out


Key = Annotated[str, AfterValidator(_key)]
UnitCode = Annotated[str, AfterValidator(_unit_code)]
Email = Annotated[str, AfterValidator(_email)]
YearMonth = Annotated[str, AfterValidator(_year_month)]


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError("cần một ngày, không kèm giờ")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ValueError("cần một ngày dạng dd/mm/yyyy hoặc yyyy-mm-dd")


VnDate = Annotated[
    date,
    PlainValidator(_to_date),
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def _number_text(value: object) -> str:
    # Accept "10%", "83,90%", 0.1, "0.10": clerks write percentages and Vietnamese decimal commas.
    if isinstance(value, bool):
        raise ValueError("cần một số, không phải true/false")
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that round-trips, so 0.1 stays 0.1 and not its binary expansion
    if isinstance(value, str):
        return nfc(value).replace(",", ".").replace(" ", "")
    raise ValueError("cần một số (ví dụ 0.10 hoặc “10%”)")


def _normal_decimal(value: Decimal) -> Decimal:
    # One canonical form per number (0.10 == 0.1 == "10%"), so the definition hash ignores spelling.
    out = value.normalize()
    return out.quantize(Decimal(1)) if out.as_tuple().exponent > 0 else out  # type: ignore[operator]


# No target, share or multiplier of a real plan comes near 10^12; a bound keeps Decimal arithmetic exact.
_MAX_MAGNITUDE = 12


def _to_decimal(value: object) -> Decimal:
    text = _number_text(value)
    percent = text.endswith("%")
    try:
        out = Decimal(text.rstrip("%"))
    except InvalidOperation as exc:
        raise ValueError(f"“{value}” không phải một số") from exc
    if not out.is_finite():
        raise ValueError(f"“{value}” không phải một số hữu hạn")
    if out and out.adjusted() >= _MAX_MAGNITUDE:
        raise ValueError(f"“{value}” quá lớn (cần nhỏ hơn 10^{_MAX_MAGNITUDE})")
    if percent:
        out = out / 100
    return _normal_decimal(out)


def _to_fraction(value: object) -> Fraction:
    if isinstance(value, Fraction):
        return value
    text = _number_text(value)
    percent = text.endswith("%")
    try:
        out = Fraction(text.rstrip("%"))
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"“{value}” không phải một phân số (ví dụ “2/3”, 0.5, “50%”)") from exc
    return out / 100 if percent else out


def _decimal_str(value: Decimal) -> str:
    return format(value, "f")


Amount = Annotated[
    Decimal,
    PlainValidator(_to_decimal),
    PlainSerializer(_decimal_str, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]}),
]


def _ratio_range(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"tỷ lệ phải từ 0 đến 1 (ví dụ 0.10 hoặc “10%”), nhận được {_decimal_str(value)}")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("không được âm")
    return value


Ratio = Annotated[Amount, AfterValidator(_ratio_range)]
Multiplier = Annotated[Amount, AfterValidator(_non_negative)]


def _share_range(value: Fraction) -> Fraction:
    if not Fraction(0) < value <= Fraction(1):
        raise ValueError(f"tỷ lệ phải lớn hơn 0 và không quá 1, nhận được {value}")
    return value


Share = Annotated[
    Fraction,
    PlainValidator(_to_fraction),
    AfterValidator(_share_range),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _cross(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise cross-field problems with their own paths (relative to the model that found them)."""
    if problems:
        # The message carries the detail for callers of model_validate; parse_definition uses the paths.
        detail = "; ".join(f"{format_path(path)}: {message}" for path, message in problems)
        context = {"detail": detail, "problems": problems}
        raise PydanticCustomError("cross_field", "{detail}", context)


def _before_start(start: date, end: date) -> str:
    return f"ngày kết thúc {fmt_date(end)} trước ngày bắt đầu {fmt_date(start)}"


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for value in values:
        if value in seen and value not in dup:
            dup.append(value)
        seen.add(value)
    return dup


# ---------------------------------------------------------------- enums


class CampaignKind(StrEnum):
    THUONG_XUYEN = "thuong_xuyen"
    CHUYEN_DE = "chuyen_de"
    THEO_DOT = "theo_dot"


KIND_LABELS: dict[CampaignKind, str] = {
    CampaignKind.THUONG_XUYEN: "Phong trào thi đua thường xuyên",
    CampaignKind.CHUYEN_DE: "Phong trào thi đua chuyên đề",
    CampaignKind.THEO_DOT: "Phong trào thi đua theo đợt",
}


class AwardForm(StrEnum):
    GIAY_KHEN = "giay_khen"
    BANG_KHEN = "bang_khen"
    BANG_KHEN_THU_TUONG = "bang_khen_thu_tuong"
    CO_THI_DUA = "co_thi_dua"
    CHIEN_SI_THI_DUA_CO_SO = "chien_si_thi_dua_co_so"
    LAO_DONG_TIEN_TIEN = "lao_dong_tien_tien"
    TAP_THE_LAO_DONG_TIEN_TIEN = "tap_the_lao_dong_tien_tien"
    TAP_THE_LAO_DONG_XUAT_SAC = "tap_the_lao_dong_xuat_sac"
    KHAC = "khac"


# Decree 152/2025 (and 98/2023 before it): multiplier of the base salary, per (collective, individual).
# The collective factor being twice the individual one is the historical practice, hence only a default.
DEFAULT_MULTIPLIERS: dict[AwardForm, tuple[Decimal, Decimal]] = {
    AwardForm.GIAY_KHEN: (Decimal("0.6"), Decimal("0.3")),
    AwardForm.BANG_KHEN: (Decimal("3"), Decimal("1.5")),
}

Subject = Literal["collective", "individual"]
Comparison = Literal[">=", ">", "<=", "<"]


# ---------------------------------------------------------------- issuer and plan


class Signer(_Model):
    name: Text
    title: Text  # "PHÓ CỤC TRƯỞNG"
    on_behalf: Text | None = None  # "KT. CỤC TRƯỞNG"


class Contact(_Model):
    department: Text  # "Phòng Tổ chức cán bộ"
    email: Email  # reply-to of every email the campaign sends
    phone: Text | None = None


class Issuer(_Model):
    parent_agency: Text | None = None  # "TỔNG CỤC THI HÀNH ÁN DÂN SỰ"; None for a ministry
    agency: Text  # "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG"
    agency_short_name: Text  # "Cục THADS": how the plan names the issuer in a sentence ("gửi Cục THADS")
    unit_code: UnitCode  # the issuing body in the directory
    place: Text  # "Tuyên Quang", for the place-and-date line
    signer: Signer
    contact: Contact
    administrators: list[Email] = Field(min_length=1)

    @field_validator("administrators")
    @classmethod
    def _unique_admins(cls, value: list[str]) -> list[str]:
        dup = _duplicates(value)
        if dup:
            raise ValueError("địa chỉ bị lặp: " + ", ".join(dup))
        return value


class Plan(_Model):
    number: Text | None = None  # "1058"; None = not yet numbered ("Số:    /KH-CTHADS")
    symbol: Text  # "KH-CTHADS"
    # The subject line under "KẾ HOẠCH" as printed; None = built from kind and title by the plan renderer.
    subject: Text | None = None
    date: VnDate

    @field_validator("number", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        # YAML reads `number: 1058` as an int; the number is a label, not arithmetic.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @property
    def reference(self) -> str:
        """'1058/KH-BTP', or '/KH-CTHADS' while the plan has no number yet (as printed after 'Số:')."""
        return f"{self.number or ''}/{self.symbol}"


class Period(_Model):
    start: VnDate
    end: VnDate

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            _cross([(("end",), _before_start(self.start, self.end))])
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


# ---------------------------------------------------------------- scope


class UnitRule(_Model):
    """A subtree of the directory; satisfies models.scope.SubtreeRule."""

    subtree: UnitCode
    levels: list[UnitLevel] | None = None  # None = every level
    include_root: bool = True


class PeopleScope(_Model):
    titles: list[Text] | None = None  # None = everyone in the enrolled units
    active_only: bool = True

    def admits(self, title: str, active: bool = True) -> bool:
        if self.active_only and not active:
            return False
        if self.titles is None:
            return True
        wanted = {t.casefold() for t in self.titles}
        return nfc(title).casefold() in wanted


class Scope(_Model):
    units: list[UnitRule] = Field(min_length=1)
    description: Text | None = None  # "Trong các cơ quan THADS của tỉnh Tuyên Quang" (the plan's "Phạm vi")
    # Which enrolled units must send periodic reports: by level (None = all), then explicit additions/removals
    # (seed 003: the 7 Chi cục by level, plus the Cục's own enforcement department by code).
    reporting_levels: list[UnitLevel] | None = None
    reporting_include: list[UnitCode] = []
    reporting_exclude: list[UnitCode] = []
    people: PeopleScope = PeopleScope()
    subjects: list[Subject] = Field(default=["collective", "individual"], min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scope:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        both = sorted(set(self.reporting_include) & set(self.reporting_exclude))
        if both:
            problems.append((("reporting_exclude",), "đơn vị vừa được thêm vừa bị loại: " + ", ".join(both)))
        if _duplicates(self.subjects):
            problems.append((("subjects",), "đối tượng bị lặp"))
        _cross(problems)
        return self

    def reports(self, unit_code: str, level: str) -> bool:
        """Whether an enrolled unit must send periodic reports."""
        if unit_code in self.reporting_exclude:
            return False
        if unit_code in self.reporting_include:
            return True
        return self.reporting_levels is None or level in self.reporting_levels


# ---------------------------------------------------------------- data collected and indicators


# The largest figure a cell may hold unless the field sets its own `maximum`: far above any real unit
# (a province handles tens of thousands of cases and trillions of đồng a year), far below what breaks sums.
DEFAULT_MAX_COUNT = 10**7
DEFAULT_MAX_MONEY = 10**15


class FieldDef(_Model):
    key: Key
    label: Text
    unit: Text  # "việc", "đồng"
    # True: a running total since the campaign start (must not decrease from one period to the next);
    # False: a stock stated at a point in time (e.g. cases carried over from last year).
    cumulative: bool = True
    maximum: int | None = Field(default=None, gt=0, le=10**18)  # None: the default bound for its unit

    @property
    def bound(self) -> int:
        """The largest value a report may give this field."""
        if self.maximum is not None:
            return self.maximum
        return DEFAULT_MAX_MONEY if self.unit.casefold() in ("đồng", "vnd", "vnđ") else DEFAULT_MAX_COUNT


class Indicator(_Model):
    key: Key
    label: Text
    numerator: list[Key] = Field(min_length=1)  # summed field keys
    denominator: list[Key] = Field(min_length=1)
    comparison: Comparison = ">="
    target: Ratio  # 0.10 = 10 %; with targets="per_unit" the default for units without an assigned target
    targets: Literal["fixed", "per_unit"] = "fixed"
    applies_to: list[Literal["unit", "person"]] = Field(default=["unit"], min_length=1)
    main: bool = False

    def met(self, numerator: int, denominator: int, target: Decimal | None = None) -> bool | None:
        """Exact comparison of numerator/denominator with the target; None when the denominator is 0."""
        if denominator == 0:
            return None
        goal = Fraction(self.target if target is None else target)
        value = Fraction(numerator, denominator)
        return {
            ">=": value >= goal,
            ">": value > goal,
            "<=": value <= goal,
            "<": value < goal,
        }[self.comparison]


class DueOffset(_Model):
    """Due date = cut-off + offset (then the day-off rule)."""

    days: int = Field(default=5, ge=0, le=60)
    working_days: bool = True


class FinalReport(_Model):
    due: VnDate
    label: Text = "Báo cáo tổng kết phong trào thi đua"


class Reporting(_Model):
    frequency: Literal["monthly", "none"] = "monthly"
    cutoff: Literal["month_end"] = "month_end"
    due_offset: DueOffset = DueOffset()
    day_off_rule: DayOffRule = "next_working_day"
    final_report: FinalReport
    first_period: YearMonth | None = None  # "2026-02": skip earlier months (e.g. those before the plan)
    last_period: YearMonth | None = None


class LedgerRules(_Model):
    """How a case ledger's computed figures map to the campaign's fields (models/ledger_rules.py).

    A field whose key is a ledger measure (carried_over, arising, finished, cases_with_conditions,
    cases_finished, money_with_conditions, money_finished, money_collected) maps to it by itself.
    """

    # Start of the counting window: the seed-003 "carried over" day, the seed-000 statistical-year start.
    # None = the campaign start (period.start).
    baseline: VnDate | None = None
    fields: dict[Key, Measure] = {}  # campaign field key -> measure, for fields named otherwise


# ---------------------------------------------------------------- awards, eligibility, dossier, council


class Quota(_Model):
    collective: int | None = Field(default=None, ge=0)  # None = no fixed limit
    individual: int | None = Field(default=None, ge=0)


class Multipliers(_Model):
    collective: Multiplier
    individual: Multiplier


class ProposedBy(_Model):
    """The lower council that reviews and proposes (seed 000: the Cục's council, for the Bộ's Bằng khen)."""

    unit_code: UnitCode
    council: Text


class Award(_Model):
    key: Key
    name: Text  # "Giấy khen của Cục trưởng Cục THADS"
    form: AwardForm
    authority: Text  # "Cục trưởng Cục THADS tỉnh Tuyên Quang"
    authority_unit_code: UnitCode
    proposed_by: ProposedBy | None = None
    quota: Quota = Quota()
    multiplier: Multipliers

    @model_validator(mode="before")
    @classmethod
    def _default_multiplier(cls, data: Any) -> Any:
        if isinstance(data, dict) and "multiplier" not in data:
            try:
                defaults = DEFAULT_MULTIPLIERS.get(AwardForm(str(data.get("form"))))
            except ValueError:
                defaults = None
            if defaults is not None:
                data = {**data, "multiplier": {"collective": defaults[0], "individual": defaults[1]}}
        return data

    @property
    def subjects(self) -> list[Subject]:
        """Subject kinds this award can go to (a quota of 0 closes a kind)."""
        out: list[Subject] = []
        if self.quota.collective != 0:
            out.append("collective")
        if self.quota.individual != 0:
            out.append("individual")
        return out


class Window(_Model):
    start: VnDate  # inclusive
    end: VnDate  # inclusive

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            _cross([(("end",), _before_start(self.start, self.end))])
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


class Eligibility(_Model):
    # Inclusive; when the plan states none, CampaignDefinition fills in the campaign period.
    discipline_window: Window
    min_discipline_form: DisciplineForm = DisciplineForm.KHIEN_TRACH
    law_violation_disqualifies: bool = True
    collective_requires_clean_members: bool = True
    unit_head_must_meet_both: bool = True
    priority_titles: list[Text] = []
    require_indicator: Key | None = None
    one_award_per_achievement: bool = True

    def is_priority(self, title: str) -> bool:
        return nfc(title).casefold() in {t.casefold() for t in self.priority_titles}


class DossierPart(_Model):
    key: Key
    name: Text
    required: bool = True


class Dossier(_Model):
    parts: list[DossierPart] = Field(min_length=1)
    deadline: VnDate
    label: Text = "Hồ sơ đề nghị khen thưởng"
    max_file_mb: int = Field(default=20, ge=1, le=500)
    allowed_types: list[Text] = Field(default=["pdf", "doc", "docx", "xls", "xlsx"], min_length=1)

    @field_validator("allowed_types")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        out = [v.lower().lstrip(".") for v in value]
        bad = [v for v in out if not _FILE_TYPE_RE.match(v)]
        if bad:
            raise ValueError("đuôi tệp không hợp lệ: " + ", ".join(bad) + " (ví dụ: pdf, docx)")
        return out

    @model_validator(mode="after")
    def _unique_parts(self) -> Dossier:
        dup = _duplicates(p.key for p in self.parts)
        if dup:
            _cross([(("parts",), "khóa thành phần hồ sơ bị lặp: " + ", ".join(dup))])
        return self


class Approval(_Model):
    share: Share = Fraction(1, 2)
    of: Literal["all_members", "present"] = "all_members"
    strict: bool = True  # True: more than `share`; False: at least `share`


class Council(_Model):
    name: Text = "Hội đồng Thi đua - Khen thưởng"
    quorum: Share = Fraction(2, 3)  # at least this share of members present
    quorum_of: Literal["all_members"] = "all_members"
    approval: Approval = Approval()
    secret_ballot: bool = True
    recuse_own_unit: bool = True
    written_votes_allowed: bool = True


class Reminders(_Model):
    enabled: bool = True
    send_hour: int = Field(default=8, ge=0, le=23)  # local time, Asia/Ho_Chi_Minh
    before_days: list[Annotated[int, Field(ge=1, le=30)]] = [5, 2, 1]  # working days before the due date
    on_day: bool = True
    overdue_every: int = Field(default=2, ge=1, le=30)  # working days between overdue reminders
    overdue_max: int = Field(default=3, ge=0, le=20)
    escalate_after: int = Field(default=5, ge=1, le=60)  # working days overdue before the unit head is copied
    admin_digest: bool = True

    @field_validator("before_days")
    @classmethod
    def _sorted_days(cls, value: list[int]) -> list[int]:
        return sorted(set(value), reverse=True)


class Recipient(_Model):
    name: Text
    note: Text | None = None  # "(để b/cáo);"


# ---------------------------------------------------------------- the definition


class CampaignDefinition(_Model):
    code: str  # upper-cased; the campaign's stable identifier (Campaign.code)
    title: Text
    kind: CampaignKind
    slogan: Text | None = None
    purpose: list[Text] = []
    requirements: list[Text] = []
    # Paragraphs of the plan document, by section; the rest of the document (header, scope, time, targets,
    # awards, criteria, dossier, signature, "Nơi nhận") is rendered from the structured fields.
    preamble: list[Text] = []  # opening paragraphs ("Thực hiện Công văn số ...")
    content: list[Text] = []  # the body of "Nội dung thi đua"
    organisation: list[Text] = []  # "TỔ CHỨC THỰC HIỆN"
    issuer: Issuer
    plan: Plan
    period: Period
    scope: Scope
    fields: list[FieldDef] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)
    reporting: Reporting
    awards: list[Award] = Field(min_length=1)
    eligibility: Eligibility  # may be omitted: defaults, with the campaign period as discipline window
    dossier: Dossier
    council: Council = Council()
    reminders: Reminders = Reminders()
    distribution: list[Recipient] = []
    close_early_when_complete: bool = False
    ledger: LedgerRules | None = None  # case ledgers: baseline and field mapping (tasks/collect/ledger.py)

    @model_validator(mode="before")
    @classmethod
    def _default_discipline_window(cls, data: Any) -> Any:
        # A plan that states no window checks discipline over the campaign period; filling it in here keeps
        # one shape for every reader and one hash for "stated as the period" and "not stated".
        if not isinstance(data, dict):
            return data
        elig = data.get("eligibility", {})
        if not isinstance(elig, dict) or elig.get("discipline_window") is not None:
            return data
        try:
            period = Period.model_validate(data.get("period"))
        except ValidationError:
            return data  # the period's own errors are reported; see _problems for the echo
        window = {"start": period.start, "end": period.end}
        return {**data, "eligibility": {**elig, "discipline_window": window}}

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        out = nfc(value).upper()
        if not _CODE_RE.match(out):
            raise ValueError(
                f"mã phong trào “{out}” phải gồm 3–60 ký tự: chữ không dấu, số, dấu chấm, gạch ngang, "
                "gạch dưới"
            )
        return out

    @model_validator(mode="after")
    def _cross_checks(self) -> CampaignDefinition:
        p: list[tuple[tuple[str | int, ...], str]] = []
        start, end = self.period.start, self.period.end

        # Plan date: the seeds issue the plan days or weeks after the period starts, never after it ends.
        issued = self.plan.date
        if issued > end:
            p.append((("plan", "date"), f"ngày kế hoạch {fmt_date(issued)} sau khi phong trào kết thúc"))
        if abs(start.year - issued.year) > 1:
            p.append((("period", "start"), f"năm bắt đầu {start.year} quá xa năm ban hành {issued.year}"))
        if (end - start).days > 5 * 366:
            p.append((("period", "end"), "thời gian phong trào dài quá 5 năm (gõ nhầm năm?)"))

        field_keys = [f.key for f in self.fields]
        ind_keys = [i.key for i in self.indicators]
        award_keys = [a.key for a in self.awards]
        for name, keys in (("fields", field_keys), ("indicators", ind_keys), ("awards", award_keys)):
            for dup in _duplicates(keys):
                second = keys.index(dup, keys.index(dup) + 1)
                p.append(((name, second, "key"), f"khóa “{dup}” bị lặp"))
        known = set(field_keys)
        for i, ind in enumerate(self.indicators):
            for side in ("numerator", "denominator"):
                for j, ref in enumerate(getattr(ind, side)):
                    if ref not in known:
                        message = f"chỉ số “{ref}” không có trong fields ({', '.join(field_keys)})"
                        p.append((("indicators", i, side, j), message))
        mains = [i for i, ind in enumerate(self.indicators) if ind.main]
        if len(mains) != 1:
            where: tuple[str | int, ...] = ("indicators", mains[1], "main") if mains else ("indicators",)
            p.append((where, f"cần đúng một chỉ tiêu chính (main: true), đang có {len(mains)}"))

        rep = self.reporting
        if rep.final_report.due < end:
            message = (
                f"hạn báo cáo tổng kết {fmt_date(rep.final_report.due)} trước ngày kết thúc {fmt_date(end)}"
            )
            p.append((("reporting", "final_report", "due"), message))
        first_month, last_month = f"{start:%Y-%m}", f"{end:%Y-%m}"
        for name in ("first_period", "last_period"):
            value = getattr(rep, name)
            if value is not None and not first_month <= value <= last_month:
                message = f"kỳ {value} nằm ngoài thời gian phong trào ({first_month} đến {last_month})"
                p.append((("reporting", name), message))
        if rep.first_period and rep.last_period and rep.first_period > rep.last_period:
            p.append((("reporting", "last_period"), "kỳ cuối trước kỳ đầu"))

        if self.dossier.deadline < end:
            message = f"hạn nộp hồ sơ {fmt_date(self.dossier.deadline)} trước ngày kết thúc {fmt_date(end)}"
            p.append((("dossier", "deadline"), message))

        for i, award in enumerate(self.awards):
            for subject in ("collective", "individual"):
                if getattr(award.quota, subject) not in (None, 0) and subject not in self.scope.subjects:
                    message = f"phong trào không xét đối tượng “{subject}” (xem scope.subjects)"
                    p.append((("awards", i, "quota", subject), message))

        elig = self.eligibility
        if elig.require_indicator is not None and elig.require_indicator not in ind_keys:
            p.append((("eligibility", "require_indicator"), f"không có chỉ tiêu “{elig.require_indicator}”"))

        if self.ledger is not None:
            for key in self.ledger.fields:
                if key not in known:
                    message = f"chỉ số “{key}” không có trong fields ({', '.join(field_keys)})"
                    p.append((("ledger", "fields", key), message))
            if self.ledger.baseline is not None and self.ledger.baseline > end:
                message = f"ngày gốc {fmt_date(self.ledger.baseline)} sau ngày kết thúc {fmt_date(end)}"
                p.append((("ledger", "baseline"), message))
        _cross(p)
        return self

    @property
    def main_indicator(self) -> Indicator:
        return next(i for i in self.indicators if i.main)

    def field(self, key: str) -> FieldDef:
        return next(f for f in self.fields if f.key == key)

    def award(self, key: str) -> Award:
        return next(a for a in self.awards if a.key == key)

    def ledger_measures(self) -> dict[str, Measure]:
        """Campaign field key -> the ledger measure computing it (fields no ledger computes are absent)."""
        mapping = dict(self.ledger.fields) if self.ledger is not None else {}
        out: dict[str, Measure] = {}
        for f in self.fields:
            if f.key in mapping:
                out[f.key] = mapping[f.key]
            elif f.key in MEASURES:
                out[f.key] = f.key  # type: ignore[assignment]  # checked: one of the measures
        return out

    @property
    def ledger_baseline(self) -> date:
        if self.ledger is not None and self.ledger.baseline is not None:
            return self.ledger.baseline
        return self.period.start


# ---------------------------------------------------------------- identity


def canonical_json(defn: CampaignDefinition) -> str:
    """Stable JSON of the validated definition (defaults included, keys sorted), whatever the YAML layout.

    A field's `maximum` appears only when set, so a definition launched before that setting existed keeps
    its hash and relaunching it stays a no-op.
    """
    data = defn.model_dump(mode="json")
    for field in data.get("fields", []):
        if field.get("maximum") is None:
            field.pop("maximum", None)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def definition_hash(defn: CampaignDefinition) -> str:
    return hashlib.sha256(canonical_json(defn).encode("utf-8")).hexdigest()


def definition_from_json(text: str) -> CampaignDefinition:
    """Rebuild a definition stored as canonical JSON (Campaign.definition_json)."""
    return CampaignDefinition.model_validate_json(text)


# ---------------------------------------------------------------- loading with located errors


@dataclass(frozen=True)
class Problem:
    path: str  # "awards[0].quota.individual"; "" for the whole file
    line: int | None  # 1-based line in the YAML file
    message: str

    def as_problem(self, file: str | None = None) -> errors.Problem:
        return errors.Problem(self.message, file=file, row=self.line, column=self.path or None)


class DefinitionError(InvalidInput):
    """A campaign definition that cannot be used; `problems` says where and why."""

    def __init__(self, source_name: str, problems: Sequence[Problem]) -> None:
        self.source_name = source_name
        located = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.path))
        super().__init__(f"{source_name}: định nghĩa phong trào không dùng được", located)
        self.problems: list[Problem] = located

    def located(self) -> list[errors.Problem]:
        return [p.as_problem(self.source_name) for p in self.problems]

    def __str__(self) -> str:
        lines = []
        for prob in self.problems:
            where = f"{self.source_name}:{prob.line}" if prob.line is not None else self.source_name
            lines.append(f"{where}: {prob.path}: {prob.message}" if prob.path else f"{where}: {prob.message}")
        return "\n".join(lines)


@functools.cache
def _loader_class() -> type[yaml.SafeLoader]:
    """The safe loader that leaves timestamps as text, so a bad date is our located error, not a crash.

    Built on first use: PyYAML is loaded by reading a definition file, not by reading a stored campaign."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)  # type: ignore[type-var]
    return _Loader


Loc = tuple[str | int, ...]


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """Line of the deepest node of `loc` present in the YAML tree (a mapping entry is located at its key)."""
    import yaml  # loaded already: these walk the nodes of a file being read

    if root is None:
        return None
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# A national plan has a few hundred nodes and nests about six deep; far beyond that a file is an attack
# ("billion laughs" aliases, deep nesting) or a mistake, and is refused before anything walks it.
MAX_NODES = 20_000
MAX_DEPTH = 40


def _too_big(root: yaml.Node) -> Problem | None:
    """A problem when the document, with every alias expanded, is larger or deeper than a plan can be."""
    import yaml  # loaded already: these walk the nodes of a file being read

    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    visited = 0
    while stack:
        node, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            limit = f"{MAX_NODES:,}".replace(",", ".")
            return Problem("", None, f"tệp quá lớn: hơn {limit} mục khi mở rộng các bí danh (*…)")
        if depth > MAX_DEPTH:
            return Problem("", node.start_mark.line + 1, f"các mục lồng nhau quá sâu (hơn {MAX_DEPTH} cấp)")
        if isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
    return None


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[tuple[Loc, int]]:
    import yaml  # loaded already: these walk the nodes of a file being read

    # safe_load keeps the last of two equal keys silently; in a plan that hides a mistake.
    found: list[tuple[Loc, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                found.append(((*loc, name), key.start_mark.line + 1))
            seen.add(name)
            found.extend(_duplicate_keys(value, (*loc, name)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, (*loc, i)))
    return found


def _all_field_names() -> set[str]:
    return {name for model in _MODELS for name in model.model_fields}


_MODELS: list[type[BaseModel]] = [
    Signer,
    Contact,
    Issuer,
    Plan,
    Period,
    UnitRule,
    PeopleScope,
    Scope,
    FieldDef,
    Indicator,
    Reporting,
    DueOffset,
    FinalReport,
    Quota,
    Multipliers,
    ProposedBy,
    Award,
    Window,
    Eligibility,
    DossierPart,
    Dossier,
    Approval,
    Council,
    Reminders,
    Recipient,
    LedgerRules,
    CampaignDefinition,
]


def _message(err: Any, loc: Loc) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return "thiếu mục bắt buộc"
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        guess = difflib.get_close_matches(name, sorted(_all_field_names()), n=1)
        hint = f"; có phải “{guess[0]}”?" if guess else ""
        return f"mục “{name}” không có trong mẫu định nghĩa{hint}"
    if kind in ("literal_error", "enum"):
        # pydantic joins the choices in English ("'a', 'b' or 'c'").
        expected = str(ctx.get("expected", "")).replace(" or ", " hoặc ")
        return f"giá trị “{given}” không hợp lệ; chọn một trong: {expected}"
    if kind == "string_type":
        return "cần một chuỗi văn bản (đặt trong ngoặc kép nếu là số)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"cần một số nguyên, nhận được “{given}”"
    if kind in ("bool_type", "bool_parsing"):
        return f"cần true hoặc false, nhận được “{given}”"
    if kind == "list_type":
        return "cần một danh sách (mỗi phần tử một dòng bắt đầu bằng “- ”)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "cần một nhóm mục dạng “khóa: giá trị”"
    if kind == "greater_than_equal":
        return f"phải lớn hơn hoặc bằng {ctx.get('ge')}, nhận được {given}"
    if kind == "greater_than":
        return f"phải lớn hơn {ctx.get('gt')}, nhận được {given}"
    if kind == "less_than_equal":
        return f"phải nhỏ hơn hoặc bằng {ctx.get('le')}, nhận được {given}"
    if kind == "less_than":
        return f"phải nhỏ hơn {ctx.get('lt')}, nhận được {given}"
    if kind == "too_short":
        return f"cần ít nhất {ctx.get('min_length')} phần tử"
    if kind == "too_long":
        return f"nhiều nhất {ctx.get('max_length')} phần tử"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"giá trị không hợp lệ ({err['msg']})"


_FILLED_FROM_PERIOD: set[Loc] = {("eligibility",), ("eligibility", "discipline_window")}


def _problems(exc: ValidationError, root: yaml.Node | None) -> list[Problem]:
    out: list[Problem] = []
    errors = exc.errors(include_url=False)
    period_broken = any(err["loc"][:1] == ("period",) for err in errors)
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if period_broken and loc in _FILLED_FROM_PERIOD and err["type"] == "missing":
            continue  # it would have been the period; the period's errors say what to fix
        if err["type"] == "cross_field":
            for rel, message in err["ctx"]["problems"]:
                full = (*loc, *rel)
                out.append(Problem(format_path(full), _line_of(root, full), message))
        else:
            out.append(Problem(format_path(loc), _line_of(root, loc), _message(err, loc)))
    return out


def parse_definition(text: str, source_name: str = "<definition>") -> CampaignDefinition:
    """Parse and validate YAML text; raise DefinitionError listing every problem with its path and line."""
    import yaml

    try:
        loader = _loader_class()(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters as it takes the text in
        raise DefinitionError(source_name, [Problem("", None, f"lỗi cú pháp YAML: {exc}")]) from exc
    try:
        root = loader.get_single_node()
        too_big = _too_big(root) if root is not None else None
        if too_big is not None:
            raise DefinitionError(source_name, [too_big])
        data = loader.construct_document(root) if root is not None else None
    except RecursionError as exc:  # PyYAML's composer recurses once per nesting level
        message = f"các mục lồng nhau quá sâu (hơn {MAX_DEPTH} cấp)"
        reached = loader.get_mark().line + 1  # where the reader stood when the nesting ran out
        raise DefinitionError(source_name, [Problem("", reached, message)]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise DefinitionError(source_name, [Problem("", line, f"lỗi cú pháp YAML: {detail}")]) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(source_name, [Problem("", None, f"lỗi cú pháp YAML: {exc}")]) from exc
    finally:
        loader.dispose()

    if root is None or not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else None
        message = "tệp phải là một nhóm mục “khóa: giá trị” (code, title, …)"
        raise DefinitionError(source_name, [Problem("", line, message)])

    problems = [Problem(format_path(loc), line, "khóa bị lặp") for loc, line in _duplicate_keys(root)]
    try:
        defn = CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, root))
        raise DefinitionError(source_name, problems) from exc
    if problems:
        raise DefinitionError(source_name, problems)
    return defn


def load_definition(path: Path | str) -> CampaignDefinition:
    """Read a definition file (UTF-8 YAML); errors name the file by its base name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(path.name, [Problem("", None, f"không đọc được tệp: {exc}")]) from exc
    return parse_definition(text, path.name)


__all__ = [
    "KIND_LABELS",
    "Award",
    "AwardForm",
    "CampaignDefinition",
    "CampaignKind",
    "DayOffRule",
    "DefinitionError",
    "Indicator",
    "LedgerRules",
    "Problem",
    "Window",
    "canonical_json",
    "definition_from_json",
    "definition_hash",
    "format_path",
    "load_definition",
    "parse_definition",
]
