"""`make demo` (`python -m demo`): the whole inCytes story on one command, each step proved over HTTP.

The story, as inCytes, Stripe and Finance live it:

1. The catalog: Stripe holds a seat ($35 a month, billed in advance), a case ($5) and an SMS (billed in arrears,
   through meters), each in USD and EUR, as `catalog.toml` says (read from Stripe, by lookup key).
2. inCytes registers a funder that has no Stripe customer yet; its subscription request is refused, and the
   answer says what to do (the contract's 409 `stripe_customer_missing`).
3. The funder gets its Stripe customer; one click subscribes it with N seats. The first invoice is a draft held
   for Finance (`auto_advance` off), and it stays one.
4. Stripe's webhooks arrive signed on the stack's webhook route; Finance is emailed the invoice to review.
5. inCytes reports cases and SMS (one record twice: harmless); the reporter sends them to Stripe's meters.
6. A subscription made by hand in Stripe without the SMS item cannot be linked to a funder; the seats cannot
   change while the first invoice awaits review.
7. Finance approves the first invoice: it is finalized, sent and paid; now the seats can change.
8. The period closes (the emulator's clock): the renewal invoice bills the seats for the next month in advance
   and the month's cases and SMS in arrears at their prices, and our usage totals match Stripe's meters.

Each step checks what it shows; the run exits 0 only when every step did (`story.run_steps`). The command
(`__main__`) starts the Docker-free local stack (`local_stack.process.LocalStackProcess`) or talks to one
already running (`--api`), on the Stripe emulator or Stripe's test mode (`STRIPE_API_KEY=sk_test_…`, where
the clock cannot be moved and step 8 is skipped).
"""
