import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from accounts.management.counts import plural_count
from accounts.management.lookup import organization_or_error
from billing import money
from billing.usage.events import MAX_EVENTS
from billing.usage.imports.lines import import_lines
from billing.usage.imports.workers import (
    ImportStopped,
    default_workers,
    import_lines_in_workers,
    workers_refused,
)
from billing.usage.ingestion.record import PlanNotEligible


class Command(BaseCommand):
    help = (
        "Import usage events from a JSON-lines file (one event a line, the API's format) "
        "through the ingestion service. Safe to re-run: recorded events come back as duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the JSON-lines file, or - for stdin")
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--chunk-size", type=int, default=MAX_EVENTS,
                            help=f"events per batch (1 to {MAX_EVENTS})")
        parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
        parser.add_argument(
            "--workers", type=int,
            help="processes sharing the work, charging in file order (default: the number "
                 "of cores on PostgreSQL, 1 on SQLite; 1 = all in this process)")

    def handle(self, *args, file, org, chunk_size, no_progress, workers, **options):
        organization = organization_or_error(org)
        if not organization.billing_enabled:
            raise CommandError(f"{org}: {PlanNotEligible.code}: the plan has no credits billing")
        if not 1 <= chunk_size <= MAX_EVENTS:
            raise CommandError(f"--chunk-size must be between 1 and {MAX_EVENTS}")
        workers = _workers(workers)
        try:
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        size = os.fstat(stream.fileno()).st_size if file != "-" else 0
        meter = _Progress(self.stderr, size=size, enabled=not no_progress)
        try:
            if workers == 1:
                report = import_lines(organization=organization, lines=meter.lines(stream),
                                      chunk_size=chunk_size, progress=meter.update)
            else:
                report = import_lines_in_workers(
                    organization=organization, lines=meter.lines(stream), workers=workers,
                    chunk_size=chunk_size, progress=meter.update)
        except ImportStopped as stopped:
            meter.done(stopped.report)
            self._summary(stopped.report)
            raise CommandError(f"stopped: {stopped}\nThe lines counted above are recorded; "
                               "re-run to record the rest.") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        meter.done(report)
        if report.peaks_kb and options["verbosity"] > 1:
            parent, *workers = (f"{kb / 1024:,.0f} MB" for kb in report.peaks_kb)
            self.stderr.write(f"peak RSS: parent {parent}; workers {', '.join(workers)}")
            elapsed = time.monotonic() - meter.started
            self.stderr.write(f"turn at the account lock held {report.turn_seconds:,.1f} s "
                              f"of {elapsed:,.1f} s ({report.turn_seconds / elapsed:.0%})")
        self._summary(report)
        if not report.complete:
            raise CommandError("some lines were not recorded (see above); fix them and re-run")

    def _summary(self, report):
        for problem in report.problems:
            self.stderr.write(f"  {problem}")
        hidden = report.invalid + report.rejected - len(report.problems)
        if hidden > 0:
            self.stderr.write(f"  … and {hidden} more")
        rejections = ", ".join(f"{n} {code}" for code, n in sorted(report.rejections.items()))
        self.stdout.write(
            f"{plural_count(report.lines, 'line')}: {report.charged:,} charged "
            f"({money.display(report.credits)} credits), {report.duplicate:,} duplicate, "
            f"{report.rejected:,} rejected{f' ({rejections})' if rejections else ''}, "
            f"{plural_count(report.invalid, 'invalid line')}. Balance "
            f"{money.display(report.balance) if report.balance is not None else 'unchanged'}."
        )


def _workers(asked: int | None) -> int:
    refused = workers_refused()
    if asked is None:
        return 1 if refused else default_workers()
    if asked < 1:
        raise CommandError("--workers must be at least 1")
    if asked > 1 and refused:
        raise CommandError(f"--workers above 1 {refused}: use --workers 1")
    return asked


class _Progress:
    """A one-line progress bar on stderr, by bytes read when the size is known."""

    WIDTH = 30

    def __init__(self, out, *, size: int, enabled: bool):
        self.out, self.size, self.enabled = out, size, enabled
        self.read = 0
        self.started = time.monotonic()
        self.tty = getattr(out, "isatty", lambda: False)()
        self.last = 0.0
        self.shown_lines = None  # the line count on the last line printed

    def lines(self, stream):
        for raw in stream:
            self.read += len(raw)
            yield raw.decode("utf-8", errors="replace")

    def update(self, report, *, final=False):
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < (0.2 if self.tty else 5)):
            return
        self.last, self.shown_lines = now, report.lines
        rate = (report.charged + report.duplicate + report.rejected) / max(now - self.started,
                                                                          1e-9)
        if self.size:
            share = min(self.read / self.size, 1.0)
            filled = int(share * self.WIDTH)
            bar = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:6.1%} "
        else:
            bar = ""
        line = f"{bar}{plural_count(report.lines, 'line')}, {rate:,.0f} events/s"
        self.out.write(("\r" + line) if self.tty else line, ending="" if self.tty else "\n")
        self.out.flush()

    def done(self, report):
        if report.lines != self.shown_lines:  # else the last line printed is already final
            self.update(report, final=True)
        if self.enabled and self.tty:
            self.out.write("")
