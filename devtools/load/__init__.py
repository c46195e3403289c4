"""`make load` (`python -m load`): how much the local stack takes, where the lag builds up, and that nothing is lost.

`mix` draws the usage requests from a seeded RNG; `run` drives them against the stack (a Stripe 429 window in the
middle, then the renewal day) and audits the outcome; `report` writes the markdown report. docs/capacity.md reads
the figures against the production limits.
"""
