"""thidua: the workflow backend for emulation and commendation campaigns of the THADS system.

The project's top-level folders (`flows/`, `tasks/`, `models/`, `notifications/`, `deploy/`) are this
package's subpackages: `thidua/<name>` links to `../<name>`, so the installed package (wheel or editable) and
static tools see one tree, `thidua.*`, and nothing is importable under a bare top-level name.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # Looked up on first use: importlib.metadata would cost every command ~40 ms.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("thidua")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'thidua' has no attribute {name!r}")
