"""Partner platforms: named destinations of her hashes."""

from ..lib.errors import UserError


def partner_named(name: str):
    raise UserError(f"unknown destination {name!r}: stopncii, ncmec, partners or a partner's name")
