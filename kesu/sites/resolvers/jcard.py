"""Entities and their jCards (RFC 7095) in RDAP answers, read without trusting their shape."""

from ...lib.errors import UserError
from .. import names


def country(text: str) -> str:
    """An ISO code from a code or a country name ("US", "United States", "JAPAN"); "" when unknown."""
    text = (text or "").strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    try:
        return names.country_code(text) if len(text) < 60 else ""
    except UserError:
        return ""


def _entities(obj) -> list[dict]:
    found = obj.get("entities") if isinstance(obj, dict) else None
    return [entity for entity in found if isinstance(entity, dict)] if isinstance(found, list) else []


def entities_with_role(obj: dict, role: str, depth: int = 3) -> list[dict]:
    """Entities holding role, breadth first: the object's own before those nested in them (to ``depth`` levels)."""
    found, level = [], _entities(obj)
    for _ in range(depth + 1):
        found += [entity for entity in level if role in _roles(entity)]
        level = [child for entity in level for child in _entities(entity)]
    return found


def _roles(entity: dict) -> list[str]:
    roles = entity.get("roles")
    return [str(role).lower() for role in roles] if isinstance(roles, list) else []


def vcard(entity: dict) -> dict:
    """fn, org, first e-mail, first phone and the country of the first address of an entity's jCard."""
    card = {"fn": "", "org": "", "email": "", "tel": "", "country": ""}
    array = entity.get("vcardArray") if isinstance(entity, dict) else None
    if not (isinstance(array, list) and len(array) >= 2 and array[0] == "vcard" and isinstance(array[1], list)):
        return card
    for prop in array[1]:
        if not (isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str)):
            continue
        name, params, value = prop[0].lower(), prop[1] if isinstance(prop[1], dict) else {}, prop[3]
        if name in ("fn", "org", "email", "tel") and not card[name]:
            card[name] = _text(value, name)
        elif name == "adr" and not card["country"]:
            card["country"] = _adr_country(params, value)
    return card


def _text(value, name: str) -> str:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str) and item), "")
    text = str(value).strip() if isinstance(value, str | int) else ""
    if name == "email":
        text = text.removeprefix("mailto:").lower()
        return text if "@" in text and " " not in text else ""
    if name == "tel":
        text = text.removeprefix("tel:")
    return text[:200]


def _adr_country(params: dict, value) -> str:
    """The ``cc`` parameter (RFC 8605), else the country-name part, else the last line of the label."""
    if isinstance(params.get("cc"), str) and country(params["cc"]):
        return country(params["cc"])
    if isinstance(value, list) and len(value) >= 7 and isinstance(value[6], str) and value[6].strip():
        return country(value[6])
    label = params.get("label")
    if isinstance(label, str) and label.strip():
        return country(label.strip().splitlines()[-1])
    return ""


def first_contact(obj: dict, role: str, depth: int = 3) -> dict:
    """The e-mail and phone of the first entity with role that has one (abuse contacts are often nested)."""
    for entity in entities_with_role(obj, role, depth):
        card = vcard(entity)
        if card["email"] or card["tel"]:
            return card
    return vcard({})


def public_id(entity: dict, kind: str) -> str:
    """The identifier of a publicIds entry whose type mentions kind ("IANA Registrar ID")."""
    ids = entity.get("publicIds") if isinstance(entity, dict) else None
    for item in ids if isinstance(ids, list) else []:
        if isinstance(item, dict) and kind.lower() in str(item.get("type", "")).lower():
            return str(item.get("identifier", "")).strip()
    return ""
