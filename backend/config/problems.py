"""What is wrong with the settings, said as a person set them: by variable name, not a traceback."""

from __future__ import annotations

import re

from pydantic import ValidationError
from pydantic_settings import SettingsError

from backend.config.settings import Settings

# pydantic-settings names the field, not the variable, when a value is not the JSON it needs.
_UNPARSED = re.compile(r'field "(\w+)"')


def _variable(name: str) -> str:
    field = Settings.model_fields.get(name)
    return (field.alias if field is not None and field.alias else name).upper()


def settings_problems(exc: ValidationError | SettingsError) -> list[str]:
    """One line for each bad value: the variable, what is wrong, and what it was set to."""
    if isinstance(exc, SettingsError):
        found = _UNPARSED.search(str(exc))
        if found is None:
            return [str(exc)]
        return [
            f"{_variable(found.group(1))} must be a JSON list, "
            'such as ["first", "second"] (with the double quotes)'
        ]
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        if not where:  # a check of several values: its message names them
            lines.append(message)
            continue
        given = error.get("input")
        said = f" (it is {given!r})" if isinstance(given, str | int | float) else ""
        lines.append(f"{_variable(where)}: {message}{said}")
    return lines
