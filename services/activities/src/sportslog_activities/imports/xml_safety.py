"""XML from strangers: no DTD at all (entity bombs and external entities need one)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from sportslog_activities.imports.model import InvalidFile


def parse_xml(data: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True)
        return root
    except DefusedXmlException:
        raise InvalidFile("XML with a DTD or entities is refused") from None
    except SafeET.ParseError as exc:
        raise InvalidFile(f"malformed XML ({exc})") from None


def local(tag: str) -> str:
    """`{namespace}Name` -> `Name`."""
    return tag.rsplit("}", 1)[-1]
