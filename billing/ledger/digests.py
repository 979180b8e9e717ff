"""The daily digest of chain heads: recorded once a UTC day, mailed to staff, checked later.

`record_digest` reads every account's head (entry count and last hash) in one
statement, signs the lot with the chain key and stores it; after commit it
mails staff the digest's fingerprint, so a copy lives outside the database.
`check_account` (used by verify_ledger) proves an account still holds the
history a digest saw: its entry at that position has that hash, and an account
with entries from before the digest is in it. `find_digest` also takes a
fingerprint, so staff prove the database against the copy they were mailed.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.ledger.chain import UnknownChainKey, current_key_id, sign
from billing.models import CreditAccount, LedgerDigest, LedgerEntry

logger = logging.getLogger(__name__)

# The schedule records a digest each UTC day; two hours of slack for a late or slow run.
SCHEDULE_ALLOWS = timedelta(hours=26)


def content(day: date, heads: dict, previous: str = "") -> str:
    """The canonical text a digest's signature covers: its day, heads and the previous
    digest's fingerprint (left out when empty, so unchained digests verify as before)."""
    signed = {"day": day.isoformat(), "heads": heads}
    if previous:
        signed["previous"] = previous
    return json.dumps(signed, sort_keys=True, separators=(",", ":"))


def fingerprint(digest: LedgerDigest) -> str:
    """SHA-256 of the digest's content and signature: what staff keep from the mail."""
    text = content(digest.day, digest.heads, digest.previous)
    return hashlib.sha256(f"{text}|{digest.signature}".encode()).hexdigest()


def record_digest(*, now: datetime | None = None) -> tuple[LedgerDigest, bool]:
    """Today's digest (UTC), recorded if it is not yet; (digest, created). Idempotent."""
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    existing = LedgerDigest.objects.filter(day=day).first()
    if existing is not None:
        return existing, False
    heads = {str(pk): [count, last_hash] for pk, count, last_hash in
             CreditAccount.objects.filter(entry_count__gt=0).order_by("pk")
             .values_list("pk", "entry_count", "last_hash")}
    key_id = current_key_id()
    before = LedgerDigest.objects.filter(day__lt=day).order_by("-day").first()
    previous = fingerprint(before) if before is not None else ""
    digest = LedgerDigest(day=day, created_at=now, heads=heads, key_id=key_id, previous=previous,
                          signature=sign(content(day, heads, previous), key_id=key_id))
    try:
        with transaction.atomic():
            digest.save()
            transaction.on_commit(lambda: publish(digest))
    except IntegrityError:  # a concurrent run recorded today's first
        return LedgerDigest.objects.get(day=day), False
    return digest, True


def publish(digest: LedgerDigest) -> None:
    """The copies outside the database: the mail to staff and, if set, the export file."""
    mail_staff(digest)
    try:
        export_fingerprint(digest)
    except OSError:  # the mail went; say loudly that the second copy did not
        logger.exception("ledger digest of %s: could not write LEDGER_DIGEST_EXPORT", digest.day)


def export_fingerprint(digest: LedgerDigest) -> Path | None:
    """Write the digest's fingerprint to LEDGER_DIGEST_EXPORT/ledger-digest-<day>.txt."""
    directory = settings.LEDGER_DIGEST_EXPORT
    if not directory:
        return None
    path = Path(directory) / f"ledger-digest-{digest.day}.txt"
    path.write_text(f"{fingerprint(digest)}\n")
    return path


def mail_staff(digest: LedgerDigest) -> int:
    recipients = list(User.objects.filter(is_staff=True, is_active=True)
                      .exclude(email="").values_list("email", flat=True))
    if not recipients:
        logger.warning("ledger digest of %s recorded, but no staff address to mail", digest.day)
        return 0
    body = (
        f"The ledger digest of {digest.day} (UTC) was recorded: {len(digest.heads)} accounts.\n\n"
        f"Fingerprint: {fingerprint(digest)}\n"
        f"Signed with key: {digest.key_id}\n\n"
        "Keep this mail. To prove the ledger still holds this history, run\n"
        f"    python manage.py verify_ledger --digest {fingerprint(digest)}\n"
        "It fails when the database no longer holds this digest or the history it saw.\n"
    )
    return send_mail(f"Ledger digest {digest.day}: {len(digest.heads)} accounts", body,
                     None, recipients)


def find_digest(reference: str) -> LedgerDigest | None:
    """A digest by 'latest', its day (YYYY-MM-DD), its id or its fingerprint (64 hex digits:
    the copy mailed to staff; None when no stored digest has it)."""
    digests = LedgerDigest.objects.order_by("-day")
    if reference == "latest":
        return digests.first()
    if len(reference) == 64 and all(c in "0123456789abcdef" for c in reference.lower()):
        wanted = reference.lower()  # one digest a day: reading them all is cheap
        return next((d for d in digests.iterator() if fingerprint(d) == wanted), None)
    if reference.isdigit():
        return digests.filter(pk=int(reference)).first()
    try:
        return digests.filter(day=date.fromisoformat(reference)).first()
    except ValueError:
        return None


def signature_problem(digest: LedgerDigest) -> str | None:
    try:
        expected = sign(content(digest.day, digest.heads, digest.previous),
                        key_id=digest.key_id)
    except UnknownChainKey:
        return f"digest of {digest.day} is signed with an unknown key {digest.key_id!r}"
    if expected != digest.signature:
        return f"digest of {digest.day} does not match its signature: altered"
    return None


def chain_problems() -> list[str]:
    """Each chained digest must sign the fingerprint of the one before it: a digest
    removed from the middle, or one before it altered, breaks the link."""
    problems, before = [], None
    for digest in LedgerDigest.objects.order_by("day").iterator():
        if digest.previous and (before is None or digest.previous != fingerprint(before)):
            problems.append(f"the digest of {digest.day} follows a digest that is no longer "
                            "there or was altered: the digest chain has a gap")
        before = digest
    return problems


def staleness_problem(latest: LedgerDigest | None, since: datetime | None, accounts, *,
                      now: datetime) -> str | None:
    """A digest is due within 26 hours of every entry: an entry posted after the latest
    digest (or, with none, after the cut-over `since`) and older than that was seen by no
    digest, so the schedule stopped or the newest digests (or all) were removed."""
    due = now - SCHEDULE_ALLOWS
    since = latest.created_at if latest is not None else since
    if since is None or since >= due:
        return None
    unseen = LedgerEntry.objects.filter(account__in=accounts, created_at__gt=since,
                                        created_at__lt=due)
    if not unseen.exists():
        return None
    if latest is None:
        return ("no ledger digest, though entries posted since the cut-over are older than "
                "the daily schedule allows (26 hours): it never ran, or every digest was "
                "removed")
    hours = int((now - latest.created_at).total_seconds() // 3600)
    return (f"the latest digest, of {latest.day}, is {hours} hours old and entries posted "
            "since are older than its daily schedule allows (26 hours): the schedule "
            "stopped, or the newest digests were removed")


@dataclass
class HeadCheck:
    ok: bool
    message: str = ""


def check_account(digest: LedgerDigest, account: CreditAccount) -> HeadCheck:
    """Does the account still hold the history the digest saw?"""
    head = digest.heads.get(str(account.pk))
    if head is None:
        if LedgerEntry.objects.filter(account=account, created_at__lt=digest.created_at).exists():
            return HeadCheck(False, f"entries dated before the digest of {digest.day} that it "
                                    "never saw: written into the past")
        return HeadCheck(True)
    seq, head_hash = head
    if account.entry_count < seq:
        return HeadCheck(False, f"the digest of {digest.day} saw {seq} entries, the account "
                                f"now counts {account.entry_count}: entries were removed")
    entry = LedgerEntry.objects.filter(account=account, seq=seq).only("hash").first()
    if entry is None or entry.hash != head_hash:
        return HeadCheck(False, f"entry {seq} differs from the digest of {digest.day}: the "
                                "history it saw was rewritten or removed")
    return HeadCheck(True)
