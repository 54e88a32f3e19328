"""Where clean, normalize and dedup run: in this process (`local`) or on a Ray cluster (`ray`).

`config` reads the `engine` section of params.yaml, `session` connects to Ray (imported
lazily, only with `engine: ray`), `frames` maps a record-wise stage function over the
blocks of a Ray Dataset. Outputs are byte-identical to the local engine: every stage
still ends with `stages.lib.contract.write_stage_outputs`, which sorts by id.
"""
