"""Problems found while reading a trace: one `file:line: problem` line each, or a skip count."""

from __future__ import annotations

from simscale.errors import InputError

MAX_PROBLEMS = 10
"""A strict read stops after this many bad rows."""


class Problems:
    """Collects per-row problems (strict) or counts skipped rows (lenient)."""

    def __init__(self, source: str, lenient: bool) -> None:
        self.source = source
        self.lenient = lenient
        self.lines: list[str] = []
        self.skipped = 0

    def row(self, where: str, problem: str) -> None:
        """A bad row at `where` ("12" for a line, " row 12" for a Parquet row)."""
        if self.lenient:
            self.skipped += 1
            return
        self.lines.append(f"{self.source}:{where}: {problem}")
        if len(self.lines) >= MAX_PROBLEMS:
            raise InputError([*self.lines, f"{self.source}: stopped after {MAX_PROBLEMS} problems"])

    def fatal(self, problem: str) -> InputError:
        """The error for a problem with the file as a whole (after the rows named so far)."""
        return InputError([*self.lines, f"{self.source}: {problem}"])

    def check(self) -> None:
        """Raise the rows named so far, if any."""
        if self.lines:
            raise InputError(self.lines)

    def no_rows(self) -> InputError:
        extra = f" ({self.skipped} bad rows skipped)" if self.skipped else ""
        return self.fatal(f"no data rows{extra}")


class Bad(Exception):
    """A problem with one row; the message is the problem."""


def show(value: str, limit: int = 40) -> str:
    """A value quoted for a one-line message, cut to `limit` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")
