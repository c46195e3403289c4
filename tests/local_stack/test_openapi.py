"""local_stack.openapi: the API's OpenAPI document comes from the template's routes and the functions' code."""

from __future__ import annotations

import pytest

from incytes_billing.models.invoice import REVIEW_STATUSES
from local_stack.openapi import api_document
from local_stack.template.document import TemplateError
from tests.support import PROJECT_ROOT, template


def test_errors_are_documented_in_the_contract_shape_not_powertools() -> None:
    document = api_document(template(), PROJECT_ROOT)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Error"]["properties"]["error"]["required"] == ["code", "message"]
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }


def test_a_route_the_code_declares_but_the_template_does_not_route_is_an_error() -> None:
    changed = template()
    del changed["Resources"]["FundersFunction"]["Properties"]["Events"]["GetFunder"]
    with pytest.raises(TemplateError, match=r"the code declares \[\('/funders/\{funder_id\}', 'GET'\)\]"):
        api_document(changed, PROJECT_ROOT)


def test_a_routed_function_without_a_resolver_is_an_error() -> None:
    changed = template()
    changed["Resources"]["InvoicesFunction"]["Properties"]["CodeUri"] = "functions/reconciler"
    with pytest.raises(TemplateError, match="no Powertools resolver"):
        api_document(changed, PROJECT_ROOT)


def test_finance_reads_are_documented_every_review_state_and_one_invoice_by_id() -> None:
    paths = api_document(template(), PROJECT_ROOT)["paths"]
    (review_status,) = paths["/invoices"]["get"]["parameters"]
    assert review_status["schema"]["enum"] == list(REVIEW_STATUSES)
    (invoice_id,) = paths["/invoices/{invoice_id}"]["get"]["parameters"]
    assert (invoice_id["in"], invoice_id["required"]) == ("path", True)
    assert invoice_id["schema"]["pattern"] == "^in_[A-Za-z0-9]{1,250}$"
