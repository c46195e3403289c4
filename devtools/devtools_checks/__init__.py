"""Checks on build output (Lambda layers, SAM artifacts) that the test suite and CI run.

Standard library only, so they run under any Python without the project virtualenv.
"""
