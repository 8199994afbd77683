"""Command lines of the two entry points: ``--help`` that lists every ``ISC_*`` setting.

The list is made from ``Settings``' own fields, so it cannot drift from what the processes read.
Nothing here imports the apps: ``--help`` answers at once, binds no port, loads no model.
"""

from __future__ import annotations

import argparse
import textwrap
from enum import Enum
from pathlib import Path

from pydantic_core import PydanticUndefined

from shared.settings import Settings

NAME_WIDTH = 32
TEXT_WIDTH = 100


def format_default(value: object) -> str:
    """A default as one would write it in the environment."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path):
        return str(value)
    if value == "":
        return '""'
    return str(value)


def settings_help() -> str:
    """Every setting: its environment variable, its default and its description."""
    prefix = Settings.model_config.get("env_prefix", "")
    lines = ["settings (environment variables, shared by the gateway and its worker):"]
    indent = " " * (NAME_WIDTH + 2)
    for name, field in Settings.model_fields.items():
        default = field.default
        if default is PydanticUndefined and field.default_factory is not None:
            default = field.default_factory()  # type: ignore[call-arg]
        head = f"  {prefix}{name.upper()}".ljust(NAME_WIDTH + 2)
        text = f"{field.description or ''} (default: {format_default(default)})"
        wrapped = textwrap.wrap(text, TEXT_WIDTH - len(indent), break_on_hyphens=False) or [""]
        if len(head.rstrip()) >= NAME_WIDTH + 2:
            lines.append(head.rstrip())
            lines.extend(indent + line for line in wrapped)
        else:
            lines.append(head + wrapped[0])
            lines.extend(indent + line for line in wrapped[1:])
    return "\n".join(lines)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser whose help ends with the settings."""
    return argparse.ArgumentParser(
        prog=prog,
        description=textwrap.fill(description, TEXT_WIDTH),
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
