"""Builders and in-memory fakes of every port, for tests."""
