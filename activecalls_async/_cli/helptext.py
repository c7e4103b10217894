"""How ``activecalls`` lays out its help: every option's default stated once."""

from __future__ import annotations

import argparse

__all__ = ["HelpFormatter", "RawHelpFormatter"]


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option that has a default worth showing and does
    not already state it; a flag's True or False never is (its help says what happens
    without it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if isinstance(default, bool):
            # Before Python 3.13, BooleanOptionalAction appends its default to the help.
            return text.replace(" (default: %(default)s)", "")
        if (
            "default" in text
            or default is None
            or default == argparse.SUPPRESS
            or action.option_strings == []
            or isinstance(action, (argparse._HelpAction, argparse._VersionAction))
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """A help whose description and epilog are laid out by hand."""
