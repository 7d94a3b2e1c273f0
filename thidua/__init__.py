"""thidua: the workflow backend for emulation and commendation campaigns of the THADS system.

The project's top-level folders (`flows/`, `tasks/`, `models/`, `notifications/`, `deploy/`) are this
package's subpackages: `thidua/<name>` links to `../<name>`, so the installed package (wheel or editable) and
static tools see one tree, `thidua.*`, and nothing is importable under a bare top-level name.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("thidua")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
