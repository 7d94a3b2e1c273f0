"""The demo package stays at the entry layer: no production module outside deploy/ imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION = ("models", "tasks", "flows", "notifications")
DEMO = "thidua.deploy.demo"


def _demo_imports(path: Path, root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any(name == DEMO or name.startswith(f"{DEMO}.") for name in names):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_module_outside_deploy_imports_the_demo_package() -> None:
    modules = [path for top in PRODUCTION for path in sorted((ROOT / top).rglob("*.py"))]
    assert len(modules) > 20  # the scan really reads the source tree
    offenders = [where for path in modules for where in _demo_imports(path)]
    assert offenders == []


def test_the_scan_sees_every_spelling_of_a_demo_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import thidua.deploy.demo.names\n"
        "from thidua.deploy import demo\n"
        "from thidua.deploy.demo.council import demo_council\n"
        "from thidua.deploy import cli_common\n"
        "import thidua.deploy.demolition\n",
        encoding="utf-8",
    )
    assert _demo_imports(probe, tmp_path) == ["probe.py:1", "probe.py:2", "probe.py:3"]
