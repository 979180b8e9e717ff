"""Importing JSON-lines usage files through the ingestion service, in constant memory.

The file is read line by line and sent in chunks of 1,000 events, so memory
does not grow with the file. Bad lines are reported and skipped (the service
refuses a chunk whole, so the chunk is sent again without them); re-running
the same file is safe: recorded events come back as duplicates. This module
charges in the calling process; import_workers.py shares the same steps
(`charge_lines`) among worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from billing.ledger.actor import Actor
from billing.usage.events import MAX_EVENTS, InvalidEvents, loads
from billing.usage.ingestion.record import CHARGED, DUPLICATE, REJECTED, record_usage

MAX_REPORTED = 20  # problems printed in full; the rest only counted


@dataclass
class ImportReport:
    lines: int = 0
    charged: int = 0
    duplicate: int = 0
    rejected: int = 0
    invalid: int = 0
    credits: Decimal = Decimal(0)
    balance: Decimal | None = None
    rejections: dict[str, int] = field(default_factory=dict)
    # (line, message) of the first MAX_REPORTED problems by line number: a chunk's problems
    # are found in stages (JSON while reading, then shape, then prices, then charging), not
    # in line order, but are reported in it.
    noted: list[tuple[int, str]] = field(default_factory=list)
    # With workers: the peak RSS of each process, and how long the batches held their turn
    # at the account lock (serial: an import cannot take less time than this).
    peaks_kb: list[int] = field(default_factory=list)
    turn_seconds: float = 0.0

    def add(self, other: ImportReport) -> None:
        """Count in the report of the lines that follow these (`lines` is the caller's)."""
        for name in ("charged", "duplicate", "rejected", "invalid", "credits", "turn_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.rejections.items():
            self.rejections[code] = self.rejections.get(code, 0) + count
        for line_no, message in other.noted:
            self.note(line_no, message)
        if other.balance is not None:
            self.balance = other.balance

    def note(self, line_no: int, message: str) -> None:
        self.noted.append((line_no, message))
        self.noted.sort(key=lambda item: item[0])
        del self.noted[MAX_REPORTED:]

    @property
    def problems(self) -> list[str]:
        return [f"line {line_no}: {message}" for line_no, message in self.noted]

    @property
    def complete(self) -> bool:
        """Everything in the file is now recorded (charged earlier or now)."""
        return not (self.invalid or self.rejected)


def number_lines(lines: Iterable[str], report: ImportReport) -> Iterator[tuple[int, str]]:
    """The non-blank lines with their line numbers; `report.lines` counts every line read."""
    for line_no, line in enumerate(lines, start=1):
        report.lines = line_no
        if line.strip():
            yield line_no, line


def _parse(lines: Iterable[tuple[int, str]], report: ImportReport) -> Iterator[tuple[int, object]]:
    for line_no, line in lines:
        try:
            yield line_no, loads(line)
        except (ValueError, RecursionError) as error:
            report.invalid += 1
            report.note(line_no, f"not valid JSON: {error}")


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    """Chunks of at most `size` lines; a key seen again starts a new chunk, so a repeated
    line is answered as a duplicate (or conflict), as it would be in a later chunk."""
    chunk, keys = [], set()
    for item in items:
        key = item[1].get("idempotency_key") if isinstance(item[1], dict) else None
        if len(chunk) == size or (isinstance(key, str) and key in keys):
            yield chunk
            chunk, keys = [], set()
        chunk.append(item)
        if isinstance(key, str):
            keys.add(key)
    if chunk:
        yield chunk


def import_lines(*, organization, lines: Iterable[str], actor: Actor | None = None,
                 chunk_size: int = MAX_EVENTS,
                 progress: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """The whole file in this process (import_workers.py shares the work among several)."""
    actor = actor or Actor.system("import_usage")
    report = ImportReport()
    for chunk in _chunks(_parse(number_lines(lines, report), report), chunk_size):
        _send(organization, chunk, actor, report)
        if progress:
            progress(report)
    return report


def charge_lines(*, organization, lines: list[tuple[int, str]], actor: Actor, chunk_size: int,
                 before_lock: Callable[[], None] | None = None) -> ImportReport:
    """A run of numbered lines charged as import_lines would; the report of these lines only
    (`lines` unset). `before_lock` is called before each chunk takes the account lock."""
    report = ImportReport()
    for chunk in _chunks(_parse(lines, report), chunk_size):
        _send(organization, chunk, actor, report, before_lock=before_lock)
    return report


def _send(organization, chunk: list[tuple[int, object]], actor, report: ImportReport,
          before_lock: Callable[[], None] | None = None) -> None:
    # Validation runs in stages (shape, then prices), so a chunk may need a few passes.
    while chunk:
        try:
            result = record_usage(
                organization=organization, events=[event for _, event in chunk], actor=actor,
                before_lock=before_lock,
            )
        except InvalidEvents as error:
            bad = {}
            for item in error.details:
                if item["index"] is None:  # not about one event: nothing can be kept
                    bad = {i: item for i in range(len(chunk))}
                    break
                bad.setdefault(item["index"], item)
            for index, item in sorted(bad.items()):
                report.invalid += 1
                where = f"{item['field']}: " if item["field"] else ""
                report.note(chunk[index][0], f"{where}{item['message']}")
            chunk = [pair for i, pair in enumerate(chunk) if i not in bad]
            continue
        for (line_no, _), outcome in zip(chunk, result.results, strict=True):
            if outcome.status == CHARGED:
                report.charged += 1
                report.credits += outcome.credits
            elif outcome.status == DUPLICATE:
                report.duplicate += 1
            elif outcome.status == REJECTED:
                report.rejected += 1
                code = outcome.error["code"]
                report.rejections[code] = report.rejections.get(code, 0) + 1
                report.note(line_no, f"rejected: {outcome.error['message']}")
        report.balance = result.balance
        return
