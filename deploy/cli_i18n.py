"""Vietnamese for the messages the command-line library (typer and the click it bundles) prints itself.

Two channels: the texts click and typer pass through `gettext` (panel titles “Options”, “Commands”, “Error”,
“No such command”, “Try … for help”, “[required]” …) are answered from `GETTEXT`, installed as the gettext
lookup of the default domain; the texts they format directly (“Usage:”, “Missing argument”, “Invalid value”,
“Show this message and exit.” …) are rewritten by `translate` where they leave the library: in the usage line
and in the message of every usage error. `install()` does both, once, before any help or error is printed.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from typing import Any

GETTEXT: dict[str, str] = {
    "(deprecated) ": "(không dùng nữa) ",
    "(dynamic)": "(động)",
    "Aborted!": "Đã huỷ!",
    "Aborted.": "Đã huỷ.",
    "Arguments": "Đối số",
    "Commands": "Lệnh",
    "Error": "Lỗi",
    "Missing command.": "Thiếu lệnh.",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "Options": "Tuỳ chọn",
    "Try [blue]'{command_path} {help_option}'[/] for help.": (
        "Xem hướng dẫn: [blue]'{command_path} {help_option}'[/]."
    ),
    "[default: {}]": "[mặc định: {}]",
    "[env var: {}]": "[biến môi trường: {}]",
    "[required]": "[bắt buộc]",
    "default: {default}": "mặc định: {default}",
    "env var: {var}": "biến môi trường: {var}",
    "required": "bắt buộc",
}

HELP_OPTION = "Hiện hướng dẫn này và thoát."

#: The value placeholders of the help table (typer writes the Python type: <str>, <int>, <path> …).
TYPE_LABELS: dict[str, str] = {
    "str": "văn bản",
    "int": "số",
    "float": "số",
    "path": "tệp",
    "file": "tệp",
    "directory": "thư mục",
    "datetime": "thời điểm",
}

#: What a positional argument is called in the usage line and the help table (instead of its Python name).
ARGUMENT_NAMES: dict[str, str] = {
    "code": "MÃ_PHONG_TRÀO",
    "file": "TỆP",
    "files": "TỆP",
    "name": "BỘ_MẪU",
    "unit": "MÃ_ĐƠN_VỊ",
    "deadline": "HẠN",
    "reason": "LÝ_DO",
    "meeting": "SỐ_CUỘC_HỌP",
    "award_key": "HÌNH_THỨC",
    "grant_id": "SỐ_KHEN_THƯỞNG",
    "folder": "THƯ_MỤC",
}

#: The placeholders of the usage line.
USAGE_WORDS: list[tuple[str, str]] = [
    ("[OPTIONS]", "[TUỲ CHỌN]"),
    ("COMMAND [ARGS]...", "LỆNH [ĐỐI SỐ]..."),
    ("[ARGS]...", "[ĐỐI SỐ]..."),
]

#: Texts click formats itself, as (English pattern, Vietnamese replacement), applied in order.
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in (
        (r"^Usage: ", "Cách dùng: "),
        (r"Missing argument", "Thiếu đối số"),
        (r"Missing option", "Thiếu tuỳ chọn"),
        (r"Missing parameter", "Thiếu tham số"),
        (r"Invalid value for (.+?): ", r"Giá trị không hợp lệ cho \1: "),
        (r"Invalid value: ", "Giá trị không hợp lệ: "),
        (r"No such option: ", "Không có tuỳ chọn: "),
        (r"Did you mean (.+?)\?", r"Có phải là \1?"),
        (r"\(Possible options: (.+?)\)", r"(các tuỳ chọn có thể: \1)"),
        (r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", r"Thừa đối số (\1)"),
        (r"Option '(.+?)' requires an argument\.", r"Tuỳ chọn '\1' cần một giá trị."),
        (r"Option '(.+?)' does not take a value\.", r"Tuỳ chọn '\1' không nhận giá trị."),
        (r"'(.*?)' is not one of (.+)\.", r"'\1' không thuộc các giá trị: \2."),
        (r"'(.*?)' is not a valid integer( range)?\.", r"'\1' không phải số nguyên hợp lệ."),
        (r"'(.*?)' is not a valid float( range)?\.", r"'\1' không phải số thực hợp lệ."),
        (r"'(.*?)' is not a valid boolean\.", r"'\1' không phải giá trị đúng/sai hợp lệ."),
        (r"'(.*?)' is not a valid (.+?)\.", r"'\1' không phải \2 hợp lệ."),
        (r"'(.*?)' does not match the formats? (.+)\.", r"'\1' không đúng định dạng \2."),
        (r"(File|Path|Directory) '(.*?)' does not exist\.", r"Không có tệp hay thư mục '\2'."),
        (r"(File|Path) '(.*?)' is a directory\.", r"'\2' là một thư mục, không phải tệp."),
        (r"Directory '(.*?)' is a file\.", r"'\1' là một tệp, không phải thư mục."),
        (r"Could not open file (.+?): ", r"Không mở được tệp \1: "),
        (r"Show this message and exit\.", HELP_OPTION),
    )
]

_installed = False


def translate(text: str) -> str:
    """`text` with every English phrase of click that `PATTERNS` knows put into Vietnamese."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Answer click's and typer's messages in Vietnamese for the rest of the process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    # `from gettext import gettext as _` binds the function, but gettext.gettext looks `dgettext` up in its
    # module at every call: replacing it reaches every module that already bound `_`.
    original = gettext.dgettext

    def dgettext(domain: str, message: str) -> str:
        return GETTEXT.get(message) or original(domain, message)

    gettext.dgettext = dgettext

    from typer._click import core, exceptions, formatting

    write_usage = formatting.HelpFormatter.write_usage

    def vietnamese_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        for english, vietnamese in USAGE_WORDS:
            args = args.replace(english, vietnamese)
        write_usage(self, prog, args, "Cách dùng: " if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = vietnamese_usage  # type: ignore[method-assign,assignment]

    get_help_option = core.Command.get_help_option

    def vietnamese_help_option(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option

    core.Command.get_help_option = vietnamese_help_option  # type: ignore[method-assign,assignment]
    _install_type_labels()

    from typer.exceptions import TyperException

    for cls in (
        TyperException,
        exceptions.ClickException,
        exceptions.UsageError,
        exceptions.BadParameter,
        exceptions.MissingParameter,
        exceptions.NoSuchOption,
        exceptions.BadOptionUsage,
        exceptions.BadArgumentUsage,
        exceptions.FileError,
    ):
        if "format_message" in vars(cls):
            cls.format_message = _translated(vars(cls)["format_message"])  # type: ignore[method-assign,assignment]


def _translated(method: Callable[[Any], str]) -> Callable[[Any], str]:
    def format_message(self: Any) -> str:
        return translate(method(self))

    return format_message


def display_type(label: str | None, *, flag: bool) -> str | None:
    """The Vietnamese placeholder for typer's `<type>` label; none for an on/off flag (it takes no value)."""
    if flag or label is None:
        return None
    match = re.fullmatch(r"<(.*)>(\.\.\.)?", label)
    if match is None:
        return label
    inner, repeated = match.group(1), match.group(2) or ""
    listed = re.fullmatch(r"list\[(.*)\]", inner)
    if listed is not None:
        inner, repeated = listed.group(1), "..."
    words = [TYPE_LABELS.get(part.lower(), part) for part in inner.split("|")]
    return f"<{'|'.join(words)}>{repeated}"


def _install_type_labels() -> None:
    from typer import core as typer_core

    for cls in (typer_core.TyperArgument, typer_core.TyperOption):
        original = cls.display_type_rich

        def display_type_rich(self: Any, ctx: Any, _original: Any = original) -> str | None:
            if self.metavar is not None:
                return _original(self, ctx)  # type: ignore[no-any-return]
            return display_type(_original(self, ctx), flag=bool(getattr(self, "is_bool_flag", False)))

        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]

    def display_name_raw(self: Any) -> str:
        if self.metavar is not None:
            return str(self.metavar)
        return ARGUMENT_NAMES.get(self.name, str(self.name).upper())

    typer_core.TyperArgument.display_name_raw = property(display_name_raw)  # type: ignore[assignment,method-assign]
