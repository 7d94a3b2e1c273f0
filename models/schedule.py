"""The reporting calendar of a campaign: cumulative monthly periods, the final report, the dossier deadline.

Pure: a definition and a working-day calendar in, a list of deadlines out. The launch stores them as
Deadline rows; reminders work from `due_date`, documents show `nominal_due` where the plan's own date matters.
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass, replace
from datetime import date, timedelta

from thidua.models.campaign import DeadlineKind
from thidua.models.definition import CampaignDefinition, DueOffset
from thidua.models.workdays import WorkCalendar

#: The key of the campaign's one dossier deadline (nominations and their dossiers).
DOSSIER_KEY = "dossier"
_KIND_ORDER = {DeadlineKind.PERIOD_REPORT: 0, DeadlineKind.FINAL_REPORT: 1, DeadlineKind.DOSSIER: 2}


@dataclass(frozen=True)
class ScheduledDeadline:
    key: str  # "2024-01", "final", "dossier"
    kind: DeadlineKind
    label: str  # "Báo cáo tháng 01/2024"
    period_start: date | None
    period_end: date | None
    nominal_due: date  # cut-off + offset, or the date the plan states; before the day-off rule
    due_date: date  # after the day-off rule


def month_end(day: date) -> date:
    return day.replace(day=_gregorian.monthrange(day.year, day.month)[1])


def monthly_cutoffs(start: date, end: date, first: str | None = None, last: str | None = None) -> list[date]:
    """Last day of each month from start to end (the final one is `end` itself), limited to [first, last]."""
    out: list[date] = []
    cursor = start
    while cursor <= end:
        cutoff = min(month_end(cursor), end)
        key = f"{cutoff:%Y-%m}"
        if (first is None or key >= first) and (last is None or key <= last):
            out.append(cutoff)
        cursor = cutoff + timedelta(days=1)
    return out


def _due(cutoff: date, offset: DueOffset, cal: WorkCalendar) -> date:
    if offset.working_days:
        return cal.add_working_days(cutoff, offset.days)
    return cutoff + timedelta(days=offset.days)


def build_schedule(defn: CampaignDefinition, calendar: WorkCalendar) -> list[ScheduledDeadline]:
    """Every deadline of the campaign, ordered by due date (period reports first on a tie)."""
    rep = defn.reporting
    rule = rep.day_off_rule
    out: list[ScheduledDeadline] = []
    if rep.frequency == "monthly":
        for cutoff in monthly_cutoffs(defn.period.start, defn.period.end, rep.first_period, rep.last_period):
            nominal = _due(cutoff, rep.due_offset, calendar)
            out.append(
                ScheduledDeadline(
                    key=f"{cutoff:%Y-%m}",
                    kind=DeadlineKind.PERIOD_REPORT,
                    label=f"Báo cáo tháng {cutoff:%m/%Y}",
                    # Periods are cumulative: every report covers the campaign from its first day.
                    period_start=defn.period.start,
                    period_end=cutoff,
                    nominal_due=nominal,
                    due_date=calendar.adjust(nominal, rule),
                )
            )
    if rep.final_report is not None:
        final_due = calendar.adjust(rep.final_report.due, rule)
        # The last cut-off is the campaign's end, which the final report covers: a period report due after
        # the final report (seed 003: June, 05/07 vs 03/07/2024) falls due with the final report instead.
        out = [
            replace(d, nominal_due=min(d.nominal_due, rep.final_report.due), due_date=final_due)
            if d.due_date > final_due
            else d
            for d in out
        ]
        out.append(
            ScheduledDeadline(
                key="final",
                kind=DeadlineKind.FINAL_REPORT,
                label=rep.final_report.label,
                period_start=defn.period.start,
                period_end=defn.period.end,
                nominal_due=rep.final_report.due,
                due_date=calendar.adjust(rep.final_report.due, rule),
            )
        )
    out.append(
        ScheduledDeadline(
            key=DOSSIER_KEY,
            kind=DeadlineKind.DOSSIER,
            label=defn.dossier.label,
            period_start=None,
            period_end=None,
            nominal_due=defn.dossier.deadline,
            due_date=calendar.adjust(defn.dossier.deadline, rule),
        )
    )
    out.sort(key=lambda d: (d.due_date, _KIND_ORDER[d.kind], d.key))
    return out


__all__ = ["ScheduledDeadline", "build_schedule", "month_end", "monthly_cutoffs"]
