"""The release pipeline: gate a candidate against the live version, publish, verify, roll back.

Modules, one job each: `record` (the append-only release record), `gate` (the pure
pass/halt decision), `measure` (side-by-side evaluation of two SavedModels),
`serving` (talking to the model server), `server_config` (`models.config`),
`archive` (moving versions aside), `verify` (checking a version through the
gateway), `pipeline` / `rollback` / `labels` (the three procedures) and `history`
(the versions table).
"""
