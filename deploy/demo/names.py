"""Deterministic demo directories: the THADS tree, believable Vietnamese staff, a few discipline records.

Pure data and a seeded generator (no I/O; `write_demo` in this package writes the CSVs). The same name
always yields the same rows, so the files are byte-for-byte identical on every run.

Person codes are `<unit code>-<nn>`, numbered inside each unit in staffing order: `-01` is always the unit's
head (Thủ trưởng đơn vị), then deputies, then the other staff.

## `tuyen-quang-2024` (seed 003, the 2024 Tuyên Quang campaign)

Units: BTP (Bộ) → TCTHADS (Cục) → TQ Cục THADS tỉnh Tuyên Quang (Tỉnh) → departments TQ-VP, TQ-TCCB, TQ-NV,
TQ-KT (Phòng) and the 7 Chi cục TQ-TP, TQ-YS, TQ-SD, TQ-HY, TQ-CH, TQ-NH, TQ-LB (Khu vực). BTP and TCTHADS
have no staff in this demo (the campaign is provincial). 120 staff, all working, exactly one head per unit of
Tuyên Quang: TQ-01 Cục trưởng; TQ-02 Phan Thị Mai Thảo, Phó Cục trưởng (signs the plan "KT. CỤC TRƯỞNG");
TQ-VP-01 Chánh Văn phòng; TQ-TCCB-01, TQ-NV-01, TQ-KT-01 Trưởng phòng; TQ-xx-01 Chi cục trưởng.

Discipline records (the seed's window is 01/10/2023–30/06/2024):

| person   | title           | form        | date       | relative to the window |
| -------- | --------------- | ----------- | ---------- | ---------------------- |
| TQ-YS-04 | Chấp hành viên  | Khiển trách | 30/09/2023 | the day before: outside |
| TQ-SD-05 | Chấp hành viên  | Khiển trách | 01/10/2023 | first day: inside       |
| TQ-HY-04 | Chấp hành viên  | Khiển trách | 30/06/2024 | last day: inside        |
| TQ-NV-03 | Chấp hành viên  | Cảnh cáo    | 15/08/2022 | 2022: outside           |
| TQ-CH-07 | Chấp hành viên  | Khiển trách | 12/03/2024 | inside (see below)      |

TQ-CH-07's record makes TQ-CH the Chi cục whose head is otherwise a good candidate: TQ-CH-01 (Chi cục trưởng)
has no record and fails only the collective criterion that a head must also meet.

So the Chi cục TQ-SD, TQ-HY and TQ-CH are ineligible as collectives inside the window; TQ-YS is not.

## `national-2026` (seed 000, the 2026 national campaign)

BTP (Bộ) → CQL Cục Quản lý THADS (Cục) → its 7 units CQL-VP, CQL-TCCB, CQL-NV, CQL-KT, CQL-KHTC, CQL-THAHC,
CQL-TKDL (Ban) and the 34 provincial bodies (Tỉnh; codes in PROVINCES, e.g. HNI Hà Nội, TQG Tuyên Quang,
HCM TP Hồ Chí Minh), each with 4 departments `<code>-VP/-TCCB/-NV/-KT` (Phòng) and its regional offices
`<code>-KV01`.. (Khu vực; 355 in all, at least 5 per province, the rest by population). About 10,000 staff,
about 1 % no longer working (`Đang công tác` = không, never a head), and about 60 discipline records
spread over 2022–2026.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from thidua.models.directory_rows import DISCIPLINE_COLUMNS, PERSON_COLUMNS, UNIT_COLUMNS, fold
from thidua.models.labels import DISCIPLINE_LABELS, LEVEL_LABELS
from thidua.models.states import DisciplineForm, UnitLevel
from thidua.models.text import fmt_date

DEMO_NAMES: tuple[str, ...] = ("tuyen-quang-2024", "national-2026")

# ---------------------------------------------------------------- names

# Family names with weights close to their share of the population (Nguyễn ~31 %, Trần ~11 %, Lê ~9.5 % ...).
FAMILY_NAMES: dict[str, float] = {
    "Nguyễn": 31.5, "Trần": 10.9, "Lê": 9.5, "Phạm": 7.0, "Hoàng": 5.1, "Phan": 4.5, "Vũ": 3.9,
    "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0, "Đinh": 0.8, "Trịnh": 0.7,
    "Đào": 0.7, "Trương": 0.6, "Hà": 0.6, "Đoàn": 0.5, "Lý": 0.5, "Mai": 0.5, "Lương": 0.5, "Cao": 0.4,
    "Lưu": 0.4, "Lâm": 0.4, "Tạ": 0.3, "Chu": 0.3, "Tô": 0.3, "Kiều": 0.2, "Quách": 0.2, "Vương": 0.2,
    "Thái": 0.2,
}  # fmt: skip
# Southern provinces: Huỳnh and Võ are the southern forms of Hoàng and Vũ.
SOUTH_NAMES: dict[str, float] = {"Huỳnh": 4.0, "Hoàng": 1.1, "Võ": 3.5, "Vũ": 0.4}
# Northern mountain provinces add Tày, Nùng and Dao families; the north-west adds Thái ones.
MOUNTAIN_NAMES: dict[str, float] = {
    "Ma": 1.5, "Nông": 1.5, "Triệu": 0.8, "Lục": 0.5, "Hà": 1.5, "Bàn": 0.4, "Hoàng": 6.5,
}  # fmt: skip
NORTHWEST_NAMES: dict[str, float] = {"Lò": 2.0, "Lường": 1.0, "Quàng": 0.6, "Cầm": 0.6, "Vi": 0.4, "Hà": 1.2}

MALE_MIDDLE: dict[str, float] = {
    "Văn": 35, "Đức": 10, "Minh": 8, "Quang": 6, "Hữu": 6, "Thanh": 5, "Công": 5, "Xuân": 4, "Đình": 4,
    "Quốc": 3, "Thế": 3, "Mạnh": 3, "Tiến": 3, "Ngọc": 3, "Duy": 3, "Trung": 2, "Hoàng": 2, "Việt": 2,
    "Anh": 2, "Tuấn": 1,
}  # fmt: skip
FEMALE_MIDDLE: dict[str, float] = {
    "Thị": 45, "Thu": 6, "Thanh": 5, "Ngọc": 5, "Hồng": 4, "Thị Thu": 4, "Thùy": 3, "Minh": 3, "Kim": 3,
    "Phương": 3, "Thị Thanh": 3, "Thị Minh": 2, "Thị Hồng": 2, "Bích": 2, "Diệu": 1, "Khánh": 1, "Hải": 1,
    "Thị Mai": 1, "Thị Ngọc": 1,
}  # fmt: skip
MALE_GIVEN: tuple[str, ...] = (
    "Anh", "Hùng", "Dũng", "Tuấn", "Hải", "Long", "Nam", "Sơn", "Thắng", "Cường", "Hưng", "Quân", "Hiếu",
    "Tùng", "Trung", "Việt", "Phong", "Khánh", "Đạt", "Bình", "Toàn", "Thành", "Huy", "Kiên", "Lâm", "Nghĩa",
    "Phúc", "Quyết", "Tâm", "Thịnh", "Vinh", "Hoàng", "Minh", "Đức", "Tiến", "Hòa", "Khoa", "Lực", "Mạnh",
    "Quang", "Sáng", "Tài", "Trọng", "Tú", "Chiến", "Công", "Duy", "Giang", "Hậu", "Thanh",
)  # fmt: skip
FEMALE_GIVEN: tuple[str, ...] = (
    "Hương", "Lan", "Hoa", "Mai", "Linh", "Trang", "Hằng", "Thảo", "Ngọc", "Hà", "Huyền", "Nga", "Phương",
    "Thủy", "Yến", "Dung", "Loan", "Nhung", "Oanh", "Quỳnh", "Vân", "Giang", "Hạnh", "Liên", "Thanh", "Thúy",
    "Chi", "Duyên", "Hiền", "Hồng", "Lý", "Nhàn", "Tâm", "Thu", "Trinh", "Uyên", "Xuân", "Anh", "Dịu", "My",
)  # fmt: skip

# Share of men by title (enforcement officers are mostly men, accountants and clerks mostly women).
MALE_SHARE: dict[str, float] = {
    "Chấp hành viên": 0.7, "Thư ký thi hành án": 0.45, "Kế toán": 0.2, "Thủ quỹ": 0.2, "Văn thư": 0.15,
    "Thẩm tra viên": 0.55, "Chuyên viên": 0.5,
}  # fmt: skip
LEADER_MALE_SHARE = 0.75

DISCIPLINE_REASONS: tuple[str, ...] = (
    "Vi phạm thời hạn tổ chức thi hành án",
    "Chậm xác minh điều kiện thi hành án",
    "Vi phạm quy định về quản lý hồ sơ thi hành án",
    "Vi phạm quy chế làm việc của cơ quan",
    "Thiếu trách nhiệm trong kê biên, xử lý tài sản",
    "Vi phạm quy định về thu, chi tiền thi hành án",
)


def _ascii(text: str) -> str:
    return fold(text).replace(" ", "")


@dataclass
class _Namer:
    """Draws names from weighted lists and hands out unique ASCII emails per domain."""

    rng: random.Random
    family: dict[str, float]
    used_emails: set[str] = field(default_factory=set)

    def person(self, title: str, *, leader: bool) -> str:
        male_share = LEADER_MALE_SHARE if leader else MALE_SHARE.get(title, 0.55)
        male = self.rng.random() < male_share
        family = self.rng.choices(list(self.family), weights=list(self.family.values()))[0]
        middles = MALE_MIDDLE if male else FEMALE_MIDDLE
        given_pool = MALE_GIVEN if male else FEMALE_GIVEN
        middle = self.rng.choices(list(middles), weights=list(middles.values()))[0]
        given = self.rng.choice(given_pool)
        while given in middle.split():
            given = self.rng.choice(given_pool)
        return f"{family} {middle} {given}"

    def email(self, full_name: str, domain: str) -> str:
        parts = full_name.split()
        base = f"{_ascii(parts[-1])}.{_ascii(parts[0])}"
        candidate, n = base, 1
        while f"{candidate}@{domain}" in self.used_emails:
            n += 1
            candidate = f"{base}{n}"
        address = f"{candidate}@{domain}"
        self.used_emails.add(address)
        return address


# ---------------------------------------------------------------- output shape


@dataclass
class DemoDirectory:
    units: list[list[str]] = field(default_factory=list)
    people: list[list[str]] = field(default_factory=list)
    discipline: list[list[str]] = field(default_factory=list)
    unit_header: list[str] = field(default_factory=lambda: list(UNIT_COLUMNS.values()))
    person_header: list[str] = field(default_factory=lambda: list(PERSON_COLUMNS.values()))
    discipline_header: list[str] = field(default_factory=lambda: list(DISCIPLINE_COLUMNS.values()))
    _staff: dict[str, list[str]] = field(default_factory=dict)  # unit code -> person codes

    def unit(
        self, code: str, name: str, parent: str | None, level: UnitLevel, email: str, place: str
    ) -> None:
        self.units.append([code, name, parent or "", LEVEL_LABELS[level], email, place])

    def staff(
        self,
        namer: _Namer,
        unit_code: str,
        titles: Sequence[str],
        domain: str,
        *,
        fixed: dict[int, str] | None = None,
        leaders: int = 1,
        retire_share: float = 0.0,
    ) -> None:
        """People of one unit in staffing order; the first title is the head; `leaders` includes deputies."""
        codes = self._staff.setdefault(unit_code, [])
        for index, title in enumerate(titles):
            code = f"{unit_code}-{index + 1:02d}"
            name = (fixed or {}).get(index) or namer.person(title, leader=index < leaders)
            working = index < leaders or namer.rng.random() >= retire_share
            self.people.append(
                [
                    code,
                    name,
                    title,
                    unit_code,
                    namer.email(name, domain),
                    "x" if index == 0 else "",
                    "x" if working else "không",
                ]
            )
            codes.append(code)

    def record(self, person: str, form: DisciplineForm, when: date, reason: str) -> None:
        self.discipline.append([person, DISCIPLINE_LABELS[form], fmt_date(when), reason])


def build_demo(name: str) -> DemoDirectory:
    if name == "tuyen-quang-2024":
        return _tuyen_quang()
    if name == "national-2026":
        return _national()
    raise ValueError(f"Không có bộ dữ liệu mẫu “{name}”; có: {', '.join(DEMO_NAMES)}")


# ---------------------------------------------------------------- Tuyên Quang 2024


def _chi_cuc_titles(size: int, deputies: int, head: str, deputy: str, examiners: int = 1) -> list[str]:
    others = size - 1 - deputies - 2 - examiners  # minus head, deputies, Kế toán, Văn thư, Thẩm tra viên
    officers = round(others * 0.6)
    return (
        [head]
        + [deputy] * deputies
        + ["Chấp hành viên"] * officers
        + ["Thẩm tra viên"] * examiners
        + ["Thư ký thi hành án"] * (others - officers)
        + ["Kế toán", "Văn thư"]
    )


TQ_CHI_CUC: tuple[tuple[str, str, str, int, int], ...] = (
    # code, place, email local part, staff, deputies
    ("TQ-TP", "Tuyên Quang", "thanhpho", 17, 2),
    ("TQ-YS", "Yên Sơn", "yenson", 13, 2),
    ("TQ-SD", "Sơn Dương", "sonduong", 15, 2),
    ("TQ-HY", "Hàm Yên", "hamyen", 12, 1),
    ("TQ-CH", "Chiêm Hóa", "chiemhoa", 13, 2),
    ("TQ-NH", "Na Hang", "nahang", 10, 1),
    ("TQ-LB", "Lâm Bình", "lambinh", 9, 1),
)


def _tuyen_quang() -> DemoDirectory:
    rng = random.Random(2024_0105)
    namer = _Namer(rng, {**FAMILY_NAMES, **MOUNTAIN_NAMES})
    demo = DemoDirectory()
    domain = "thads-tuyenquang.example.vn"
    demo.unit("BTP", "Bộ Tư pháp", None, UnitLevel.BO, "vanthu@moj.example.vn", "Hà Nội")
    demo.unit(
        "TCTHADS", "Tổng cục Thi hành án dân sự", "BTP", UnitLevel.CUC, "vanthu@tcthads.example.vn", "Hà Nội"
    )
    demo.unit(
        "TQ",
        "Cục Thi hành án dân sự tỉnh Tuyên Quang",
        "TCTHADS",
        UnitLevel.TINH,
        f"cuc@{domain}",
        "Tuyên Quang",
    )
    departments = (
        ("TQ-VP", "Văn phòng Cục", "vanphong",
         ["Chánh Văn phòng", "Phó Chánh Văn phòng", "Kế toán", "Kế toán", "Thủ quỹ", "Văn thư", "Văn thư",
          "Chuyên viên", "Chuyên viên", "Chuyên viên"]),
        ("TQ-TCCB", "Phòng Tổ chức cán bộ", "tccb",
         ["Trưởng phòng", "Phó Trưởng phòng", "Chuyên viên", "Chuyên viên", "Chuyên viên"]),
        ("TQ-NV", "Phòng Nghiệp vụ và Tổ chức thi hành án", "nghiepvu",
         ["Trưởng phòng", "Phó Trưởng phòng", "Chấp hành viên", "Chấp hành viên", "Thẩm tra viên",
          "Thẩm tra viên", "Chuyên viên"]),
        ("TQ-KT", "Phòng Kiểm tra, giải quyết khiếu nại, tố cáo", "kiemtra",
         ["Trưởng phòng", "Phó Trưởng phòng", "Thẩm tra viên", "Thẩm tra viên", "Chuyên viên"]),
    )  # fmt: skip
    for code, name, local, _ in departments:
        demo.unit(code, name, "TQ", UnitLevel.PHONG, f"{local}@{domain}", "Tuyên Quang")
    for code, place, local, _, _ in TQ_CHI_CUC:
        kind = "thành phố" if code == "TQ-TP" else "huyện"
        demo.unit(
            code,
            f"Chi cục Thi hành án dân sự {kind} {place}",
            "TQ",
            UnitLevel.KHU_VUC,
            f"{local}@{domain}",
            place,
        )

    demo.staff(
        namer,
        "TQ",
        ["Cục trưởng", "Phó Cục trưởng", "Phó Cục trưởng", "Phó Cục trưởng"],
        domain,
        fixed={1: "Phan Thị Mai Thảo"},
        leaders=4,
    )
    for code, _, _, titles in departments:
        demo.staff(
            namer,
            code,
            titles,
            domain,
            fixed={2: "Nguyễn Hoài Nam"} if code == "TQ-TCCB" else None,
            leaders=2,
        )
    for code, _, _, size, deputies in TQ_CHI_CUC:
        titles = _chi_cuc_titles(size, deputies, "Chi cục trưởng", "Phó Chi cục trưởng")
        demo.staff(namer, code, titles, domain, leaders=1 + deputies)

    demo.record("TQ-YS-04", DisciplineForm.KHIEN_TRACH, date(2023, 9, 30), DISCIPLINE_REASONS[0])
    demo.record("TQ-SD-05", DisciplineForm.KHIEN_TRACH, date(2023, 10, 1), DISCIPLINE_REASONS[1])
    demo.record("TQ-HY-04", DisciplineForm.KHIEN_TRACH, date(2024, 6, 30), DISCIPLINE_REASONS[2])
    demo.record("TQ-NV-03", DisciplineForm.CANH_CAO, date(2022, 8, 15), DISCIPLINE_REASONS[3])
    demo.record("TQ-CH-07", DisciplineForm.KHIEN_TRACH, date(2024, 3, 12), DISCIPLINE_REASONS[4])
    return demo


# ---------------------------------------------------------------- national 2026


@dataclass(frozen=True)
class Province:
    code: str
    name: str  # as in "Thi hành án dân sự <kind> <name>"
    city: bool  # a centrally-run city (thành phố) rather than a province (tỉnh)
    population: float  # millions, after the 2025 merger (rounded)
    region: str  # "mountain", "northwest", "north", "central", "south": drives family-name frequencies


PROVINCES: tuple[Province, ...] = (
    Province("HNI", "Hà Nội", True, 8.7, "north"),
    Province("HUE", "Huế", True, 1.2, "central"),
    Province("LCU", "Lai Châu", False, 0.5, "northwest"),
    Province("DBN", "Điện Biên", False, 0.65, "northwest"),
    Province("SLA", "Sơn La", False, 1.3, "northwest"),
    Province("LSN", "Lạng Sơn", False, 0.8, "mountain"),
    Province("QNH", "Quảng Ninh", False, 1.4, "north"),
    Province("THA", "Thanh Hóa", False, 3.7, "north"),
    Province("NAN", "Nghệ An", False, 3.8, "central"),
    Province("HTH", "Hà Tĩnh", False, 1.3, "central"),
    Province("CBG", "Cao Bằng", False, 0.55, "mountain"),
    Province("TQG", "Tuyên Quang", False, 1.9, "mountain"),
    Province("LCI", "Lào Cai", False, 1.8, "mountain"),
    Province("TNN", "Thái Nguyên", False, 1.7, "mountain"),
    Province("PTO", "Phú Thọ", False, 4.0, "north"),
    Province("BNH", "Bắc Ninh", False, 3.6, "north"),
    Province("HYN", "Hưng Yên", False, 3.6, "north"),
    Province("HPG", "Hải Phòng", True, 4.7, "north"),
    Province("NBH", "Ninh Bình", False, 4.4, "north"),
    Province("QTR", "Quảng Trị", False, 1.9, "central"),
    Province("DNG", "Đà Nẵng", True, 3.1, "central"),
    Province("QNG", "Quảng Ngãi", False, 2.2, "central"),
    Province("GLI", "Gia Lai", False, 3.6, "central"),
    Province("KHA", "Khánh Hòa", False, 2.2, "central"),
    Province("LDG", "Lâm Đồng", False, 3.9, "central"),
    Province("DLK", "Đắk Lắk", False, 3.3, "central"),
    Province("HCM", "Hồ Chí Minh", True, 14.0, "south"),
    Province("DNI", "Đồng Nai", False, 4.5, "south"),
    Province("TNH", "Tây Ninh", False, 3.3, "south"),
    Province("CTO", "Cần Thơ", True, 4.2, "south"),
    Province("VLG", "Vĩnh Long", False, 4.3, "south"),
    Province("DTP", "Đồng Tháp", False, 4.4, "south"),
    Province("CMU", "Cà Mau", False, 2.6, "south"),
    Province("AGG", "An Giang", False, 4.9, "south"),
)
REGIONAL_OFFICES = 355
MIN_OFFICES = 5

CQL_UNITS: tuple[tuple[str, str, str, str], ...] = (
    # code, name, email local part, head title (deputy = "Phó " + head title)
    ("CQL-VP", "Văn phòng", "vanphong", "Chánh Văn phòng"),
    ("CQL-TCCB", "Ban Tổ chức cán bộ", "tccb", "Trưởng ban"),
    ("CQL-NV", "Ban Nghiệp vụ thi hành án", "nghiepvu", "Trưởng ban"),
    ("CQL-KT", "Ban Kiểm tra, giải quyết khiếu nại, tố cáo", "kiemtra", "Trưởng ban"),
    ("CQL-KHTC", "Ban Kế hoạch – Tài chính", "khtc", "Trưởng ban"),
    ("CQL-THAHC", "Ban Theo dõi thi hành án hành chính", "thahc", "Trưởng ban"),
    ("CQL-TKDL", "Ban Thống kê, dữ liệu và chuyển đổi số", "tkdl", "Trưởng ban"),
)
PROVINCE_DEPARTMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("VP", "Văn phòng", "vanphong", "Chánh Văn phòng"),
    ("TCCB", "Phòng Tổ chức cán bộ", "tccb", "Trưởng phòng"),
    ("NV", "Phòng Nghiệp vụ và Tổ chức thi hành án", "nghiepvu", "Trưởng phòng"),
    ("KT", "Phòng Kiểm tra, giải quyết khiếu nại, tố cáo", "kiemtra", "Trưởng phòng"),
)
DEPARTMENT_STAFF: dict[str, tuple[str, ...]] = {
    "VP": ("Kế toán", "Kế toán", "Thủ quỹ", "Văn thư", "Văn thư", "Chuyên viên"),
    "TCCB": ("Chuyên viên",),
    "NV": ("Chấp hành viên", "Thẩm tra viên", "Chuyên viên"),
    "KT": ("Thẩm tra viên", "Thẩm tra viên", "Chuyên viên"),
}
NATIONAL_FORMS: dict[DisciplineForm, float] = {
    DisciplineForm.KHIEN_TRACH: 60, DisciplineForm.CANH_CAO: 25, DisciplineForm.HA_BAC_LUONG: 3,
    DisciplineForm.GIANG_CHUC: 3, DisciplineForm.CACH_CHUC: 2, DisciplineForm.BUOC_THOI_VIEC: 2,
    DisciplineForm.VI_PHAM_PHAP_LUAT: 5,
}  # fmt: skip


def office_counts() -> dict[str, int]:
    """Regional offices per province: at least MIN_OFFICES, the rest by population (largest remainder)."""
    spare = REGIONAL_OFFICES - MIN_OFFICES * len(PROVINCES)
    total = sum(p.population for p in PROVINCES)
    shares = {p.code: spare * p.population / total for p in PROVINCES}
    counts = {code: MIN_OFFICES + int(share) for code, share in shares.items()}
    left = REGIONAL_OFFICES - sum(counts.values())
    for code in sorted(shares, key=lambda c: (-(shares[c] - int(shares[c])), c))[:left]:
        counts[code] += 1
    return counts


def _family_for(region: str) -> dict[str, float]:
    if region == "mountain":
        return {**FAMILY_NAMES, **MOUNTAIN_NAMES}
    if region == "northwest":
        return {**FAMILY_NAMES, **NORTHWEST_NAMES}
    if region == "south":
        return {**FAMILY_NAMES, **SOUTH_NAMES}
    return dict(FAMILY_NAMES)


def _national() -> DemoDirectory:
    rng = random.Random(2026_0225)
    used: set[str] = set()
    demo = DemoDirectory()
    retire = 0.01
    demo.unit("BTP", "Bộ Tư pháp", None, UnitLevel.BO, "vanthu@moj.example.vn", "Hà Nội")
    cql_domain = "cqlthads.example.vn"
    demo.unit("CQL", "Cục Quản lý thi hành án dân sự", "BTP", UnitLevel.CUC, f"vanthu@{cql_domain}", "Hà Nội")
    namer = _Namer(rng, _family_for("north"), used)
    demo.staff(namer, "CQL", ["Cục trưởng", "Phó Cục trưởng", "Phó Cục trưởng", "Phó Cục trưởng"], cql_domain,
               leaders=4)  # fmt: skip
    for code, name, local, head in CQL_UNITS:
        demo.unit(code, name, "CQL", UnitLevel.BAN, f"{local}@{cql_domain}", "Hà Nội")
        size = rng.randint(10, 18)
        titles = [head, "Phó " + head, "Phó " + head] + [
            rng.choice(("Chuyên viên chính", "Chuyên viên", "Chuyên viên", "Thẩm tra viên chính"))
            for _ in range(size - 3)
        ]
        demo.staff(namer, code, titles, cql_domain, leaders=3, retire_share=retire)

    offices = office_counts()
    for p in PROVINCES:
        kind = "thành phố" if p.city else "tỉnh"
        place = "Thành phố Hồ Chí Minh" if p.code == "HCM" else p.name
        domain = f"thads-{_ascii(p.name)}.example.vn"
        namer = _Namer(rng, _family_for(p.region), used)
        scale = max(0.6, min(1.8, p.population / 3.0))  # bigger provinces have bigger departments
        demo.unit(
            p.code, f"Thi hành án dân sự {kind} {p.name}", "CQL", UnitLevel.TINH, f"vanthu@{domain}", place
        )
        leaders = ["Trưởng Thi hành án dân sự"] + ["Phó Trưởng Thi hành án dân sự"] * (
            3 if p.population > 3 else 2
        )
        demo.staff(namer, p.code, leaders, domain, leaders=len(leaders))
        for suffix, name, local, head in PROVINCE_DEPARTMENTS:
            code = f"{p.code}-{suffix}"
            demo.unit(code, name, p.code, UnitLevel.PHONG, f"{local}@{domain}", place)
            pool = DEPARTMENT_STAFF[suffix]
            size = round(rng.randint(5, 9) * scale)
            titles = [head, "Phó " + head] + [pool[i % len(pool)] for i in range(max(size - 2, 1))]
            demo.staff(namer, code, titles, domain, leaders=2, retire_share=retire)
        for n in range(1, offices[p.code] + 1):
            code = f"{p.code}-KV{n:02d}"
            demo.unit(
                code,
                f"Phòng Thi hành án dân sự khu vực {n} – {p.name}",
                p.code,
                UnitLevel.KHU_VUC,
                f"kv{n:02d}@{domain}",
                place,
            )
            size = rng.randint(17, 34)
            deputies = 2 if size > 22 else 1
            titles = _chi_cuc_titles(
                size, deputies, "Trưởng phòng", "Phó Trưởng phòng", examiners=1 + size // 20
            )
            demo.staff(namer, code, titles, domain, leaders=1 + deputies, retire_share=retire)

    people = [row[0] for row in demo.people]
    forms = list(NATIONAL_FORMS)
    weights = list(NATIONAL_FORMS.values())
    first, span = date(2022, 1, 1), (date(2026, 5, 31) - date(2022, 1, 1)).days
    for person in sorted(rng.sample(people, 60)):
        form = rng.choices(forms, weights=weights)[0]
        when = first + timedelta(days=rng.randint(0, span))
        demo.record(person, form, when, rng.choice(DISCIPLINE_REASONS))
    return demo
