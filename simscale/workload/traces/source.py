"""A trace file as a bounded stream: plain or gzip, read in blocks of whole lines.

Nothing here holds more than a block (1 MiB) plus one line (at most MAX_LINE_BYTES) of the
file at a time, however large the file or whatever it inflates to; the readers turn each
block into columns before the next is read.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from simscale.errors import InputError
from simscale.workload.traces.bounds import MAX_INPUT_BYTES, MAX_LINE_BYTES, MAX_ROWS
from simscale.workload.traces.problems import Problems, show

BLOCK_BYTES = 1 << 20  # at most MAX_LINE_BYTES: a line within one block is never too long
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


class Source:
    """An open trace file: its first block (`head`, to tell the format) and the rest as a
    stream. Use as a context manager. Raises InputError (via `problems`) for a missing,
    unreadable, empty, damaged (gzip) or oversized file."""

    def __init__(self, path: Path, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        self._raw = _open(path, problems)
        try:
            magic = self._raw.peek(2)[:2]
            self.gzip = path.suffix.lower() == ".gz" or magic == GZIP_MAGIC
            self._stream: BinaryIO = gzip.GzipFile(fileobj=self._raw) if self.gzip else self._raw
            self.bytes_read = 0
            self.head = self.read(BLOCK_BYTES)
            if not self.head.strip() and not self._more():
                raise problems.fatal("empty file")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._raw.close()

    def _more(self) -> bool:
        """Whether anything follows the head (reads one byte ahead into the head)."""
        extra = self.read(1)
        self.head += extra
        return bool(extra)

    def read(self, size: int) -> bytes:
        """Up to `size` bytes more (decompressed); refuses a file beyond MAX_INPUT_BYTES."""
        try:
            data = self._stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            problem = "not a valid gzip file" if self.gzip else "cannot read"
            raise self.problems.fatal(f"{problem} ({exc})") from None
        self.bytes_read += len(data)
        if self.bytes_read > MAX_INPUT_BYTES:
            inflated = " once decompressed" if self.gzip else ""
            size = size_text(MAX_INPUT_BYTES)
            raise self.problems.fatal(
                f"more than {size}{inflated}: a trace is at most {size} of data (split or "
                "sample it)"
            )
        return data

    # ------------------------------------------------------------ text

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(number of its first line, bytes of whole lines) in file order, a leading byte-order
        mark dropped; the last block may lack a final newline. A line longer than
        MAX_LINE_BYTES is a bad row, skipped unread; more than MAX_ROWS lines are refused."""
        line, carry, data = 1, b"", self.head.removeprefix(BOM)
        self.head = b""
        while data:
            if carry:  # the line begun in an earlier block: the only one that can be too long
                end = data.find(b"\n")
                if end >= 0 and len(carry) + end > MAX_LINE_BYTES:
                    self.problems.row(str(line), f"line longer than {MAX_LINE_BYTES:,} bytes")
                    carry, data, line = b"", data[end + 1 :], line + 1
                    data = data or self.read(BLOCK_BYTES)
                    continue
            buf = carry + data if carry else data
            cut = buf.rfind(b"\n") + 1
            carry = buf[cut:]
            if cut:
                yield line, buf[:cut]
                line += buf.count(b"\n", 0, cut)
                self._check_lines(line - 1)
            if len(carry) > MAX_LINE_BYTES:
                self.problems.row(str(line), f"line longer than {MAX_LINE_BYTES:,} bytes")
                carry = b""
                data = self._skip_line() or self.read(BLOCK_BYTES)
                line += 1
                continue
            data = self.read(BLOCK_BYTES)
        if carry:
            yield line, carry

    def _skip_line(self) -> bytes:
        """Read to the end of the current line; the data after it in the last block read."""
        while True:
            data = self.read(BLOCK_BYTES)
            end = data.find(b"\n")
            if not data or end >= 0:
                return data[end + 1 :] if data else b""

    def _check_lines(self, lines: int) -> None:
        if lines > MAX_ROWS:
            raise self.problems.fatal(
                f"more than {MAX_ROWS:,} lines: a trace holds at most {MAX_ROWS:,} rows "
                "(split or sample it)"
            )

    def text_blocks(self) -> Iterator[tuple[int, str]]:
        """decode(blocks())."""
        return decode(self.blocks(), self.problems)

    def lines(self) -> Iterator[tuple[int, str]]:
        """lines_of(text_blocks())."""
        return lines_of(self.text_blocks())

    # ------------------------------------------------------------ binary

    def seekable_file(self) -> tuple[str | BinaryIO, BinaryIO | None]:
        """The whole file for random access (Parquet): the path itself, or a gzip's content
        spooled to a temporary file (returned second, to be closed by the caller)."""
        if not self.gzip:
            return str(self.path), None
        spool = tempfile.TemporaryFile()
        try:
            spool.write(self.head)
            while data := self.read(BLOCK_BYTES):
                spool.write(data)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool, spool


def decode(blocks: Iterator[tuple[int, bytes]], problems: Problems) -> Iterator[tuple[int, str]]:
    """Blocks decoded as UTF-8. Not UTF-8: an error naming the line, or (lenient) U+FFFD in
    place of the bad bytes."""
    for first, raw in blocks:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not problems.lenient:
                line = first + raw.count(b"\n", 0, exc.start)
                raise InputError([*problems.lines, f"{problems.source}:{line}: not UTF-8 text"]
                                 ) from None
            text = raw.decode("utf-8", errors="replace")
        yield first, text


def size_text(size: int) -> str:
    """A byte count for a message: "8 GiB", "3 MiB"."""
    return f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"


def lines_of(blocks: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of text blocks as CSV sees them (split at \\n, \\r\\n
    or \\r), the number being that of the line's start; ends of lines kept."""
    for first, text in blocks:
        line = first
        for piece in io.StringIO(text, newline=""):
            yield line, piece
            line += piece.count("\n")


def _open(path: Path, problems: Problems) -> io.BufferedReader:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except FileNotFoundError:
        raise problems.fatal("no such file") from None
    except IsADirectoryError:
        raise problems.fatal("is a directory, not a trace file") from None
    except OSError as exc:
        raise problems.fatal(f"cannot read ({exc.strerror or exc})") from None


def detect(path: Path, head: bytes, problems: Problems) -> str:
    """The format from the extension, else from the first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    if ext in (".parquet", ".pq") or (ext != ".csv" and head[:4] == b"PAR1"):
        return "parquet"
    if ext in (".jsonl", ".ndjson", ".json") or (ext != ".csv" and head.lstrip()[:1] == b"{"):
        return "mooncake"
    first = head.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {name.strip() for name in first.strip().split(",")}
    if set(AZURE_COLUMNS) <= names:
        return "azure"
    if "arrival_s" in names:
        return "csv"
    raise problems.fatal(
        f"cannot tell the trace format from the header {show(first.strip())}: expected Azure "
        f"({','.join(AZURE_COLUMNS)}) or generic CSV (arrival_s,...), or pass a format"
    )

