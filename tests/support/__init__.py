"""Test support: servers, fakes and data builders shared by several test modules."""
