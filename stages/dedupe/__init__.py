"""Near-duplicate removal for the `dedup` stage: shingles, MinHash, LSH, verification, clusters.

Every function here is pure and works on one batch of documents (or one list of
candidate pairs), so the same code can be mapped over partitions of a distributed
engine. See README.md in this folder for the method and its parameters.
"""
