"""scheduler jobs point at the thidua package

The modules moved under one installed package (`deploy.jobs` became `thidua.deploy.jobs`). APScheduler's job
store keeps each job's callable as a "module:function" text inside a pickled state; a reference to the old module
would fail to load, and APScheduler would then drop the job together with its pending run time. This revision
rewrites those references in place, so a run missed while the service was down is still caught up after the
upgrade. The table belongs to APScheduler and exists only where `thidua serve` has run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 03:20:00
"""

from __future__ import annotations

import pickle

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "apscheduler_jobs"
OLD, NEW = "deploy.jobs:", "thidua.deploy.jobs:"


def _rewrite(old: str, new: str) -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(TABLE):
        return
    jobs = sa.table(TABLE, sa.column("id", sa.String), sa.column("job_state", sa.LargeBinary))
    for job_id, blob in bind.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        state = pickle.loads(blob)  # noqa: S301 (our own scheduler's rows)
        func = state.get("func")
        if isinstance(func, str) and func.startswith(old):
            state["func"] = new + func[len(old):]
            bind.execute(
                jobs.update().where(jobs.c.id == job_id).values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL))
            )


def upgrade() -> None:
    _rewrite(OLD, NEW)


def downgrade() -> None:
    _rewrite(NEW, OLD)
