"""`python -m stages.check`: every section of params.yaml checked with the model its stage loads it with."""
