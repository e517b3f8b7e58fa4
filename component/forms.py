"""XEP-0004 data forms: building them and reading submitted values."""

from __future__ import annotations

from typing import Any, Iterable, Sequence
from xml.etree.ElementTree import Element, SubElement

from slixmpp import JID
from slixmpp.jid import InvalidJID
from slixmpp.plugins.xep_0004.stanza import FieldOption, Form, FormField
from slixmpp.xmlstream import register_stanza_plugin

from .errors import StanzaError
from .namespaces import DATA

# slixmpp makes these registrations only when a client loads its xep_0004
# plugin. A component process never does, and without them a submitted form
# parsed from the wire has no fields (values() returned {}); tests hid it
# because their in-process clients load xep_0004.
register_stanza_plugin(FormField, FieldOption, iterable=True)
register_stanza_plugin(Form, FormField, iterable=True)

__all__ = ["Form", "FormField", "new_form", "result_form", "table", "values"]

MULTI = {"jid-multi", "list-multi", "text-multi"}


def new_form(title: str = "", instructions: str = "", form_type: str = "form",
             form_type_value: str | None = None) -> Form:
    form = Form()
    form["type"] = form_type
    if title:
        form["title"] = title
    if instructions:
        form["instructions"] = instructions
    if form_type_value:
        form.add_field(var="FORM_TYPE", ftype="hidden", value=form_type_value)
    return form


#: One field of :func:`result_form`: var, type ("" for text-single), label, value (a list: one per line).
ResultField = tuple[str, str, str, "str | list[str] | None"]


def result_form(title: str, form_type_value: str, fields: Sequence[ResultField]) -> Element:
    """A result form as :func:`new_form` and ``add_field`` make it, built with ElementTree alone.

    For a form sent with every conversation an agent opens: slixmpp's stanza objects made a
    ten-field form cost more than the rest of the conversation's opening."""
    form = Element(f"{{{DATA}}}x", {"type": "result"})
    if title:
        SubElement(form, f"{{{DATA}}}title").text = title
    for var, ftype, label, value in (("FORM_TYPE", "hidden", "", form_type_value), *fields):
        field = SubElement(form, f"{{{DATA}}}field", {"var": var})
        if ftype:
            field.set("type", ftype)
        if label:
            field.set("label", label)
        for line in ([] if value is None else value if isinstance(value, list) else [value]):
            SubElement(field, f"{{{DATA}}}value").text = line
    return form


def table(columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]],
          title: str = "") -> Form:
    """A result table: ``<reported/>`` with the columns, one ``<item/>`` per row."""
    form = new_form(title=title, form_type="result")
    for var, label in columns:
        form.add_reported(var, label=label)
    for row in rows:
        form.add_item({var: "" if row.get(var) is None else str(row.get(var)) for var, _ in columns})
    return form


def _bool(text: str) -> bool:
    if text in ("1", "true"):
        return True
    if text in ("0", "false", ""):
        return False
    raise ValueError(text)


def values(form: Form, types: dict[str, str] | None = None) -> dict[str, Any]:
    """Typed values of a submitted form.

    ``types`` gives the expected field type for each variable (the type the
    submitter put on the field is optional in a submit form, so ours wins).
    Invalid values raise ``bad-request`` naming the field.
    """
    types = types or {}
    result: dict[str, Any] = {}
    for var, field in form.get_fields().items():
        ftype = types.get(var) or field["type"] or "text-single"
        raw = [v.text or "" for v in field.xml.findall(f"{{{DATA}}}value")]
        try:
            if ftype == "boolean":
                result[var] = _bool(raw[0].strip() if raw else "")
            elif ftype == "jid-single":
                result[var] = JID(raw[0].strip()) if raw and raw[0].strip() else None
            elif ftype == "jid-multi":
                result[var] = [JID(v.strip()) for v in raw if v.strip()]
            elif ftype in MULTI:
                result[var] = raw if ftype != "text-multi" else raw
            else:
                result[var] = raw[0] if raw else ""
        except (ValueError, InvalidJID) as exc:
            raise StanzaError("bad-request", f"field {var}: invalid {ftype} value {exc}") from exc
    return result
