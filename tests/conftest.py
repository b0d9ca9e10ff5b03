"""Shared test configuration: warnings are errors (pyproject), nothing leaks."""
