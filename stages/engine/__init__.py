"""Where clean, normalize and dedup run: in this process (`local`) or on a Ray cluster (`ray`).

`config` reads the `engine` section of params.yaml, `session` connects to Ray (imported
lazily, only with `engine: ray`) and turns Ray failures into one line, `frames` maps a
record-wise stage function over the blocks of a Ray Dataset, `guard` is those stages'
`main()` (one line also when Ray ends the process without a Python error). Outputs are
byte-identical to the local engine: every stage still ends with
`stages.lib.contract.write_stage_outputs`, which sorts by id.
"""
