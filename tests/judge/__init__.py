"""Tests of the judge stage's package (stages/judge); the stage end to end is tests/test_judge.py."""
