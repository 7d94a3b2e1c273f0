"""The project installs as one package, `thidua`: nothing lands in site-packages under a bare name, the wheel
holds only `thidua/...`, and references stored before the move (scheduler jobs, Prefect entry points)
resolve."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from alembic import command
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import LargeBinary, String, column, select, table, update

from thidua.deploy.scheduler import JOBSTORE_TABLE
from thidua.models.db import alembic_config, current_revision, head_revision, make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("models", "tasks", "flows", "deploy", "notifications")


def test_installed_package_imports_only_under_thidua(tmp_path: Path) -> None:
    probe = (
        "import importlib, json\n"
        "out = {}\n"
        f"for name in {SUBPACKAGES!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "        out[name] = 'bare'\n"
        "    except ModuleNotFoundError:\n"
        "        out[name] = 'absent'\n"
        "    importlib.import_module('thidua.' + name)\n"
        "import thidua.models, thidua.deploy.cli\n"
        "out['cli'] = thidua.deploy.cli.__name__\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    import json

    result = json.loads(done.stdout)
    assert result == {**dict.fromkeys(SUBPACKAGES, "absent"), "cli": "thidua.deploy.cli"}


def test_no_module_imports_a_bare_top_level_name() -> None:
    """The banned-api rule in pyproject.toml refuses `import models` and friends anywhere in the tree."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "TID251", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_wheel_holds_only_the_thidua_package(tmp_path: Path) -> None:
    # Built from a copy of the sources: an in-tree build/ left by an earlier build would leak stale files.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "var", "bench", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("thidua-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"thidua", next(t for t in tops if t.endswith(".dist-info"))}
    for needed in (
        "thidua/__init__.py",
        "thidua/models/db.py",
        "thidua/tasks/review/council/ballot.py",
        "thidua/deploy/cli.py",
        "thidua/models/data/base_salary.yaml",
        "thidua/deploy/demo/examples/tuyen-quang-2024.yaml",
        "thidua/models/migrations/env.py",
        "thidua/models/migrations/versions/0006_scheduler_jobs_under_the_thidua_package.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("thidua/notifications/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "thidua = thidua.deploy.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_prefect_yaml_entry_points_resolve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(tmp_path)  # module paths of the installed package: no checkout needed
    config = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text(encoding="utf-8"))
    entry_points = [dep["entrypoint"] for dep in config["deployments"]]
    loaded = {entry: load_flow_from_entrypoint(entry) for entry in entry_points}
    assert loaded and all(callable(f) and f.__module__ for f in loaded.values())


def test_scheduler_jobs_stored_under_the_old_module_names_survive_the_upgrade(tmp_path: Path) -> None:
    """A job stored by an install before the move keeps its callable and its pending run time."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0005")
    due = datetime(2024, 7, 4, 0, 0, tzinfo=UTC)
    scheduler = BackgroundScheduler(timezone=UTC)  # never started: the rows are written through the store
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    store.start(scheduler, "default")
    for job_id, func, args, run_at in (
        ("collect:TQ:2024-06", "thidua.deploy.jobs:run_collect", ("TQ", "2024-06"), due),
        ("outbox", "thidua.deploy.jobs:dispatch_outbox", (), due + timedelta(minutes=1)),
    ):
        job = Job(
            scheduler,
            id=job_id,
            func=func,
            args=args,
            kwargs={},
            trigger=DateTrigger(run_at),
            executor="default",
            name=job_id,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=run_at,
        )
        store.add_job(job)
    # What an install before the move wrote: the same rows with the callables under the bare module name.
    jobs = table(JOBSTORE_TABLE, column("id", String), column("job_state", LargeBinary))
    with engine.begin() as conn:
        for job_id, blob in conn.execute(select(jobs.c.id, jobs.c.job_state)).all():
            state = pickle.loads(blob)
            state["func"] = state["func"].removeprefix("thidua.")
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(job_state=pickle.dumps(state)))
    with engine.connect() as conn:
        stored = {pickle.loads(b)["func"] for b in conn.execute(select(jobs.c.job_state)).scalars()}
    assert stored == {"deploy.jobs:run_collect", "deploy.jobs:dispatch_outbox"}

    upgrade(engine)

    assert current_revision(engine) == head_revision(engine)
    restored = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    restored.start(BackgroundScheduler(timezone=UTC), "default")
    loaded = {job.id: job for job in restored.get_all_jobs()}
    assert set(loaded) == {"collect:TQ:2024-06", "outbox"}
    assert loaded["collect:TQ:2024-06"].func_ref == "thidua.deploy.jobs:run_collect"
    assert loaded["collect:TQ:2024-06"].args == ("TQ", "2024-06")
    assert loaded["collect:TQ:2024-06"].next_run_time == due
    assert loaded["outbox"].func_ref == "thidua.deploy.jobs:dispatch_outbox"
    engine.dispose()
