"""`check --deploy`: the ledger's chain key must be the deployment's own (docs/ledger.md,
"Tamper evidence"); the one derived from SECRET_KEY breaks the chain when SECRET_KEY
is rotated."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def ledger_chain_key_is_set(app_configs=None, **kwargs):
    if getattr(settings, "LEDGER_CHAIN_KEYS_SET", True):
        return []
    return [Error(
        "LEDGER_CHAIN_KEYS is not set: the ledger's hash chain is keyed by a key derived "
        "from SECRET_KEY",
        hint="Set LEDGER_CHAIN_KEYS=k1=<40+ random characters> (docs/operate.md, "
        '"The ledger chain key")',
        id="billing.E001",
    )]
