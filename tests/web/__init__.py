"""Tests of the reference portal over HTTP: API, pages, CLI, stores, SMTP, browser."""
