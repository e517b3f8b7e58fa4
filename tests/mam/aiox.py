"""An aioxmpp client for the archive tests: login on a loopback server without TLS, and MAM.

aioxmpp 0.13 has no MAM support of its own; the few XSOs below are the
client side of XEP-0313 as a client author would write them from the XEP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aioxmpp
import aioxmpp.forms
import aioxmpp.misc
import aioxmpp.rsm.xso as rsm_xso
import aioxmpp.xso as xso

from ..aioxmpp_client import client  # noqa: F401 - the tests' login helper

NS = "urn:xmpp:mam:2"


class FlipPage(xso.XSO):
    TAG = (NS, "flip-page")


@aioxmpp.IQ.as_payload_class
class Query(xso.XSO):
    TAG = (NS, "query")
    queryid = xso.Attr("queryid", default=None)
    form = xso.Child([aioxmpp.forms.Data])
    rsm = xso.Child([rsm_xso.ResultSetMetadata])
    flip = xso.Child([FlipPage])


@aioxmpp.IQ.as_payload_class
class Fin(xso.XSO):
    TAG = (NS, "fin")
    complete = xso.Attr("complete", type_=xso.Bool(), default=False)
    rsm = xso.Child([rsm_xso.ResultSetMetadata])


class Result(xso.XSO):
    TAG = (NS, "result")
    queryid = xso.Attr("queryid", default=None)
    id_ = xso.Attr("id")
    forwarded = xso.Child([aioxmpp.misc.Forwarded])


class Bound(xso.XSO):
    id_ = xso.Attr("id")
    timestamp = xso.Attr("timestamp", type_=xso.DateTime())


class Start(Bound):
    TAG = (NS, "start")


class End(Bound):
    TAG = (NS, "end")


@aioxmpp.IQ.as_payload_class
class Metadata(xso.XSO):
    TAG = (NS, "metadata")
    start = xso.Child([Start])
    end = xso.Child([End])


aioxmpp.Message.xep0313_result = xso.Child([Result])


@dataclass
class AioPage:
    results: list[Result]
    fin: Fin

    @property
    def bodies(self) -> list[str]:
        return [r.forwarded.stanza.body.any() for r in self.results]

    @property
    def ids(self) -> list[str]:
        return [r.id_ for r in self.results]


class MamClient:
    """Runs MAM queries and collects the result messages of each."""

    def __init__(self, client: aioxmpp.Client) -> None:
        self.client = client
        self._results: dict[str, list[Result]] = {}
        self._counter = 0
        client.stream.app_inbound_message_filter.register(self._filter, 0)

    def _filter(self, message: aioxmpp.Message) -> Any:
        result = message.xep0313_result
        if result is not None and result.queryid in self._results:
            self._results[result.queryid].append(result)
            return None
        return message

    async def query(self, archive: str, *, fields: dict[str, list[str]] | None = None, max_: int | None = None,
                    after: str | None = None, before: str | None = None, flip: bool = False) -> AioPage:
        self._counter += 1
        queryid = f"aq{self._counter}"
        query = Query()
        query.queryid = queryid
        if fields:
            form = aioxmpp.forms.Data(aioxmpp.forms.DataType.SUBMIT)
            form.fields.append(aioxmpp.forms.Field(type_=aioxmpp.forms.FieldType.HIDDEN, var="FORM_TYPE",
                                                   values=[NS]))
            for var, values in fields.items():
                form.fields.append(aioxmpp.forms.Field(var=var, values=values))
            query.form = form
        rsm = rsm_xso.ResultSetMetadata()
        if max_ is not None:
            rsm.max_ = max_
        if after is not None:
            rsm.after = rsm_xso.After(after)
        if before is not None:
            rsm.before = rsm_xso.Before(before)
        query.rsm = rsm
        if flip:
            query.flip = FlipPage()
        self._results[queryid] = []
        try:
            iq = aioxmpp.IQ(type_=aioxmpp.IQType.SET, to=aioxmpp.JID.fromstr(archive), payload=query)
            fin = await self.client.send(iq)
            return AioPage(self._results[queryid], fin)
        finally:
            self._results.pop(queryid, None)

    async def metadata(self, archive: str) -> Metadata:
        iq = aioxmpp.IQ(type_=aioxmpp.IQType.GET, to=aioxmpp.JID.fromstr(archive), payload=Metadata())
        return await self.client.send(iq)
