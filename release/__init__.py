"""The release pipeline: gate a candidate against the live version, publish, verify, roll back.

Modules, one job each:
- `pipeline`: `covertype release`, the steps in order; `steps` prints them with durations.
- `candidates`: where the candidate comes from and the rows the gate evaluates it on.
- `measure`: candidate and live SavedModels side by side in one process.
- `gate`: the pure pass/halt/forced decision from those measurements.
- `verify`: the new version's warmup requests sent through the gateway.
- `rollback`, `labels`: the other two procedures; `transition` changes what the model
  server serves without a gap; `server_config` reads and writes `models.config`;
  `serving` talks to the model server's `ModelService`; `archive` moves versions aside.
- `record`: the append-only release record; `history`: the `covertype versions` table.
- `lock`: one publish+verify, rollback or label change at a time per model.
"""
