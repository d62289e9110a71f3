"""Rendering notice templates safely, and checking that every required element is there.

Templates are Django templates run by an engine of their own with a short
list of tags and filters (no ``include``, ``load``, ``debug``, ``extends``):
a supervisor editing a template can lay out text and branch on the case type
or role, nothing else. The context holds only strings, numbers and lists or
dicts of them, built by ``compose``: no model objects to walk into. Values
that come from outside (URLs, page titles, names) are inserted as text and
never parsed as template code; control and bidirectional-override characters
are removed from them first, and anything that ends up in a header is one line.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from django import template
from django.template import Context, Engine, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Node

from ..law.regimes import ELEMENTS
from ..lib.errors import UserError

MISSING = "\x00missing:%s\x00"
_MISSING_RE = re.compile("\x00missing:([^\x00]*)\x00")
# Bidi overrides and isolates can make a URL read differently from what it is ("trojan source").
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))
MAX_SUBJECT = 250

library = template.Library()
for _name in ("if", "for", "with", "comment", "firstof", "spaceless", "cycle"):
    library.tag(_name, defaulttags.register.tags[_name])
for _name in ("default", "default_if_none", "join", "length", "upper", "lower", "first", "last", "yesno",
              "pluralize", "wordwrap", "add", "cut"):  # fmt: skip
    library.filter(_name, defaultfilters.register.filters[_name])


class ElementNode(Node):
    def __init__(self, name: str, nodelist):
        self.name, self.nodelist = name, nodelist

    def render(self, context):
        text = self.nodelist.render(context)
        seen = context.kesu_elements  # set by render(); render_context would be gone after rendering
        missing = sorted(set(_MISSING_RE.findall(text)))
        if self.name == "urls":
            missing += [f"url {n + 1}" for n, url in enumerate(context.get("urls", [])) if url not in text]
        complete = bool(text.strip()) and not missing
        previous = seen.get(self.name)
        if previous is None or (complete and not previous[0]):
            seen[self.name] = (complete, missing)
        return text


@library.tag("element")
def element(parser, token):
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1].strip("\"'") not in ELEMENTS:
        raise TemplateSyntaxError(f"element needs one quoted name out of: {', '.join(ELEMENTS)}")
    nodelist = parser.parse(("endelement",))
    parser.delete_first_token()
    return ElementNode(bits[1].strip("\"'"), nodelist)


class _Engine(Engine):
    default_builtins = []  # nothing but the library above


ENGINE = _Engine(autoescape=False, string_if_invalid=MISSING, libraries={}, loaders=[])
ENGINE.template_builtins = [library]


@dataclass
class Rendered:
    subject: str
    body: str
    elements: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)

    def missing(self, required) -> dict[str, list[str]]:
        """Required element -> what it lacks ([] when the template has no such element at all)."""
        out = {}
        for name in required:
            complete, lacking = self.elements.get(name, (False, []))
            if not complete:
                out[name] = lacking
        return out


def compile_template(source: str, what: str = "template"):
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise UserError(f"{what}: {one_line(str(error))[:200]}") from None


def clean(value: str, *, single_line: bool = False) -> str:
    """Text from outside made safe to place in a notice: no control characters, no bidi tricks."""
    value = unicodedata.normalize("NFC", str(value)).translate(_BIDI)
    if single_line:
        value = re.sub(r"[\r\n\u2028\u2029]+", " ", value)
    keep = "\t" if single_line else "\n\t"
    value = "".join(ch for ch in value if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    return one_line(value) if single_line else value.replace("\r", "")


def one_line(value: str) -> str:
    return " ".join(str(value).split())


def cleaned(value):
    """A context value with every string cleaned; anything but str, int, float, bool, list and dict is refused."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [cleaned(item) for item in value]
    if isinstance(value, dict):
        return {str(key): cleaned(item) for key, item in value.items()}
    raise TypeError(f"notice context may hold only plain values, not {type(value).__name__}")


def render(subject_source: str, body_source: str, context: dict) -> Rendered:
    context = cleaned(context)
    body_template = compile_template(body_source, "body")
    subject_template = compile_template(subject_source, "subject")
    ctx = Context(context, autoescape=False)
    ctx.kesu_elements = elements = {}
    body = body_template.render(ctx)
    subject_ctx = Context(context, autoescape=False)
    subject_ctx.kesu_elements = {}
    subject = subject_template.render(subject_ctx)
    body = _MISSING_RE.sub(lambda m: f"[{m.group(1)}?]", body)
    subject = _MISSING_RE.sub(lambda m: f"[{m.group(1)}?]", subject)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return Rendered(clean(subject, single_line=True)[:MAX_SUBJECT], body, elements)
