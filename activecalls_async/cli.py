# PYTHON_ARGCOMPLETE_OK
"""The ``activecalls`` command: parse the arguments, run one subcommand, return its status.

Tab completion comes from ``argcomplete`` when it is installed (the ``completion`` extra):
``eval "$(register-python-argcomplete activecalls)"``. Without it nothing changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from argparse import Namespace
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ._cli.config import configured_secrets
from ._cli.failures import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, describe
from ._cli.parser import Parser, build_parser, hidden_arguments

__all__ = ["main"]

Command = Callable[[Namespace, Mapping[str, str]], Coroutine[Any, Any, int]]


def _command(name: str) -> Command:
    """The coroutine function behind a subcommand (imported on demand: startup stays fast)."""
    if name == "list":
        from ._cli.commands import run_list

        return run_list
    if name == "accounts":
        from ._cli.commands import run_accounts

        return run_accounts
    if name == "queue-check":
        from ._cli.commands import run_queue_check

        return run_queue_check
    if name == "watch":
        from ._cli.live import run_watch

        return run_watch
    if name == "top":
        from ._cli.top import run_top

        return run_top
    if name == "simulator":
        from ._cli.serve import run_simulator

        return run_simulator
    if name == "demo":
        from ._cli.demo import run_demo

        return run_demo
    from ._cli.commands import run_action

    return run_action


def main(argv: list[str] | None = None) -> int:
    """Run ``activecalls`` with ``argv`` (default: the process's arguments); return the status.

    Bad input and failed requests print one line on stderr, never a traceback or a secret.
    When the reader of stdout goes away (``activecalls list | head``) the command stops
    quietly with status 0, so ``set -o pipefail`` scripts do not fail.
    """
    status = EXIT_OK  # if the reader leaves mid-command: it got all that it read
    try:
        status = _run(argv)
        # A closed pipe shows here rather than at interpreter exit, where it would print
        # "Exception ignored ... BrokenPipeError" and turn the status into 120.
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    return status


def _complete(parser: Parser) -> None:
    """Answer a shell's completion request, when argcomplete is installed (else nothing)."""
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _run(argv: list[str] | None) -> int:
    environ = os.environ
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    _complete(parser)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:  # a bare ``activecalls``: say what it can do
        parser.print_help()
        return EXIT_OK
    if getattr(args, "verbose", None):
        from ._cli.config import configure_logging

        configure_logging(args)  # for every command, the simulator and the demo included
    try:
        return asyncio.run(_command(args.command)(args, environ))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away: main() stops quietly
    except Exception as exc:
        secrets = [*configured_secrets(args, environ), *hidden_arguments(words)]
        message, status = describe(exc, secrets)
        print(message, file=sys.stderr)
        return status


def _discard_stdout() -> None:
    """Point stdout's file descriptor at the null device, as the Python docs recommend for
    SIGPIPE: what is still buffered is then flushed there at exit instead of failing."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
