"""The model lifecycle: versions of a model id, approvals that expire, shadow candidates.

A model id has versions (each a bundle, by its SHA-256): one **live**, others **candidate**,
**shadow** (a candidate scored beside the live version, never shown) or **retired**. Going
live needs an approval by someone other than the person who registered the version, with a
scope, the evidence it rests on and an expiry; a live version without a valid approval shows
no prediction anywhere, like a suspension.

- :mod:`.records`: the records that cross the boundary (versions, approvals, evidence,
  standing).
- :mod:`.tables`: their tables in the app database.
- :mod:`.store`: reading and writing them (SQLite or PostgreSQL).
- :mod:`.approval_rules`: what an approval must satisfy (pure checks, named refusals).
- :mod:`.standing`: whether a model id may show predictions now, and approvals expiring soon.
"""
