"""An invoice's lines (https://docs.stripe.com/api/invoices/invoice_lines): "When retrieving an invoice,
you'll get a lines property containing the total count of line items and the first handful of those
items. There is also a URL where you can retrieve the full (paginated) list of line items."

- The emulator keeps every line in the stored invoice (``lines.data``, in the invoice's order); what goes
  out (responses, expanded invoices, event payloads, :mod:`..rendering`) embeds the first
  :data:`EMBEDDED_LINES` of them — "When you retrieve an Invoice you only get 10 lines at most in `lines`
  by default" (a Stripe engineer, https://github.com/stripe/stripe-php/issues/1400) — with ``has_more``
  when there are more, ``total_count`` of them all and ``url`` ``/v1/invoices/{id}/lines``.
- ``GET /v1/invoices/{invoice}/lines`` pages all of them in that order (``limit`` 1-100, default 10;
  ``starting_after`` / ``ending_before`` a line id). A cursor that is no line of the invoice is refused
  with the message Stripe gave for an upcoming invoice in a public report
  (https://github.com/stripe/stripe-node/issues/2518: "Invoice … does not have a line item il_…").
"""

from __future__ import annotations

from ..errors import invalid_request
from ..lists import list_params, page_of
from ..rendering import RENDERERS
from ..routing import Call, RouteTable
from ..store import JSON
from .kinds import INVOICE, INVOICE_LINE_ITEM

routes = RouteTable()

EMBEDDED_LINES = 10

LIST = list_params()


def first_page(invoice: JSON) -> None:
    """Trim an invoice (a copy) to the lines Stripe embeds."""
    lines = invoice.get("lines")
    if not isinstance(lines, dict) or not isinstance(lines.get("data"), list):
        return
    lines["has_more"] = bool(lines.get("has_more")) or len(lines["data"]) > EMBEDDED_LINES
    lines["data"] = lines["data"][:EMBEDDED_LINES]


RENDERERS[INVOICE.object] = first_page


@routes.get("/v1/invoices/{invoice}/lines", params=LIST, returns=INVOICE_LINE_ITEM, is_list=True)
def list_lines(call: Call) -> JSON:
    invoice = call.store.require(INVOICE, call.path["invoice"])
    lines: list[JSON] = invoice["lines"]["data"]
    places = {line["id"]: place for place, line in enumerate(lines)}

    def cursor_place(line_id: str, param: str) -> int:
        if line_id not in places:
            raise invalid_request(f"Invoice {invoice['id']} does not have a line item {line_id}", param=param)
        return places[line_id]

    return page_of(call, lines, lambda line: places[line["id"]], cursor_place)
