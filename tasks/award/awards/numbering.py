"""Decision numbers: one sequence per issuing authority and year, allocated under a row lock."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from thidua.models.db import insert_ignore
from thidua.models.text import nfc
from thidua.tasks.award.awards.shared import COUNTER


def allocate_decision_number(session: Session, authority_unit_code: str, year: int) -> int:
    """The next number of the authority's register in `year` (1, 2, ...), in the caller's transaction.

    The UPDATE locks the counter row until the caller commits or rolls back: concurrent issuances of one
    authority queue on it (PostgreSQL) and a rolled-back issuance gives its number back, so numbers have
    neither gaps nor duplicates. A new year starts a new row, hence numbering restarts at 1.
    """
    code = nfc(authority_unit_code)
    insert_ignore(
        session,
        COUNTER,
        {"authority_unit_code": code, "year": year, "last_number": 0},
        ["authority_unit_code", "year"],
    )
    number = session.execute(
        update(COUNTER)
        .where(COUNTER.c.authority_unit_code == code, COUNTER.c.year == year)
        .values(last_number=COUNTER.c.last_number + 1)
        .returning(COUNTER.c.last_number)
    ).scalar_one()
    return int(number)


def decision_reference(number: int, symbol: str) -> str:
    """'05/QĐ-CTHADS' (Decree 30: a leading zero below 10)."""
    return f"{number:02d}/{symbol}"
