"""The composition root: one module per function assembles it from its typed configuration (`config.py`).

`funders`, `subscriptions`, `invoices`, `usage`, `webhook`, `webhook_processor`, `review_reminder`,
`usage_reporter`, `reconciler`: each reads its function's `*Config` once per container and builds its services.
They share the builders in `aws` (tables and clients), `secrets` (SSM), `stripe_access` (the gateway, re-built
when the key rotates), `stripe_on_first_use` (the same, loaded by the first Stripe call), `parts` (audit trail,
catalog, Finance's notices), `events` (the event processor) and `usage_billing` (the usage reporter's and the
reconciler's ledger, batches, funders, Stripe and Finance).

A function's module loads its configuration and, where the function calls Stripe on every request, the parameter
store and the Stripe gateway (where only some requests do, the first of them loads both); each adapter and domain
service is imported by the builder that makes it, on the first request that assembles it, so what a route needs
only sometimes is never loaded by the others (issue 12: cold start; `tests/functions/test_function_imports.py`).
"""
